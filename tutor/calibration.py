"""The grading scale, measured on the corpus itself: chance and paraphrase similarity levels.

*Chance* is what an answer to an unrelated question of the notes reaches (the 75th percentile over such
pairs); *paraphrase* is what another page's answer to the same question reaches where both pages make the
point (the 75th percentile of same-question pairs; most points of one page are not made on the other at
all, so the median would mix in absent points). A measure at chance or below earns 0, at paraphrase or above
1, linearly between. The whole answer's cosine to the nearest reference is mapped the same way (median of
same-question pairs as paraphrase). The index stores the result (``CALIBRATION_VERSION``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from tutor.items import Item
from tutor.models import Embedder
from tutor.points import key_points, split_sentences
from tutor.text import tokenize

CALIBRATION_VERSION = 5  # bump when calibrate() changes: the index stores its result and is rebuilt
CHANCE_PERCENTILE = 75
# Most points of one page are not made on the other page at all: the paraphrase level is read from the
# upper part of the same-question matches, where both pages make the point.
PARAPHRASE_PERCENTILE = 75
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Calibration:
    """Chance and paraphrase similarity levels, measured on the corpus (see the module docstring)."""

    point_chance: float
    point_paraphrase: float
    whole_chance: float
    whole_paraphrase: float
    term_chance: float
    term_paraphrase: float

    @staticmethod
    def credit(similarity: np.ndarray | float, chance: float, paraphrase: float) -> np.ndarray:
        return np.clip((np.asarray(similarity) - chance) / max(paraphrase - chance, 1e-6), 0.0, 1.0)


# The result of ``calibrate`` on the bundled corpus with all-MiniLM-L6-v2, for corpora that cannot be
# calibrated (no question answered on two pages).
BUNDLED_CALIBRATION = Calibration(point_chance=0.3698, point_paraphrase=0.6974, whole_chance=0.3451,
                                  whole_paraphrase=0.6966, term_chance=0.0981, term_paraphrase=0.2785)


def _best_match(points: np.ndarray, sentences: np.ndarray) -> np.ndarray:
    return (points @ sentences.T).max(axis=1)


def term_weights(items: list[Item]) -> dict[str, float]:
    """Inverse document frequency of every stem over the answered items."""
    documents = [set(tokenize(f"{item.prompt} {item.answer}")) for item in items if item.answer]
    counts: dict[str, int] = {}
    for stems in documents:
        for stem in stems:
            counts[stem] = counts.get(stem, 0) + 1
    n = len(documents)
    return {stem: float(np.log((n + 1) / (df + 1)) + 1.0) for stem, df in counts.items()}


def term_share(point: str, question: str, answer_terms: set[str], weights: dict[str, float],
               unseen: float) -> float | None:
    """IDF-weighted share of the point's terms that the answer uses. Terms of the question itself are left
    out ("question demoting": restating the question earns nothing). None when the point has no other terms."""
    asked = set(tokenize(question))
    terms = [t for t in dict.fromkeys(tokenize(point)) if t not in asked]
    if not terms:
        return None
    weight = np.array([weights.get(t, unseen) for t in terms])
    return float(weight[[t in answer_terms for t in terms]].sum() / weight.sum())


def calibrate(items: list[Item], groups: list[int], embedder: Embedder, sample: int = 400) -> Calibration:
    """Measure chance and paraphrase similarity on the corpus: same question on two pages vs. unrelated.

    Uses at most ``sample`` items that another page also answers, and three unrelated items for each,
    chosen deterministically, so the cost stays bounded however large the corpus grows.
    """
    answered = [i for i, item in enumerate(items) if item.answer]
    by_group: dict[int, list[int]] = {}
    for i in answered:
        by_group.setdefault(groups[i], []).append(i)
    shared = [i for i in answered if len(by_group[groups[i]]) > 1][:sample]
    chosen = sorted(set(shared) | {p for a in shared for p in by_group[groups[a]]}
                    | {answered[(k * 7919) % len(answered)] for k in range(min(sample, len(answered)))})
    points = {i: key_points(items[i].answer, items[i].prompt) for i in chosen}
    sentences = {i: split_sentences(items[i].answer) or [items[i].answer] for i in chosen}
    texts = sorted({t for i in chosen for t in (*points[i], *sentences[i], items[i].answer)})
    vectors = dict(zip(texts, embedder.embed(texts), strict=True))

    def stack(strings):
        return np.vstack([vectors[s] for s in strings])

    weights = term_weights(items)
    unseen = max(weights.values(), default=1.0)
    answer_terms = {i: set(tokenize(items[i].answer)) for i in chosen}
    same, unrelated = [], []
    for n, a in enumerate(shared):
        partners = [b for b in by_group[groups[a]] if b != a and items[b].source != items[a].source]
        # Fixed, deterministic unrelated partners: other question, other topic.
        others = [b for b in chosen if groups[b] != groups[a] and items[b].topic != items[a].topic]
        strangers = [others[(n * 7 + k) % len(others)] for k in range(3)] if others else []
        for b, bucket in [(b, same) for b in partners] + [(b, unrelated) for b in strangers]:
            shares = [term_share(p, items[a].prompt, answer_terms[b], weights, unseen) for p in points[a]]
            bucket.append((
                _best_match(stack(points[a]), stack(sentences[b])),
                float(vectors[items[a].answer] @ vectors[items[b].answer]),
                [x for x in shares if x is not None],
            ))
    if not same or not unrelated:
        log.warning("No question is answered on two pages of this corpus: grading uses the scale measured "
                    "on the bundled notes with all-MiniLM-L6-v2 instead.")
        return BUNDLED_CALIBRATION

    def chance(values) -> float:
        return round(float(np.percentile(values, CHANCE_PERCENTILE)), 4)

    def paraphrase(values, percentile: float = PARAPHRASE_PERCENTILE) -> float:
        return round(float(np.percentile(values, percentile)), 4)

    return Calibration(
        point_chance=chance(np.concatenate([p for p, _, _ in unrelated])),
        point_paraphrase=paraphrase(np.concatenate([p for p, _, _ in same])),
        whole_chance=chance([w for _, w, _ in unrelated]),
        whole_paraphrase=paraphrase([w for _, w, _ in same], 50),
        term_chance=chance([t for _, _, shares in unrelated for t in shares]),
        term_paraphrase=paraphrase([t for _, _, shares in same for t in shares]),
    )
