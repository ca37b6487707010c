"""Would a richer ranker order the candidates better? Cross-validated on the shipped dev questions only.

The first stage's candidates and the ranker's features (``tutor.ranking.FEATURES``) of every shipped in-scope
question are computed once; each fold (by item, ``tutor.confidence.fold_of``) is then ranked by a ranker fitted
on the other four. Variants: the shipped linear pairwise fit at three regularisations; with each feature's
reciprocal rank among the candidates; with a flag for the first stage's best candidate; gradient-boosted trees
over the features and their gaps to the best candidate (pointwise).

    python benchmarks/ranker_cv.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tutor import Tutor, confidence, ranking  # noqa: E402
from tutor.retrieval import Retriever  # noqa: E402


def reciprocal_ranks(x: np.ndarray, columns=(0, 2, 3, 4, 5, 6)) -> np.ndarray:
    ranks = np.argsort(np.argsort(-x[:, list(columns)], axis=0, kind="stable"), axis=0) + 1
    return np.c_[x, 1.0 / ranks]


def with_gaps(x: np.ndarray) -> np.ndarray:
    return np.c_[x, x - x.max(axis=0, keepdims=True), np.arange(len(x)) == 0]


def linear(transform=lambda x: x, c: float = 1.0):
    def fit(train):
        model = ranking.fit([(transform(x), gold) for x, gold in train], c=c)
        return lambda x: model.scores(transform(x))
    return fit


def trees(train):
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.vstack([with_gaps(x) for x, _ in train])
    y = np.concatenate([gold for _, gold in train])
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=0)
    model.fit(x, y)
    return lambda x: model.predict_proba(with_gaps(x))[:, 1]


def main() -> None:
    tutor = Tutor.load()
    rows = [row for row in confidence.fit_rows(tutor.index) if row["in_scope"]]
    ids = [item.id for item in tutor.items]
    found = Retriever(tutor.index, tutor.embedder, ranker=None).candidates_many([row["q"] for row in rows])
    candidates = [(x, np.array([ids[p] in row["gold"] for p in positions]))
                  for row, (positions, x) in zip(rows, found, strict=True)]
    folds = np.array([confidence.fold_of(row) for row in rows])
    variants = {
        "first stage alone (its hybrid order)": lambda train: (lambda x: -np.arange(len(x), dtype=float)),
        "linear pairwise (shipped), C = 1": linear(),
        "linear pairwise, C = 0.1": linear(c=0.1),
        "linear pairwise, C = 10": linear(c=10.0),
        "+ each feature's reciprocal rank": linear(reciprocal_ranks),
        "+ the first stage's best candidate flagged": linear(lambda x: np.c_[x, np.arange(len(x)) == 0]),
        "gradient-boosted trees, features and gaps": trees,
    }
    print(f"{len(rows)} shipped in-scope dev questions, {confidence.FOLDS} folds by item\n")
    print("| ranker, held-out dev | hit@1 | MRR |")
    print("|---|---|---|")
    for name, fit in variants.items():
        hits, reciprocal = [], []
        for fold in range(confidence.FOLDS):
            score = fit([c for c, f in zip(candidates, folds, strict=True) if f != fold])
            for (x, gold), f in zip(candidates, folds, strict=True):
                if f == fold:
                    order = np.argsort(-score(x), kind="stable")
                    rank = next((r + 1 for r, o in enumerate(order) if gold[o]), None)
                    hits.append(rank == 1)
                    reciprocal.append(1 / rank if rank else 0.0)
        print(f"| {name} | {np.mean(hits):.3f} | {np.mean(reciprocal):.3f} |", flush=True)


if __name__ == "__main__":
    main()
