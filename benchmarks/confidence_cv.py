"""Which evidence should the confidence decision read? Cross-validated on the shipped dev questions only.

The shipped fit rows (``tutor.confidence.fit_rows``) are dealt into the decision's folds (by item,
``tutor.confidence.fold_of``); each fold is decided by a logistic regression fitted on the other four, and the
held-out probabilities are pooled. Each variant adds a feature to the five that read only the notes:

* the nearest shipped out-of-scope question's cosine;
* its margin over the nearest shipped in-scope question (``known_outside``, shipped);
* both;
* the margin over the in-scope questions and every item's own question and listed phrasings.

A fitted question is compared only with the shipped questions of the other folds, as in ``tutor.fitting.fit_decision``.
Printed per variant: AUC, answered / flagged at the threshold 0.5, and the threshold at which 0.97 of the held-out
in-scope questions are answered with the share of out-of-scope ones flagged there.

    python benchmarks/confidence_cv.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tutor import Tutor, confidence  # noqa: E402


def held_out(x: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each question's probability from a decision fitted without its fold."""
    p = np.zeros(len(y))
    for fold in np.unique(folds):
        train = folds != fold
        model, mean, scale = confidence._logistic(x[train], y[train])
        p[~train] = model.predict_proba((x[~train] - mean) / scale)[:, 1]
    return p


def main() -> None:
    from sklearn.metrics import roc_auc_score

    tutor = Tutor.load()
    retriever = tutor.retriever
    rows = confidence.fit_rows(tutor.index)
    questions = [row["q"] for row in rows]
    vectors = retriever.embed_many(questions)
    found = [retriever.search(q, 10, v) for q, v in zip(questions, vectors, strict=True)]
    y = np.array([row["in_scope"] for row in rows])
    folds = np.array([confidence.fold_of(row) for row in rows])
    first = np.vstack([v[0] for v in vectors])
    cosines = first @ first.T
    others = folds[None, :] != folds[:, None]  # row i may be compared with column j
    nearest_out = np.where(others & ~y[None, :], cosines, -1.0).max(axis=1)
    nearest_in = np.where(others & y[None, :], cosines, -1.0).max(axis=1)
    asked = [retriever.query_text(text) for item in tutor.items if item.answer for text in (item.prompt,
                                                                                              *item.phrasings)]
    nearest_asked = (first @ tutor.embedder.embed(asked).T).max(axis=1)
    five = np.vstack([confidence.gather_evidence(retriever, q, f, tutor.index.groups, known_outside=0.0).features()
                      for q, f in zip(questions, found, strict=True)])[:, :5]
    variants = {
        "five features (before)": five,
        "+ nearest out-of-scope cosine": np.c_[five, nearest_out],
        "+ its margin over the nearest in-scope one (shipped)": np.c_[five, nearest_out - nearest_in],
        "+ both": np.c_[five, nearest_out, nearest_out - nearest_in],
        "the margin over in-scope questions and the items' phrasings": np.c_[
            five, nearest_out - np.maximum(nearest_in, nearest_asked)],
    }
    print(f"{len(rows)} shipped dev questions ({y.sum()} in scope), {confidence.FOLDS} folds by item\n")
    print("| decision, held-out dev | AUC | at 0.5: answered / flagged | at 0.97 answered: threshold, flagged |")
    print("|---|---|---|---|")
    for name, x in variants.items():
        p = held_out(x, y, folds)
        threshold = np.quantile(p[y], 1 - confidence.ANSWERED_TARGET)
        print(f"| {name} | {roc_auc_score(y, p):.3f} | {(p[y] >= 0.5).mean():.3f} / {(p[~y] < 0.5).mean():.3f} | "
              f"{threshold:.3f}, {(p[~y] < threshold).mean():.3f} |")


if __name__ == "__main__":
    main()
