"""Bad input of every kind: a clear message, nothing broken, nothing already saved lost."""

from __future__ import annotations

import sqlite3

import pytest

from tutor import Tutor
from tutor.config import Config
from tutor.handlers import ALL_TOPICS, Handlers
from tutor.models import HashEmbedder
from tutor.progress import ProgressStore, StoreError

MIXED = "شرح autograd 自动微分 🤖 gradients — ‏RTL‏ text"


@pytest.fixture
def handlers(fake_tutor, tmp_path):
    return Handlers(fake_tutor, ProgressStore(tmp_path / "data"), seed=3)


@pytest.mark.parametrize("question", [MIXED, "什么是张量？", "🤖🔥", "مرحبا"])
def test_rtl_cjk_and_emoji_questions_are_answered_or_declined(fake_tutor, question):
    reply = fake_tutor.ask(question)
    assert reply.text and isinstance(reply.confident, bool)


def test_rtl_cjk_and_emoji_answers_are_stored_byte_exact(handlers):
    item_id, _ = handlers.pick("random", ALL_TOPICS, "local")
    handlers.grade(item_id, MIXED, "local")
    assert handlers.store.attempts("local")[0].answer.encode() == MIXED.encode()


def test_javascript_links_in_questions_are_inert(handlers):
    history, _ = handlers.ask("[click me](javascript:alert(1)) what is a tensor?", [])
    assert "javascript:" not in " ".join(m["content"] for m in history)


def test_script_in_corpus_text_is_inert(fake_config):
    page = fake_config.corpus_dir / "001_99d5553849eeb96a.txt"
    page.write_text(page.read_text() + "\n### 51) What is <script>alert(1)</script> a hook?\n\n"
                    "A hook <img src=x onerror=alert(2)> runs [here](javascript:alert(3)) on forward.\n")
    tutor = Tutor.load(fake_config, embedder=HashEmbedder())
    reply = tutor.ask("what is a hook on forward")
    assert "hook" in reply.text
    assert "<script>" not in reply.text and "<img" not in reply.text and "javascript:" not in reply.text


def test_index_from_another_model_of_the_same_dimension_is_rebuilt(fake_tutor, fake_config, caplog):
    Tutor.load(fake_config, embedder=HashEmbedder(dimension=256, name="another-model"))
    assert "model: index has 'hash-embedder', wanted 'another-model'" in caplog.text


def test_full_disk_says_so_and_keeps_earlier_attempts(tmp_path):
    store = ProgressStore(tmp_path / "data")
    store.record("local", "a", "q", "CNNs", "first", 70.0)
    db = store._connection()
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")  # the database cannot grow: what a full disk does
    with pytest.raises(StoreError, match="disk is full"):
        store.record("local", "b", "q", "CNNs", "x" * 200_000, 50.0)
    assert [a.answer for a in store.attempts("local")] == ["first"]
    assert store.integrity_ok()


def test_tampered_model_is_refused_without_touching_the_network(monkeypatch):
    import sentence_transformers

    from tutor import models
    from tutor.errors import ModelError

    package, _ = models.EMBEDDED_MODELS["all-MiniLM-L6-v2"]
    monkeypatch.setitem(models.EMBEDDED_MODELS, "all-MiniLM-L6-v2", (package, {"model.safetensors": "0" * 64}))
    monkeypatch.setattr(sentence_transformers, "SentenceTransformer",
                        lambda *a, **k: pytest.fail("a tampered model must not be loaded or fetched"))
    with pytest.raises(ModelError, match="SHA-256"):
        models.SentenceEmbedder("all-MiniLM-L6-v2")


def test_nul_and_surrogates_in_answers_are_dropped_not_stored_broken(handlers):
    item_id, _ = handlers.pick("random", ALL_TOPICS, "local")
    handlers.grade(item_id, "autograd\x00 computes \ud800gradients", "local")
    stored = handlers.store.attempts("local")
    assert [a.answer for a in stored] == ["autograd computes gradients"]
    assert sqlite3.connect(handlers.store.path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_corrupt_progress_database_is_a_clear_error(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "progress.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot be opened"):
        ProgressStore(tmp_path / "data")


def test_config_rejects_nothing_silently(tmp_path):
    config = Config.from_env(max_question_chars="50", data_dir=str(tmp_path))
    assert config.max_question_chars == 50 and config.data_dir == tmp_path
