"""Hub penalty: an item whose passages come close to many of the notes' questions is ranked by what it
answers, not by how much it touches on."""

from __future__ import annotations

import numpy as np

from tutor.index import IndexData, make_faiss_index
from tutor.items import Item
from tutor.passages import PART
from tutor.retrieval import HUB_SHARE, Retriever, hub_pull


def _unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def _index(hubs: np.ndarray | None = None) -> tuple[IndexData, np.ndarray]:
    """Three items each about one concept (e1, e2, e3), and an overview (question e4) with a passage close to
    each concept: the hub. Returns the index and the items' question vectors."""
    e = np.eye(4, dtype=np.float32)
    items = [Item("x-01", "x.txt", "", "Linear layers", "What is nn.Linear?", "It maps inputs linearly.", "nn"),
             Item("x-02", "x.txt", "", "Dropout", "What is dropout?", "It zeroes activations.", "nn"),
             Item("x-03", "x.txt", "", "Pooling", "What is pooling?", "It downsamples maps.", "nn"),
             Item("x-04", "x.txt", "", "Overview", "Which layers matter?", "Linear, dropout and pooling.", "nn")]
    passages = [(0, e[0]), (1, e[1]), (2, e[2]), (3, e[3]),
                (3, _unit(0.8, 0, 0, 0.6)), (3, _unit(0, 0.8, 0, 0.6)), (3, _unit(0, 0, 0.8, 0.6))]
    vectors = np.vstack([v for _, v in passages])
    rows = np.asarray([i for i, _ in passages], dtype=np.int32)
    spans = np.zeros((len(rows), 3), dtype=np.int32)
    spans[4:, 0] = PART  # the overview's three parts
    index = IndexData(items, [0, 1, 2, 3], rows, spans, make_faiss_index(vectors), {"dimension": 4},
                      np.zeros(0, np.int32), np.zeros((0, 4), np.float32), np.zeros((4, 4), np.float32), hubs)
    return index, e


def test_the_item_close_to_other_items_questions_pulls_hardest():
    index, questions = _index()
    pulls = hub_pull(index, questions)
    assert pulls.argmax() == 3  # the overview
    assert np.allclose(pulls[:3], pulls[0]) and pulls[3] - pulls[0] > 0.5
    assert abs(float(pulls.mean())) < 1e-6  # on the notes' own scale: the mean item is not penalised


def test_an_items_own_question_group_does_not_count_as_pull():
    index, questions = _index()
    index.groups = [0, 0, 2, 3]  # x-01 and x-02 ask the same question on two pages
    pulls = hub_pull(index, questions)
    assert np.isclose(pulls[0], pulls[1]) and np.isclose(pulls[0], pulls[2])


def test_a_specific_item_outranks_a_hub_that_scores_slightly_higher():
    unpenalised, questions = _index()
    query = _unit(1.0, 0, 0, 0.3)  # about x-01, with a little of the overview's question
    before = Retriever(unpenalised, embedder=None, mode="dense").search("zzz", k=2, vectors=query[None, :])
    assert before[0].position == 3  # without the penalty the overview wins on its best passage
    index, _ = _index(hub_pull(unpenalised, questions))
    after = Retriever(index, embedder=None, mode="dense").search("zzz", k=2, vectors=query[None, :])
    assert after[0].position == 0
    # The confidence evidence is still the similarity itself; only the ranking is penalised.
    assert np.isclose(next(s.dense for s in after if s.position == 3), before[0].dense)
    assert np.isclose(after[0].score, after[0].dense - HUB_SHARE * index.hubs[0])
