"""The confidence decision: features, fit, a known decision, and round trips (fast: no model)."""

from __future__ import annotations

import numpy as np
import pytest

from tutor.confidence import (
    ANSWERED_TARGET,
    BUNDLED_DECISION,
    THRESHOLD_RANGE,
    Decision,
    Evidence,
    Memory,
    fit,
    fit_questions,
)


def _evidence(dense: float, coverage: float) -> Evidence:
    return Evidence(dense, 0.1, coverage, coverage, 1.0)


def test_a_fit_separates_close_matches_from_far_ones():
    rng = np.random.default_rng(0)
    inside = [_evidence(0.75 + 0.1 * rng.random(), 0.9) for _ in range(30)]
    outside = [_evidence(0.35 + 0.1 * rng.random(), 0.4) for _ in range(30)]
    decision = fit(inside + outside, [True] * 30 + [False] * 30)
    assert decision.confident(_evidence(0.8, 0.95)) and not decision.confident(_evidence(0.3, 0.3))
    assert decision.fitted_on == {"in_scope": 30, "out_of_scope": 30}


def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_known_outside_is_how_much_nearer_a_known_uncovered_question_is_than_a_covered_one():
    memory = Memory(np.vstack([_unit(1, 0, 0), _unit(0, 1, 0), _unit(0, 0, 1)]), np.array([True, False, False]))
    # Next to the out-of-scope question (0, 1, 0): positive; next to the in-scope one: negative.
    assert memory.known_outside(_unit(0.1, 1, 0)) == pytest.approx(0.995 - 0.0995, abs=1e-3)
    assert memory.known_outside(_unit(1, 0.1, 0)) < -0.8
    # Compared only with the questions of other folds, the nearest out-of-scope one is the third.
    assert memory.known_outside(_unit(0.1, 1, 0), among=np.array([True, False, True])) == pytest.approx(-0.0995,
                                                                                                         abs=1e-3)
    assert np.isnan(memory.known_outside(None))
    assert np.isnan(memory.known_outside(_unit(1, 0, 0), among=np.array([True, False, False])))  # no uncovered one


def test_a_missing_known_outside_pulls_neither_way():
    measured = Evidence(0.6, 0.1, 0.5, 0.8, 1.0, BUNDLED_DECISION.mean[-1])
    missing = Evidence(0.6, 0.1, 0.5, 0.8, 1.0)
    assert np.isnan(missing.known_outside)
    assert BUNDLED_DECISION.probability(missing) == pytest.approx(BUNDLED_DECISION.probability(measured))
    nearer_uncovered = Evidence(0.6, 0.1, 0.5, 0.8, 1.0, 0.2)
    assert BUNDLED_DECISION.probability(nearer_uncovered) < BUNDLED_DECISION.probability(measured)


def test_the_threshold_is_chosen_on_held_out_folds_to_answer_the_target_share():
    rng = np.random.default_rng(1)
    inside = [_evidence(0.55 + 0.3 * rng.random(), 0.6 + 0.4 * rng.random()) for _ in range(200)]
    outside = [_evidence(0.3 + 0.3 * rng.random(), 0.3 + 0.5 * rng.random()) for _ in range(100)]
    labels = [True] * 200 + [False] * 100
    decision = fit(inside + outside, labels, folds=[n % 5 for n in range(300)])
    assert THRESHOLD_RANGE[0] <= decision.threshold <= THRESHOLD_RANGE[1]
    held_out = decision.fitted_on["held_out"]
    assert held_out["answered"] >= ANSWERED_TARGET - 0.01 and 0.0 < held_out["flagged"] <= 1.0
    # In sample (the fitted model on its own data), the target share of in-scope questions is answered too.
    assert np.mean([decision.confident(e) for e in inside]) >= ANSWERED_TARGET - 0.02
    assert fit(inside + outside, labels).threshold == 0.5  # without folds, the threshold given


def test_the_threshold_serves_the_hardest_round_of_questions_not_the_pool():
    # Two rounds of in-scope questions: an easy one (close matches) and a hard one (weaker evidence, as asked in
    # a learner's own words). Pooled, the easy round hides the hard one.
    rng = np.random.default_rng(2)
    easy = [_evidence(0.7 + 0.2 * rng.random(), 0.8 + 0.2 * rng.random()) for _ in range(300)]
    hard = [_evidence(0.5 + 0.3 * rng.random(), 0.6 + 0.3 * rng.random()) for _ in range(100)]
    outside = [_evidence(0.2 + 0.4 * rng.random(), 0.2 + 0.5 * rng.random()) for _ in range(150)]
    evidence, labels = easy + hard + outside, [True] * 400 + [False] * 150
    folds = [n % 5 for n in range(550)]
    pooled = fit(evidence, labels, folds=folds)
    by_round = fit(evidence, labels, folds=folds, rounds=["easy"] * 300 + ["hard"] * 100 + ["either"] * 150)
    assert by_round.fitted_on["held_out"]["hardest_round"] == "hard"
    assert by_round.threshold < pooled.threshold
    assert by_round.fitted_on["held_out"]["answered_hardest_round"] >= ANSWERED_TARGET - 0.01
    assert np.mean([pooled.confident(e) for e in hard]) < np.mean([by_round.confident(e) for e in hard])


def test_a_fit_needs_both_classes():
    with pytest.raises(ValueError, match="in-scope and out-of-scope"):
        fit([_evidence(0.8, 1.0)] * 5, [True] * 5)


def test_the_decision_survives_a_json_round_trip():
    again = Decision.from_json(BUNDLED_DECISION.to_json())
    assert again == BUNDLED_DECISION
    assert again.features == Evidence.feature_names()


def test_bundled_decision_answers_a_close_match_and_refuses_a_far_one():
    assert BUNDLED_DECISION.confident(Evidence(0.95, 0.3, 1.0, 1.0, 1.0))
    assert not BUNDLED_DECISION.confident(Evidence(0.15, 0.0, 0.0, 0.2, 0.0))
    assert "dense_top=" in BUNDLED_DECISION.explain(Evidence(0.5, 0.1, 0.5, 0.5, 1.0))


def test_the_shipped_fit_questions_are_dev_only_and_of_both_kinds():
    import json
    from pathlib import Path

    rows = fit_questions()
    assert sum(r["in_scope"] for r in rows) > 200 and sum(not r["in_scope"] for r in rows) > 60
    blind = json.loads((Path(__file__).parent.parent / "benchmarks/data/retrieval_blind.json").read_text())
    test_questions = {c["q"] for key in ("in_scope", "out_of_scope") for c in blind[key] if c["split"] == "test"}
    assert not test_questions & {r["q"] for r in rows}


def test_out_of_scope_fit_questions_that_the_users_notes_answer_are_not_fitted_as_out_of_scope(fake_config, tmp_path):
    from dataclasses import replace

    from tests.conftest import HashEmbedder
    from tutor import Tutor

    outside = [r["q"] for r in fit_questions() if not r["in_scope"]][:6]
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "my_notes.md").write_text("# My notes\n\n" + "".join(
        f"## {q}\n\nMy own answer to this, written down after reading the docs about it.\n\n" for q in outside),
        encoding="utf-8")
    plain = Tutor.load(fake_config, embedder=HashEmbedder()).decision.fitted_on
    mine = Tutor.load(replace(fake_config, index_dir=tmp_path / "notes-index", notes_dir=notes),
                      embedder=HashEmbedder()).decision.fitted_on
    assert mine["in_scope"] == plain["in_scope"]
    assert mine["out_of_scope"] <= plain["out_of_scope"] - len(outside) // 2
