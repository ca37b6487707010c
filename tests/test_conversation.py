"""Follow-up choice by evidence (fast: no model)."""

from __future__ import annotations

from tutor.conversation import LEAN_MARGIN, Reading, choose, expand_with, names_a_subject, user_turns, with_aspect
from tutor.retrieval import Scored


def _reading(probability: float, expanded: bool) -> Reading:
    return Reading("q", [], None, probability, expanded)


def test_an_uncovered_question_leans_only_when_the_conversation_clearly_helps():
    alone = _reading(0.3, False)
    assert choose(alone, _reading(0.3 + LEAN_MARGIN + 0.01, True), has_subject=True).expanded
    assert not choose(alone, _reading(0.3 + LEAN_MARGIN / 2, True), has_subject=True).expanded


def test_a_covered_question_with_its_own_subject_stands_alone():
    assert not choose(_reading(0.8, False), _reading(0.99, True), has_subject=True).expanded


def test_a_question_without_a_subject_leans_on_the_conversation():
    assert choose(_reading(0.9, False), _reading(0.5, True), has_subject=False).expanded


def test_subject_means_a_word_specific_to_few_items():
    unseen = 5.0
    assert names_a_subject([("conv3d", 4.8, frozenset())], unseen)
    assert not names_a_subject([("arguments", 1.2, frozenset()), ("take", 1.0, frozenset())], unseen)


def test_expansion_puts_the_subject_first_without_repeating_it():
    expanded = expand_with("its arguments?", "what is Conv2d?", "Key Layers")
    assert expanded == "what is Conv2d? (Key Layers) its arguments?"
    assert expand_with("why?", "what is max pooling?", "What is max pooling?") == "what is max pooling? why?"


def test_only_user_turns_count_and_malformed_ones_are_skipped():
    history = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, None, {"role": "user"},
               {"role": "user", "content": [{"type": "text", "text": "c"}]}]
    assert user_turns(history) == ["a", "c"]


def test_a_follow_up_asking_an_aspect_lifts_the_subjects_item_that_speaks_of_it():
    # Expanded "what is Conv2d? what arguments does it take?": the definition (1) leads the item listing the
    # layer's arguments (2); alone, "what arguments does it take?" fits item 2 and an unrelated item 7.
    expanded = Reading("e", [Scored(1, 1.00, 0.8, 1.0), Scored(2, 0.95, 0.8, 0.5), Scored(3, 0.60, 0.5, 0.3)],
                       None, 0.9, True)
    alone = Reading("a", [Scored(7, 0.70, 0.6, 0.5), Scored(2, 0.60, 0.5, 0.4), Scored(3, 0.20, 0.2, 0.0)],
                    None, 0.4, False)
    ranked = with_aspect(expanded, alone)
    assert [s.position for s in ranked] == [2, 1, 3]  # item 1, unranked alone, counts at the lowest score
    assert [s.position for s in with_aspect(expanded, alone, share=0.0)] == [1, 2, 3]
