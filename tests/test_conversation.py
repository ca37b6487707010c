"""Follow-up choice by evidence (fast: no model)."""

from __future__ import annotations

from tutor.conversation import LEAN_MARGIN, Reading, choose, expand_with, names_a_subject, user_turns


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
