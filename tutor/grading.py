"""Grading an explanation against the reference answers, by embedding similarity and key terms.

The score rests on key points, not on one cosine between whole texts: each reference answer is broken
into points (its sentences and bullets), and each point earns credit twice over:

* by meaning: the cosine between the point and the sentence of the user's answer that says it best;
* by key terms: the IDF-weighted share of the point's terms that the answer's two sentences nearest to it
  use, leaving out the terms of the question itself ("question demoting": restating the question earns
  nothing; words scattered over a fluent answer do not make a point). A term spelled almost alike
  (``NEAR_SPELLING``) counts: a typo, or a mishearing of the speech model.

Both raw measures are put on one scale measured on the corpus itself (``tutor.calibration``): what an
answer to an unrelated question of the notes reaches earns 0, what another page's answer to the same
question reaches earns 1, linearly between; the whole answer's cosine to the nearest reference likewise.

    point credit = SEMANTIC_SHARE * meaning credit + (1 - SEMANTIC_SHARE) * term credit
    score = 100 * (COVERAGE_WEIGHT * mean point credit (points weighted by their closeness to the question)
                   + (1 - COVERAGE_WEIGHT) * whole-answer credit) * sound share ** SOUND_EXPONENT

A sentence of the answer that contradicts the point it matches (``tutor.contradiction``: a negation, an
opposite word, a swapped identifier or subject), or that explains a different question of the notes far
better than any point of this one, is not evidence: the point earns nothing unless a sound sentence covers
it, and is listed as contradicted. The *sound share* is the part of the answer (by characters) that is
neither: a confident wrong statement costs more than leaving a point out.

The two weights were chosen by leave-questions-out cross-validation on the development half of the Mohler
benchmark (benchmarks/grading.py), on the flat ridge where the folds agree; the cues' settings on the dev
half of this project's PyTorch set. Deterministic: the same inputs
always give the same score.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
from dataclasses import dataclass, field

import numpy as np

from tutor.calibration import Calibration, term_share
from tutor.checking import FactChecker
from tutor.contradiction import Context, clash, identifiers, subjects
from tutor.items import citation
from tutor.models import Embedder
from tutor.points import key_points, split_sentences
from tutor.text import NEAR_SPELLING, _stemmer, excerpt, normalize, printable, tokenize

log = logging.getLogger(__name__)

COVERAGE_WEIGHT = 0.8
SEMANTIC_SHARE = 0.2  # a point's credit: this share from meaning (embeddings), the rest from its key terms
COVERED_CREDIT = 0.5  # a point is listed as covered from half-way between chance and paraphrase
MAX_SPANS = 80
SAME_POINT_COSINE = 0.85  # points of two references this close are one point
# A sentence is about another question of the notes only if that question differs from the one asked: its
# own question is less similar than this to the one asked.
RELATED_QUESTION_COSINE = 0.6
# Contradiction cues compare a point with the sentences that match it at least this far from chance to
# paraphrase: a sentence must be about the point's claim before it can deny it.
CLASH_MATCH = 0.5
TERM_SENTENCES = 2  # a point's key terms are looked for in the answer's sentences that match it best
# The score is scaled by the share of the answer that neither contradicts the notes nor strays to another
# question, to this power: a confident wrong statement costs more than leaving the point out.
SOUND_EXPONENT = 2
# The fact checker (``tutor.checking``): each sentence is checked against its CHECK_POINTS nearest points, and the
# answer's stated share is the length-weighted mean probability that its sentences state a point. The mean starts
# from CHECK_PRIOR_CHARS characters read at CHECK_PRIOR: the checker misreads one sentence in three on points it
# never saw, so a one-line answer read as not stating the notes is weak evidence, and a whole paragraph so read is
# strong. The score is scaled both ways by (stated / CHECK_FULL) ** CHECK_EXPONENT, at most CHECK_CAP: an answer
# the checker reads as stating the notes earns up to CHECK_CAP times its coverage, one it reads as saying something
# else keeps less the less it is believed. Above SOFT_CEILING the scaled score rises ever more slowly, reaching 100
# at CHECK_CAP times full coverage (``ceiling``): a hard clip at 100 tied a believed partial answer with the
# excellent one (and a misconception with both). Chosen on the dev half of the PyTorch set, each question checked
# by a checker fitted without its items (benchmarks/grading.py --cross-fit), as the setting most often chosen by 5-fold
# cross-validation by question (10 deals) for ordering partial above misconception among settings that keep
# excellent answers at 77 or more and 42 above misconceptions (docs/PERFORMANCE.md, Grading, 2026-12-07 later).
# Every checker's P(states) is read on the scale of the half-data fits these were chosen with (``tutor.checking``).
CHECK_POINTS = 2
CHECK_FULL = 0.1
CHECK_EXPONENT = 2
CHECK_CAP = 1.2
CHECK_PRIOR = 0.3
CHECK_PRIOR_CHARS = 50
SOFT_CEILING = 0.8


def check_factor(stated: float | None, full: float = CHECK_FULL, exponent: float = CHECK_EXPONENT,
                 cap: float = CHECK_CAP) -> float:
    """What the fact checker's stated share does to a score (1: nothing, without a checker)."""
    return 1.0 if stated is None else min(cap, (stated / full) ** exponent)


def ceiling(x: float, cap: float) -> float:
    """A score share that can reach ``cap`` onto 0 to 1: unchanged up to ``SOFT_CEILING``, then rising ever more
    slowly (exponentially towards its limit) to 1 at ``cap``, so answers above the knee keep their order."""
    if cap <= 1.0 or x <= SOFT_CEILING:
        return min(x, 1.0)
    span = 1.0 - SOFT_CEILING
    rise = (1.0 - math.exp(-(min(x, cap) - SOFT_CEILING) / span)) / (1.0 - math.exp(-(cap - SOFT_CEILING) / span))
    return SOFT_CEILING + span * rise


@dataclass(frozen=True)
class Reference:
    """A reference answer the grade was measured against."""

    answer: str
    source: str
    section: str = ""
    item_id: str | None = None
    question: str | None = None
    page: str = ""  # the page's title; ``source`` is its file name

    @property
    def citation(self) -> str:
        """"Title · section", for a learner."""
        return citation(self.page or self.source, self.section)


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
class ContradictedPoint:
    point: str
    evidence: str  # the sentence of the user's answer that contradicts it
    reason: str  # which cue fired, in a few words
    source: str


@dataclass(frozen=True)
class Evidence:
    """What a score is computed from, before the two weights: each key point's credit by meaning and by key
    terms (0 to 1; a contradicted point has none), its weight (closeness to the question), and the whole
    answer's credit; ``sound``, the share of the answer that neither contradicts the notes nor strays to another
    question. ``score`` applies the weights, so a benchmark can try others without grading again."""

    meaning: np.ndarray
    terms: np.ndarray
    weight: np.ndarray
    whole: float
    sound: float = 1.0
    checked: float = 1.0  # what the fact checker multiplies the score by (``check_factor``; 1: nothing)
    cap: float = 1.0  # the most ``checked`` can be: the scaled score is brought under 1 by ``ceiling``

    def credit(self, semantic_share: float = SEMANTIC_SHARE) -> np.ndarray:
        return semantic_share * self.meaning + (1 - semantic_share) * self.terms

    def coverage(self, semantic_share: float = SEMANTIC_SHARE) -> float:
        return float((self.credit(semantic_share) * self.weight).sum() / self.weight.sum())

    def score(self, coverage_weight: float = COVERAGE_WEIGHT, semantic_share: float = SEMANTIC_SHARE) -> float:
        raw = coverage_weight * self.coverage(semantic_share) + (1 - coverage_weight) * self.whole
        return round(100.0 * ceiling(raw * self.sound ** SOUND_EXPONENT * self.checked, self.cap), 1)


@dataclass(frozen=True)
class NotePoints:
    """Every key point of the notes, to recognise an answer sentence that explains another question."""

    vectors: np.ndarray  # one row per point
    point_items: np.ndarray  # the position of each point's item in the lists below
    item_ids: list[str]  # one per item
    questions: list[str]  # each item's question
    question_vectors: np.ndarray  # and its vector, one row per item


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
    contradicted: list[ContradictedPoint] = field(default_factory=list)
    evidence: Evidence | None = field(default=None, compare=False)  # arrays: the score stands for it
    stated: float | None = None  # how far the answer reads as stating the notes (the fact checker), 0-1

    def summary(self) -> str:
        lines = [f"Score: {self.score:.0f}/100"]
        if self.message:
            lines.append(self.message)
        lines += [f"  ✓ {c.point}\n      you said: {c.evidence}" for c in self.covered]
        lines += [f"  ✗ contradicts: {c.point}\n      you said: {c.evidence} ({c.reason})" for c in self.contradicted]
        lines += [f"  ✗ {m.point}\n      read: {m.source}" for m in self.missed]
        lines += [f"Reference: {r.citation}" for r in self.references]
        return "\n".join(lines)


class Grader:
    """Grades answers against an index's items with one embedder and one calibration."""

    def __init__(self, embedder: Embedder, calibration: Calibration, term_weights: dict[str, float] | None = None,
                 max_answer_chars: int = 10_000, cache: dict[str, np.ndarray] | None = None,
                 notes: NotePoints | None = None, common_names: frozenset[str] = frozenset(),
                 checker: FactChecker | None = None):
        """``term_weights``: stem -> IDF over the notes; a stem the notes never use weighs the most.
        ``cache``: text -> vector of texts already embedded (the notes' key points and answers).
        ``notes``: the notes' key points, to notice a sentence that explains another question instead.
        ``common_names``: code-like names most of the notes use ("PyTorch"), never taken for a swapped one.
        ``checker``: the fact checker (``tutor.checking``); without one, no answer is scaled by it."""
        self.embedder = embedder
        self.notes = notes
        self.cache = cache or {}
        self.calibration = calibration
        self.term_weights = term_weights or {}
        self.unseen_weight = max(self.term_weights.values(), default=1.0)
        self.common_names = common_names
        self.max_answer_chars = max_answer_chars
        self.checker = checker

    def grade(self, question: str, answer: object, references: list[Reference], *,
              matched_question: str | None = None, from_retrieval: bool = False, check: bool = True) -> Grade:
        """Score ``answer`` against ``references`` (see the module docstring for the scale). ``check``: use the
        fact checker, if there is one (it learnt the notes' domain; a reference from elsewhere is graded
        without it)."""
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
        vectors = self._embed([question, text, *points, *spans, *(r.answer for r in references)])
        question_v, answer_v = vectors[0], vectors[1]
        point_v = vectors[2 : 2 + len(points)]
        span_v = vectors[2 + len(points) : 2 + len(points) + len(spans)]
        reference_v = vectors[2 + len(points) + len(spans) :]
        similarity = point_v @ span_v.T  # points x sentences of the answer
        stated = self._stated(points, spans, similarity) if check else None
        clashes, elsewhere = self._clashes(question, points, spans, similarity, references, span_v, question_v)
        sound = [j for j in range(len(spans)) if j not in elsewhere]

        # A sentence about another question is no evidence at all; one that contradicts a point is none for
        # that point. The whole answer counts as one more sentence for a point nothing contradicts.
        similarity = similarity.copy()
        for k, j, _ in clashes:
            similarity[k, j] = -1.0
        whole_v = (point_v @ answer_v)[:, None]
        whole_v[[k for k, _, _ in clashes]] = -1.0
        candidates = np.hstack([similarity[:, sound], whole_v]) if not elsewhere else similarity[:, sound]
        if not candidates.size:
            candidates = np.full((len(points), 1), -1.0)
        best, best_span = candidates.max(axis=1), candidates.argmax(axis=1)
        cal = self.calibration
        semantic = Calibration.credit(best, cal.point_chance, cal.point_paraphrase)
        # A point's key terms count from the sentences that match it best and are evidence for it: words
        # scattered over a fluent answer do not make the point.
        span_terms = [set(tokenize(span)) for span in spans]
        usable = set(sound)
        nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :TERM_SENTENCES]
        evidence_spans = [[j for j in nearest[k] if j in usable and similarity[k, j] > -1] for k in range(len(points))]
        said = []
        for point, chosen in zip(points, evidence_spans, strict=True):
            heard = set().union(*(span_terms[j] for j in chosen))
            said.append(heard | _near_spellings(point, heard) | _said_apart(point, [spans[j] for j in chosen]))
        shares = [term_share(p, question, said[k], self.term_weights, self.unseen_weight) for k, p in enumerate(points)]
        lexical = np.array([
            semantic[k] if share is None else float(Calibration.credit(share, cal.term_chance, cal.term_paraphrase))
            for k, share in enumerate(shares)
        ])
        credit = SEMANTIC_SHARE * semantic + (1 - SEMANTIC_SHARE) * lexical
        # A contradicted point earns nothing, unless a sound sentence covers it as well.
        contradicted = {}
        for k, j, reason in clashes:
            if credit[k] < COVERED_CREDIT:
                contradicted.setdefault(k, (j, reason))
        for k in contradicted:
            semantic[k] = lexical[k] = 0.0
        # The whole answer's similarity counts for the share of it that neither contradicts nor strays.
        wrong = {j for k, j, _ in clashes if k in contradicted}  # what the learner is shown as contradicting
        sound_share = sum(len(s) for j, s in enumerate(spans) if j not in wrong) / max(sum(len(s) for s in spans), 1)
        whole = float((reference_v @ answer_v).max())
        checked = check_factor(stated)
        if checked < 1.0:
            believed = CHECK_FULL * CHECK_CAP ** (1 / CHECK_EXPONENT)
            notes.append(f"The fact checker reads most of this answer as not saying what the notes say (it states "
                         f"their points with a mean probability of {stated:.0%}; an answer it believes, at "
                         f"{believed:.0%} or more, scores up to {CHECK_CAP:.1f} times its coverage), so the score is "
                         f"{checked:.0%} of its coverage. Compare your sentences with the points below.")
        evidence = Evidence(semantic, lexical, np.clip(point_v @ question_v, 0.1, 1.0),  # side remarks weigh less
                            float(Calibration.credit(whole, cal.whole_chance, cal.whole_paraphrase)) * sound_share,
                            sound_share, checked, 1.0 if stated is None else CHECK_CAP)
        credit = evidence.credit()

        covered, missed, contradictions = [], [], []
        for k, point in enumerate(points):
            reference = point_refs[k]
            if k in contradicted:
                j, reason = contradicted[k]
                contradictions.append(ContradictedPoint(point, excerpt(spans[j]), reason, reference.citation))
            elif credit[k] >= COVERED_CREDIT:
                evidence_text = spans[sound[best_span[k]]] if best_span[k] < len(sound) else text
                covered.append(CoveredPoint(point, excerpt(evidence_text), round(float(best[k]), 3),
                                            reference.citation))
            else:
                missed.append(MissedPoint(point, reference.citation, reference.item_id, round(float(best[k]), 3)))
        return Grade(evidence.score(), covered, missed, references, question, matched_question, from_retrieval,
                     None, round(evidence.coverage(), 3), round(whole, 3), notes, contradictions, evidence,
                     None if stated is None else round(stated, 3))

    def _stated(self, points: list[str], spans: list[str], similarity: np.ndarray) -> float | None:
        """The length-weighted mean, over the answer's sentences and ``CHECK_PRIOR_CHARS`` characters read at
        ``CHECK_PRIOR``, of the probability that a sentence states one of its ``CHECK_POINTS`` nearest points
        (``tutor.checking``); None without a checker."""
        if self.checker is None or not points:
            return None
        nearest = np.argsort(-similarity, axis=0, kind="stable")[:CHECK_POINTS]  # per sentence
        pairs = [(points[k], span) for j, span in enumerate(spans) for k in nearest[:, j]]
        support = self.checker.support(pairs).reshape(len(spans), -1).max(axis=1)
        lengths = np.array([len(span) for span in spans], dtype=np.float64)
        return float((support @ lengths + CHECK_PRIOR * CHECK_PRIOR_CHARS) / (lengths.sum() + CHECK_PRIOR_CHARS))

    def _clashes(self, question: str, points: list[str], spans: list[str], similarity: np.ndarray,
                 references: list[Reference], span_v: np.ndarray, question_v: np.ndarray
                 ) -> tuple[list[tuple[int, int, str]], set[int]]:
        """(point, sentence, reason) for each answer sentence that contradicts a point it matches closely,
        and the sentences that explain another question of the notes instead."""
        cal = self.calibration
        close = cal.point_chance + CLASH_MATCH * (cal.point_paraphrase - cal.point_chance)
        asked = identifiers(question)
        named = asked | identifiers(" ".join(r.answer for r in references))
        context = Context(asked, named, subjects(question, points), self.common_names, tuple(spans))
        found = [(int(k), int(j), reason) for k, j in np.argwhere(similarity >= close)
                 if (reason := clash(points[k], spans[j], context)) is not None]
        elsewhere = self._other_concepts(similarity, references, span_v, question_v)
        for j, other in elsewhere.items():
            k = int(similarity[:, j].argmax())
            if similarity[k, j] >= close:
                found.append((k, j, f"explains another question of the notes: “{other}”"))
        return found, set(elsewhere)

    def _other_concepts(self, similarity: np.ndarray, references: list[Reference], span_v: np.ndarray,
                        question_v: np.ndarray) -> dict[int, str]:
        """Answer sentences that match a point of a different question of the notes at paraphrase level and
        no point of the question asked beyond chance: sentence -> that question."""
        own = {r.item_id for r in references if r.item_id}
        if self.notes is None or not own or not len(self.notes.vectors):
            return {}
        notes = self.notes
        other_items = np.array([item not in own for item in notes.item_ids])
        other_items &= notes.question_vectors @ question_v < RELATED_QUESTION_COSINE
        rows = np.flatnonzero(other_items[notes.point_items])
        if not len(rows):
            return {}
        scores = span_v @ notes.vectors[rows].T
        best, which = scores.max(axis=1), scores.argmax(axis=1)
        own_best = similarity.max(axis=0)
        cal = self.calibration
        return {j: notes.questions[notes.point_items[rows[which[j]]]] for j in range(len(best))
                if best[j] >= cal.point_paraphrase and own_best[j] < cal.point_chance}

    def _points(self, references: list[Reference]) -> tuple[list[str], list[Reference]]:
        """Key points of all references, a point repeated by several pages kept once."""
        candidates = [(p, r) for r in references for p in key_points(r.answer, r.question)]
        vectors = self._embed([p for p, _ in candidates])
        kept: list[int] = []
        for k in range(len(candidates)):
            if not kept or float((vectors[kept] @ vectors[k]).max()) < SAME_POINT_COSINE:
                kept.append(k)
        return [candidates[k][0] for k in kept], [candidates[k][1] for k in kept]

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for ``texts``, embedding in one batch only those not already cached."""
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        fresh = dict(zip(missing, self.embedder.embed(missing), strict=True)) if missing else {}
        return np.vstack([self.cache[t] if t in self.cache else fresh[t] for t in texts])

    @staticmethod
    def _missed_all(references: list[Reference]) -> list[MissedPoint]:
        return [MissedPoint(p, r.citation, r.item_id, 0.0) for r in references
                for p in key_points(r.answer, r.question)]


def _near_spellings(point: str, said: set[str]) -> set[str]:
    """The point's terms that the answer spells almost alike: a typo or a mishearing ("humpy" for numpy)."""
    heard = [t for t in said if len(t) >= 4]
    return {t for t in tokenize(point) if len(t) >= 5 and t not in said
            and difflib.get_close_matches(t, heard, n=1, cutoff=NEAR_SPELLING)}


# Words a speaker says for a symbol of code ("torch dot cuda dot is available"); a run of words is read past them.
SPOKEN_SYMBOLS = frozenset(["dot", "underscore", "equals", "paren", "parens", "parenthesis", "parentheses"])
APART_WORDS = 4  # the longest run of words read as one term ("torch cuda is available")


def _said_apart(point: str, sentences: list[str]) -> set[str]:
    """The point's terms that the answer says with other word boundaries: an identifier said as words
    ("zero grad" for ``zero_grad``, "torch dot cuda dot is available"), a compound written apart ("down
    sampling", "data loader"), or one written joined where the point hyphenates it ("nonlinearity"). Both sides
    are compared as their letters and digits alone. Unlike the search terms' ``tutor.terms.joined_compounds``
    (two content words), a run keeps small words ("is available") and spans up to ``APART_WORDS``, as a spoken
    name does."""
    stem = _stemmer().stemWord
    wanted: dict[str, set[str]] = {}
    for term in tokenize(point):
        key = re.sub(r"[^a-z0-9]", "", term)
        if len(key) >= 4:
            wanted.setdefault(key, set()).add(term)
    found: set[str] = set()
    # A compound the point hyphenates and the answer writes joined ("non-linearity", "nonlinearity").
    compounds = re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)+", normalize(point))
    heard = set(tokenize(" ".join(sentences))) if compounds else set()
    for compound in compounds:
        if set(tokenize(compound.replace("-", ""))) <= heard:
            found |= set(tokenize(compound))
    for sentence in sentences:
        words = [w for w in re.findall(r"[a-z0-9]+", normalize(sentence)) if w not in SPOKEN_SYMBOLS]
        for n in range(2, APART_WORDS + 1):
            for i in range(len(words) - n + 1):
                run = "".join(words[i : i + n])
                for key in (run, stem(run)):
                    found |= wanted.get(key, set())
    return found


def _clean_answer(answer: object) -> str:
    return printable(answer).strip() if isinstance(answer, str) else ""


