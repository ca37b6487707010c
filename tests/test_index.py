"""Index life cycle with the fake embedder: build, reuse, rebuild on change, survive damage."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from tutor import Tutor
from tutor.confidence import Decision
from tutor.config import Config
from tutor.index import FORMAT_VERSION, load_or_build
from tutor.models import HashEmbedder
from tutor.passages import build_passages


def manifest(config: Config) -> dict:
    return json.loads((config.index_dir / "manifest.json").read_text())


def test_index_describes_itself(fake_tutor, fake_config):
    data = manifest(fake_config)
    assert data["format_version"] == FORMAT_VERSION
    assert data["model"] == "hash-embedder" and data["dimension"] == 256
    assert data["items"] == len(fake_tutor.items) and data["passages"] > data["items"]
    assert len(data["corpus_sha256"]) == 64
    names = sorted(p.name for p in fake_config.index_dir.iterdir() if not p.name.startswith("."))
    caches = [name for name in names if name.startswith("cache-") and name.endswith(".npz")]
    assert len(caches) == 1  # the embedding cache for this model
    assert sorted(set(names) - set(caches)) == sorted(["manifest.json", *data["files"].values()])
    assert not any(name.endswith((".pkl", ".pickle")) for name in names)


def test_fresh_index_is_reused_not_rebuilt(fake_tutor, fake_config):
    before = manifest(fake_config)["built_at"], (fake_config.index_dir / "manifest.json").stat().st_mtime_ns
    Tutor.load(fake_config, embedder=HashEmbedder())
    after = manifest(fake_config)["built_at"], (fake_config.index_dir / "manifest.json").stat().st_mtime_ns
    assert before == after


def test_changed_corpus_triggers_rebuild(fake_tutor, fake_config, caplog):
    page = fake_config.corpus_dir / "001_99d5553849eeb96a.txt"
    page.write_text(page.read_text() + "\n### 51) What is a hook?\n\nA hook is a function called on forward.\n")
    tutor = Tutor.load(fake_config, embedder=HashEmbedder())
    assert "corpus_sha256" in caplog.text
    assert any(item.question == "What is a hook?" for item in tutor.items)


def test_other_model_or_dimension_triggers_rebuild(fake_tutor, fake_config, caplog):
    tutor = Tutor.load(fake_config, embedder=HashEmbedder(dimension=64, name="other-model"))
    assert "model" in caplog.text and "dimension" in caplog.text
    assert manifest(fake_config)["dimension"] == 64 == tutor.index.faiss_index.d


@pytest.mark.parametrize("damage", ["truncate", "zero", "random", "manifest"])
def test_damaged_index_is_rebuilt(fake_tutor, fake_config, damage, caplog):
    files = manifest(fake_config)["files"]
    target = fake_config.index_dir / (files["vectors"] if damage != "manifest" else "manifest.json")
    data = target.read_bytes()
    target.write_bytes({"truncate": data[: len(data) // 2], "zero": b"", "random": os.urandom(len(data)),
                        "manifest": b"{not json"}[damage])
    tutor = Tutor.load(fake_config, embedder=HashEmbedder())
    assert "Rebuilding" in caplog.text
    assert tutor.ask("what is autograd").hits


def test_build_killed_midway_leaves_previous_index_usable(fake_tutor, fake_config, monkeypatch):
    import tutor.index as index_module

    original = index_module.atomic_write
    calls = []

    def dies_on_third_file(path, write):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        original(path, write)

    monkeypatch.setattr(index_module, "atomic_write", dies_on_third_file)
    with pytest.raises(KeyboardInterrupt):
        load_or_build(fake_config.corpus_dir, fake_config.index_dir, HashEmbedder(), rebuild=True)
    monkeypatch.setattr(index_module, "atomic_write", original)
    before = manifest(fake_config)["built_at"]
    again = Tutor.load(fake_config, embedder=HashEmbedder())  # loads the old index, no rebuild
    assert manifest(fake_config)["built_at"] == before
    assert again.ask("what is autograd").hits


def _slow_build(corpus: str, index: str) -> None:
    class Slow(HashEmbedder):
        def embed(self, texts):
            time.sleep(0.01)
            return super().embed(texts)

    load_or_build(Path(corpus), Path(index), Slow(), rebuild=True)


def test_build_killed_with_sigkill_leaves_previous_index_usable(fake_tutor, fake_config):
    process = multiprocessing.get_context("spawn").Process(
        target=_slow_build, args=(str(fake_config.corpus_dir), str(fake_config.index_dir)))
    process.start()
    time.sleep(2.5)  # inside the (slowed) embedding step
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    tutor = Tutor.load(fake_config, embedder=HashEmbedder())
    assert tutor.ask("what is a tensor").hits


def _build(corpus: str, index: str, queue) -> None:
    data = load_or_build(Path(corpus), Path(index), HashEmbedder())
    queue.put(data.manifest["built_at"])


def test_two_builds_at_once_wait_for_each_other(fake_config):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_build, args=(str(fake_config.corpus_dir), str(fake_config.index_dir), queue))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    built = {queue.get(timeout=5), queue.get(timeout=5)}
    assert len(built) == 1  # the second found the first one's index instead of building again


def test_faiss_search_matches_numpy_brute_force(fake_tutor):
    index = fake_tutor.index
    texts = [p.text for p in build_passages(index.items)]
    vectors = HashEmbedder().embed(texts)
    query = HashEmbedder().embed(["how do I clear gradients before backward"])
    scores, ids = index.faiss_index.search(query, 10)
    brute = np.argsort(-(vectors @ query[0]), kind="stable")[:10]
    np.testing.assert_allclose(scores[0], (vectors @ query[0])[brute], rtol=1e-5)


def test_corpus_without_repeated_questions_still_builds_and_grades(tmp_path, caplog):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "only.txt").write_text("### 1) What is a tensor?\n\nAn n-dimensional array.\n\n"
                                     "### 2) What is autograd?\n\nAutomatic differentiation.\n")
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "index", data_dir=tmp_path / "data")
    tutor = Tutor.load(config, embedder=HashEmbedder())
    assert "bundled notes" in caplog.text
    assert 0 <= tutor.grade("What is a tensor?", "An array with n dimensions.").score <= 100


def test_rebuild_after_a_small_edit_embeds_only_the_new_texts(fake_tutor, fake_config):
    class Counting(HashEmbedder):
        embedded = 0

        def embed(self, texts):
            Counting.embedded += len(texts)
            return super().embed(texts)

    page = fake_config.corpus_dir / "001_99d5553849eeb96a.txt"
    page.write_text(page.read_text() + "\n### 51) What is a hook?\n\nA hook is a function called on forward.\n")
    tutor = Tutor.load(fake_config, embedder=Counting())
    assert 0 < Counting.embedded < 12  # the new question, its answer, its key points: not the whole corpus
    assert any(item.question == "What is a hook?" for item in tutor.items)
    fresh = Tutor.load(Config(corpus_dir=fake_config.corpus_dir, index_dir=fake_config.index_dir / "other",
                              data_dir=fake_config.data_dir), embedder=HashEmbedder())
    np.testing.assert_allclose(fresh.index.point_vectors, tutor.index.point_vectors)  # cache changes nothing


def test_damaged_embedding_cache_is_ignored(fake_tutor, fake_config):
    (cache,) = fake_config.index_dir.glob("cache-*.npz")
    cache.write_bytes(b"garbage")
    page = fake_config.corpus_dir / "001_99d5553849eeb96a.txt"
    page.write_text(page.read_text() + "\n### 51) What is a hook?\n\nA callback.\n")
    assert Tutor.load(fake_config, embedder=HashEmbedder()).ask("what is a hook").hits


def test_a_stale_confidence_fit_is_refitted(fake_tutor, fake_config, caplog):
    path = fake_config.index_dir / "manifest.json"
    data = manifest(fake_config)
    assert fake_tutor.decision == Decision.from_json(data["confidence"])  # the weights load from the index
    data["confidence_fit_sha256"] = "0" * 64  # as if the fit data or the features had changed since
    path.write_text(json.dumps(data))
    tutor = Tutor.load(fake_config, embedder=HashEmbedder())
    assert "confidence_fit_sha256" in caplog.text
    assert manifest(fake_config)["confidence_fit_sha256"] != "0" * 64
    assert tutor.decision.data_sha256 == manifest(fake_config)["confidence_fit_sha256"]


def test_hub_pulls_are_stored_with_the_index_and_a_damaged_file_rebuilds_it(fake_tutor, fake_config, caplog):
    pulls = fake_tutor.index.hubs
    assert pulls is not None and len(pulls) == len(fake_tutor.items) and np.isfinite(pulls).all()
    assert np.ptp(pulls) > 0  # items do differ in how many of the notes' questions they come close to
    assert np.array_equal(Tutor.load(fake_config, embedder=HashEmbedder()).index.hubs, pulls)
    (fake_config.index_dir / manifest(fake_config)["files"]["hubs"]).write_bytes(b"")
    tutor = Tutor.load(fake_config, embedder=HashEmbedder())
    assert "Rebuilding" in caplog.text and np.allclose(tutor.index.hubs, pulls)


def test_the_shipped_questions_memory_is_stored_with_the_index_and_a_damaged_file_rebuilds_it(
        fake_tutor, fake_config, caplog):
    memory = fake_tutor.index.memory
    assert memory is not None and memory.in_scope.any() and (~memory.in_scope).any()
    assert len(memory.vectors) == len(memory.in_scope) and memory.vectors.shape[1] == fake_tutor.embedder.dimension
    assert fake_tutor.retriever.memory is memory  # what ask() compares each question with
    again = Tutor.load(fake_config, embedder=HashEmbedder()).index.memory
    assert np.array_equal(again.vectors, memory.vectors) and np.array_equal(again.in_scope, memory.in_scope)
    (fake_config.index_dir / manifest(fake_config)["files"]["memory"]).write_bytes(b"")
    tutor = Tutor.load(fake_config, embedder=HashEmbedder())
    assert "Rebuilding" in caplog.text and np.array_equal(tutor.index.memory.in_scope, memory.in_scope)
