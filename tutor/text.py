"""Text utilities shared by the parser, the lexical index and the grader.

Two jobs live here:

* ``repair_glued`` restores the spaces that web scraping dropped around inline code
  (``torch.Tensoris`` -> ``torch.Tensor is``), using the corpus's own vocabulary;
* ``tokenize`` turns text into BM25 terms, keeping identifiers such as ``nn.Module``
  and ``torch.no_grad`` whole *and* split, so both ``zero_grad`` and ``zero grad`` match.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

_FUNCTION_WORDS = frozenset("a an and or the to of in is with like custom using use that".split())
_EDGE = ".,;:!?\"'()[]{}<>*`"
_IDENT = re.compile(r"^\.?[A-Za-z_][\w.]*(\([^\s()]*\))?[\w.=]*$")
_CODE_SIGNAL = re.compile(r"[._()=]|[a-z][A-Z]")

# Small closed-class words; content words are what decide relevance.
STOPWORDS = frozenset(
    """a an the and or but if then so of to in on at by for with from as is are was were be been being
    do does did done have has had i you he she it we they me my your our their its this that these those
    what which who whom whose when where why how can could should would will shall may might must
    not no yes about into over under up down out than too very just also more most some any each
    all both few such own same other there here s t don i'm it's let's like please tell explain
    describe give me us know mean means""".split()
)


class Vocabulary:
    """Word counts of a corpus, used to decide where glued inline code should be split."""

    def __init__(self, texts: Iterable[str]):
        self.counts: Counter[str] = Counter()
        self.pages: Counter[str] = Counter()  # in how many pages a word appears
        self.code_terms: set[str] = set()
        for text in texts:
            words = [raw.strip(_EDGE) for raw in text.split()]
            self.pages.update(set(words))
            self.counts.update(w for w in words if w)
        for word in self.counts:
            if "." in word.strip("."):
                # Components of dotted identifiers (torch, nn, autograd, Dataset) are code terms;
                # "the.requires_gradattribute" must not make "the" one.
                for part in re.split(r"[.(]", word):
                    if len(part) > 1 and part.lower() not in STOPWORDS and part.isidentifier():
                        self.code_terms.add(part)

    def known(self, piece: str) -> bool:
        """Seen on two pages, or thrice: glued text occurs on one page, once or twice."""
        return self.pages[piece] >= 2 or self.counts[piece] >= 3 or piece.lower() in ("a", "i")

    def piece_cost(self, piece: str) -> float:
        if self.known(piece):
            return 1.0
        parts_ok = all(len(part) >= 2 for part in piece.strip(".").split("."))
        identifier = len(piece) >= 3 and parts_ok and _IDENT.match(piece) and _CODE_SIGNAL.search(piece)
        capitalized = len(piece) >= 3 and piece[0].isupper() and piece[1:].isalpha() and not piece.isupper()
        if not (identifier or capitalized):
            return float("inf")
        # Longer unseen pieces are likelier to be glued words: cost grows with length.
        return 2.5 + 0.25 * len(piece) + 3.0 * self._glue_seams(piece)

    def _glue_seams(self, piece: str) -> int:
        """How often an English word runs straight into a capital (``andDataLoader``): the scraper's mark."""
        seams = 0
        for match in re.finditer(r"([a-z]+)(?=[A-Z])", piece):
            run = match.group(1)
            if any(
                (run[-n:] in _FUNCTION_WORDS or (n >= 4 and self.known(run[-n:])))
                and run[-n:] not in self.code_terms
                for n in range(2, len(run) + 1)
            ):
                seams += 1
        return seams

    def is_code_piece(self, piece: str) -> bool:
        return piece in self.code_terms or bool(_CODE_SIGNAL.search(piece[1:] if piece else ""))


def _segment(word: str, vocab: Vocabulary) -> list[str]:
    """Cheapest split of ``word`` into known words and identifiers, or ``[word]`` if none is better."""

    @functools.lru_cache(maxsize=None)
    def best(start: int) -> tuple[float, tuple[str, ...]]:
        if start == len(word):
            return 0.0, ()
        result: tuple[float, tuple[str, ...]] = (float("inf"), ())
        for end in range(start + 1, len(word) + 1):
            piece = word[start:end]
            if (start and piece[0] == ".") or (end < len(word) and piece[-1] == "."):
                continue  # never cut a dotted identifier at its dot
            cost = vocab.piece_cost(piece)
            if cost == float("inf"):
                continue
            rest_cost, rest = best(end)
            if rest and piece[0].isupper() and piece[-1].islower() and rest[0][0].isupper():
                continue  # CamelCase continues (DistributedDataParallel): not a seam
            if rest and vocab.is_code_piece(piece) and vocab.is_code_piece(rest[0]):
                continue  # two identifiers side by side (torch|vision.models) are one identifier
            if cost + rest_cost < result[0]:
                result = (cost + rest_cost, (word[start:end], *rest))
        return result

    cost, pieces = best(0)
    # Split only at a code seam: one side must be an identifier, otherwise "because" -> "be cause".
    if len(pieces) < 2 or not any(vocab.is_code_piece(p) for p in pieces):
        return [word]
    if any(len(p) == 1 and p.lower() not in {"a", "i"} for p in pieces) or "-" in word:
        return [word]
    return list(pieces)


def repair_glued(text: str, vocab: Vocabulary) -> str:
    """Re-insert the spaces a scraper dropped around inline code.

    ``model.train():Enables`` -> ``model.train(): Enables``; ``torch.Tensoris`` -> ``torch.Tensor is``;
    ``usingall-reduceprimitives`` stays as it is when no split is clearly better.
    """
    text = re.sub(r"\)(?=[A-Za-z])", ") ", text)
    text = re.sub(r"\):(?=[A-Za-z])", "): ", text)
    text = re.sub(r",(?=[A-Za-z_])", ", ", text)
    text = re.sub(r"\?(?=[A-Za-z])", "? ", text)

    def sentence_seam(match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(2)
        if not vocab.known(left) or left in vocab.code_terms or left.lower() in vocab.code_terms:
            return match.group(0)
        return f"{left}. {right}"

    text = re.sub(r"\b([A-Za-z]{3,})\.([A-Z]\w*)", sentence_seam, text)

    out = []
    for token in re.split(r"(\s+)", text):
        core = token.strip(_EDGE)
        if not core or token.isspace() or vocab.known(core):
            out.append(token)
            continue
        lead = token[: token.index(core)]
        trail = token[token.index(core) + len(core) :]
        out.append(lead + " ".join(_segment(core, vocab)) + trail)
    return "".join(out)


_TOKEN = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*(?:\(\))?|\d+[a-z]*")


@functools.lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def normalize(text: str) -> str:
    """NFKC, lower case, no control characters: the form every comparison uses."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    return text.lower()


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """BM25 terms: stemmed words, plus identifiers kept whole and split into their parts.

    >>> tokenize("Call optimizer.zero_grad() before loss.backward()")
    ['call', 'optimizer.zero_grad', 'optim', 'zero_grad', 'zero', 'grad', 'loss.backward', 'loss', 'backward']
    """
    stem = _stemmer().stemWord
    terms: list[str] = []
    for match in _TOKEN.finditer(normalize(text)):
        word = match.group(0).removesuffix("()")
        parts = [p for p in re.split(r"[._]", word) if p]
        if len(parts) > 1:
            terms.append(word)
            if "." in word:
                terms.extend(p for p in word.split(".") if "_" in p)
        for part in parts:
            if keep_stopwords or part not in STOPWORDS:
                terms.append(stem(part))
    return terms


def content_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` that are not stopwords (unstemmed), identifiers split."""
    words = re.findall(r"[a-z0-9]+", normalize(text))
    return [w for w in words if w not in STOPWORDS and not w.isdigit()]
