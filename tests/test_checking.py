"""The fact checker: its shipped pairs, how the grader uses it, and the fitted model on real answers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tutor import Tutor, checking
from tutor.calibration import BUNDLED_CALIBRATION
from tutor.config import Config
from tutor.grading import (
    CHECK_CAP,
    CHECK_EXPONENT,
    CHECK_FULL,
    CHECK_PRIOR,
    CHECK_PRIOR_CHARS,
    Grader,
    Reference,
    ceiling,
)
from tutor.models import HashEmbedder
from tutor.points import split_sentences

REFERENCE = Reference("Calling model.eval() switches dropout off and makes batch norm use its running statistics. "
                      "Calling model.train() puts dropout and batch norm back into training behaviour.", "notes",
                      question="train vs eval?")
ANSWER = ("eval() turns dropout off and batch norm uses the stored running statistics. "
          "Calling train() turns them back on.")


class FixedChecker:
    """Says every sentence states a point with one probability."""

    def __init__(self, probability: float):
        self.probability = probability
        self.asked: list[tuple[str, str]] = []

    def support(self, pairs):
        self.asked += pairs
        return np.full(len(pairs), self.probability)


def grade(checker, check: bool = True) -> object:
    grader = Grader(HashEmbedder(), BUNDLED_CALIBRATION, checker=checker)
    return grader.grade("train vs eval?", ANSWER, [REFERENCE], check=check)


def test_shipped_pairs_load_with_the_three_labels():
    rows = checking.fit_rows()
    assert len(rows) > 1000
    assert {row["label"] for row in rows} == set(checking.LABELS)
    assert all(row["point"] and row["sentence"] for row in rows)


def test_an_answer_the_checker_believes_earns_the_capped_share_more():
    def one_line(checker):  # one of the reference's two sentences: room to earn more
        grader = Grader(HashEmbedder(), BUNDLED_CALIBRATION, checker=checker)
        return grader.grade("train vs eval?", "eval() turns dropout off.", [REFERENCE])

    plain, believed = one_line(None), one_line(FixedChecker(0.9))
    assert 0 < plain.score < 100 / CHECK_CAP
    assert believed.score == pytest.approx(plain.score * CHECK_CAP, abs=0.1)
    assert believed.notes == plain.notes  # nothing to explain


def test_believed_answers_near_the_top_stay_under_100_in_their_order():
    grader = Grader(HashEmbedder(), BUNDLED_CALIBRATION, checker=FixedChecker(0.9))
    plain = Grader(HashEmbedder(), BUNDLED_CALIBRATION)
    fuller, shorter = REFERENCE.answer, ANSWER
    assert plain.grade("train vs eval?", fuller, [REFERENCE]).score > plain.grade("train vs eval?", shorter,
                                                                                   [REFERENCE]).score
    scores = [grader.grade("train vs eval?", text, [REFERENCE]).score for text in (fuller, shorter)]
    assert 100 >= scores[0] > scores[1] > 80  # both past what a hard clip would tie at 100


def test_an_answer_the_checker_doubts_loses_score_and_says_why():
    plain, doubted = grade(None), grade(FixedChecker(0.0))
    said = sum(len(span) for span in split_sentences(ANSWER))
    stated = CHECK_PRIOR * CHECK_PRIOR_CHARS / (said + CHECK_PRIOR_CHARS)  # only the prior's evidence is left
    assert plain.score > 0
    assert doubted.stated == pytest.approx(stated, abs=1e-3)
    factor = (stated / CHECK_FULL) ** CHECK_EXPONENT
    assert doubted.score == pytest.approx(100 * ceiling(plain.score / 100 * factor, CHECK_CAP), abs=0.1)
    assert doubted.score < plain.score
    assert any("fact checker" in note for note in doubted.notes)


def test_the_checker_weighs_a_paragraph_it_doubts_more_than_one_line():
    grader = Grader(HashEmbedder(), BUNDLED_CALIBRATION, checker=FixedChecker(0.0))
    line = grader.grade("train vs eval?", "eval() turns dropout off.", [REFERENCE])
    paragraph = grader.grade("train vs eval?", " ".join([ANSWER] * 3), [REFERENCE])
    assert line.stated > paragraph.stated
    assert line.evidence.checked > paragraph.evidence.checked


def test_a_reference_from_elsewhere_is_graded_without_the_checker():
    checker = FixedChecker(0.0)
    assert grade(checker, check=False).score == grade(None).score
    assert not checker.asked


def test_each_sentence_is_checked_against_its_nearest_points():
    checker = FixedChecker(0.5)
    grade(checker)
    sentences = {sentence for _, sentence in checker.asked}
    assert len(sentences) == 2 and len(checker.asked) == 4  # two sentences, two nearest points each


@pytest.mark.slow
def test_fitted_checker_tells_a_misconception_from_a_correct_sentence(real_tutor):
    checker = real_tutor.grader.checker
    assert checker is not None
    point = "Calling model.eval() puts dropout and batch normalization layers into evaluation mode."
    support = checker.support([
        (point, "During evaluation you call eval(), so dropout stops dropping units and batch norm uses its "
                "running averages."),
        (point, "eval() turns dropout on so that the model generalises better at test time."),
    ])
    assert support[0] > support[1]
    # The same reading, label by label: the misconception is read as contradicting the point.
    probabilities = checker.probabilities([
        (point, "eval() turns dropout on so that the model generalises better at test time.")])
    assert probabilities.shape == (1, len(checking.LABELS)) and probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert min(1.0, probabilities[0, 0] * checker.scale) == pytest.approx(support[1], abs=1e-5)
    assert checking.LABELS[int(probabilities[0].argmax())] == "contradicts"


@pytest.mark.slow
def test_a_fluent_misconception_scores_below_a_one_line_correct_answer(real_tutor):
    question = "What is the difference between model.train() and model.eval()? When would you use each?"
    partial = real_tutor.grade(question, "train() is for training and eval() is for testing the model.")
    wrong = real_tutor.grade(question, "model.eval() turns off gradient computation and freezes all the weights, "
                                       "and model.train() is what actually runs the optimisation steps on the data.")
    assert wrong.score < partial.score
    assert wrong.stated is not None and wrong.stated < partial.stated
    given = real_tutor.grade(question, "train() is for training and eval() is for testing the model.",
                             reference="train() is for training, eval() for testing.")
    assert given.stated is None  # an explicit reference: the checker knows only the notes


def test_the_checker_is_fitted_from_the_configured_model(fake_config, monkeypatch):
    monkeypatch.setenv("TUTOR_CHECKER_MODEL", "/models/my-encoder")
    assert Config.from_env().checker_model == "/models/my-encoder"
    asked = []
    monkeypatch.setattr(checking.FactChecker, "load",
                        classmethod(lambda cls, name, **kwargs: asked.append(name) or FixedChecker(0.5)))
    tutor = Tutor.load(replace(fake_config, fact_check="on", checker_model="/models/my-encoder"),
                       embedder=HashEmbedder())
    assert asked == ["/models/my-encoder"]
    assert tutor.grader.checker is not None


class ReadingChecker(checking.FactChecker):
    """A fact checker whose model is a stand-in: P(states) is ``generosity`` times a fixed reading of the pair, so
    two instances read the same pairs on two scales, as two fits do."""

    def __init__(self, folder, generosity: float, weights: str = "w1"):
        self.folder, self.device, self.weights_sha256 = folder, "cpu", weights
        self.generosity, self.read = generosity, 0
        self.scale = checking.SCALE_REFERENCE / self.mean_states()

    def probabilities(self, pairs):
        self.read += len(pairs)
        states = np.array([0.1 + 0.5 * (len(sentence) % 7) / 7 for _, sentence in pairs]) * self.generosity
        return np.stack([states, (1 - states) / 2, (1 - states) / 2], axis=1)


def test_two_fits_reading_on_different_scales_give_one_support(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    strict, generous = ReadingChecker(tmp_path / "a", 1.0), ReadingChecker(tmp_path / "b", 1.6)
    pairs = [("Dropout zeroes activations in training.", "In training dropout sets random units to zero."),
             ("Dropout zeroes activations in training.", "Dropout is off in training.")]
    assert generous.probabilities(pairs)[:, 0] == pytest.approx(1.6 * strict.probabilities(pairs)[:, 0])
    assert generous.support(pairs) == pytest.approx(strict.support(pairs))
    assert strict.mean_states() * strict.scale == pytest.approx(checking.SCALE_REFERENCE)


def test_the_scale_is_measured_once_per_fit_and_again_for_new_weights(tmp_path):
    first = ReadingChecker(tmp_path, 1.0)
    assert first.read > 0 and (tmp_path / checking.SCALE_FILE).is_file()
    again = ReadingChecker(tmp_path, 1.0)
    assert again.read == 0 and again.scale == first.scale  # kept beside the weights
    refitted = ReadingChecker(tmp_path, 1.6, weights="w2")
    assert refitted.read > 0 and refitted.scale == pytest.approx(first.scale / 1.6)
    (tmp_path / checking.SCALE_FILE).write_text("{not json", encoding="utf-8")
    damaged = ReadingChecker(tmp_path, 1.6, weights="w2")
    assert damaged.read > 0 and damaged.scale == pytest.approx(refitted.scale)
