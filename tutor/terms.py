"""Search terms: the normalised words that BM25 and the confidence evidence compare.

A learner and the notes often spell one concept differently. Three normalisations, applied alike to the
question and to the notes, make them meet:

* abbreviations, jargon and British spellings are expanded from one reviewed list,
  ``tutor/data/abbreviations.tsv`` (``lr`` -> ``lr learning rate``, ``optimiser`` -> ``optimizer``);
* identifiers in CamelCase also give their words (``CrossEntropyLoss`` -> ``cross entropy loss``);
* compounds meet however they are written: every pair of adjacent content words also yields its joined
  form, so ``mini-batch``, ``mini batch`` and ``minibatch`` all produce the term ``minibatch``, and
  ``pre-trained`` meets ``pretrained``. No vocabulary is needed, so the rule holds for any notes.

Case is folded by ``tutor.text.tokenize``, so an all-capitals question is read like any other.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from tutor.text import STOPWORDS, _stemmer, normalize, tokenize

_CAMEL = re.compile(r"\b[A-Za-z]*[a-z][A-Z][A-Za-z]*\b|\b[A-Z]{2,}[a-z][A-Za-z]*\b")
_WORD = re.compile(r"[a-z0-9]+|[^a-z0-9\s]+")


@functools.lru_cache(maxsize=1)
def abbreviations() -> dict[str, str]:
    """Short form -> what the notes say, from the reviewed data file."""
    text = resources.files("tutor").joinpath("data/abbreviations.tsv").read_text(encoding="utf-8")
    pairs = (line.split("\t", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return {short.strip().lower(): long.strip() for short, long in pairs}


@functools.lru_cache(maxsize=1)
def _abbreviation_pattern() -> re.Pattern:
    names = sorted(abbreviations(), key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b", re.IGNORECASE)


def expand(text: str) -> str:
    """``text`` with each abbreviation followed by its long form, and CamelCase names by their words.

    >>> expand("best lr for CrossEntropyLoss")
    'best lr (learning rate) for CrossEntropyLoss (cross entropy loss)'
    """

    def words(match: re.Match) -> str:
        parts = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", match.group(0))
        return f"{match.group(0)} ({' '.join(parts).lower()})" if len(parts) > 1 else match.group(0)

    text = _CAMEL.sub(words, text)
    return _abbreviation_pattern().sub(lambda m: f"{m.group(0)} ({abbreviations()[m.group(0).lower()]})", text)


def joined_compounds(text: str) -> list[str]:
    """Stems of every two adjacent content words written as one (``mini batch`` -> ``minibatch``).

    Adjacent means separated by nothing but spaces or a hyphen: a full stop or a comma between two words
    joins nothing."""
    stem = _stemmer().stemWord
    tokens = _WORD.findall(normalize(text))
    out = []
    for left, middle, right in zip(tokens, tokens[1:], tokens[2:], strict=False):
        if middle == "-" and _content(left) and _content(right):
            out.append(stem(left + right))
    for left, right in zip(tokens, tokens[1:], strict=False):
        if _content(left) and _content(right):
            out.append(stem(left + right))
    return out


def _content(word: str) -> bool:
    return len(word) >= 2 and word.isalpha() and word not in STOPWORDS


def search_terms(text: str) -> list[str]:
    """The terms BM25 indexes and the evidence compares: ``tokenize`` of the expanded text, plus the
    joined compounds. The same function serves the question and the notes."""
    expanded = expand(text)
    return tokenize(expanded) + joined_compounds(expanded)


def word_terms(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Each content word of ``text`` with the terms that stand for it (its stem, its expansion's stems):
    the units the confidence evidence counts, so a word is known when any of its terms is."""
    out = []
    for word in re.findall(r"[a-z_][\w.]*[a-z0-9_]|[a-z0-9]+", normalize(text)):
        if word in STOPWORDS or word.isdigit() or len(word) < 2:
            continue
        if len(word) >= 4 and re.search(r"[._]", word):
            # An identifier is known only as a whole: the notes' "forward" says nothing of
            # "register_forward_hook".
            whole = tokenize(word)[:1]
            if whole:
                out.append((word, tuple(whole)))
            continue
        terms = tokenize(word)
        long_form = abbreviations().get(word)
        if long_form:
            terms += tokenize(long_form) + joined_compounds(long_form)
        if terms:
            out.append((word, tuple(dict.fromkeys(terms))))
    return out
