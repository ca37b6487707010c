"""Grading: the real model on real corpus questions (integration), and bad input (fast, fake embedder)."""

from __future__ import annotations

import pytest

from tutor.grading import _near_spellings, _said_apart
from tutor.points import key_points, split_sentences
from tutor.text import tokenize

AUTOGRAD = "What is autograd in PyTorch, and why is it important for deep learning?"
GOOD = ("Autograd is the engine that differentiates for you. While the forward pass runs, it records every operation "
        "on tensors that require gradients. Calling backward on the loss walks that graph in reverse with the chain "
        "rule and stores each parameter's gradient in its grad attribute, so we never derive gradients by hand.")
WRONG = "Autograd is PyTorch's tool for automatically tuning hyperparameters like the learning rate and batch size."


@pytest.mark.slow
def test_correct_answer_beats_misconception_and_off_topic(real_tutor):
    good = real_tutor.grade(AUTOGRAD, GOOD)
    wrong = real_tutor.grade(AUTOGRAD, WRONG)
    off = real_tutor.grade(AUTOGRAD, "Sourdough needs a lively starter and a very hot oven.")
    assert good.score >= 60
    assert good.score - wrong.score >= 20
    assert off.score <= 10
    assert len(good.references) >= 2  # several pages answer this question


TRAIN_EVAL = "What is the difference between model.train() and model.eval()?"


@pytest.mark.slow
def test_a_contradicted_point_earns_nothing_and_is_listed_with_the_reference(real_tutor):
    partial = real_tutor.grade(TRAIN_EVAL, "model.eval() turns dropout off for inference.")
    wrong = real_tutor.grade(TRAIN_EVAL, "model.eval() enables dropout, so every prediction at inference is noisy. "
                                         "It also makes batch norm keep updating its statistics on test batches.")
    assert wrong.score < partial.score
    [contradiction] = [c for c in wrong.contradicted if "Disables" in c.point]
    assert "enables" in contradiction.reason and contradiction.evidence.startswith("model.eval() enables dropout")
    assert contradiction.point not in [m.point for m in wrong.missed] + [c.point for c in wrong.covered]
    assert not partial.contradicted


@pytest.mark.slow
def test_covered_points_quote_the_answer_and_missed_points_cite_a_source(real_tutor):
    grade = real_tutor.grade(AUTOGRAD, GOOD)
    assert grade.covered and grade.missed
    for point in grade.covered:
        assert point.evidence in " ".join(GOOD.split()) or point.evidence.rstrip(" …") in GOOD
    titles = {item.page for item in real_tutor.items}
    assert all(point.source.split(" · ")[0] in titles for point in grade.missed)  # "page title · section"


@pytest.mark.slow
def test_grading_is_deterministic(real_tutor):
    assert real_tutor.grade(AUTOGRAD, GOOD) == real_tutor.grade(AUTOGRAD, GOOD)


@pytest.mark.slow
def test_unanswered_question_is_graded_against_retrieved_passages_and_says_so(real_tutor):
    question = "What is the purpose of zero_grad() in PyTorch, and when is it used?"
    grade = real_tutor.grade(question, "It clears the gradients stored from the last step, before loss.backward().")
    assert grade.from_retrieval and grade.matched_question == question
    assert "no reference answer in the notes" in grade.notes[0]
    assert grade.score > 20


@pytest.mark.slow
def test_question_outside_the_notes_is_flagged(real_tutor):
    grade = real_tutor.grade("What is a Bloom filter?", "A probabilistic set with false positives.")
    assert grade.from_retrieval and grade.matched_question is None


@pytest.mark.slow
def test_explicit_reference_replaces_the_notes(real_tutor):
    grade = real_tutor.grade("What does a function signature include?",
                             "The function's name and the types of its parameters.",
                             reference="The name of the function and the types of the parameters.")
    assert [r.source for r in grade.references] == ["given reference"]
    assert grade.score >= 70


@pytest.mark.parametrize("answer", ["", "   \n ", None, "\u200b"])
def test_empty_answer_scores_zero_with_a_message(fake_tutor, answer):
    grade = fake_tutor.grade(AUTOGRAD, answer)
    assert grade.score == 0 and "empty" in grade.message
    assert grade.missed  # still shows what to cover


def test_emoji_only_answer_scores_zero_with_a_message(fake_tutor):
    grade = fake_tutor.grade(AUTOGRAD, "🤖🔥🚀 🧠")
    assert grade.score == 0 and "no English words" in grade.message


def test_huge_answer_is_capped(fake_tutor):
    grade = fake_tutor.grade(AUTOGRAD, "autograd records operations. " * 4000)
    assert any("first 10,000 characters" in note for note in grade.notes)
    assert 0 <= grade.score <= 100


def test_html_in_an_answer_is_kept_as_text(fake_tutor):
    answer = "<b>Autograd</b> records <script>alert(1)</script> operations and computes gradients."
    grade = fake_tutor.grade(AUTOGRAD, answer)
    quoted = " ".join(point.evidence for point in grade.covered)
    assert "<script>" not in quoted or "<script>alert(1)</script>" in answer  # kept verbatim, never interpreted
    assert 0 <= grade.score <= 100


def test_key_points_state_content_on_every_corpus_item():
    from tutor.corpus import load_corpus
    from tutor.points import MIN_POINT_TERMS

    from .conftest import CORPUS

    for item in load_corpus(CORPUS):
        if not item.answer:
            continue
        asked = set(tokenize(item.prompt))
        for k, point in enumerate(key_points(item.answer, item.prompt)):
            assert len(point.split()) >= 3, (item.id, point)
            assert len({t for t in tokenize(point) if t not in asked}) >= MIN_POINT_TERMS, (item.id, point)
            # "This…" completes the point before it; only an answer's opening point may start so.
            assert k == 0 or point.split()[0].lower() not in ("this", "these", "those"), (item.id, point)


def test_lead_ins_are_dropped_and_back_references_joined():
    answer = ("To implement a custom loss in PyTorch, you can do the following. Write a function that compares "
              "predictions with targets. This allows autograd to differentiate it. Return a scalar tensor.")
    assert key_points(answer, "How do you implement a custom loss in PyTorch?") == [
        "Write a function that compares predictions with targets. This allows autograd to differentiate it.",
        "Return a scalar tensor."]


def test_key_points_skip_headers_and_code_that_says_nothing():
    answer = "Here are the steps:\n- Define the loss as a function.\n```python\nx = 1\n```\n- Return the loss value."
    assert key_points(answer) == ["Define the loss as a function.", "Return the loss value."]
    assert split_sentences("One thing. Another thing! A third?") == ["One thing.", "Another thing!", "A third?"]


def test_a_code_block_that_says_something_is_a_point_of_its_own():
    """A reference that answers in code: a learner who says what the code does has made its point."""
    answer = ("```python\nfor param in model.features.parameters():\n    param.requires_grad = False  # freeze\n```\n"
              "Other common requests include writing a training loop.")
    assert key_points(answer, "How do you freeze layers?") == [
        "Other common requests include writing a training loop.",
        "for param in model.features.parameters(): param.requires_grad = False # freeze"]


def test_a_key_term_typed_or_heard_almost_right_still_counts():
    point = "Backward computes gradients with the chain rule and stores them in the grad attribute."
    said = set(tokenize("backward computes the gradiants via the chain rule"))
    assert _near_spellings(point, said) == {"gradient"}
    assert "attribut" not in _near_spellings(point, said)  # a term not said at all stays missing
    assert _near_spellings(point, set(tokenize("grid"))) == set()  # short words are not stretched


def test_a_name_said_as_words_counts_as_the_name():
    point = "Call optimizer.zero_grad() and check torch.cuda.is_available() before using the DataLoader."
    spoken = ["You call optimizer dot zero grad, then torch dot cuda dot is available,",
              "and the data loader does the rest."]
    said = _said_apart(point, spoken)
    assert {"optimizer.zero_grad", "zero_grad", "torch.cuda.is_available", "is_available", "dataload"} <= said
    # Words that only touch across a sentence break, or are not adjacent, make no name.
    assert _said_apart(point, ["Call zero.", "Grad is set."]) == set()
    assert "zero_grad" not in _said_apart(point, ["zero the old grad"])


def test_a_compound_the_point_hyphenates_counts_when_the_answer_writes_it_joined():
    point = "It introduces non-linearity into the network, so mini-batch training can fit curves."
    assert {"non", "linear", "mini", "batch"} <= _said_apart(point, ["It adds nonlinearity.", "Use minibatches."])
    # Half of a compound is not the compound.
    assert "non" not in _said_apart(point, ["The map stays linear."])


@pytest.mark.slow
def test_an_answer_spoken_with_names_said_as_words_keeps_their_credit(real_tutor):
    question = "Explain the common PyTorch training loop steps."
    typed = real_tutor.grade(question, "For each batch: optimizer.zero_grad(), compute the outputs and the loss, "
                                       "loss.backward(), then optimizer.step().")
    spoken = real_tutor.grade(question, "For each batch: optimizer zero grad, compute the outputs and the loss, "
                                        "loss backward, then optimizer step.")
    assert typed.score >= 50
    assert abs(spoken.score - typed.score) <= 5, (typed.score, spoken.score)
