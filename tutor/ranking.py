"""Which item answers a question best: a linear ranker over retrieval evidence, fitted on data.

Retrieval ranks in two stages. The hybrid score (``tutor.retrieval``: dense less the hub penalty, plus a
share of BM25) picks the candidates; the ranker then orders them by a weighted sum of evidence that the
hybrid score folds away or never sees:

============  ============================================================================================
dense         the item's dense score (best passage cosine plus a share of its second best)
hub           the item's pull on the notes' other questions (``tutor.retrieval.hub_pull``)
lexical       BM25, normalised by the query's best item
question_cos  cosine of the question with the item's own question
answer_cos    cosine with the item's whole answer (its question and answer embedded together)
part_cos      cosine with the item's best part (a sentence, bullet or code block of a long answer)
term_share    IDF-weighted share of the question's words that the item uses anywhere
title_share   IDF-weighted share of the question's words that the item's question uses
============  ============================================================================================

Each kind of passage tells something else: a question that matches an item's whole answer is usually
about the item, one that matches a single sentence of it may only brush it. How much each counts is learnt,
not set by hand: a pairwise logistic regression (RankSVM-style, Herbrich et al. 2000) on the development
questions shipped for the confidence decision (``tutor/data/confidence_questions.jsonl``), each pairing the
item that answers it with the candidates that compete with it. The weights are fitted when the index is built
(``tutor.fitting.fit_ranker``) and stored in its manifest (``ranker``); a query computes one dot product per
candidate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

RANKER_VERSION = 2  # bump when the features, the fit or how a question is read (spelling repair) change: refit
FEATURES = ("dense", "hub", "lexical", "question_cos", "answer_cos", "part_cos", "term_share", "title_share")
CANDIDATES = 30  # items the first stage hands the ranker
NEGATIVES = 15  # competitors per fitted question: the first stage's best items other than the answer


@dataclass(frozen=True)
class Ranker:
    """Weights over standardised features (``FEATURES``); an item's score is their dot product."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    version: int = RANKER_VERSION
    fitted_on: dict | None = None

    def scores(self, features: np.ndarray) -> np.ndarray:
        """One score per row of ``features`` (candidates x ``FEATURES``)."""
        standard = (features - np.asarray(self.mean)) / np.asarray(self.scale)
        return (standard @ np.asarray(self.weights)).astype(np.float32)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Ranker:
        data = dict(data)
        for key in ("features", "mean", "scale", "weights"):
            data[key] = tuple(data[key])
        return cls(**data)

    def explain_weights(self) -> str:
        return ", ".join(f"{n} {w:+.2f}" for n, w in zip(self.features, self.weights, strict=True))


def fit(candidates: list[tuple[np.ndarray, np.ndarray]], c: float = 1.0) -> Ranker:
    """Fit the ranker on questions whose candidates' features and gold flags are given.

    Each question contributes pairs (its best-ranked answering item, one of its ``NEGATIVES`` best
    competitors), in both orders; a logistic regression without intercept on the pairs' feature
    differences learns weights under which the answering item scores higher.

    Raises:
        ValueError: no question has both an answering item and a competitor among its candidates.
    """
    from sklearn.linear_model import LogisticRegression

    usable = [(x, gold) for x, gold in candidates if gold.any() and (~gold).any()]
    if not usable:
        raise ValueError("The ranker fit needs questions with their answering item among the candidates.")
    stacked = np.vstack([x for x, _ in usable])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0)
    scale[scale < 1e-9] = 1.0
    differences = []
    for x, gold in usable:
        standard = (x - mean) / scale
        answer = standard[np.flatnonzero(gold)[0]]
        differences += [answer - other for other in standard[~gold][:NEGATIVES]]
    pairs = np.vstack([np.vstack(differences), -np.vstack(differences)])
    labels = np.r_[np.ones(len(differences)), np.zeros(len(differences))]
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=2000).fit(pairs, labels)
    return Ranker(FEATURES, tuple(mean.round(6)), tuple(scale.round(6)), tuple(model.coef_[0].round(6)),
                  fitted_on={"questions": len(usable), "pairs": len(differences)})


# The ranker fitted on the bundled notes with all-MiniLM-L6-v2 (the ``ranker`` entry of their index
# manifest), for notes that the shipped questions do not cover.
BUNDLED_RANKER = Ranker(
    features=FEATURES, mean=(0.500435, 0.031766, 0.276609, 0.261597, 0.295265, 0.369665, 0.1722, 0.06437),
    scale=(0.19136, 0.142113, 0.274338, 0.204396, 0.185223, 0.160767, 0.224557, 0.157287),
    weights=(1.611426, -0.537175, 0.432341, 0.303194, 1.448071, -0.170622, 1.633167, -0.276438),
    fitted_on={"questions": 257, "pairs": 3855})
