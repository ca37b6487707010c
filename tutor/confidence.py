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
known_outside   how much nearer the question is to the nearest shipped out-of-scope question than to the
                nearest shipped in-scope one (cosine minus cosine): "what does torch.compile do" lies next
                to a question the notes are known not to cover, however many of its words they use
==============  ==========================================================================================

The weights are fitted when the index is built (``tutor.fitting.fit_decision``), on the development questions shipped
in ``tutor/data/confidence_questions.jsonl`` — in-scope questions with the items that answer them and
out-of-scope ones, near misses among them — and stored in the index manifest with the hash of that file,
so a query only computes a dot product, and a changed file, feature set or model means a refit. The test
questions of ``benchmarks/`` are never fitted on.

Two things keep the fit honest about questions it has not seen:

* **Cross-fitting.** ``known_outside`` of a fitted question is measured against the shipped questions of the
  other folds only (``FOLDS``, dealt by item, so no question is compared with another way of asking its own
  item or with itself); asked, a question is compared with all of them (``Memory``, stored in the index).
* **The threshold is chosen out of fold, for the hardest round.** Each fold is decided by a model fitted on the
  others, and the threshold is the highest at which those held-out decisions answer ``ANSWERED_TARGET`` of the
  in-scope questions of *every round* of the shipped questions (within ``THRESHOLD_RANGE``). The rounds were
  written by different hands in different registers ("round" in the fit data): pooled, the easy ones hid the
  hard ones (held out at the pooled threshold the first round, rambling and own-words questions among them,
  was answered 0.939 while the pool reached 0.971), and a learner's own register is not known in advance. A
  wrongly refused question on the notes' own topic is what a learner notices; the share of out-of-scope
  questions flagged is what follows (see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from importlib import resources

import numpy as np

CONFIDENCE_VERSION = 5  # bump when the features or the fit change: the index then refits
FIT_DATA = "data/confidence_questions.jsonl"
MIN_FIT_QUESTIONS = 20  # of each class; fewer, and the bundled decision is used
FOLDS = 5
ANSWERED_TARGET = 0.97  # of each round's held-out in-scope questions answered, at the chosen threshold
THRESHOLD_RANGE = (0.2, 0.5)


@dataclass(frozen=True)
class Evidence:
    """What the decision looks at, for one question (see the module docstring)."""

    dense_top: float
    dense_margin: float
    lexical_share: float
    coverage: float
    agreement: float
    known_outside: float = math.nan  # nan: no shipped questions to compare with (pulls neither way)
    unknown_words: tuple[str, ...] = ()

    @classmethod
    def feature_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name != "unknown_words")

    def features(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in self.feature_names()], dtype=np.float64)


@dataclass(frozen=True)
class Memory:
    """The shipped questions' vectors and labels, for ``known_outside``."""

    vectors: np.ndarray  # questions x dimension, unit length
    in_scope: np.ndarray  # bool per question

    def known_outside(self, vector: np.ndarray | None, among: np.ndarray | None = None) -> float:
        """Nearest out-of-scope cosine less nearest in-scope cosine (``among``: a mask of the questions to
        compare with); nan without a vector or without questions of both kinds."""
        if vector is None:
            return math.nan
        keep = np.ones(len(self.in_scope), bool) if among is None else among
        outside, inside = keep & ~self.in_scope, keep & self.in_scope
        if not outside.any() or not inside.any():
            return math.nan
        cosines = self.vectors @ np.asarray(vector, dtype=np.float32).ravel()
        return float(cosines[outside].max() - cosines[inside].max())


def gather_evidence(retriever, question: str, ranked: list, groups: list[int], vector: np.ndarray | None = None,
                    known_outside: float | None = None) -> Evidence:
    """The evidence for ``question`` given its ranked items (``tutor.retrieval.Scored``, best first) and its
    embedding ``vector`` (compared with the retriever's ``Memory``; ``known_outside`` given instead while
    fitting)."""
    if known_outside is None:
        known_outside = retriever.memory.known_outside(vector) if retriever.memory is not None else math.nan
    known_outside = round(known_outside, 4) if not math.isnan(known_outside) else math.nan
    if not ranked:
        return Evidence(0.0, 0.0, 0.0, 0.0, 0.0, known_outside)
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
                    round(agreement, 4), known_outside, unknown)


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
        """Each feature's contribution to the logit: its standardised value times its weight; a missing
        value (nan) pulls neither way."""
        values = np.where(np.isnan(evidence.features()), self.mean, evidence.features())
        return (values - np.asarray(self.mean)) / np.asarray(self.scale) * np.asarray(self.weights)

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


def _logistic(x: np.ndarray, y: np.ndarray):
    """L2-regularised logistic regression on standardised ``x``, classes weighted to count equally; returns
    the model, the mean and the scale."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit((x - mean) / scale, y), mean, scale


def fit(evidence: list[Evidence], labels: list[bool], threshold: float = 0.5, folds: list[int] | None = None,
        rounds: list[str] | None = None) -> Decision:
    """Fit the decision; with ``folds`` (one per example), the threshold is chosen out of fold (see the module
    docstring), for the hardest of the ``rounds`` (one name per example; none: one round), else it is
    ``threshold``.

    Raises:
        ValueError: fewer than two examples of either class.
    """
    y = np.asarray(labels, dtype=bool)
    if y.sum() < 2 or (~y).sum() < 2:
        raise ValueError("The confidence fit needs in-scope and out-of-scope examples.")
    x = np.vstack([e.features() for e in evidence])
    missing = np.isnan(x)  # a feature not measured (no memory) takes its mean: it pulls neither way
    x = np.where(missing, [np.nanmean(c) if not m.all() else 0.0 for c, m in zip(x.T, missing.T, strict=True)], x)
    model, mean, scale = _logistic(x, y)
    fitted_on = {"in_scope": int(y.sum()), "out_of_scope": int((~y).sum())}
    if folds is not None:
        rounds = np.asarray(rounds if rounds is not None else [""] * len(y))
        threshold, fitted_on["held_out"] = _held_out_threshold(x, y, np.asarray(folds), rounds)
    return Decision(Evidence.feature_names(), tuple(mean.round(6)), tuple(scale.round(6)),
                    tuple(model.coef_[0].round(6)), round(float(model.intercept_[0]), 6), threshold,
                    fitted_on=fitted_on)


def _held_out_threshold(x: np.ndarray, y: np.ndarray, folds: np.ndarray, rounds: np.ndarray) -> tuple[float, dict]:
    """The highest threshold (in ``THRESHOLD_RANGE``) at which models fitted without each fold answer
    ``ANSWERED_TARGET`` of each round's held-out in-scope questions; and the held-out shares answered (all, and
    in the hardest round) and flagged at it."""
    held_out = np.full(len(y), np.nan)
    for fold in np.unique(folds):
        train = folds != fold
        if y[train].all() or not y[train].any():
            continue
        model, mean, scale = _logistic(x[train], y[train])
        held_out[~train] = model.predict_proba((x[~train] - mean) / scale)[:, 1]
    measured = ~np.isnan(held_out)
    inside, outside = held_out[y & measured], held_out[~y & measured]
    if not len(inside) or not len(outside):
        return THRESHOLD_RANGE[1], {}
    by_round = {name: held_out[y & measured & (rounds == name)] for name in np.unique(rounds[y & measured])}
    needed = {name: np.quantile(values, 1.0 - ANSWERED_TARGET) for name, values in by_round.items()}
    hardest = min(needed, key=needed.get)
    threshold = round(float(np.clip(needed[hardest], *THRESHOLD_RANGE)), 4)
    return threshold, {"answered": round(float((inside >= threshold).mean()), 4),
                       "answered_hardest_round": round(float((by_round[hardest] >= threshold).mean()), 4),
                       "hardest_round": str(hardest), "flagged": round(float((outside < threshold).mean()), 4)}


def fold_of(row: dict) -> int:
    """The fold of a shipped question: by its first item (all ways of asking one item together), else by its
    wording."""
    key = row["gold"][0] if row["in_scope"] and row["gold"] else row["q"]
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % FOLDS


# The decision fitted on the bundled notes with all-MiniLM-L6-v2 (the ``confidence`` entry of their index
# manifest), for notes that the shipped questions do not cover.
BUNDLED_DECISION = Decision(
    features=Evidence.feature_names(), mean=(0.807874, 0.190878, 0.61164, 0.84108, 0.811894, -0.132809),
    scale=(0.261158, 0.187844, 0.311944, 0.232446, 0.310104, 0.234898),
    weights=(3.108613, 0.273911, 1.049917, 1.419936, 0.177882, -2.114472), bias=3.424779, threshold=0.2,
    data_sha256="bundled",
    fitted_on={"in_scope": 885, "out_of_scope": 278, "held_out": {
        "answered": 0.9898, "answered_hardest_round": 0.9649, "hardest_round": "first", "flagged": 0.9424}})
