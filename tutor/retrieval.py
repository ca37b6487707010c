"""Hybrid retrieval: dense (FAISS) and lexical (BM25) scores fused per item, plus the confidence decision.

Dense similarity finds paraphrases; BM25 over identifier-aware tokens finds exact names such as
``zero_grad`` or ``CTCLoss``. Scores are fused per item (not per passage), so an item matched by its
question and by a chunk of its answer counts once.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
from dataclasses import dataclass

import numpy as np

from tutor.index import IndexData
from tutor.models import Embedder
from tutor.text import STOPWORDS, content_words, normalize, tokenize

# Weight of the (per-query normalised) BM25 score next to the cosine similarity.
LEXICAL_WEIGHT = 0.35
DENSE_CANDIDATES = 64


@dataclass(frozen=True)
class Scored:
    """One item's retrieval evidence for a query."""

    position: int
    score: float
    dense: float
    lexical: float


@dataclass(frozen=True)
class Evidence:
    """What the confidence decision looks at, for one query.

    Attributes:
        dense_top: best cosine between the query and any passage.
        coverage: share of the query's content words that the notes use anywhere.
        overlap: share of the query's content words found inside the best item.
        unknown_words: content words the notes never use (after spelling repair).
    """

    dense_top: float
    coverage: float
    overlap: float
    unknown_words: tuple[str, ...]


class Retriever:
    """Searches an index's answered items with dense and lexical scores."""

    def __init__(self, index: IndexData, embedder: Embedder, mode: str = "hybrid"):
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.mode = mode  # "hybrid", or "dense" / "lexical" alone (for the benchmark's comparison)
        self.index = index
        self.embedder = embedder
        self.answered = np.array([i for i, item in enumerate(index.items) if item.answer], dtype=np.int64)
        documents = [self._document(index.items[i]) for i in self.answered]
        self.bm25 = bm25s.BM25()
        self.bm25.index([tokenize(doc) or ["_"] for doc in documents], show_progress=False)
        # Every word the notes use, for spelling repair and for judging coverage.
        self.words = sorted({w for doc in documents for w in content_words(doc)} |
                            {w for item in index.items for w in content_words(item.prompt)})
        self.word_set = frozenset(self.words)
        self.stems = frozenset(t for doc in documents for t in tokenize(doc))
        self.item_stems = {int(i): frozenset(tokenize(doc)) for i, doc in zip(self.answered, documents, strict=True)}

    @staticmethod
    def _document(item) -> str:
        # The question counts twice: it states what the item is about most densely.
        return f"{item.prompt}\n{item.prompt}\n{item.answer}"

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one retriever per process; cache is bounded
    def correct(self, word: str) -> str:
        """The notes' spelling of ``word`` (``shuffel`` -> ``shuffle``), or ``word`` itself."""
        if word in self.word_set or len(word) < 4 or not word.isalpha():
            return word
        match = difflib.get_close_matches(word, self.words, n=1, cutoff=0.8)
        return match[0] if match else word

    def repair_spelling(self, text: str) -> str:
        return re.sub(r"[A-Za-z]{4,}", lambda m: self.correct(m.group(0).lower()) if
                      m.group(0).lower() not in self.word_set else m.group(0), text)

    def evidence(self, text: str, ranked: list[Scored]) -> Evidence:
        """How much of the query the notes know: anywhere (coverage), and inside the best item (overlap).

        Overlap is measured on the best item only: measured over the top three it let "speed of light"
        and "b-tree" through on the dev set (each shares one common word with some item)."""
        words, stems = [], []
        for word in content_words(text):
            stem = tokenize(self.correct(word))
            if len(word) > 2 and stem:  # "explained" stems to a stopword: it says nothing of the topic
                words.append(word)
                stems.append(stem[0])
        unknown = tuple(w for w, s in zip(words, stems, strict=True) if s not in self.stems)
        coverage = 1.0 - len(unknown) / len(words) if words else 0.0
        in_best = self.item_stems.get(ranked[0].position, frozenset()) if ranked else frozenset()
        overlap = sum(s in in_best for s in stems) / len(stems) if stems else 0.0
        return Evidence(ranked[0].dense if ranked else 0.0, coverage, overlap, unknown)

    def search(self, text: str, k: int = 10, vector: np.ndarray | None = None) -> list[Scored]:
        """Items best first, with fused, dense and lexical scores."""
        text = self.repair_spelling(text)
        if vector is None:
            vector = self.embedder.embed([text])[0]
        dense = self._dense(vector)
        lexical = self._lexical(text)
        weights = {"hybrid": (1.0, LEXICAL_WEIGHT), "dense": (1.0, 0.0), "lexical": (0.0, 1.0)}[self.mode]
        fused = weights[0] * dense + weights[1] * lexical
        order = np.argsort(-fused, kind="stable")[:k]
        return [Scored(int(self.answered[o]), float(fused[o]), float(dense[o]), float(lexical[o])) for o in order]

    def _dense(self, vector: np.ndarray) -> np.ndarray:
        """Best cosine per answered item over its passages (question and answer chunks)."""
        faiss_index = self.index.faiss_index
        k = min(DENSE_CANDIDATES, faiss_index.ntotal)
        scores, ids = faiss_index.search(vector.reshape(1, -1).astype(np.float32), k)
        best = np.zeros(len(self.index.items), dtype=np.float32)
        for score, row in zip(scores[0], ids[0], strict=True):
            if row >= 0:
                position = self.index.rows[row]
                best[position] = max(best[position], score)
        return best[self.answered]

    def _lexical(self, text: str) -> np.ndarray:
        terms = [t for t in tokenize(text) if t in self.stems]
        if not terms:
            return np.zeros(len(self.answered), dtype=np.float32)
        scores = np.asarray(self.bm25.get_scores(terms), dtype=np.float32)
        top = scores.max()
        return scores / top if top > 0 else scores


FOLLOW_UP_OPENERS = re.compile(
    r"^(and|what about|how about|also|but|so|then|ok|okay|why|same|what if|which one|is it|does it|"
    r"can it|should it|in that case)\b", re.IGNORECASE
)
ANAPHORA = frozenset(
    ["it", "its", "it's", "that", "this", "they", "them", "those", "these", "one", "ones", "there", "he", "she", "the"]
)


def is_follow_up(question: str, known_words: frozenset[str]) -> bool:
    """A turn that leans on the conversation: an opener such as "and", or a pronoun with little else."""
    words = re.findall(r"[a-z0-9']+", normalize(question))
    content = [w for w in words if w not in STOPWORDS and w not in ANAPHORA]
    topical = [w for w in content if w in known_words]
    if FOLLOW_UP_OPENERS.match(question.strip()) and len(topical) <= 2:
        return True
    return bool(ANAPHORA & set(words)) and len(topical) <= 1
