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
) | frozenset(
    # Words about how to explain, not what: "explain autograd like I am five".
    """five simple simply terms example examples briefly brief quick quickly detail details eli5 kid child
    beginner interview interviewer question questions answer pls plz thanks thank hi hello hey now whats
    what's point thing things stuff really actually way ways exactly good okay ok""".split()
)


class Vocabulary:
    """Word counts of a corpus, used to decide where glued inline code should be split."""

    def __init__(self, texts: Iterable[str]):
        texts = list(texts)
        self.counts: Counter[str] = Counter()
        self.pages: Counter[str] = Counter()  # in how many pages a word appears
        for text in texts:
            words = [raw.strip(_EDGE) for raw in text.split()]
            self.pages.update(set(words))
            self.counts.update(w for w in words if w)
        self.code_terms: set[str] = set()
        for word in self.counts:
            if "." in word.strip("."):
                # Components of dotted identifiers (torch, nn, autograd, Dataset) are code terms;
                # "the.requires_gradattribute" must not make "the" one.
                for part in re.split(r"[.(]", word):
                    if len(part) > 1 and part.lower() not in STOPWORDS and part.isidentifier():
                        self.code_terms.add(part)
        # Names called like functions, "forward()" or "zero_grad()", are code terms too.
        self.code_terms.update(re.findall(r"\b([A-Za-z_]\w+)\(\)", " ".join(texts)))

    def known(self, word: str) -> bool:
        """Seen on two pages, or thrice: glued text occurs on one page, once or twice."""
        return self.pages[word] >= 2 or self.counts[word] >= 3

    def plain_word(self, word: str) -> bool:
        return len(word) >= 2 and word.isalpha() and word.islower() and self.known(word)

    def code_start(self, text: str) -> bool:
        """Starts like an identifier: a capital, an underscore, a dot, or a code term followed by . _ or (."""
        if re.match(r"[A-Z_.]", text):
            return True
        return any(text.startswith(term) and not text[len(term) : len(term) + 1].isalpha()
                   for term in self.code_terms if term[:1].islower())


def _split_glued(core: str, vocab: Vocabulary) -> list[str]:
    """``likeDropout`` -> like Dropout; ``Datasetis`` -> Dataset is; ``andmodel.eval()`` -> and model.eval()."""
    for word in sorted(_FUNCTION_WORDS, key=len, reverse=True):
        rest = core[len(word) :]
        if core.startswith(word) and len(rest) > 1 and vocab.code_start(rest):
            return [word, *_split_glued(rest, vocab)]
    if not vocab.known(core):
        for cut in range(len(core) - 2, 1, -1):
            head, tail = core[:cut], core[cut:]
            last = re.split(r"[.]", head.rstrip(")").split("(")[0])[-1]
            balanced = head.count("(") == head.count(")") and not head.endswith("-")
            camel = bool(re.search(r"[a-z][A-Z]", last))
            if balanced and vocab.plain_word(tail) and (head.endswith(")") or last in vocab.code_terms or camel):
                return [*_split_glued(head, vocab), tail]
    return [core]


def repair_glued(text: str, vocab: Vocabulary) -> str:
    """Re-insert the spaces a scraper dropped around inline code.

    ``model.train():Enables`` -> ``model.train(): Enables``; ``torch.Tensoris`` -> ``torch.Tensor is``;
    a token with no clear seam stays as it is.
    """
    text = re.sub(r"\)(?=[A-Za-z])", ") ", text)
    text = re.sub(r"\):(?=[A-Za-z])", "): ", text)
    text = re.sub(r",(?=[A-Za-z_])", ", ", text)
    text = re.sub(r"\?(?=[A-Za-z])", "? ", text)
    # "and"/"or" between two identifiers: Datasetandtorch.utils, NaNorInf
    text = re.sub(r"(?<=[a-z)])(and|or)(?=(?:torch|nn|model)\.)", r" \1 ", text)
    text = re.sub(r"(?<=[A-Z)])(and|or)(?=[A-Z])", r" \1 ", text)
    text = re.sub(r"(\.[A-Z]\w*?[a-z])(and|or)(?=[A-Z])", r"\1 \2 ", text)

    out = []
    for token in re.split(r"(\s+)", text):
        core = token.strip(_EDGE)
        if not core or token.isspace() or vocab.pages[core] >= 2:
            out.append(token)
            continue
        lead = token[: token.index(core)]
        trail = token[token.index(core) + len(core) :]
        out.append(lead + " ".join(_split_glued(core, vocab)) + trail)
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
    stop_stems = _stop_stems()
    terms: list[str] = []
    for match in _TOKEN.finditer(normalize(text)):
        word = match.group(0).removesuffix("()")
        parts = [p for p in re.split(r"[._]", word) if p]
        if len(parts) > 1:
            terms.append(word)
            if "." in word:
                terms.extend(p for p in word.split(".") if "_" in p)
        for part in parts:
            stemmed = stem(part)
            if keep_stopwords or (part not in STOPWORDS and stemmed not in stop_stems):
                terms.append(stemmed)
    return terms


@functools.lru_cache(maxsize=1)
def _stop_stems() -> frozenset[str]:
    stem = _stemmer().stemWord
    return frozenset(stem(w) for w in STOPWORDS)


# A key term spelled this close (difflib ratio) to a word of the answer counts as said in grading: a typo, or a word the
# speech model misheard ("humpy" for numpy). The same cutoff as the transcript's glossary repair.
NEAR_SPELLING = 0.8
COMMON_ZIPF = 3.0  # a word English uses at least once per million words (wordfreq's Zipf scale) is no typo


@functools.lru_cache(maxsize=8192)
def could_be_a_typo(token: str) -> bool:
    """Whether a word the notes do not use may be a misspelling of one they do: not an identifier written with
    inner capitals ("ResNet", "AdamW": a name the notes lack), and not a word of everyday English ("read",
    "tree", "compile": spelling it as the nearest word of the notes, "ready", "three", "complex", changes the
    question). "propogation", "diffrence" and "wich" are rare enough to be read as typos."""
    from wordfreq import zipf_frequency

    if any(c.isupper() for c in token[1:]) and not token.isupper():
        return False
    return zipf_frequency(token.lower(), "en") < COMMON_ZIPF


def content_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` that are not stopwords (unstemmed), identifiers split."""
    words = re.findall(r"[a-z0-9]+", normalize(text))
    return [w for w in words if w not in STOPWORDS and not w.isdigit()]


def excerpt(text: str, limit: int = 220) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters (with an ellipsis)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + " …"


def printable(text: str) -> str:
    """``text`` without control characters (newlines and tabs stay), lone surrogates or zero-width marks."""
    text = "".join(ch for ch in text if ch in "\n\t" or (ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF))
    return re.sub(r"[\u200b-\u200f\u2060\ufeff]", "", text)
