"""Fit the follow-up choice (``tutor.conversation.FOLLOW_UP_MODEL``) on the dev split, cross-validated by item.

Three kinds of turns, each labelled with the reading that serves the user better:

* blind follow-ups: the reading (alone, or expanded and re-ranked) that answers with a right item first, else
  ranks one higher;
* in-scope questions asked in the middle of an unrelated conversation (``mid_conversation``): likewise;
* out-of-scope questions asked in the middle of one: the standalone reading, when it alone says "not covered".

Turns where both readings do equally well carry no label. The script prints, per fold and pooled, what the
fitted choice and the rule it replaced give on held-out items, then the constant to paste into
``tutor/conversation.py`` (fitted on every dev turn).

    python benchmarks/fit_follow_ups.py
    python benchmarks/fit_follow_ups.py --split test   # the shipped model and the old rule on test, no fit
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.retrieval import DATA, memory_without, mid_conversation  # noqa: E402
from tutor import Tutor, conversation  # noqa: E402

FOLDS = 5
C = 3.0  # the logistic regression's inverse regularisation (chosen by held-out follow-ups on dev: 0.3, 1, 3)


def old_rule(alone, expanded, cues: conversation.Cues, threshold: float) -> bool:
    """The rule the model replaced: expanded when the question has no subject, or when the question alone is
    not covered and the expanded reading is clearly better supported."""
    if cues.subject < 0.6:
        return True
    return alone.probability < threshold and expanded.probability >= alone.probability + 0.15


def turns(tutor: Tutor, split: str) -> list[dict]:
    """Every turn of the split's three kinds with both readings' outcomes and the model's features."""
    blind = json.loads((DATA / "retrieval_blind.json").read_text())
    follow_ups = [c for c in blind["follow_ups"] if c["split"] == split]
    kinds = [("follow-up", follow_ups),
             ("in-scope mid-conversation", mid_conversation([c for c in blind["in_scope"] if c["split"] == split],
                                                            follow_ups)),
             ("out-of-scope mid-conversation",
              mid_conversation([c for c in blind["out_of_scope"] if c["split"] == split], follow_ups))]
    ids = [item.id for item in tutor.items]
    threshold = tutor.decision.threshold
    out = []
    for kind, cases in kinds:
        for case in cases:
            history = [{"role": "user", "content": h} for h in case["history"]]
            with memory_without(tutor, case):  # a dev question is not judged by its own copy in the memory
                alone, expanded, cues = tutor.conversation_readings(case["q"], history)
            aspect, fused = expanded.ranked, expanded.probability
            gold = set(case.get("gold", ()))

            def first(ranked: list, gold: set = gold) -> bool:
                return bool(ranked) and ids[ranked[0].position] in gold

            def rank(ranked: list, gold: set = gold) -> int:
                return next((r for r, s in enumerate(ranked) if ids[s.position] in gold), 99)

            confident = (alone.probability >= threshold, fused >= threshold)
            if gold:  # better: a right item first and answered, then a right item higher
                a = (first(alone.ranked) and confident[0], -rank(alone.ranked))
                e = (first(aspect) and confident[1], -rank(aspect))
                label = None if a == e else int(e > a)
            else:
                alone_refuses, expanded_refuses = alone.probability < threshold, fused < threshold
                label = 0 if alone_refuses and not expanded_refuses else None
            out.append({"kind": kind, "group": case["gold"][0] if gold else case["q"],
                        "x": conversation.features(alone, expanded, cues), "label": label,
                        "hit": (first(alone.ranked), first(aspect)),
                        "confident": confident,
                        "old": old_rule(alone, expanded, cues, threshold)})
    return out


def outcomes(rows: list[dict], expand: list[bool]) -> dict[str, str]:
    """What a choice gives: hit@1 of follow-ups and in-scope turns, answered and flagged shares."""
    def pick(row: dict, e: bool, field: str):
        return row[field][int(e)]

    def share(values: list[bool]) -> str:
        return f"{np.mean(values):.3f} ({sum(values)}/{len(values)})" if values else "-"

    by_kind = {kind: [(r, e) for r, e in zip(rows, expand, strict=True) if r["kind"] == kind]
               for kind in ("follow-up", "in-scope mid-conversation", "out-of-scope mid-conversation")}
    return {
        "follow-ups hit@1": share([pick(r, e, "hit") for r, e in by_kind["follow-up"]]),
        "mid-conversation in-scope hit@1": share([pick(r, e, "hit") for r, e in by_kind["in-scope mid-conversation"]]),
        "mid-conversation in-scope answered": share(
            [pick(r, e, "confident") for r, e in by_kind["in-scope mid-conversation"]]),
        "... answered with a right item first": share(
            [pick(r, e, "confident") and pick(r, e, "hit") for r, e in by_kind["in-scope mid-conversation"]]),
        "mid-conversation out-of-scope flagged": share(
            [not pick(r, e, "confident") for r, e in by_kind["out-of-scope mid-conversation"]]),
    }


def alone_when_both_agree(rows: list[dict], expand: list[bool]) -> list[bool]:
    """A choice with ``FollowUpModel.choose``'s override: alone when both readings put the same item first and
    the question alone is confident."""
    return [e and not (bool(r["x"][5]) and r["confident"][0]) for r, e in zip(rows, expand, strict=True)]


def _signed_logistic(x: np.ndarray, y: np.ndarray, signs: tuple[int, ...]) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression (``C``) whose weights keep the given signs (0: free), by L-BFGS-B."""
    from scipy.optimize import minimize

    def loss(wb: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = wb[:-1], wb[-1]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        value = float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 / C * w @ w)
        return value, np.r_[x.T @ (p - y) + w / C, np.sum(p - y)]

    bounds = [(0.0, None) if s > 0 else (None, 0.0) if s < 0 else (None, None) for s in signs] + [(None, None)]
    result = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, bounds=bounds, method="L-BFGS-B")
    return result.x[:-1], float(result.x[-1])


def fit(rows: list[dict]) -> conversation.FollowUpModel:
    """A logistic regression on the labelled turns' standardised features (a missing one takes the mean), each
    weight held to its sign in ``conversation.SIGNS``."""
    labelled = [r for r in rows if r["label"] is not None]
    x = np.array([r["x"] for r in labelled], dtype=np.float64)
    y = np.array([r["label"] for r in labelled])
    mean = np.array([np.nanmean(c) if not np.isnan(c).all() else 0.0 for c in x.T])
    scale = np.array([np.nanstd(c) if not np.isnan(c).all() else 1.0 for c in x.T])
    scale[~(scale > 1e-9)] = 1.0
    x = (np.where(np.isnan(x), mean, x) - mean) / scale
    weights, bias = _signed_logistic(x, y, conversation.SIGNS)
    return conversation.FollowUpModel(
        weights=tuple(round(float(w), 4) for w in weights), bias=round(float(bias), 4),
        fitted_on={"turns": len(y), "expanded_better": int(y.sum())}, mean=tuple(round(float(m), 4) for m in mean),
        scale=tuple(round(float(v), 4) for v in scale))


def held_out(rows: list[dict], seed: int) -> list[bool]:
    """Each turn's choice by a model fitted without its fold (folds by item, dealt with ``seed``)."""
    groups = sorted({r["group"] for r in rows})
    random.Random(seed).shuffle(groups)
    fold_of = {g: n % FOLDS for n, g in enumerate(groups)}
    predicted = [False] * len(rows)
    for fold in range(FOLDS):
        model = fit([r for r in rows if fold_of[r["group"]] != fold])
        for n, r in enumerate(rows):
            if fold_of[r["group"]] == fold:
                predicted[n] = model.probability_of(r["x"]) >= 0.5
    return predicted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--seeds", type=int, default=5, help="fold deals whose held-out follow-ups are averaged")
    args = parser.parse_args()
    tutor = Tutor.load()
    rows = turns(tutor, args.split)
    if args.split == "test":
        shipped = [conversation.FOLLOW_UP_MODEL.probability_of(r["x"]) >= 0.5 for r in rows]
        print("| choice (test split) | " + " | ".join(outcomes(rows, shipped)) + " |")
        print("|---|---|---|---|---|---|")
        for name, expand in (("always alone", [False] * len(rows)), ("always expanded", [True] * len(rows)),
                             ("the old rule", [r["old"] for r in rows]),
                             ("shipped model", alone_when_both_agree(rows, shipped))):
            print(f"| {name} | " + " | ".join(outcomes(rows, expand).values()) + " |")
        return
    predicted = held_out(rows, seed=0)
    labels = [r["label"] for r in rows if r["label"] is not None]
    print(f"dev turns: {len(rows)}; labelled {len(labels)} ({sum(labels)} expanded better, "
          f"{len(labels) - sum(labels)} alone better)\n")
    print(f"| choice (held-out items, {FOLDS} folds) | " + " | ".join(outcomes(rows, predicted)) + " |")
    print("|---|---|---|---|---|---|")
    choices = [("always alone", [False] * len(rows)), ("always expanded", [True] * len(rows)),
               ("the old rule", [r["old"] for r in rows])]
    if len(conversation.FOLLOW_UP_MODEL.weights) == len(conversation.FEATURES):  # else fitted on other features
        shipped = [conversation.FOLLOW_UP_MODEL.probability_of(r["x"]) >= 0.5 for r in rows]  # in sample
        choices += [("shipped model (in sample)", shipped),
                    ("shipped model, alone when both agree (as shipped)", alone_when_both_agree(rows, shipped))]
    choices += [("fitted model", predicted),
                ("fitted model, alone when both agree", alone_when_both_agree(rows, predicted))]
    for name, expand in choices:
        print(f"| {name} | " + " | ".join(outcomes(rows, expand).values()) + " |")
    deals = [predicted] + [held_out(rows, seed) for seed in range(1, args.seeds)]  # seed 0 is ``predicted``
    follow_ups = [float(outcomes(rows, alone_when_both_agree(rows, deal))["follow-ups hit@1"].split()[0])
                  for deal in deals]
    print(f"\nHeld-out follow-ups hit@1 over {args.seeds} fold deals (alone when both agree): "
          f"{np.mean(follow_ups):.3f} ± {np.std(follow_ups):.3f}")
    model = fit(rows)
    print("\nFitted on every dev turn; paste into tutor/conversation.py:\n")
    print(f"FOLLOW_UP_MODEL = {model!r}")
    print("\n" + model.explain_weights())


if __name__ == "__main__":
    main()
