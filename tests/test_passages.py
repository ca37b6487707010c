"""Finer passages: the parts of a long answer, their spans, and code kept with its sentence."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np

from tutor.items import Item
from tutor.passages import ANSWER, PART, QUESTION, answer_parts, item_passages
from tutor.retrieval import SECOND_PASSAGE_SHARE, Retriever

LAYERS = """Common building blocks in torch.nn:
- nn.Linear: Fully connected (dense) layer.
```python
fc = nn.Linear(128, 64)
```
- nn.Dropout: Randomly zeroes out elements for regularization.
```python
drop = nn.Dropout(p=0.5)
```
Knowing these layers and their parameters helps when debugging models."""


def _item(answer: str) -> Item:
    return Item("x-01", "x.txt", "", "Key layers", None, answer, "nn.Module")


def test_each_bullet_is_a_part_and_code_stays_with_its_sentence():
    parts = [LAYERS[s:e] for s, e in answer_parts(LAYERS)]
    dropout = next(p for p in parts if "nn.Dropout:" in p)
    assert "drop = nn.Dropout(p=0.5)" in dropout and "nn.Linear" not in dropout
    assert any(p.startswith("Knowing these layers") for p in parts)


def test_parts_are_exact_spans_of_the_answer():
    for start, end in answer_parts(LAYERS):
        assert LAYERS[start:end].strip() == LAYERS[start:end]
        assert end - start > 0


def test_short_pieces_join_a_neighbour():
    parts = [p for s, e in answer_parts("Example: Yes. Max pooling keeps the largest value of each window.")
             for p in ["Example: Yes. Max pooling keeps the largest value of each window."[s:e]]]
    assert len(parts) == 1


def test_item_passages_are_question_whole_answer_and_parts():
    kinds = [p.kind for p in item_passages(3, _item(LAYERS))]
    assert kinds[:2] == [QUESTION, ANSWER] and kinds.count(PART) >= 3
    one_sentence = item_passages(0, _item("A tensor is an n-dimensional array of numbers."))
    assert [p.kind for p in one_sentence] == [QUESTION, ANSWER]  # one part would repeat the answer
    assert [p.kind for p in item_passages(0, _item(None))] == [QUESTION]


def test_other_phrasings_are_more_question_passages_of_an_answered_item_only():
    asked = ("which layers come up most", "main nn layers")
    item = replace(_item(LAYERS), phrasings=asked)
    passages = item_passages(3, item)
    assert [p.text for p in passages[:3]] == ["Key layers", *asked]
    assert all(p.kind == QUESTION and p.item == 3 for p in passages[:3])
    assert [p.kind for p in item_passages(0, replace(_item(None), phrasings=asked))] == [QUESTION]


def test_an_item_scores_its_best_passage_and_a_share_of_its_second_and_quotes_its_best_answer_passage():
    # Item 0: its question, a phrasing of it, a part of its answer; item 1: its question, its whole answer.
    index = SimpleNamespace(rows=np.array([0, 0, 0, 1, 1]), spans=np.array(
        [[QUESTION, 0, 0], [QUESTION, 0, 0], [PART, 0, 9], [QUESTION, 0, 0], [ANSWER, 0, 0]]))
    retriever = SimpleNamespace(index=index, answered=np.array([0, 1]), slot=np.array([0, 1]))
    hits = np.array([1, 3, 0, 2, 4])  # best first
    scores, rows, kinds = Retriever._per_item(retriever, np.array([0.9, 0.8, 0.75, 0.7, 0.5], np.float32), hits)
    # Item 0's two ways of asking are one passage: its second best is its part, not its own question.
    assert np.allclose(scores, [0.9 + SECOND_PASSAGE_SHARE * 0.7, 0.8 + SECOND_PASSAGE_SHARE * 0.5])
    assert rows.tolist() == [2, 4]  # the part, the whole answer: never a way of asking
    assert np.allclose(kinds, [[0.9, 0.8], [0.0, 0.5], [0.7, 0.0]])
