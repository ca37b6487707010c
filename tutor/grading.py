"""Grading an explanation against the reference answers, by embedding similarity.

The score rests on key points, not on one cosine between whole texts: each reference answer is broken
into points (its sentences and bullets), each point is matched to the sentence of the user's answer
that says it best, and a point counts as covered to the degree that match beats chance.

The 0-100 scale is calibrated from the corpus itself (``calibrate``), never from constants picked by
eye: for a point, *chance* is how close the best sentence of an answer to an unrelated question gets
(the 75th percentile over the corpus), and *paraphrase* is how close the best sentence of another page's
answer to the same question gets (the median). A point's credit is its similarity mapped linearly
from chance (0) to paraphrase (1) and clipped. The whole-answer similarity is mapped the same way
with whole-answer statistics. The score is 100 * (COVERAGE_WEIGHT * weighted mean point credit +
(1 - COVERAGE_WEIGHT) * whole-answer credit), where each point weighs by how central it is to the
question. Everything is deterministic: the same inputs give the same score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from tutor.corpus import Item
from tutor.models import Embedder

COVERAGE_WEIGHT = 0.6
COVERED_CREDIT = 0.5  # a point is listed as covered from half-way between chance and paraphrase
MAX_POINTS_PER_REFERENCE = 14
MAX_SPANS = 80
SAME_POINT_COSINE = 0.85  # points of two references this close are one point


@dataclass(frozen=True)
class Reference:
    """A reference answer the grade was measured against."""

    answer: str
    source: str
    section: str = ""
    item_id: str | None = None
    question: str | None = None

    @property
    def citation(self) -> str:
        return f"{self.source} · {self.section}" if self.section else self.source


@dataclass(frozen=True)
class CoveredPoint:
    point: str
    evidence: str  # the part of the user's answer that covers it
    similarity: float
    source: str


@dataclass(frozen=True)
class MissedPoint:
    point: str
    source: str  # where to read about it
    item_id: str | None
    similarity: float


@dataclass(frozen=True)
class Grade:
    """A graded answer. ``score`` is 0-100; ``covered`` and ``missed`` say why."""

    score: float
    covered: list[CoveredPoint]
    missed: list[MissedPoint]
    references: list[Reference]
    question: str
    matched_question: str | None = None
    from_retrieval: bool = False
    message: str | None = None
    coverage: float = 0.0
    similarity: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"Score: {self.score:.0f}/100"]
        if self.message:
            lines.append(self.message)
        lines += [f"  ✓ {c.point}\n      you said: {c.evidence}" for c in self.covered]
        lines += [f"  ✗ {m.point}\n      read: {m.source}" for m in self.missed]
        lines += [f"Reference: {r.citation}" for r in self.references]
        return "\n".join(lines)


@dataclass(frozen=True)
class Calibration:
    """Chance and paraphrase similarity levels, measured on the corpus (see the module docstring)."""

    point_chance: float
    point_paraphrase: float
    whole_chance: float
    whole_paraphrase: float

    @staticmethod
    def credit(similarity: np.ndarray | float, chance: float, paraphrase: float) -> np.ndarray:
        return np.clip((np.asarray(similarity) - chance) / max(paraphrase - chance, 1e-6), 0.0, 1.0)


def _strip_markup(text: str) -> str:
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)  # code is shown, not graded as prose
    text = re.sub(r"\*\*|__|`", "", text)
    return text


def split_sentences(text: str) -> list[str]:
    """Sentences and bullet lines of ``text``, without markup."""
    out = []
    for line in _strip_markup(text).splitlines():
        line = re.sub(r"^\s*(?:[-•*]|\d+[.)])\s+", "", line).strip()
        if not line:
            continue
        out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(])", line) if s.strip())
    return out


def key_points(answer: str) -> list[str]:
    """A reference's key points: its sentences and bullets, without headers such as "as follows:"."""
    points = [s for s in split_sentences(answer) if len(s.split()) >= 3 and not s.endswith(":")]
    return points[:MAX_POINTS_PER_REFERENCE] or [" ".join(answer.split())[:500]]


def _best_match(points: np.ndarray, sentences: np.ndarray) -> np.ndarray:
    return (points @ sentences.T).max(axis=1)


def calibrate(items: list[Item], groups: list[int], embedder: Embedder) -> Calibration:
    """Measure chance and paraphrase similarity on the corpus: same question on two pages vs. unrelated."""
    answered = [i for i, item in enumerate(items) if item.answer]
    points = {i: key_points(items[i].answer) for i in answered}
    sentences = {i: split_sentences(items[i].answer) or [items[i].answer] for i in answered}
    texts = sorted({t for i in answered for t in (*points[i], *sentences[i], items[i].answer)})
    vectors = dict(zip(texts, embedder.embed(texts), strict=True))

    def stack(strings):
        return np.vstack([vectors[s] for s in strings])

    same, unrelated = [], []
    for a in answered:
        partners = [b for b in answered if b != a and groups[b] == groups[a] and items[b].source != items[a].source]
        # A fixed, deterministic unrelated partner: the answered item half the corpus away, other topic.
        others = [b for b in answered if groups[b] != groups[a] and items[b].topic != items[a].topic]
        strangers = [others[(answered.index(a) * 7 + k) % len(others)] for k in range(3)] if others else []
        for b, bucket in [(b, same) for b in partners] + [(b, unrelated) for b in strangers]:
            bucket.append((
                _best_match(stack(points[a]), stack(sentences[b])),
                float(vectors[items[a].answer] @ vectors[items[b].answer]),
            ))
    if not same or not unrelated:
        # A corpus without repeated questions: fall back to the bulk of pairs only.
        return Calibration(0.35, 0.75, 0.30, 0.75)
    point_same = np.concatenate([p for p, _ in same])
    point_unrelated = np.concatenate([p for p, _ in unrelated])
    return Calibration(
        point_chance=round(float(np.percentile(point_unrelated, 75)), 4),
        point_paraphrase=round(float(np.median(point_same)), 4),
        whole_chance=round(float(np.percentile([w for _, w in unrelated], 75)), 4),
        whole_paraphrase=round(float(np.median([w for _, w in same])), 4),
    )


class Grader:
    """Grades answers against an index's items with one embedder and one calibration."""

    def __init__(self, embedder: Embedder, calibration: Calibration, max_answer_chars: int = 10_000):
        self.embedder = embedder
        self.calibration = calibration
        self.max_answer_chars = max_answer_chars

    def grade(self, question: str, answer: object, references: list[Reference], *,
              matched_question: str | None = None, from_retrieval: bool = False) -> Grade:
        """Score ``answer`` against ``references`` (see the module docstring for the scale)."""
        notes = []
        if from_retrieval:
            notes.append("This question has no reference answer in the notes: graded against the closest passages.")
        text = _clean_answer(answer)
        if not text:
            return Grade(0.0, [], self._missed_all(references), references, question, matched_question,
                         from_retrieval, "Nothing to grade: the answer is empty.", notes=notes)
        if len(text) > self.max_answer_chars:
            text = text[: self.max_answer_chars]
            notes.append(f"Only the first {self.max_answer_chars:,} characters were graded.")
        if not re.search(r"[A-Za-z]{2}", text):
            return Grade(0.0, [], self._missed_all(references), references, question, matched_question,
                         from_retrieval, "Nothing to grade: the answer has no English words.", notes=notes)

        points, point_refs = self._points(references)
        spans = split_sentences(text)[:MAX_SPANS] or [text]
        vectors = self.embedder.embed([question, text, *points, *spans, *(r.answer for r in references)])
        question_v, answer_v = vectors[0], vectors[1]
        point_v = vectors[2 : 2 + len(points)]
        span_v = np.vstack([vectors[2 + len(points) : 2 + len(points) + len(spans)], answer_v[None, :]])
        reference_v = vectors[2 + len(points) + len(spans) :]

        similarity = point_v @ span_v.T  # points x (sentences + whole answer)
        best = similarity.max(axis=1)
        best_span = similarity.argmax(axis=1)
        cal = self.calibration
        credit = Calibration.credit(best, cal.point_chance, cal.point_paraphrase)
        # A point weighs by how central it is to the question (a side remark counts less).
        weight = np.clip(point_v @ question_v, 0.1, 1.0)
        coverage = float((credit * weight).sum() / weight.sum())
        whole = float((reference_v @ answer_v).max())
        whole_credit = float(Calibration.credit(whole, cal.whole_chance, cal.whole_paraphrase))
        score = round(100.0 * (COVERAGE_WEIGHT * coverage + (1 - COVERAGE_WEIGHT) * whole_credit), 1)

        covered, missed = [], []
        for k, point in enumerate(points):
            reference = point_refs[k]
            if credit[k] >= COVERED_CREDIT:
                evidence = spans[best_span[k]] if best_span[k] < len(spans) else text
                covered.append(CoveredPoint(point, _shorten(evidence), round(float(best[k]), 3), reference.citation))
            else:
                missed.append(MissedPoint(point, reference.citation, reference.item_id, round(float(best[k]), 3)))
        return Grade(score, covered, missed, references, question, matched_question, from_retrieval,
                     None, round(coverage, 3), round(whole, 3), notes)

    def _points(self, references: list[Reference]) -> tuple[list[str], list[Reference]]:
        """Key points of all references, a point repeated by several pages kept once."""
        candidates = [(p, r) for r in references for p in key_points(r.answer)]
        vectors = self.embedder.embed([p for p, _ in candidates])
        kept: list[int] = []
        for k in range(len(candidates)):
            if not kept or float((vectors[kept] @ vectors[k]).max()) < SAME_POINT_COSINE:
                kept.append(k)
        return [candidates[k][0] for k in kept], [candidates[k][1] for k in kept]

    @staticmethod
    def _missed_all(references: list[Reference]) -> list[MissedPoint]:
        return [MissedPoint(p, r.citation, r.item_id, 0.0) for r in references for p in key_points(r.answer)]


def _clean_answer(answer: object) -> str:
    if not isinstance(answer, str):
        return ""
    answer = "".join(ch for ch in answer if ch in "\n\t" or (ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF))
    return re.sub(r"[\u200b-\u200f\u2060\ufeff]", "", answer).strip()


def _shorten(text: str, limit: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + " …"
