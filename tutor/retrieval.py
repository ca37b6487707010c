"""Hybrid retrieval: dense (FAISS over passages) and lexical (BM25 over items) scores fused per item.

Dense similarity finds paraphrases; BM25 over normalised search terms (``tutor.terms``) finds exact names
such as ``zero_grad`` or ``CTCLoss`` and meets ``mini-batch`` with ``minibatch``. Each item has several
passages (``tutor.passages``): its question (and its other phrasings), its whole answer and the answer's
parts. An item's dense score is its best passage plus a share of its second best, so one sentence deep inside
a long answer can carry the item, and an item matched twice outranks one matched once by a stray sentence;
its ways of asking count as one passage, the best of them.

Taking an item's best passage favours items with many passages: a long answer that touches on many
concepts (how a CNN works, layer by layer) comes close to many questions it does not answer — a "hub" of
the embedding space (Radovanović et al. 2010). Each item's pull is measured when the index is built, as its
mean dense score for the notes' own questions of other groups that it matches best, and a share of it (above
the notes' mean) is taken off its dense score when items are ranked: a local scaling of similarities as in
CSLS (Conneau et al. 2018), with the notes' questions standing in for the questions users will ask. The
confidence decision still sees the similarity itself.

This hybrid score is the first stage: its best items are re-ordered by the ranker fitted into the index
(``tutor.ranking``), which weighs each kind of evidence — the item's question, whole answer and best part,
BM25, the share of the question's words it uses — as learnt on data.
"""

from __future__ import annotations

import collections
import difflib
import functools
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tutor.passages import PART, QUESTION
from tutor.ranking import CANDIDATES, Ranker
from tutor.terms import expand, search_terms, word_terms
from tutor.text import STOPWORDS, content_words, could_be_a_typo

if TYPE_CHECKING:  # names for annotations only
    from tutor.index_data import IndexData
    from tutor.models import Embedder

# Chosen on the dev split (benchmarks/retrieval.py --split dev); see docs/PERFORMANCE.md.
LEXICAL_WEIGHT = 0.35  # of the (per-query normalised) BM25 score next to the dense score
SECOND_PASSAGE_SHARE = 0.3  # of an item's second-best passage cosine added to its best
DENSE_CANDIDATES = 256
LONG_QUESTION_WORDS = 25  # a question this long, of several sentences, is also searched sentence by sentence
MAX_QUERY_SENTENCES = 6
SENTENCE_SHARE = 0.5  # of the best sentence's dense score in a long question's dense score
HUB_NEIGHBOURS = 20  # an item's pull: its mean dense score for this many of the notes' questions it matches best
HUB_SHARE = 0.25  # of its pull, above the notes' mean, taken off an item's dense score
_QUERY_SENTENCE = re.compile(r"(?<=[.?!;])\s+|\s+(?=but |so |and then )")


@dataclass(frozen=True)
class Scored:
    """One item's retrieval evidence for a query; ``passage`` is the row of its best answer passage (the whole
    answer or a part of it) in the index."""

    position: int
    score: float
    dense: float
    lexical: float
    passage: int = -1


class Retriever:
    """Searches an index's answered items with dense and lexical scores."""

    def __init__(self, index: IndexData, embedder: Embedder, mode: str = "hybrid",
                 ranker: Ranker | None | str = "index"):
        """``ranker``: the second stage — by default the one fitted into the index (none while it is built)."""
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.mode = mode  # "hybrid", or "dense" / "lexical" alone (for the benchmark's comparison)
        self.index = index
        self.embedder = embedder
        self.answered = np.array([i for i, item in enumerate(index.items) if item.answer], dtype=np.int64)
        self.slot = np.full(len(index.items), -1, dtype=np.int64)  # item position -> row in self.answered
        self.slot[self.answered] = np.arange(len(self.answered))
        documents = [self._document(index.items[i]) for i in self.answered]
        terms = [search_terms(doc) for doc in documents]
        self.bm25 = bm25s.BM25()
        self.bm25.index([t or ["_"] for t in terms], show_progress=False)
        # Every word the notes use (not their listed phrasings, which may hold typos), for spelling repair;
        # every term, for judging coverage.
        self.words = sorted({w for i in self.answered for w in content_words(index.items[i].answer)} |
                            {w for item in index.items for w in content_words(item.prompt)})
        self.word_set = frozenset(self.words)
        self.item_terms = {int(i): frozenset(t) for i, t in zip(self.answered, terms, strict=True)}
        self.title_terms = {int(i): frozenset(search_terms(index.items[i].prompt)) for i in self.answered}
        frequency: dict[str, int] = {}
        for item_terms in self.item_terms.values():
            for term in item_terms:
                frequency[term] = frequency.get(term, 0) + 1
        n = max(len(self.answered), 1)
        self.idf = {term: float(np.log((n + 1) / (df + 1)) + 1.0) for term, df in frequency.items()}
        # How specific a word is to the notes themselves, not to the ways of asking listed for them (which
        # spread a learner's words, "dataloader", over many items): what a follow-up's subject is judged by.
        own = collections.Counter(term for i in self.answered for term in set(
            search_terms(f"{index.items[i].prompt}\n{index.items[i].answer}")))
        self.notes_idf = {term: float(np.log((n + 1) / (df + 1)) + 1.0) for term, df in own.items()}
        self.unseen_idf = float(np.log(n + 1) + 1.0)
        hubs = index.hubs if index.hubs is not None else np.zeros(len(index.items), np.float32)
        self.pull = hubs[self.answered].astype(np.float32)
        self.hub_penalty = HUB_SHARE * self.pull
        if ranker == "index":
            ranker = Ranker.from_json(index.manifest["ranker"]) if "ranker" in index.manifest else None
        self.ranker = ranker  # used in "hybrid" mode only
        self.memory = index.memory  # the shipped questions, for the confidence evidence (None: not stored)

    @staticmethod
    def _document(item) -> str:
        # The question counts twice: it states what the item is about most densely. Its other phrasings
        # bring the words learners use for it (document expansion, as in doc2query).
        return "\n".join([item.prompt, item.prompt, *item.phrasings, item.answer])

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one retriever per process; cache is bounded
    def correct(self, word: str) -> str:
        """The notes' spelling of ``word`` (``shuffel`` -> ``shuffle``), or ``word`` itself."""
        if word in self.word_set or len(word) < 4 or not word.isalpha():
            return word
        match = difflib.get_close_matches(word, self.words, n=1, cutoff=0.8)
        return match[0] if match else word

    def repair_spelling(self, text: str) -> str:
        """``text`` with each word the notes do not use replaced by their closest spelling, when it may be a
        typo (``could_be_a_typo``: not a name, not an everyday word); stopwords stay ("what's" must not become
        "hat")."""
        def repair(match: re.Match) -> str:
            word = match.group(0).lower()
            if word in self.word_set or word in STOPWORDS or not could_be_a_typo(match.group(0)):
                return match.group(0)
            return self.correct(word)

        return re.sub(r"[A-Za-z]{4,}", repair, text)

    def query_text(self, text: str) -> str:
        """What is embedded and matched for a question: spelling repaired, abbreviations expanded."""
        return expand(self.repair_spelling(text))

    def word_weights(self, text: str, idf: dict[str, float] | None = None) -> list[tuple[str, float, frozenset[str]]]:
        """Each content word of a (repaired) question with its weight (IDF in the notes, or in ``idf``; a word
        the notes never use weighs the most) and the terms that stand for it."""
        idf = self.idf if idf is None else idf
        out = []
        for word, terms in word_terms(text):
            known = [idf[t] for t in terms if t in idf]
            out.append((word, min(known) if known else self.unseen_idf, frozenset(terms)))
        return out

    def query_texts(self, text: str) -> list[str]:
        """What to embed for a question: the whole (repaired, expanded) question, then — for a long question
        of several sentences — each sentence, so the one sentence that asks is not drowned by the context
        around it."""
        query = self.query_text(text)
        sentences = [s for s in _QUERY_SENTENCE.split(query) if len(s.split()) >= 3]
        if len(query.split()) < LONG_QUESTION_WORDS or len(sentences) < 2:
            return [query]
        return [query, *sentences[:MAX_QUERY_SENTENCES]]

    def search(self, text: str, k: int = 10, vectors: np.ndarray | None = None) -> list[Scored]:
        """Items best first, with their scores (the ranker's, else the hybrid one), dense and lexical
        scores (``text`` is repaired here).

        ``vectors``: the embeddings of ``query_texts(text)``, when the caller embedded them in a batch."""
        fused, dense, lexical, kinds, best_rows = self._first_stage(text, vectors)
        ranker = self.ranker if self.mode == "hybrid" else None
        order = np.argsort(-fused, kind="stable")[: max(k, CANDIDATES) if ranker else k]
        scores = fused[order]
        if ranker is not None:
            scores = ranker.scores(self._features(text, order, dense, lexical, kinds))
            best = np.argsort(-scores, kind="stable")[:k]
            order, scores = order[best], scores[best]
        return [Scored(int(self.answered[o]), float(score), float(dense[o]), float(lexical[o]), int(best_rows[o]))
                for o, score in zip(order, scores, strict=True)]

    def candidates_many(self, texts: list[str]) -> list[tuple[list[int], np.ndarray]]:
        """For each question, the first stage's best ``CANDIDATES`` items (positions) and their features
        for the ranker (``tutor.ranking.FEATURES``): what the ranker is fitted on."""
        out = []
        for text, vectors in zip(texts, self.embed_many(texts), strict=True):
            fused, dense, lexical, kinds, _ = self._first_stage(text, vectors)
            order = np.argsort(-fused, kind="stable")[:CANDIDATES]
            out.append(([int(p) for p in self.answered[order]], self._features(text, order, dense, lexical, kinds)))
        return out

    def _first_stage(self, text: str, vectors: np.ndarray | None):
        """Per answered item: the hybrid score, the dense and lexical scores, each passage kind's best cosine
        (3 x items) and the best answer passage's row."""
        query = self.query_text(text)
        if vectors is None:
            vectors = self.embedder.embed(self.query_texts(text))
        vectors = np.atleast_2d(vectors)
        (dense, best_rows, kinds), *per_sentence = self._dense_many(vectors)
        if per_sentence:
            # The best-matching sentence counts next to the whole question.
            sentence_best = np.max([d for d, _, _ in per_sentence], axis=0)
            dense = (1 - SENTENCE_SHARE) * dense + SENTENCE_SHARE * np.maximum(dense, sentence_best)
            kinds = np.max([kinds, *(k for _, _, k in per_sentence)], axis=0)
        lexical = self._lexical(query)
        weights = {"hybrid": (1.0, LEXICAL_WEIGHT), "dense": (1.0, 0.0), "lexical": (0.0, 1.0)}[self.mode]
        # The ranking takes each item's hub penalty off; the evidence (``Scored.dense``) stays the similarity.
        fused = weights[0] * (dense - self.hub_penalty) + weights[1] * lexical
        return fused, dense, lexical, kinds, best_rows

    def _features(self, text: str, order: np.ndarray, dense: np.ndarray, lexical: np.ndarray,
                  kinds: np.ndarray) -> np.ndarray:
        """The ranker's features (``tutor.ranking.FEATURES``) of the answered items at ``order``."""
        words = self.word_weights(self.repair_spelling(text))
        total = sum(weight for _, weight, _ in words) or 1.0

        def share(vocabulary: frozenset[str]) -> float:
            return sum(weight for _, weight, terms in words if terms & vocabulary) / total

        positions = self.answered[order]
        terms = [share(self.item_terms[int(p)]) for p in positions]
        titles = [share(self.title_terms[int(p)]) for p in positions]
        return np.column_stack([dense[order], self.pull[order], lexical[order], kinds[0, order], kinds[1, order],
                                kinds[2, order], terms, titles]).astype(np.float64)

    def search_many(self, texts: list[str], k: int = 10) -> list[list[Scored]]:
        """``search`` for several questions, their query texts embedded in one batch."""
        return [self.search(text, k, vectors) for text, vectors in zip(texts, self.embed_many(texts), strict=True)]

    def embed_many(self, texts: list[str]) -> list[np.ndarray]:
        """The embeddings of each question's ``query_texts``, embedded in one batch."""
        queries = [self.query_texts(t) for t in texts]
        vectors = self.embedder.embed([q for group in queries for q in group])
        ends = np.cumsum([len(group) for group in queries])
        return [vectors[end - len(group) : end] for group, end in zip(queries, ends, strict=True)]

    def _dense_many(self, vectors: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """For each of ``vectors`` (searched in one batch), per answered item: its best passage cosine plus
        ``SECOND_PASSAGE_SHARE`` of its second best, its best answer passage's row, and each passage kind's best
        cosine (question, answer, part: 3 x items; 0 where none was found)."""
        faiss_index = self.index.faiss_index
        k = min(DENSE_CANDIDATES, faiss_index.ntotal)
        scores, ids = faiss_index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
        return [self._per_item(row_scores, row_ids) for row_scores, row_ids in zip(scores, ids, strict=True)]

    def _per_item(self, scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fold passage hits (best first) into item scores: each item's first hit and a share of its second;
        and each kind's first hit per item."""
        slots = np.where(ids >= 0, self.slot[self.index.rows[np.maximum(ids, 0)]], -1)
        kept = slots >= 0
        slots, scores, ids = slots[kept], scores[kept], ids[kept]
        # An item's ways of asking are one passage: only the best of them counts (matched by two phrasings
        # of its question, an item is not matched twice).
        asked = self.index.spans[ids, 0] == QUESTION
        kept = ~asked
        kept[np.flatnonzero(asked)[np.unique(slots[asked], return_index=True)[1]]] = True
        slots, scores, ids, asked = slots[kept], scores[kept], ids[kept], asked[kept]
        n = len(self.answered)
        best, second = np.zeros(n, np.float32), np.zeros(n, np.float32)
        items, first = np.unique(slots, return_index=True)  # the index of each item's first (best) hit
        best[items] = scores[first]
        # The passage a reply quotes: the best of the item's answer passages (never a way of asking it).
        best_rows = np.full(n, -1, dtype=np.int64)
        told_items, told_first = np.unique(slots[~asked], return_index=True)
        best_rows[told_items] = ids[~asked][told_first]
        later = np.ones(len(slots), dtype=bool)
        later[first] = False
        items, next_hit = np.unique(slots[later], return_index=True)
        second[items] = scores[later][next_hit]
        kinds = np.zeros((3, n), np.float32)
        item_kinds, first = np.unique(slots * 3 + self.index.spans[ids, 0], return_index=True)
        kinds[item_kinds % 3, item_kinds // 3] = scores[first]
        return best + SECOND_PASSAGE_SHARE * second, best_rows, kinds

    def _lexical(self, query: str) -> np.ndarray:
        terms = [t for t in search_terms(query) if t in self.idf]
        if not terms:
            return np.zeros(len(self.answered), dtype=np.float32)
        scores = np.asarray(self.bm25.get_scores(terms), dtype=np.float32)
        top = scores.max()
        return scores / top if top > 0 else scores

    def is_part(self, row: int) -> bool:
        return row >= 0 and int(self.index.spans[row][0]) == PART


def hub_pull(index: IndexData, question_vectors: np.ndarray) -> np.ndarray:
    """Per item: its mean dense score for the ``HUB_NEIGHBOURS`` questions of the notes (one per item,
    ``question_vectors``) it matches best among those of other question groups, less the mean of that over
    the answered items; 0 for an unanswered item."""
    retriever = Retriever(index, embedder=None, ranker=None)
    pulls = np.zeros(len(index.items), np.float32)
    if not len(retriever.answered) or not len(question_vectors):
        return pulls
    groups = np.asarray(index.groups)
    scores = np.vstack([dense for dense, _, _ in retriever._dense_many(question_vectors)])  # questions x answered items
    scores[groups[:, None] == groups[retriever.answered][None, :]] = -np.inf  # an item's own question says nothing
    top = -np.sort(-scores, axis=0)[:HUB_NEIGHBOURS]
    counted = np.isfinite(top)
    pull = np.where(counted, top, 0.0).sum(axis=0) / np.maximum(counted.sum(axis=0), 1)
    pulls[retriever.answered] = pull - pull.mean()
    return pulls
