"""What ``Tutor.ask`` returns: ``Hit`` and ``Reply``, and their Markdown for the CLI and the chat."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field

from tutor.confidence import Evidence
from tutor.items import Item, citation
from tutor.text import excerpt

# A best passage is quoted first when it is at most this share of its answer (a small part of a long item).
QUOTE_SHARE = 0.5


@dataclass(frozen=True)
class Hit:
    """One answer passage, best first in ``Reply.hits``. ``passage`` is the part of the answer that matched
    best when it is a small part of a long answer (else empty). ``score`` is the ranker's (higher is better):
    it orders the hits of one reply and means nothing across replies — ``Reply.probability`` says how sure."""

    id: str
    question: str | None
    title: str
    answer: str
    source: str
    section: str
    topic: str
    score: float
    passage: str = ""
    page: str = ""  # the page's title; ``source`` is its file name

    @classmethod
    def of(cls, item: Item, score: float, passage: str = "") -> Hit:
        return cls(item.id, item.question, item.title, item.answer or "", item.source, item.section,
                   item.topic, round(score, 4), passage, item.page)

    @property
    def citation(self) -> str:
        """"Title · section", for a learner; the file name is ``source``."""
        return citation(self.page or self.source, self.section)


@dataclass(frozen=True)
class Reply:
    """The tutor's answer to one chat turn. ``follow_up``: the question was read with the conversation;
    ``probability``: the confidence decision's estimate that the notes cover it."""

    text: str
    confident: bool
    hits: list[Hit]
    query: str
    follow_up: bool = False
    suggestions: list[str] = field(default_factory=list)
    evidence: Evidence | None = None
    probability: float | None = None


def inert(text: str) -> str:
    """Markdown with any HTML shown as text, so corpus or user text can never inject markup."""
    return html.escape(text, quote=False).replace("](javascript:", "](#")


def quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in inert(text).splitlines())


def render(hits: list[Hit], confident: bool, suggestions: list[str] = (), *,
           same_question: Callable[[Hit, Hit], bool] = lambda a, b: False, fold: bool = False) -> str:
    """A reply as Markdown: the best answer with its source (its best passage quoted first when that is a
    small part of a long answer), then the other pages' answers to the same question, as excerpts or
    (``fold``, for the browser) in full inside folded ``<details>``."""
    if not hits:
        return "My notes are empty, so I cannot answer that."
    if not confident:
        topics = "; ".join(f"**{inert(h.question or h.title)}** ({h.topic})" for h in hits[:3])
        return (f"That isn't covered in my notes, so I won't guess. The nearest topics I do have: {topics}. "
                "Ask about one of them, or rephrase with PyTorch terms.")
    best = hits[0]
    same = [h for h in hits[1:] if same_question(h, best)]
    parts = [f"**{inert(best.question or best.title)}**", ""]
    if best.passage and fold:
        parts += [quoted(best.passage), "", "<details><summary>The whole answer</summary>", "",
                  inert(best.answer), "", "</details>"]
    elif best.passage:
        parts += [quoted(best.passage), "", "From the whole answer:", "", inert(best.answer)]
    else:
        parts.append(inert(best.answer))
    parts += ["", f"*Source: {inert(best.citation)}* <small>({inert(best.source)})</small>"]
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
