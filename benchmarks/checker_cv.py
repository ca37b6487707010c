"""How well does the fact checker read points it never saw? Its pairs, held out by item.

The grading benchmark's cross-fitted checkers (``benchmarks/grading.py --cross-fit``) are each fitted on the
shipped pairs (``tutor/data/fact_checks.jsonl``) about half the items; here each reads the other half's pairs,
which it never saw, as a new page's points would be read. Printed per half and pooled: accuracy, the confusion
of the three labels, the mean probability of each label by true label, and the AUC of P(states) between correct
sentences and misconceptions (what the grader's stated share rests on).

    python benchmarks/checker_cv.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.grading import cross_fit_checkers  # noqa: E402
from tutor import Tutor, checking  # noqa: E402

BATCH = 64


def read(checker: checking.FactChecker, rows: list[dict]) -> np.ndarray:
    """The checker's label probabilities for each row's (point, sentence)."""
    pairs = [(row["point"], row["sentence"]) for row in rows]
    return np.vstack([checker.probabilities(pairs[start : start + BATCH]) for start in range(0, len(pairs), BATCH)])


def report(name: str, probabilities: np.ndarray, truth: np.ndarray) -> None:
    from sklearn.metrics import roc_auc_score

    predicted = probabilities.argmax(axis=1)
    states = checking.LABELS.index("states")
    claims = truth != checking.LABELS.index("other")
    auc = roc_auc_score(truth[claims] == states, probabilities[claims, states])
    print(f"\n{name}: {len(truth)} pairs, accuracy {np.mean(predicted == truth):.3f}, AUC of P(states), correct "
          f"against misconceptions {auc:.3f}\n")
    print("| true \\ read as | " + " | ".join(checking.LABELS) + " | recall | mean P(" + ", ".join(checking.LABELS)
          + ") |")
    print("|---|---|---|---|---|---|")
    for n, label in enumerate(checking.LABELS):
        mine = truth == n
        counts = [int(np.sum(predicted[mine] == m)) for m in range(len(checking.LABELS))]
        print(f"| {label} | " + " | ".join(map(str, counts)) + f" | {counts[n] / max(mine.sum(), 1):.3f} | "
              + ", ".join(f"{p:.2f}" for p in probabilities[mine].mean(axis=0)) + " |")


def main() -> None:
    tutor = Tutor.load()
    rows = checking.fit_rows()
    pooled, truths = [], []
    for half, (mine, checker) in enumerate(cross_fit_checkers(tutor)):
        unseen = [row for row in rows if row["item"] not in mine]
        probabilities = read(checker, unseen)
        truth = np.array([checking.LABELS.index(row["label"]) for row in unseen])
        report(f"Checker fitted on half {half} ({len(mine)} items), read on the other half's pairs", probabilities,
               truth)
        pooled.append(probabilities)
        truths.append(truth)
    report("Both halves pooled", np.vstack(pooled), np.concatenate(truths))


if __name__ == "__main__":
    main()
