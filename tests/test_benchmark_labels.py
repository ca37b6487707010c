"""The retrieval benchmark's same-question labels (benchmarks/data/same_question.json) and how they widen gold."""

from __future__ import annotations

import itertools

from benchmarks.retrieval import SAME_QUESTION, widened
from tests.conftest import CORPUS
from tutor.corpus import load_corpus


def test_same_question_sets_name_answered_items_of_different_pages_each_in_one_set():
    answered = {item.id: item for item in load_corpus(CORPUS) if item.answer}
    sets = set(SAME_QUESTION.values())
    assert len(sets) >= 10
    for members in sets:
        assert len(members) >= 2 and members <= answered.keys()
        assert len({answered[i].source for i in members}) == len(members)  # never two items of one page
    for a, b in itertools.combinations(sets, 2):
        assert not a & b


def test_widened_gold_takes_the_other_pages_answer_to_the_same_question_and_nothing_else():
    items = {item.prompt: item.id for item in load_corpus(CORPUS) if item.answer}
    max_pooling = widened([items["What is max pooling?"]])
    assert items["What is Max Pooling?"] in max_pooling
    assert items["What is Average Pooling?"] not in max_pooling
    assert widened([items["What is the CIFAR-10 dataset?"]]) == {items["What is the CIFAR-10 dataset?"]}
    assert widened([]) == set()
