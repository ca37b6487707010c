"""``Tutor``: the front door. It composes corpus, index, retrieval and grading; it owns no algorithm."""

from __future__ import annotations

import html
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tutor.config import Config
from tutor.corpus import Item
from tutor.errors import InputError
from tutor.grading import Calibration, Grade, Grader, Reference, term_weights
from tutor.index import IndexData, load_or_build
from tutor.models import Embedder, load_embedder
from tutor.retrieval import Evidence, Retriever, Scored, is_follow_up
from tutor.speech import Transcriber, Transcript, build_prompt, glossary_terms
from tutor.text import excerpt, normalize, printable

log = logging.getLogger(__name__)

# Confidence decision, tuned on benchmarks/data/retrieval_dev.json (never on the test set). Cosine alone
# cannot separate near misses: "support vector machine" scores 0.40 against the notes while "what is MSE"
# scores 0.24. What separates them is the words: a near miss brings a word the notes never use
# ("boosting", "Bloom") or shares none of its words with the best item it retrieved.
CONFIDENT_COSINE = 0.62
MIN_COSINE = 0.10
MIN_COVERAGE = 0.75
MIN_OVERLAP = 0.5


@dataclass(frozen=True)
class Hit:
    """One answer passage, best first in ``Reply.hits``."""

    id: str
    question: str | None
    title: str
    answer: str
    source: str
    section: str
    topic: str
    score: float

    @classmethod
    def of(cls, item: Item, score: float) -> Hit:
        return cls(item.id, item.question, item.title, item.answer or "", item.source, item.section,
                   item.topic, round(score, 4))

    @property
    def citation(self) -> str:
        return f"{self.source} · {self.section}" if self.section else self.source


@dataclass(frozen=True)
class Reply:
    """The tutor's answer to one chat turn."""

    text: str
    confident: bool
    hits: list[Hit]
    query: str
    follow_up: bool = False
    suggestions: list[str] = field(default_factory=list)
    evidence: Evidence | None = None


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


def message_text(message: dict) -> str:
    """The text of a chat message whose content is a string or a list of content blocks."""
    content = message.get("content", "") if isinstance(message, dict) else ""
    if isinstance(content, list):
        content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def inert(text: str) -> str:
    """Markdown with any HTML shown as text, so corpus or user text can never inject markup."""
    return html.escape(text, quote=False).replace("](javascript:", "](#")


class Tutor:
    """Ask questions, practise answers, get graded — over the corpus in ``config.corpus_dir``."""

    def __init__(self, config: Config, embedder: Embedder, index: IndexData):
        self.config = config
        self.embedder = embedder
        self.index = index
        self.retriever = Retriever(index, embedder)
        self.items = index.items
        self.grader = Grader(embedder, Calibration(**index.manifest["grading_calibration"]),
                             term_weights(index.items), config.max_answer_chars, index.vector_cache())
        self._question_vectors = None
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
        embedder = embedder or load_embedder(config.embed_model, config.device)
        index = load_or_build(config.corpus_dir, config.index_dir, embedder, rebuild=rebuild)
        log.info("Tutor ready in %.2f s (%d items)", time.perf_counter() - started, len(index.items))
        return cls(config, embedder, index)

    # ---- asking -------------------------------------------------------------------------------
    def resolve(self, question: str, history: list[dict] | None, force: bool = False) -> tuple[str, bool]:
        """The query to search: the question, plus the earlier turns it leans on when it is a follow-up
        (or when ``force`` says to read it as one)."""
        users = [message_text(m) for m in history or [] if isinstance(m, dict) and m.get("role") == "user"]
        users = [u for u in users if u.strip()]
        known = self.retriever.word_set
        if not users or not (force or is_follow_up(question, known)):
            return question, False
        context = []
        for earlier in reversed(users[-4:]):
            context.insert(0, earlier[: self.config.max_question_chars])
            if not is_follow_up(earlier, known):
                break
        return " ".join([*context, question]), True

    def ask(self, question: str, history: list[dict] | None = None, k: int = 5) -> Reply:
        """Answer a free-form question from the notes, citing sources.

        Raises:
            InputError: the question is empty or not text.
        """
        question = clean_text(question, self.config.max_question_chars)
        query, follow_up = self.resolve(question, history)
        ranked, evidence = self._retrieve(query, k)
        if not follow_up and not self.is_confident(evidence):
            # Not worded as a follow-up, but maybe one all the same ("what shape should the target be?"):
            # keep the conversation's reading when it is confident and the standalone one is not.
            context, leaned = self.resolve(question, history, force=True)
            if leaned:
                ranked_c, evidence_c = self._retrieve(context, k)
                if self.is_confident(evidence_c):
                    ranked, evidence, query, follow_up = ranked_c, evidence_c, context, True
        confident = self.is_confident(evidence)
        hits = self._hits(ranked, k)
        suggestions = self._suggestions(ranked, hits)
        text = self.render(hits, confident, suggestions)
        return Reply(text, confident, hits, query, follow_up, suggestions, evidence)

    def _retrieve(self, query: str, k: int) -> tuple[list[Scored], Evidence]:
        ranked = self.retriever.search(query, k=max(k, 8))  # search repairs spelling itself
        return ranked, self.retriever.evidence(query, ranked)

    @staticmethod
    def is_confident(evidence: Evidence) -> bool:
        """Covered when the best passage is very close, or when the notes know the question's words
        (coverage) and the best item itself contains most of them (overlap)."""
        if evidence.dense_top >= CONFIDENT_COSINE:
            return True
        return (evidence.dense_top >= MIN_COSINE and evidence.coverage >= MIN_COVERAGE
                and evidence.overlap >= MIN_OVERLAP)

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
                hits.append(Hit.of(item, scored.score if position == scored.position else scored.score - 1e-4))
            if len(hits) >= k and rank > 0:
                break
        return hits

    def _suggestions(self, ranked: list[Scored], hits: list[Hit]) -> list[str]:
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
        """A reply as Markdown: the best answer with its source, then the other pages' answers to the same
        question, as excerpts or (``fold``, for the browser) in full inside folded ``<details>``."""
        if not hits:
            return "My notes are empty, so I cannot answer that."
        if not confident:
            topics = "; ".join(f"**{inert(h.question or h.title)}** ({h.topic})" for h in hits[:3])
            return (f"That isn't covered in my notes, so I won't guess. The nearest topics I do have: {topics}. "
                    "Ask about one of them, or rephrase with PyTorch terms.")
        best = hits[0]
        same = [h for h in hits[1:] if self.group_of(h.id) == self.group_of(best.id)]
        parts = [f"**{inert(best.question or best.title)}**", "", inert(best.answer), "",
                 f"*Source: {inert(best.citation)}*"]
        if same and fold:
            for hit in same:
                parts += ["", f"<details><summary>Also answered in {inert(hit.citation)}</summary>", "",
                          inert(hit.answer), "", "</details>"]
        elif same:
            parts += ["", f"**Also answered on {len(same)} other page{'s' if len(same) > 1 else ''}:**"]
            parts += [f"- *{inert(h.citation)}*: {inert(excerpt(h.answer))}" for h in same]
        if suggestions:
            parts += ["", "**You could ask next:** " + " · ".join(inert(s) for s in suggestions)]
        return "\n".join(parts)

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
            given = Reference(text, "given reference")
            return self.grader.grade(question, answer, [given])
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
        top = ranked[0].score if ranked else 0.0
        closest = [self.items[s.position] for s in ranked if s.score >= 0.8 * top]
        return [_reference(it) for it in closest], item.prompt if item else None, True

    def match_question(self, question: str) -> Item | None:
        """The corpus item asking this question (exactly, or closely enough to be the same question)."""
        exact = self.find_question(question)
        if exact is not None:
            return exact
        from tutor.index import SAME_QUESTION_COSINE

        if self._question_vectors is None:
            self._question_vectors = np.vstack([self.grader.cache[item.prompt] for item in self.items])
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
            self._transcriber = Transcriber(self.config.whisper_model, self.config.device)
        return self._transcriber

    def speech_prompt(self, question: str | None) -> str:
        """The glossary prompt for a question: its own terms first, then the notes' most frequent ones."""
        if self._glossary is None:
            self._glossary = glossary_terms([f"{it.prompt}\n{it.answer or ''}" for it in self.items])
        focus: list[str] = []
        if question and question.strip():
            references, _, _ = self.references_for(clean_text(question, self.config.max_question_chars))
            focus = glossary_terms([r.answer for r in references], limit=30, min_count=1)
        return build_prompt(question, focus, self._glossary)

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
    return Reference(item.answer or "", item.source, item.section, item.id, item.prompt)


