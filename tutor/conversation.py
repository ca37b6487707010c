"""Follow-ups decided by evidence, not by a word rule.

A turn in a conversation has two readings: the question alone, and the question expanded with the
conversation's subject — the previous question and the title of the item the tutor answered it with
(historical query expansion, as in conversational search: Lin et al. 2020). Both are retrieved; the
expanded reading is taken when the question names no subject of its own — none of its words is specific
to a few items of the notes, so alone it can only match by chance ("what arguments does it take?") — or
when the question alone is not covered and the expanded reading is clearly better supported by the
confidence decision (``LEAN_MARGIN``). A covered question with a subject of its own stands alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# Chosen on the dev split of the blind follow-ups (benchmarks/retrieval.py --split dev).
LEAN_MARGIN = 0.15  # the expanded reading's probability must beat the standalone one's by this much
SUBJECT_IDF_SHARE = 0.6  # a word is a subject when its IDF is at least this share of the rarest possible
ASPECT_SHARE = 1.0  # of the question-alone score added to an expanded reading's score, per item


@dataclass(frozen=True)
class Reading:
    """One way to read a turn: the text searched, its ranked items, evidence and probability."""

    text: str
    ranked: list
    evidence: object
    probability: float
    expanded: bool


def message_text(message: dict) -> str:
    """The text of a chat message whose content is a string or a list of content blocks."""
    content = message.get("content", "") if isinstance(message, dict) else ""
    if isinstance(content, list):
        content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def user_turns(history: list[dict] | None) -> list[str]:
    """The user's earlier questions, oldest first (malformed entries skipped)."""
    turns = [message_text(m) for m in history or [] if isinstance(m, dict) and m.get("role") == "user"]
    return [t for t in turns if t.strip()]


def expand_with(question: str, previous: str, answered_title: str | None) -> str:
    """The question read in the conversation: the previous question and the answered item's title first."""
    subject = previous if not answered_title or answered_title.lower() in previous.lower() \
        else f"{previous} ({answered_title})"
    return f"{subject} {question}"


def names_a_subject(word_weights: list[tuple[str, float, frozenset]], unseen_idf: float) -> bool:
    """Whether a question has a word specific enough to be its subject (see the module docstring)."""
    return any(weight >= SUBJECT_IDF_SHARE * unseen_idf for _, weight, _ in word_weights)


def choose(alone: Reading, expanded: Reading, has_subject: bool, threshold: float = 0.5) -> Reading:
    """The expanded reading when the question has no subject, or when the question alone is not covered
    and the expanded reading is clearly better supported. A question that names its own subject and is
    covered on its own stands alone: the expanded reading always looks well supported, by the old subject."""
    if not has_subject:
        return expanded
    if alone.probability >= threshold:
        return alone
    return expanded if expanded.probability >= alone.probability + LEAN_MARGIN else alone


def with_aspect(expanded: Reading, alone: Reading, share: float = ASPECT_SHARE) -> list:
    """The expanded reading's items re-ranked by how well the question alone fits them too.

    The expanded reading finds the subject; the question alone says which aspect of it is asked ("what
    arguments does it take?", "code?"). Adding a share of the standalone score lifts, among the subject's
    items, the one that speaks of that aspect. An item the standalone reading did not rank counts at its
    lowest ranked score."""
    alone_score = {s.position: s.score for s in alone.ranked}
    floor = min(alone_score.values(), default=0.0)
    rescored = [replace(s, score=s.score + share * alone_score.get(s.position, floor)) for s in expanded.ranked]
    return sorted(rescored, key=lambda s: -s.score)
