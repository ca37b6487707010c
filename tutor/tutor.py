"""``Tutor``: the front door. It composes corpus, index, retrieval and grading; it owns no algorithm."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import numpy as np

from tutor import conversation
from tutor.calibration import Calibration, term_weights
from tutor.checking import FactChecker
from tutor.confidence import Decision, gather_evidence
from tutor.config import Config
from tutor.contradiction import common_names
from tutor.conversation import message_text
from tutor.errors import InputError
from tutor.grading import Grade, Grader, NotePoints, Reference
from tutor.index import IndexData, load_or_build
from tutor.items import Item
from tutor.models import BatchingEmbedder, Embedder, load_embedder
from tutor.reply import QUOTE_SHARE, Hit, Reply, inert, render
from tutor.retrieval import Retriever, Scored
from tutor.speech import Transcriber, Transcript, build_prompt, glossary_terms, repair_terms
from tutor.text import normalize, printable
from tutor.tuning import TunedEmbedder

log = logging.getLogger(__name__)
RANKED = 10  # items ranked per reading: enough for the hits, the other pages and the suggestions
FOLLOW_UP_RANKED = 50  # a follow-up's readings rank more, so one can re-rank the other (conversation.with_aspect)
# An unanswered question is graded against the best item and those at least this similar (share of its similarity).
CLOSEST_SHARE = 0.9
__all__ = ["Hit", "Reply", "Tutor", "clean_text", "inert", "message_text"]


def clean_text(text: object, limit: int, what: str = "question") -> str:
    """Validated user text: a string, control and zero-width characters removed, cut to ``limit``.

    Raises:
        InputError: not text, or nothing left after cleaning.
    """
    if not isinstance(text, str):
        raise InputError(f"The {what} must be text.")
    text = printable(text[: limit * 2]).strip()
    if not text:
        raise InputError(f"Please type a {what} — this one is empty.")
    return text[:limit]


class Tutor:
    """Ask questions, practise answers, get graded — over the corpus in ``config.corpus_dir``."""

    def __init__(self, config: Config, embedder: Embedder, index: IndexData, checker: FactChecker | None = None):
        self.config = config
        # Every request thread embeds through one queue: safe, and concurrent questions share a batch.
        if not isinstance(embedder, BatchingEmbedder):
            embedder = BatchingEmbedder(embedder)
        self.embedder = embedder
        self.index = index
        self.retriever = Retriever(index, embedder)
        self.decision = Decision.from_json(index.manifest["confidence"])
        self.items = index.items
        cache = index.vector_cache()
        # Each item's question vector: to match a question asked for grading, and to tell another question's
        # points from this one's.
        self._question_vectors = np.vstack([cache[item.prompt] for item in index.items]) if index.items \
            else np.zeros((0, index.dimension), np.float32)
        notes = NotePoints(index.point_vectors, index.point_items, [item.id for item in index.items],
                           [item.prompt for item in index.items], self._question_vectors)
        self.grader = Grader(embedder, Calibration(**index.manifest["grading_calibration"]),
                             term_weights(index.items), config.max_answer_chars, cache, notes,
                             common_names([item.answer for item in index.items if item.answer]), checker)
        self._transcriber: Transcriber | None = None
        self._glossary: list[str] | None = None
        self._recent_uploads: OrderedDict[tuple, Transcript] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._by_group: dict[int, list[int]] = {}
        for position, group in enumerate(index.groups):
            self._by_group.setdefault(group, []).append(position)

    @classmethod
    def load(cls, config: Config | None = None, *, embedder: Embedder | None = None,
             rebuild: bool = False) -> Tutor:
        """Load the model and the index, building the index if it is missing or stale."""
        config = config or Config.from_env()
        started = time.perf_counter()
        if embedder is None:
            make = TunedEmbedder if config.tuned_embedder else load_embedder
            embedder = make(config.embed_model, config.device, config.cache_dir)
        index = load_or_build(config.corpus_dir, config.index_dir, embedder, rebuild=rebuild,
                              notes_dir=config.notes_folder, max_page_bytes=config.max_page_bytes)
        checker = (FactChecker.load(config.checker_model, device=config.device, cache_dir=config.cache_dir)
                   if config.fact_checker else None)
        log.info("Tutor ready in %.2f s (%d items)", time.perf_counter() - started, len(index.items))
        return cls(config, embedder, index, checker)

    def reloaded(self) -> Tutor:
        """A tutor over the pages as they are now (rebuilding the index if they changed), sharing this
        one's models."""
        index = load_or_build(self.config.corpus_dir, self.config.index_dir, self.embedder,
                              notes_dir=self.config.notes_folder, max_page_bytes=self.config.max_page_bytes)
        fresh = type(self)(self.config, self.embedder, index, self.grader.checker)
        fresh._transcriber = self._transcriber
        return fresh

    # ---- asking -------------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None, k: int = 5) -> Reply:
        """Answer a free-form question from the notes, citing sources. With ``history`` (chat messages,
        oldest first) the question is also read with the conversation's subject, and the better supported
        reading wins (``tutor.conversation``).

        Raises:
            InputError: the question is empty or not text.
        """
        question = clean_text(question, self.config.max_question_chars)
        reading = self._read(question, history)
        confident = self.decision.confident(reading.evidence)
        hits = self._hits(reading.ranked, k)
        suggestions = self._suggestions(reading.ranked)
        text = self.render(hits, confident, suggestions)
        return Reply(text, confident, hits, reading.text, reading.expanded, suggestions, reading.evidence,
                     round(reading.probability, 4))

    def _read(self, question: str, history: list[dict] | None) -> conversation.Reading:
        both = self.conversation_readings(question, history)
        if both is None:
            return self._readings([question])[0]
        alone, with_context, cues = both
        chosen = conversation.FOLLOW_UP_MODEL.choose(alone, with_context, cues, self.decision.threshold)
        return replace(chosen, ranked=chosen.ranked[:RANKED])

    def conversation_readings(self, question: str, history: list[dict] | None) \
            -> tuple[conversation.Reading, conversation.Reading, conversation.Cues] | None:
        """A turn read alone and read with the conversation's subject (its items re-ranked by how well the
        question alone fits them too, ``conversation.with_aspect``), and the cues of the choice between them
        (``tutor.conversation``); None when there is no earlier question."""
        turns = conversation.user_turns(history)
        if not turns:
            return None
        previous = turns[-1][: self.config.max_question_chars]
        answered = self._answered_title(previous, tuple(turns[:-1][-3:]))
        expanded = conversation.expand_with(question, previous, answered)
        alone, with_context = self._readings([question, expanded], FOLLOW_UP_RANKED)
        ranked = conversation.with_aspect(with_context, alone)[:RANKED]
        evidence = gather_evidence(self.retriever, expanded, ranked, self.index.groups, with_context.vector)
        with_context = replace(with_context, ranked=ranked, evidence=evidence,
                               probability=self.decision.probability(evidence))
        retriever = self.retriever
        context = retriever.word_weights(retriever.repair_spelling(f"{previous} {answered or ''}"))
        cues = conversation.Cues.of(question, retriever.word_weights(retriever.repair_spelling(question),
                                                                     retriever.notes_idf),
                                    retriever.unseen_idf, frozenset().union(*(terms for _, _, terms in context)))
        return alone, with_context, cues

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one tutor per process; cache is bounded
    def _answered_title(self, question: str, earlier: tuple[str, ...]) -> str | None:
        """The title of the item the tutor answered ``question`` with (read in its own conversation)."""
        history = [{"role": "user", "content": turn} for turn in earlier]
        reading = self._read(question, history)
        return self.items[reading.ranked[0].position].prompt if reading.ranked else None

    def _readings(self, texts: list[str], k: int = RANKED) -> list[conversation.Reading]:
        """Retrieve each text (embedded in one batch, ``k`` items each) with its evidence and probability."""
        out = []
        for n, (text, vectors) in enumerate(zip(texts, self.retriever.embed_many(texts), strict=True)):
            ranked = self.retriever.search(text, k, vectors)
            # As fitted: the evidence of the first RANKED items, the question's own vector for the memory.
            evidence = gather_evidence(self.retriever, text, ranked[:RANKED], self.index.groups, vectors[0])
            out.append(conversation.Reading(text, ranked, evidence, self.decision.probability(evidence), n > 0,
                                            vectors[0]))
        return out

    def _hits(self, ranked: list[Scored], k: int) -> list[Hit]:
        """Best item first, then the other pages' answers to its question, then the runners-up."""
        hits: list[Hit] = []
        seen: set[int] = set()
        for rank, scored in enumerate(ranked):
            group = self._by_group[self.index.groups[scored.position]]
            others = [p for p in group if p != scored.position][: k - 1] if rank == 0 else []
            members = [scored.position, *others]
            for position in members:
                item = self.items[position]
                if position in seen or not item.answer:
                    continue
                seen.add(position)
                passage = self._quoted_passage(scored) if position == scored.position else ""
                hits.append(Hit.of(item, scored.score if position == scored.position else scored.score - 1e-4,
                                   passage))
            if len(hits) >= k and rank > 0:
                break
        return hits

    def _quoted_passage(self, scored: Scored) -> str:
        """The matched part of a long answer, when it is a small part of it (else empty)."""
        if not self.retriever.is_part(scored.passage):
            return ""
        _, start, end = (int(x) for x in self.index.spans[scored.passage])
        answer = self.items[scored.position].answer or ""
        return answer[start:end] if end - start <= QUOTE_SHARE * len(answer) else ""

    def _suggestions(self, ranked: list[Scored]) -> list[str]:
        top_group = self.index.groups[ranked[0].position] if ranked else None
        out: list[str] = []
        for scored in ranked[1:]:
            item = self.items[scored.position]
            if self.index.groups[scored.position] != top_group and item.prompt not in out:
                out.append(item.prompt)
            if len(out) == 3:
                break
        return out

    def render(self, hits: list[Hit], confident: bool, suggestions: list[str] = (), *, fold: bool = False) -> str:
        """A reply as Markdown (``tutor.reply.render``); ``fold`` folds long parts for the browser."""
        return render(hits, confident, suggestions, fold=fold,
                      same_question=lambda a, b: self.group_of(a.id) == self.group_of(b.id))

    # ---- grading ------------------------------------------------------------------------------
    def grade(self, question: str, answer: str, reference: str | None = None) -> Grade:
        """Grade an explanation against the notes' reference answers (or an explicit ``reference``).

        Raises:
            InputError: the question (or an explicit reference) is empty or not text. An empty *answer*
                is not an error: it scores 0 with a message.
        """
        question = clean_text(question, self.config.max_question_chars)
        if reference is not None:
            text = clean_text(reference, self.config.max_answer_chars, "reference answer")
            given = Reference(text, "given reference", question=question)
            return self.grader.grade(question, answer, [given], check=False)  # the checker knows the notes only
        references, matched, from_retrieval = self.references_for(question)
        return self.grader.grade(question, answer, references, matched_question=matched,
                                 from_retrieval=from_retrieval)

    def references_for(self, question: str) -> tuple[list[Reference], str | None, bool]:
        """The reference answers for a question: every page's answer to it when the notes ask it,
        else the closest passages (and the flag that says so)."""
        item = self.match_question(question)
        if item is not None:
            group = self._by_group[self.group_of(item.id)]
            answered = [self.items[p] for p in group if self.items[p].answer]
            if answered:
                return [_reference(it) for it in answered], item.prompt, False
        ranked = self.retriever.search(question, k=3)
        top = ranked[0].dense if ranked else 0.0  # similarity, not the ranker's score: a share of it means something
        closest = [self.items[s.position] for s in ranked if s.dense >= CLOSEST_SHARE * top]
        return [_reference(it) for it in closest], item.prompt if item else None, True

    def match_question(self, question: str) -> Item | None:
        """The corpus item asking this question (exactly, or closely enough to be the same question)."""
        exact = self.find_question(question)
        if exact is not None:
            return exact
        from tutor.index import SAME_QUESTION_COSINE

        scores = self._question_vectors @ self.embedder.embed([question])[0]
        best = int(np.argmax(scores))
        return self.items[best] if scores[best] >= SAME_QUESTION_COSINE else None

    # ---- speaking -----------------------------------------------------------------------------
    def transcribe(self, audio: str | Path, question: str | None = None, *, delete_after: bool = False,
                   bias: bool = True) -> Transcript:
        """Transcribe a recorded answer on this machine, primed with the notes' vocabulary.

        Args:
            audio: path to the recording (any format PyAV reads).
            question: the question answered; its reference answers sharpen the vocabulary.
            delete_after: delete the file afterwards, whatever happens (uploaded recordings).
            bias: prime decoding with the glossary prompt (off only to measure its effect).

        Raises:
            AudioError: not usable audio, too short, longer than ``config.max_audio_seconds``, or no speech.
        """
        path = Path(audio)
        key = (str(path), question, bias)
        if delete_after and not path.exists():
            # Uploads are stored by content hash, so users who send the same recording share one file:
            # the first request deletes it, and the ones queued behind it get the same transcript.
            with self._recent_lock:
                if key in self._recent_uploads:
                    return self._recent_uploads[key]
        try:
            prompt = self.speech_prompt(question) if bias else None
            transcript = self.transcriber.transcribe(path, prompt=prompt, max_seconds=self.config.max_audio_seconds)
            if bias:  # heard non-words spelled like the glossary's words take its spelling ("radients")
                terms = [*self._focus_terms(question), *self._glossary]
                transcript = replace(transcript, text=repair_terms(transcript.text, terms, self.retriever.word_set))
        finally:
            if delete_after:
                path.unlink(missing_ok=True)
        if delete_after:
            with self._recent_lock:
                self._recent_uploads[key] = transcript
                while len(self._recent_uploads) > 64:
                    self._recent_uploads.popitem(last=False)
        return transcript

    @property
    def transcriber(self) -> Transcriber:
        if self._transcriber is None:
            self._transcriber = Transcriber(self.config.whisper_model, self.config.device,
                                            cache_dir=self.config.cache_dir)
        return self._transcriber

    def speech_prompt(self, question: str | None) -> str:
        """The glossary prompt for a question: its own terms first, then the notes' most frequent ones."""
        if self._glossary is None:
            self._glossary = glossary_terms([f"{it.prompt}\n{it.answer or ''}" for it in self.items])
        return build_prompt(question, self._focus_terms(question), self._glossary)

    def _focus_terms(self, question: str | None) -> list[str]:
        """The glossary of the reference answers to ``question`` (none without a question)."""
        if not question or not question.strip():
            return []
        references, _, _ = self.references_for(clean_text(question, self.config.max_question_chars))
        return glossary_terms([r.answer for r in references], limit=30, min_count=1)

    def _position(self, item_id: str) -> int:
        if not hasattr(self, "_positions"):
            self._positions = {item.id: i for i, item in enumerate(self.items)}
        return self._positions[item_id]

    def group_of(self, item_id: str) -> int:
        """The question group of an item: items of several pages asking the same question share one."""
        return self.index.groups[self._position(item_id)]

    def item(self, item_id: str) -> Item:
        return self.items[self._position(item_id)]

    def find_question(self, text: str) -> Item | None:
        """The corpus item whose question matches ``text`` exactly (ignoring case and spacing)."""
        wanted = " ".join(normalize(text).split())
        return next((it for it in self.items if " ".join(normalize(it.prompt).split()) == wanted), None)


def _reference(item: Item) -> Reference:
    return Reference(item.answer or "", item.source, item.section, item.id, item.prompt, item.page)


