"""The second retrieval stage: the ranker's features, its fit, and where its weights live (fast: no model)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tutor import Tutor
from tutor.confidence import BUNDLED_DECISION
from tutor.index import IndexData, make_faiss_index
from tutor.items import Item
from tutor.models import HashEmbedder
from tutor.passages import ANSWER, PART, QUESTION
from tutor.ranking import BUNDLED_RANKER, FEATURES, Ranker, fit
from tutor.retrieval import Retriever


def _unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def _index(manifest: dict | None = None) -> IndexData:
    """Two items. "Dropout"'s whole answer is about the query direction (e1); "Overview" has one sentence
    closer to it than anything of Dropout's, and a question and whole answer about something else (e2)."""
    items = [Item("x-01", "x.txt", "", "Dropout", "What is dropout?", "It zeroes activations. Less overfit.", "nn"),
             Item("x-02", "x.txt", "", "Overview", "Which layers exist?", "Many kinds. Dropout is one.", "nn")]
    passages = [(0, QUESTION, _unit(0, 0, 1)), (0, ANSWER, _unit(1, 0, 0.3)),
                (1, QUESTION, _unit(0, 1, 0)), (1, ANSWER, _unit(0.3, 1, 0)), (1, PART, _unit(1, 0, 0.1))]
    vectors = np.vstack([v for _, _, v in passages])
    rows = np.asarray([i for i, _, _ in passages], dtype=np.int32)
    spans = np.asarray([(kind, 0, 0) for _, kind, _ in passages], dtype=np.int32)
    return IndexData(items, [0, 1], rows, spans, make_faiss_index(vectors), {"dimension": 3, **(manifest or {})},
                     np.zeros(0, np.int32), np.zeros((0, 3), np.float32), np.zeros((2, 3), np.float32))


def _weights(**named: float) -> Ranker:
    return Ranker(FEATURES, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES),
                  tuple(named.get(name, 0.0) for name in FEATURES))


QUERY = _unit(1, 0, 0)[None, :]


def test_features_are_each_passage_kinds_cosine_as_brute_force_computes_it():
    index = _index()
    retriever = Retriever(index, embedder=None, ranker=None)
    fused, dense, lexical, kinds, _ = retriever._first_stage("zzz", QUERY)
    x = retriever._features("zzz", np.arange(2), dense, lexical, kinds)
    vectors = index.faiss_index.reconstruct_n(0, index.faiss_index.ntotal)
    cosines = vectors @ QUERY[0]
    for position in (0, 1):
        for kind, name in ((QUESTION, "question_cos"), (ANSWER, "answer_cos"), (PART, "part_cos")):
            mask = (index.rows == position) & (index.spans[:, 0] == kind)
            expected = cosines[mask].max() if mask.any() else 0.0
            assert np.isclose(x[position, FEATURES.index(name)], expected, atol=1e-5), (position, name)


def test_the_ranker_puts_the_item_whose_whole_answer_matches_above_one_stray_sentence():
    first_stage = Retriever(_index(), embedder=None, ranker=None).search("zzz", k=2, vectors=QUERY)
    assert first_stage[0].position == 1  # the overview's one sentence is the closest passage
    ranked = Retriever(_index(), embedder=None, ranker=_weights(answer_cos=1.0, part_cos=0.2)).search(
        "zzz", k=2, vectors=QUERY)
    assert [s.position for s in ranked] == [0, 1]
    assert ranked[0].score > ranked[1].score
    assert np.isclose(ranked[1].dense, first_stage[0].dense)  # the evidence is unchanged, only the order


def test_the_ranker_is_read_from_the_index_and_used_only_for_the_hybrid_ranking():
    ranker = _weights(answer_cos=1.0)
    retriever = Retriever(_index({"ranker": ranker.to_json()}), embedder=None)
    assert retriever.ranker == ranker
    assert retriever.search("zzz", k=1, vectors=QUERY)[0].position == 0
    retriever.mode = "dense"  # the benchmark's comparison of the stages' parts
    assert retriever.search("zzz", k=1, vectors=QUERY)[0].position == 1


def test_fit_learns_which_evidence_marks_the_answering_item():
    rng = np.random.default_rng(0)
    questions = []
    for _ in range(40):
        x = rng.normal(size=(10, len(FEATURES)))
        gold = np.zeros(10, dtype=bool)
        gold[rng.integers(10)] = True
        x[gold, FEATURES.index("answer_cos")] += 2.0  # the answer is told by its whole-answer cosine
        questions.append((x, gold))
    ranker = fit(questions)
    weights = dict(zip(ranker.features, ranker.weights, strict=True))
    assert weights["answer_cos"] == max(weights.values()) and weights["answer_cos"] > 1.0
    assert ranker.fitted_on == {"questions": 40, "pairs": 40 * 9}
    assert Ranker.from_json(json.loads(json.dumps(ranker.to_json()))) == ranker


def test_fit_refuses_questions_without_their_answer_among_the_candidates():
    x = np.zeros((5, len(FEATURES)))
    with pytest.raises(ValueError, match="answering item"):
        fit([(x, np.zeros(5, dtype=bool))])


def test_the_bundled_ranker_weighs_every_feature():
    assert BUNDLED_RANKER.features == FEATURES and len(BUNDLED_RANKER.weights) == len(FEATURES)
    assert BUNDLED_RANKER.fitted_on["questions"] > 200


def test_the_ranker_fitted_at_build_is_stored_and_a_stale_one_is_refitted(fake_tutor, fake_config, caplog):
    path = fake_config.index_dir / "manifest.json"
    data = json.loads(path.read_text())
    assert fake_tutor.retriever.ranker == Ranker.from_json(data["ranker"])  # the weights load from the index
    assert data["ranker"]["fitted_on"]["questions"] > 200  # fitted on these notes, not the bundled fallback
    data["ranker_version"] = 0  # as if the features or the fit had changed since
    path.write_text(json.dumps(data))
    tutor = Tutor.load(fake_config, embedder=HashEmbedder())
    assert "ranker_version" in caplog.text
    assert json.loads(path.read_text())["ranker_version"] != 0
    assert tutor.retriever.ranker == Ranker.from_json(json.loads(path.read_text())["ranker"])


def test_pages_that_only_share_the_bundled_ids_get_the_bundled_ranker(tmp_path, caplog):
    # A numbered page named like a bundled one gets its ids ("000-01"), but not its questions.
    from tutor.config import Config

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    entries = "".join(f"### {n}) What is the capital of country {n}?\n\nIt is city number {n} of the atlas.\n\n"
                      for n in range(1, 61))
    (corpus / "000_other.txt").write_text(entries, encoding="utf-8")
    config = Config.from_env(corpus_dir=corpus, index_dir=tmp_path / "index", data_dir=tmp_path / "data")
    tutor = Tutor.load(config, embedder=HashEmbedder())
    assert any(item.id == "000-01" for item in tutor.items)
    assert tutor.retriever.ranker == BUNDLED_RANKER
    assert tutor.decision.weights == BUNDLED_DECISION.weights  # nor is the confidence fitted on their ids
    assert "not the bundled notes" in caplog.text
