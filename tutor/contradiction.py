"""Contradiction evidence: a sentence of the learner's answer that matches a reference point but says the opposite.

A confident misconception shares the topic's words, and often its key terms too ("eval() turns dropout on",
"detach() copies the tensor's data"), so similarity alone credits it. Three cues compare one answer sentence
with the reference point it matches; each is readable on its own and errs towards silence:

* **negation**: one side negates a word the other asserts ("does not copy" against "copies"). A side that
  already speaks in negative verbs ("disables", "prevents") is left alone: "runs without computing
  gradients" and "disables gradient computation" agree.
* **opposites**: the sentence says one word of a reviewed pair where the point says the other
  (``tutor/data/opposites.tsv``: enables/disables, copies/shares, before/after, CPU/GPU…).
* **swapped identifiers**: the sentence claims of one function what the point says of another that the
  question or the references name (``clone()`` where the point says ``detach()``); likewise for the
  subjects of a question about several ("the optimizer measures the error" where the point says it of the
  loss function).

A fourth cue, a sentence about a different concept of the notes, needs the notes' other points and lives
in ``tutor.grading``.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from importlib import resources

from tutor.text import NEAR_SPELLING, could_be_a_typo, normalize, tokenize

_DENIAL = re.compile(r"\b(?:(?:do|does|did|is|are|was|were|will|would|can|could|should|must|has|have|had|may|might)"
                     r"\s+not|never)\b")
# Clauses of one sentence that may speak of different subjects ("A does x, while B does y").
_CLAUSE = re.compile(r";|,?\s+\b(?:while|whereas|but)\b\s+|,\s+and\s+(?=(?:the|a|an)\s)", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|no|never|without|neither|nor|cannot)\b")
# Words between a negation and the word it negates ("does not *actually* copy"). "Need to", "have to" and
# "must" stay: "does not need to copy" does not deny copying.
_SKIP = frozenset({
    "a", "an", "the", "any", "be", "is", "are", "was", "were", "been", "do", "does", "did", "doing", "will",
    "would", "can", "could", "should", "may", "might", "it", "its", "they", "them", "this", "that", "these",
    "those", "to", "of", "actually", "really", "always", "just", "only", "ever", "even", "also"
})
# Verbs that carry a negation of their own: a side using one is not compared by negation.
_NEGATIVE_VERBS = ("disable stop prevent avoid skip lack remove ignore exclude free off instead rather unless fail "
                   "disabled stopped prevented skipped removed excluded")
# Calls, dotted names, snake_case and mixed-case class names (CrossEntropyLoss, MSELoss).
_IDENTIFIER = re.compile(r"[A-Za-z_][\w.]*\(\)|\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b|\b[a-z]+_\w+\b"
                         r"|\b(?=\w*[a-z])[A-Z]\w*[A-Z]\w*\b")


@functools.lru_cache(maxsize=1)
def _negative_words() -> frozenset[str]:
    return frozenset(tokenize(_NEGATIVE_VERBS, keep_stopwords=True))


@functools.lru_cache(maxsize=1)
def opposites() -> dict[str, frozenset[str]]:
    """Stemmed word or phrase -> its opposites, both ways, from ``tutor/data/opposites.tsv``."""
    table: dict[str, set[str]] = {}
    text = resources.files("tutor").joinpath("data/opposites.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        one, other = (" ".join(tokenize(side, keep_stopwords=True)) for side in line.split("\t"))
        table.setdefault(one, set()).add(other)
        table.setdefault(other, set()).add(one)
    return {word: frozenset(words) for word, words in table.items()}


@dataclass(frozen=True)
class Subjects:
    """The stems of the things a question sets side by side; ``code``: those it writes as code."""

    names: frozenset[str] = frozenset()
    code: frozenset[str] = frozenset()

    def named_in(self, text: str) -> list[str]:
        """The subjects ``text`` names, in order (one written as code in the question counts only as code)."""
        code = {_head(name) for name in identifiers(text)}
        return [t for t in dict.fromkeys(tokenize(text)) if t in self.names and (t not in self.code or t in code)]


@dataclass(frozen=True)
class Context:
    """What a question is about, for the swap cues.

    ``asked``: identifiers of the question (as ``identifiers`` returns them); ``named``: those of the question
    and its references; ``subjects``: the things a question asks about when it asks about several
    (``subjects``); ``common``: words so common in the notes that naming one is no swap.
    """

    asked: frozenset[str] = frozenset()
    named: frozenset[str] = frozenset()
    subjects: Subjects = Subjects()
    common: frozenset[str] = frozenset()  # names most of the notes use ("PyTorch", "torch"): never swapped
    # The learner's whole answer, sentence by sentence. A sentence that says the opposite of a word its own
    # answer asserts elsewhere speaks of something else ("add nonlinearity. Without it, the layers collapse into
    # one linear map"): no opposite cue fires.
    answer: tuple[str, ...] = ()


def clash(point: str, sentence: str, context: Context = Context()) -> str | None:
    """Why ``sentence`` contradicts ``point``, in a few words, or None when no cue fires.

    Args:
        point: a key point of a reference answer.
        sentence: the sentence of the learner's answer that matches it.
        context: what the question is about. A swapped identifier puts a named function where the point has
            one the question asks about, so that naming a helper function is not mistaken for a swap.
    """
    point_words, sentence_words = _phrases(point), _phrases(sentence)
    for word in sentence_words - point_words:
        crossed = opposites().get(word, frozenset()) & (point_words - sentence_words)
        # An opposite under a negation ("rather than overwriting", "does not share") flips back: it agrees.
        crossed = {c for c in crossed if not _under_negation(point, c) and not _affirmed(context.answer, c)}
        if crossed and not _under_negation(sentence, word):
            return f"says “{_surface(sentence, word)}” where the notes say “{_surface(point, min(crossed))}”"
    flipped = _negation_flip(point, sentence)
    if flipped:
        return flipped
    ours = identifiers(sentence) & context.named - context.common
    theirs = identifiers(point) & context.asked - context.common
    if ours and theirs and not ours & identifiers(point) and not theirs & identifiers(sentence):
        return f"says of {', '.join(sorted(ours))} what the notes say of {', '.join(sorted(theirs))}"
    return _subject_swap(point, sentence, context.subjects)


def subjects(question: str, points: list[str]) -> Subjects:
    """The things a question sets side by side ("batch, stochastic and mini-batch gradient descent", "loss
    functions and optimizers", "DataParallel versus DistributedDataParallel"): the words next to its "and",
    "or", "versus" and list commas, stemmed, that the answer's points name. Empty unless two remain."""
    words = re.findall(r"[A-Za-z_][\w.()-]*[\w)]|[A-Za-z]|,|/", question)
    words = [w for w in words if w.lower() not in _ARTICLES]
    found = set()
    for k, word in enumerate(words):
        if word.lower() in _JOINERS:
            found.update(w for w in words[k - 1 : k] + words[k + 1 : k + 2] if w.lower() not in _JOINERS)
    # A subject the question writes as code must be named as code by a point ("Reshaping" is not reshape()).
    point_terms = set(tokenize(" ".join(points)))
    point_code = {_head(name) for name in identifiers(" ".join(points))}
    named = {stem: _is_code(word) for word in found if (stem := _head(word))
             and (stem in point_code if _is_code(word) else stem in point_terms)}
    return Subjects(frozenset(named), frozenset(s for s, code in named.items() if code)) if len(named) >= 2 \
        else Subjects()


def _is_code(word: str) -> bool:
    return bool(_IDENTIFIER.fullmatch(word))


_ARTICLES = frozenset({"a", "an", "the"})
_JOINERS = frozenset({"and", "or", "versus", "vs", "vs.", ",", "/"})


def _head(word: str) -> str | None:
    """The stem that names a subject: a dotted name's last part, a compound's first ("mini-batch": mini)."""
    word = word.removesuffix("()").rsplit(".", 1)[-1].split("-")[0]
    terms = tokenize(word)
    return terms[0] if terms else None


def _subject_swap(point: str, sentence: str, subjects: Subjects) -> str | None:
    """A clause of ``sentence`` that says what ``point`` says of one subject, but of another: its first
    subject is not the one the point names, and it does not name the point's ("the optimizer measures the
    error" against "the loss function measures the error")."""
    named = subjects.named_in(point)
    if len(named) != 1:  # a point that names several subjects compares them: nothing to swap
        return None
    theirs = named[0]
    about = set(tokenize(point)) - subjects.names
    # The clause that makes the point: the one sharing the most of its other words, and at least two of them
    # when the sentence has several clauses (else no clause clearly makes it).
    clauses = [c for c in _CLAUSE.split(sentence) if c.strip()] or [sentence]
    clause = max(clauses, key=lambda c: len(about & set(tokenize(c))))
    if len(clauses) > 1 and len(about & set(tokenize(clause))) < 2:
        return None
    ours = subjects.named_in(clause)
    if not ours or theirs in ours or theirs in tokenize(clause):
        return None
    return f"says of “{_surface(clause, ours[0])}” what the notes say of “{_surface(point, theirs)}”"


_NEGATION_BEFORE = re.compile(r"\b(?:not|never|no|without|rather than|instead of|nor)\b")


def _negated_at(words: list[str], k: int) -> bool:
    """Whether a negation comes at most three words before ``words[k]``."""
    return bool(_NEGATION_BEFORE.search(" ".join(words[max(0, k - 3):k])))


def _under_negation(text: str, stemmed: str) -> bool:
    """Whether a negation ("not", "never", "no", "without", "rather than", "instead of") comes at most three
    words before the words of ``text`` that stem to ``stemmed``."""
    words = re.findall(r"[a-z_]+", normalize(text).replace("n't", " not"))
    stems = [" ".join(tokenize(w, keep_stopwords=True)) for w in words]
    size = len(stemmed.split())
    return any(" ".join(stems[k:k + size]) == stemmed and _negated_at(words, k) for k in range(len(words) - size + 1))


def _has_negation(text: str) -> bool:
    text = normalize(text).replace("n't", " not")
    return bool(_NEGATION.search(text) or re.search(r"\b(?:rather than|instead of)\b", text))


def common_names(answers: list[str], share: float = 0.25) -> frozenset[str]:
    """Identifiers that at least ``share`` of the answers name ("PyTorch", "torch"): naming one is no swap."""
    counts: dict[str, int] = {}
    for answer in answers:
        for name in identifiers(answer):
            counts[name] = counts.get(name, 0) + 1
    return frozenset(name for name, n in counts.items() if n >= share * len(answers))


def identifiers(text: str) -> frozenset[str]:
    """Code names in ``text``, compared by their last part: ``model.eval()`` and ``eval()`` are one name."""
    return frozenset(match.group(0).removesuffix("()").rsplit(".", 1)[-1].lower()
                     for match in _IDENTIFIER.finditer(text))


def _surface(text: str, stemmed: str) -> str:
    """The words of ``text`` that stem to ``stemmed`` (a word or a two-word phrase), as written."""
    words = re.findall(r"[A-Za-z_][\w.]*(?:\(\))?", text)
    size = len(stemmed.split())
    for k in range(len(words) - size + 1):
        phrase = " ".join(words[k:k + size])
        if " ".join(tokenize(phrase, keep_stopwords=True)) == stemmed:
            return phrase
    return stemmed


def _phrases(text: str) -> set[str]:
    """Stemmed words of ``text`` and its two-word phrases (for entries such as "turn off"). A hyphenated
    compound is one word, as its joined spelling is: "non-linear" is "nonlinear", not "non" and "linear"."""
    words = tokenize(re.sub(r"(?<=[A-Za-z])-(?=[A-Za-z])", "", text), keep_stopwords=True)
    return set(words) | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}


def _affirmed(sentences: tuple[str, ...], stemmed: str) -> bool:
    """Whether one of ``sentences`` says ``stemmed`` (a word or two-word phrase, as the opposite cue reads them)
    not under a negation; a word also when spelled almost alike, its letters split in two at most ("on
    linearity": a mishearing of "nonlinearity"), as grading counts a key term (``NEAR_SPELLING``), unless what
    was said is a word of everyday English ("shape" is not a mishearing of "share")."""
    unlike = opposites().get(stemmed, frozenset())  # "linear" is spelled like "nonlinear", and says the opposite
    for sentence in sentences:
        if stemmed in _phrases(sentence):
            if not _under_negation(sentence, stemmed):
                return True
        elif " " not in stemmed and len(stemmed) >= 5:
            words = re.findall(r"[a-z0-9]+", normalize(sentence).replace("n't", " not"))
            for k, n in ((k, n) for k in range(len(words)) for n in (1, 2) if k + n <= len(words)):
                heard = "".join(words[k:k + n])
                run = " ".join(tokenize(heard, keep_stopwords=True))
                if run not in unlike and difflib.SequenceMatcher(None, stemmed, run).ratio() >= NEAR_SPELLING \
                        and could_be_a_typo(heard) and not _negated_at(words, k):
                    return True
    return False


def _negated(text: str) -> tuple[set[str], set[str]]:
    """(words negated, words asserted), stemmed: a negated word is the first content word after a negation."""
    text = normalize(text).replace("n't", " not").replace("cannot", "can not")
    negated: set[str] = set()
    # A claim is denied by a verb's negation ("does not copy", "is never", "can't"). "No" and "without" deny
    # a thing's presence ("if no constructor is given"), and a bare "not" before a noun is as often a
    # mishearing ("a not-product") as a denial: neither is compared.
    for match in _DENIAL.finditer(text):
        following = re.findall(r"[a-z_]+", text[match.end():])
        head = next((w for w in following[:4] if w not in _SKIP), None)
        if head:
            negated.update(tokenize(head))
    asserted = set(tokenize(_NEGATION.sub(" ", text))) - negated
    return negated, asserted


def _negation_flip(point: str, sentence: str) -> str | None:
    point_terms = set(tokenize(point, keep_stopwords=True))
    sentence_terms = set(tokenize(sentence, keep_stopwords=True))
    if point_terms & _negative_words() or sentence_terms & _negative_words():
        return None
    if _has_negation(point) == _has_negation(sentence):  # both negate: where each negation falls is unclear
        return None
    point_negated, point_asserted = _negated(point)
    sentence_negated, sentence_asserted = _negated(sentence)
    if sentence_negated & point_asserted - point_negated:
        return f"says “not {_surface(sentence, min(sentence_negated & point_asserted))}” where the notes affirm it"
    if point_negated & sentence_asserted - sentence_negated:
        word = _surface(sentence, min(point_negated & sentence_asserted))
        return f"affirms “{word}” where the notes say it does not"
    return None
