"""The embedder's copy adapted to interview questions: its training pairs, its cached, checked copy, and
(with the real model) that the tuned copy is the one the tutor uses and that it moved."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from tutor import tuning
from tutor.config import Config
from tutor.items import Item


def _item(item_id: str, question: str, answer: str | None) -> Item:
    return Item(item_id, "p.md", "", question, question, answer, "topic")


def test_training_pairs_take_the_shipped_questions_whose_item_is_here_and_each_items_own_question():
    from tutor.confidence import fit_questions

    in_scope = [row for row in fit_questions() if row["in_scope"]]
    here = in_scope[0]
    elsewhere = next(row for row in in_scope if not set(row["gold"]) & set(here["gold"]))
    items = [_item(gold, f"Q {gold}?", f"A {gold}.") for gold in here["gold"]] + [_item("zz-99", "Unanswered?", None)]
    pairs = dict(tuning.training_pairs(items))
    first = here["gold"][0]
    assert pairs[here["q"]] == f"Q {first}?\nA {first}."  # paired with its first answering item
    assert elsewhere["q"] not in pairs  # its item is not in these notes
    assert f"Q {first}?" in pairs and "Unanswered?" not in pairs  # an item without an answer teaches nothing
    assert not any(row["q"] in pairs for row in fit_questions() if not row["in_scope"])


def test_a_hard_negative_is_the_nearest_item_that_does_not_answer_the_question():
    """The tuning experiment's mining (``benchmarks/tuning_cv.py --hard-negatives``, tried, not shipped): beside
    its answer, a question is paired with the nearest other item, never another page's answer to the same
    question (that would teach the model that a right answer is wrong)."""
    autograd, autograd_elsewhere = (Item(i, page, "", "What is autograd?", "What is autograd?", f"Records ops {i}.",
                                         "t") for i, page in (("a-1", "a.md"), ("b-1", "b.md")))
    tensor, dropout = _item("a-2", "What is a tensor?", "An array."), _item("a-3", "What is dropout?", "Zeroes.")
    vectors = {"What is autograd?": [1, 0, 0], "What is a tensor?": [0, 1, 0], "What is dropout?": [0, 0, 1],
               tuning.document(autograd): [1, 0, 0], tuning.document(autograd_elsewhere): [0.99, 0.14, 0],
               tuning.document(tensor): [0.6, 0.8, 0], tuning.document(dropout): [0, 0, 1],
               "how are gradients worked out": [1, 0.05, 0]}

    class Model:
        def encode(self, texts, **kwargs):
            rows = np.array([vectors[t] for t in texts], dtype=np.float32)
            return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    from benchmarks.tuning_cv import ModelEmbedder, with_hard_negatives

    items = [autograd, autograd_elsewhere, tensor, dropout]
    triples = with_hard_negatives(ModelEmbedder(Model(), 3), items, [("how are gradients worked out", [autograd])])
    assert triples == [("how are gradients worked out", tuning.document(autograd), tuning.document(tensor))]


class _FakeTuned:
    def __init__(self, content: bytes):
        self.content = content

    def save(self, path: str) -> None:
        (Path(path) / tuning.WEIGHTS).write_bytes(self.content)


@pytest.fixture
def fake_tune(monkeypatch):
    calls = []

    def tune(model, pairs, *args, **kwargs):
        calls.append(len(pairs))
        return _FakeTuned(b"tuned weights %d" % len(calls))

    monkeypatch.setattr(tuning, "tune", tune)
    return calls


PAIRS = [("q1", "d1"), ("q2", "d2")]


def test_a_tuned_copy_is_made_once_and_then_reused(tmp_path, fake_tune):
    loads = []

    def load_model():
        loads.append(1)
        return object()

    first = tuning.tuned_model_dir(load_model, "base-sha", tmp_path, PAIRS)
    again = tuning.tuned_model_dir(load_model, "base-sha", tmp_path, PAIRS)
    assert first == again and fake_tune == [2]
    assert loads == [1]  # the model as it comes is loaded only to be tuned
    record = json.loads((first / "tuned.json").read_text())
    assert record["base_weights_sha256"] == "base-sha" and record["pairs"] == 2
    assert tuning.tuned_weights(first) == record["weights_sha256"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tuned")]  # no staging folder left


def test_the_bundled_pairs_are_made_only_to_tune_and_their_sources_name_the_copy(tmp_path, fake_tune, monkeypatch):
    made = []
    monkeypatch.setattr(tuning, "bundled_pairs", lambda: made.append(1) or PAIRS)
    first = tuning.tuned_model_dir(object, "base-sha", tmp_path)
    assert tuning.tuned_model_dir(object, "base-sha", tmp_path) == first
    assert made == [1] and fake_tune == [2]  # a start that finds the copy reads no page
    monkeypatch.setattr(tuning, "bundled_data_sha256", lambda: "other pages")
    assert tuning.tuned_model_dir(object, "base-sha", tmp_path) != first and made == [1, 1]


def test_other_base_weights_or_pairs_get_their_own_copy_and_supersede_older_ones(tmp_path, fake_tune):
    one = tuning.tuned_model_dir(object, "base-sha", tmp_path, PAIRS)
    other = tuning.tuned_model_dir(object, "other-sha", tmp_path, PAIRS)
    more = tuning.tuned_model_dir(object, "base-sha", tmp_path, [*PAIRS, ("q3", "d3")])
    assert len(fake_tune) == 3 and len({one, other, more}) == 3
    # A new tuning of one model supersedes its earlier copy; another model's copy stays.
    assert more.is_dir() and other.is_dir() and not one.exists()


@pytest.mark.parametrize("damage", ["tamper", "truncate", "no record"])
def test_a_tampered_or_partial_copy_is_refused_and_tuned_again(tmp_path, fake_tune, caplog, damage):
    folder = tuning.tuned_model_dir(object, "base-sha", tmp_path, PAIRS)
    weights = folder / tuning.WEIGHTS
    if damage == "tamper":
        weights.write_bytes(b"something else")
    elif damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:5])
    else:
        (folder / "tuned.json").unlink()
    with caplog.at_level(logging.WARNING):
        again = tuning.tuned_model_dir(object, "base-sha", tmp_path, PAIRS)
    assert again == folder and len(fake_tune) == 2
    assert "fails its SHA-256 check" in caplog.text
    assert tuning._intact(folder)


def test_the_setting_tunes_the_default_model_unless_told_otherwise(monkeypatch):
    assert Config().tuned_embedder  # the measured default
    assert not Config(embed_model="all-mpnet-base-v2").tuned_embedder  # not measured tuned: as it is
    monkeypatch.setenv("TUTOR_EMBED_TUNING", "on")
    assert Config.from_env(embed_model="all-mpnet-base-v2").tuned_embedder
    monkeypatch.setenv("TUTOR_EMBED_TUNING", "0")
    assert not Config.from_env().tuned_embedder
    monkeypatch.setenv("TUTOR_EMBED_TUNING", "maybe")
    with pytest.raises(ValueError, match="auto, on or off"):
        Config.from_env()


def test_the_tutor_uses_the_tuned_copy_and_it_brings_askers_words_nearer_their_item(real_tutor):
    """The real model: the tuned copy is what the index was built with, and a question in the asker's own
    words (one of the shipped development questions it was tuned on) now sits nearer the notes' item on
    backpropagation than with the model as it came."""
    from tutor.models import SentenceEmbedder

    tuned = real_tutor.embedder.inner if hasattr(real_tutor.embedder, "inner") else real_tutor.embedder
    base = SentenceEmbedder()
    assert tuned.name == "all-MiniLM-L6-v2+tuned"
    assert real_tutor.index.manifest["model"] == tuned.name
    assert real_tutor.index.manifest["model_weights_sha256"] == tuned.weights != base.weights
    item = next(it for it in real_tutor.items if it.answer and it.prompt.lower().startswith("what is backprop"))
    question = ("What's the procedure that passes the error backwards through a network so each weight gets "
                "tweaked to make its predictions better?")

    def cosine(embedder) -> float:
        q, d = embedder.embed([question, tuning.document(item)])
        return float(np.dot(q, d))

    assert cosine(tuned) > cosine(base) + 0.05


def test_same_questions_are_judged_with_the_model_as_it_came(fake_config):
    """A tuned embedder's index groups the notes' questions with the untuned model, whatever the wrappers."""
    from types import SimpleNamespace

    from tutor import Tutor
    from tutor.models import BatchingEmbedder, HashEmbedder, untuned_of

    plain = HashEmbedder()
    asked = []

    def untuned():
        asked.append(1)
        return plain

    tuned = HashEmbedder(name="hash+tuned")
    tuned.untuned = untuned
    assert untuned_of(BatchingEmbedder(tuned)) is plain and untuned_of(plain) is None
    assert untuned_of(SimpleNamespace(inner=SimpleNamespace(untuned=None))) is None
    asked.clear()
    embedded = []
    plain_embed = plain.embed
    plain.embed = lambda texts: embedded.extend(texts) or plain_embed(texts)
    tutor = Tutor.load(fake_config, embedder=tuned)
    assert asked == [1]  # made once, at build
    assert embedded == [item.prompt for item in tutor.items]  # it embedded each item's question, nothing else
