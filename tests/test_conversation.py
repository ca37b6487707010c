"""Follow-up choice by a fitted model over evidence (fast: no embedding model)."""

from __future__ import annotations

from tutor.confidence import Evidence
from tutor.conversation import (
    FEATURES,
    FOLLOW_UP_MODEL,
    Cues,
    FollowUpModel,
    Reading,
    expand_with,
    features,
    user_turns,
    with_aspect,
)
from tutor.retrieval import Scored

UNSEEN = 5.0  # the IDF of a word the notes never use


def _reading(probability: float, expanded: bool, top: int = 1) -> Reading:
    return Reading("q", [Scored(top, 1.0, 0.8, 0.5)], None, probability, expanded)


def _cues(question: str, words: list[tuple[str, float]], context: set[str] = frozenset()) -> Cues:
    return Cues.of(question, [(w, idf, frozenset([w])) for w, idf in words], UNSEEN, frozenset(context))


def test_cues_read_the_subject_the_pointing_back_and_the_words_shared_with_the_conversation():
    cues = _cues("and for sum pooling, is it faster?", [("sum", 4.0), ("pooling", 2.0), ("faster", 1.0)],
                 {"pooling", "average"})
    assert cues.subject == 0.8 and cues.refers_back and cues.shared == round(2.0 / 7.0, 4)
    plain = _cues("what is a perceptron", [("perceptron", 5.0)])
    assert plain.subject == 1.0 and not plain.refers_back and plain.shared == 0.0
    assert len(features(_reading(0.5, False), _reading(0.5, True), cues)) == len(FEATURES)


def test_a_short_question_without_a_subject_leans_on_the_conversation():
    cues = _cues("what arguments does it take?", [("arguments", 1.2), ("take", 1.0)], {"conv2d"})
    assert FOLLOW_UP_MODEL.choose(_reading(0.4, False, top=7), _reading(0.9, True), cues).expanded


def test_a_new_question_of_its_own_stands_alone_even_when_the_old_subject_looks_covered():
    # "what is FSDP?" after a question on DDP: read with DDP it looks covered; alone it is not.
    cues = _cues("how does fully sharded data parallel shard the optimizer state", [
        ("fully", 3.0), ("sharded", 5.0), ("data", 1.5), ("parallel", 3.5), ("shard", 5.0), ("optimizer", 2.0),
        ("state", 2.5)], {"distributeddataparallel", "parallel"})
    assert not FOLLOW_UP_MODEL.choose(_reading(0.1, False, top=7), _reading(0.95, True), cues).expanded
    covered = _cues("what is a perceptron?", [("perceptron", 5.0)])
    # Covered alone with the same item first either way: read alone, as the tutor calls it (with its threshold).
    assert not FOLLOW_UP_MODEL.choose(_reading(0.9, False), _reading(0.9, True), covered, threshold=0.38).expanded


def test_a_question_whose_two_readings_agree_and_that_is_covered_alone_stands_alone():
    # A fit that leaned towards the expanded reading when both are confident would still read it alone.
    leaning = FollowUpModel(weights=(0.0,) * len(FEATURES), bias=5.0, fitted_on={})
    cues = _cues("DataParallel vs DDP", [("dataparallel", 5.0), ("ddp", 5.0)])
    assert leaning.choose(_reading(0.9, False), _reading(0.9, True), cues).expanded  # without the threshold
    assert not leaning.choose(_reading(0.9, False), _reading(0.9, True), cues, threshold=0.5).expanded
    # Not covered alone, or another item first: the model decides.
    assert leaning.choose(_reading(0.3, False), _reading(0.9, True), cues, threshold=0.5).expanded
    assert leaning.choose(_reading(0.9, False, top=7), _reading(0.9, True), cues, threshold=0.5).expanded


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


def _with_evidence(probability: float, expanded: bool, dense_top: float, dense_margin: float, lexical: float,
                   top: int = 1) -> Reading:
    evidence = Evidence(dense_top, dense_margin, lexical, 1.0, 1.0, -0.2)
    return Reading("q", [Scored(top, dense_top, dense_top, lexical)], evidence, probability, expanded)


def test_a_bare_aspect_is_read_in_the_conversation_when_alone_its_best_passage_is_weak_and_barely_leads():
    # "code?" after "how do I freeze layers?": alone, some item about code is covered, but by a weak passage that
    # hardly leads the next one; with the subject, the best item is clearly better supported.
    cues = _cues("code?", [("code", 3.5)])  # a word the notes use on few items: the earlier model read it alone
    weak_alone = _with_evidence(0.6, False, dense_top=0.35, dense_margin=0.01, lexical=0.3, top=7)
    subject = _with_evidence(0.99, True, dense_top=0.85, dense_margin=0.25, lexical=0.8)
    assert FOLLOW_UP_MODEL.choose(weak_alone, subject, cues, threshold=0.38).expanded
    # A question that alone finds its item clearly, and whose expansion adds little, is read alone.
    clear_alone = _with_evidence(0.99, False, dense_top=0.9, dense_margin=0.3, lexical=1.0, top=7)
    vague = _with_evidence(0.6, True, dense_top=0.5, dense_margin=0.02, lexical=0.2)
    own = _cues("how do I spot overfitting during training", [("spot", 4.0), ("overfitting", 4.5), ("training", 1.5)])
    assert not FOLLOW_UP_MODEL.choose(clear_alone, vague, own, threshold=0.38).expanded


def test_a_missing_feature_pulls_neither_way():
    model = FollowUpModel(weights=(1.0,) * len(FEATURES), bias=0.0, fitted_on={}, mean=(0.5,) * len(FEATURES),
                          scale=(1.0,) * len(FEATURES))
    assert model.probability_of([float("nan")] * len(FEATURES)) == 0.5
    assert model.probability_of([1.5] + [float("nan")] * (len(FEATURES) - 1)) > 0.7
