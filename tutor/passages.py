"""The passages embedded for each item: its question (and the other ways to ask it that the notes list),
its whole answer, and the answer's parts.

A long answer covers several concepts (a section on key layers explains five of them); one vector for the
whole answer dilutes each. So the answer is also cut into parts — each sentence or bullet, and each code
block together with the sentence that introduces it — and an item is scored by its best passages
(``tutor.retrieval``). A part also tells the reply which lines of a long answer to show first.

A learner rarely asks in the page's words. The bundled pages come with other ways to ask each question
(``corpus/phrasings.toml``, written by hand apart from the evaluation questions), each embedded as one more
question passage of its item: document expansion with likely queries, as doc2query (Nogueira et al. 2019)
does with generated ones.

Every part keeps its character span in the answer, so the reply can quote exactly that text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tutor.items import Item

QUESTION, ANSWER, PART = 0, 1, 2
MIN_PART_WORDS = 5  # shorter pieces ("Example:") join their neighbour
_FENCE = re.compile(r"^\s*```")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(`])")
_BULLET = re.compile(r"^\s*(?:[-•*]|\d+[.)])\s+")


@dataclass(frozen=True)
class Passage:
    """One embedded text: ``kind`` is QUESTION, ANSWER or PART; ``start``/``end`` locate a part in the
    item's answer (0, 0 for the others)."""

    item: int
    kind: int
    text: str
    start: int = 0
    end: int = 0


def answer_parts(answer: str) -> list[tuple[int, int]]:
    """Character spans of the answer's parts: sentences and bullets, a code block joined to the sentence
    before it, pieces shorter than ``MIN_PART_WORDS`` joined to a neighbour."""
    pieces: list[list[int]] = []  # [start, end, is_code]
    offset, in_code = 0, False
    for line in answer.splitlines(keepends=True):
        start, end = offset, offset + len(line.rstrip("\n"))
        offset += len(line)
        if _FENCE.match(line) or in_code:
            if _FENCE.match(line):
                in_code = not in_code
            if pieces and pieces[-1][2]:
                pieces[-1][1] = end
            else:
                pieces.append([start, end, 1])
            continue
        body = _BULLET.sub("", line.rstrip("\n"))
        cursor = start + (len(line.rstrip("\n")) - len(body))
        for sentence in _SENTENCE_END.split(body):
            at = answer.find(sentence, cursor, end) if sentence.strip() else -1
            if at >= 0:
                pieces.append([at, at + len(sentence.rstrip()), 0])
                cursor = at + len(sentence)
    spans: list[list[int]] = []
    for start, end, is_code in pieces:
        short = len(answer[start:end].split()) < MIN_PART_WORDS
        # Code belongs to the sentence that introduces it; a short piece to the one before (or after) it.
        if spans and (is_code or short or len(answer[spans[-1][0]:spans[-1][1]].split()) < MIN_PART_WORDS):
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return [(s, e) for s, e in spans]


def item_passages(position: int, item: Item) -> list[Passage]:
    """The question and its other phrasings, the whole answer and (when there are two or more) the answer's
    parts of one item."""
    out = [Passage(position, QUESTION, item.prompt)]
    if not item.answer:
        return out
    out += [Passage(position, QUESTION, asked) for asked in item.phrasings]
    out.append(Passage(position, ANSWER, f"{item.prompt}\n{item.answer}"))
    spans = answer_parts(item.answer)
    if len(spans) > 1:
        out += [Passage(position, PART, item.answer[s:e], s, e) for s, e in spans]
    return out


def build_passages(items: list[Item]) -> list[Passage]:
    """Every item's passages, in item order (the question first)."""
    return [p for position, item in enumerate(items) for p in item_passages(position, item)]
