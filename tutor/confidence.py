"""Is this question in my notes? A logistic regression over a few retrieval features, fitted on data.

Cosine alone cannot say: "what is MSE" scores lower against the notes than "what is a support vector
machine". The decision therefore weighs several kinds of evidence (``Evidence``), each a number that
retrieval already has:

==============  ==========================================================================================
dense_top       dense score of the best item (its best passage's cosine plus a share of its second best)
dense_margin    how far that item leads the best item of another question group (dense score)
lexical_share   IDF-weighted share of the question's words that the best item contains
coverage        IDF-weighted share of the question's words that the notes use anywhere; a word the notes
                never use weighs the most, so "FSDP" in a question about sharding pulls it down
agreement       whether dense and BM25 rankings agree on the best item (1, 1/2, 1/3 … by its BM25 rank)
==============  ==========================================================================================

The weights are fitted when the index is built (``fit``), on the development questions shipped in
``tutor/data/confidence_questions.jsonl`` — in-scope questions with the items that answer them and
out-of-scope ones, near misses among them — and stored in the index manifest with the hash of that file,
so a query only computes a dot product, and a changed file, feature set or model means a refit. The test
questions of ``benchmarks/`` are never fitted on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass, fields
from importlib import resources

import numpy as np

CONFIDENCE_VERSION = 3  # bump when the features or the fit change: the index then refits
FIT_DATA = "data/confidence_questions.jsonl"
MIN_FIT_QUESTIONS = 20  # of each class; fewer, and the bundled decision is used
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evidence:
    """What the decision looks at, for one question (see the module docstring)."""

    dense_top: float
    dense_margin: float
    lexical_share: float
    coverage: float
    agreement: float
    unknown_words: tuple[str, ...] = ()

    @classmethod
    def feature_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name != "unknown_words")

    def features(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in self.feature_names()], dtype=np.float64)


def gather_evidence(retriever, question: str, ranked: list, groups: list[int]) -> Evidence:
    """The evidence for ``question`` given its ranked items (``tutor.retrieval.Scored``, best first)."""
    if not ranked:
        return Evidence(0.0, 0.0, 0.0, 0.0, 0.0)
    best = ranked[0]
    rival = next((s.dense for s in ranked[1:] if groups[s.position] != groups[best.position]), 0.0)
    words = retriever.word_weights(retriever.repair_spelling(question))
    total = sum(weight for _, weight, _ in words) or 1.0
    in_best = retriever.item_terms.get(best.position, frozenset())
    known = [not terms.isdisjoint(retriever.idf) for _, _, terms in words]
    coverage = sum(w for (_, w, _), k in zip(words, known, strict=True) if k) / total if words else 0.0
    share = sum(w for _, w, terms in words if terms & in_best) / total if words else 0.0
    unknown = tuple(word for (word, _, _), k in zip(words, known, strict=True) if not k)
    lexical_order = sorted(ranked, key=lambda s: -s.lexical)
    lexical_rank = next(r for r, s in enumerate(lexical_order, start=1) if s.position == best.position)
    agreement = 1.0 / lexical_rank if best.lexical > 0 else 0.0
    return Evidence(round(best.dense, 4), round(best.dense - rival, 4), round(share, 4), round(coverage, 4),
                    round(agreement, 4), unknown)


@dataclass(frozen=True)
class Decision:
    """A fitted logistic regression on standardised features; ``threshold`` on its probability."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5
    version: int = CONFIDENCE_VERSION
    data_sha256: str = ""
    fitted_on: dict | None = None

    def _pulls(self, evidence: Evidence) -> np.ndarray:
        """Each feature's contribution to the logit: its standardised value times its weight."""
        return (evidence.features() - np.asarray(self.mean)) / np.asarray(self.scale) * np.asarray(self.weights)

    def probability(self, evidence: Evidence) -> float:
        logit = float(self._pulls(evidence).sum() + self.bias)
        return 1.0 / (1.0 + math.exp(-max(min(logit, 50.0), -50.0)))

    def confident(self, evidence: Evidence) -> bool:
        return self.probability(evidence) >= self.threshold

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Decision:
        data = dict(data)
        for key in ("features", "mean", "scale", "weights"):
            data[key] = tuple(data[key])
        return cls(**data)

    def explain_weights(self) -> str:
        """The learnt weight of each (standardised) feature, and the bias."""
        cells = ", ".join(f"{n} {w:+.2f}" for n, w in zip(self.features, self.weights, strict=True))
        return f"{cells}, bias {self.bias:+.2f}"

    def explain(self, evidence: Evidence) -> str:
        """One line per feature: its value and its pull on the decision (for ``tutor -v`` and tests)."""
        return ", ".join(f"{n}={v:.3f} ({p:+.2f})" for n, v, p in
                         zip(self.features, evidence.features(), self._pulls(evidence), strict=True))


def fit_questions() -> list[dict]:
    """The shipped development questions: ``{"q", "in_scope", "gold"}`` per line."""
    text = resources.files("tutor").joinpath(FIT_DATA).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def fit_rows(index) -> list[dict]:
    """The shipped questions that can be fitted on these notes: every out-of-scope one, and each in-scope one
    that names an answered item here (a user's own notes may lack the bundled pages)."""
    ids = {item.id for item in index.items if item.answer}
    return [row for row in fit_questions() if not row["in_scope"] or ids & set(row["gold"])]


def fit_data_sha256() -> str:
    data = resources.files("tutor").joinpath(FIT_DATA).read_bytes()
    return hashlib.sha256(f"confidence:{CONFIDENCE_VERSION}\0".encode() + data).hexdigest()


def fit(evidence: list[Evidence], labels: list[bool], threshold: float = 0.5) -> Decision:
    """Fit the decision: L2-regularised logistic regression, classes weighted to count equally.

    Raises:
        ValueError: fewer than two examples of either class.
    """
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(labels, dtype=bool)
    if y.sum() < 2 or (~y).sum() < 2:
        raise ValueError("The confidence fit needs in-scope and out-of-scope examples.")
    x = np.vstack([e.features() for e in evidence])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
    model.fit((x - mean) / scale, y)
    return Decision(Evidence.feature_names(), tuple(mean.round(6)), tuple(scale.round(6)),
                    tuple(model.coef_[0].round(6)), round(float(model.intercept_[0]), 6), threshold,
                    fitted_on={"in_scope": int(y.sum()), "out_of_scope": int((~y).sum())})


def fit_for_index(index, embedder, bundled_notes: bool = True) -> Decision:
    """Fit the decision for a freshly built index: the shipped questions are retrieved exactly as ``ask``
    retrieves them (``fit_rows``); ``bundled_notes`` False (the ranker's fit found that items with
    the bundled ids do not answer the shipped questions) means the bundled decision."""
    from tutor.retrieval import Retriever

    rows = fit_rows(index)
    labels = [row["in_scope"] for row in rows]
    if not bundled_notes or sum(labels) < MIN_FIT_QUESTIONS or len(labels) - sum(labels) < MIN_FIT_QUESTIONS:
        log.warning("The shipped questions are not about these notes (%d name an item here%s): using the "
                    "confidence decision fitted on the bundled notes with all-MiniLM-L6-v2.", sum(labels),
                    "" if bundled_notes else ", which does not answer them")
        return BUNDLED_DECISION
    retriever = Retriever(index, embedder)
    questions = [row["q"] for row in rows]
    found = retriever.search_many(questions, k=10)
    # An out-of-scope question is out of the bundled pages' scope; a user's own notes may answer it ("what
    # does torch.compile do?"), and then its label is unknown: it is left out when a page of the notes, not
    # a bundled one, answers it best.
    named = {gold for row in rows for gold in row["gold"]}
    bundled = {item.source for item in index.items if item.id in named}
    kept = [n for n, (row, ranked) in enumerate(zip(rows, found, strict=True))
            if row["in_scope"] or not ranked or index.items[ranked[0].position].source in bundled]
    evidence = [gather_evidence(retriever, questions[n], found[n], index.groups) for n in kept]
    decision = fit(evidence, [labels[n] for n in kept])
    return Decision(**{**decision.to_json(), "data_sha256": fit_data_sha256()})


# The decision fitted on the bundled notes with all-MiniLM-L6-v2 (the ``confidence`` entry of their index
# manifest), for notes that the shipped questions do not cover.
BUNDLED_DECISION = Decision(
    features=Evidence.feature_names(), mean=(0.738846, 0.124222, 0.468567, 0.747339, 0.720881),
    scale=(0.264714, 0.188563, 0.352498, 0.255734, 0.347868),
    weights=(2.501726, -0.134951, 0.169992, 1.013312, 0.057649), bias=1.451418, data_sha256="bundled",
    fitted_on={"in_scope": 258, "out_of_scope": 80})
