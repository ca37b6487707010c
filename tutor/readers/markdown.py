"""The general reader: any Markdown or plain-text page becomes question/answer items.

Headings come from a real Markdown parser (markdown-it-py); the text under each heading is kept as
written, so code fences stay with their prose. Inside a page, the first structure found decides:

1. a heading that is a question, with everything under it, is one item;
2. under a topic heading (or in a page without headings): ``Q:``/``A:`` flashcards, bold questions
   (``**Why …?**``) or numbered questions (``3. How …?``), each followed by its answer;
3. otherwise the topic heading's text is one section item titled by the heading, and text under no
   heading falls back to paragraphs, each titled by a question derived from its first sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tutor.readers.seed_shapes import derive_question

_QUESTION_WORDS = re.compile(
    r"^(what|why|how|when|where|which|who|whose|explain|describe|define|compare|contrast|list|name|"
    r"give|can|could|does|do|is|are|should|would|will|did|difference between|tell me)\b",
    re.IGNORECASE,
)
_NUMBERING = re.compile(r"^\s*(?:Q\s*\d*\s*[:.)]|\(?\d{1,3}[.)]|#?\d{1,3}\s*[-:])\s*", re.IGNORECASE)
_CARD_QUESTION = re.compile(r"^\s*(?:Q|Question|Front)\s*\d*\s*[:.)]\s*(.*)$", re.IGNORECASE)
_CARD_ANSWER = re.compile(r"^\s*(?:A|Ans|Answer|Back)\s*[:.)]\s*(.*)$", re.IGNORECASE)
_BOLD_LINE = re.compile(r"^\s*(?:\d{1,3}[.)]\s*)?(\*\*|__)(.+?)\1\s*$")
_NUMBERED_QUESTION = re.compile(r"^\s*(?:Q\s*)?\d{1,3}[.)]\s+(.+\?)\s*$", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Entry:
    """One item as a reader finds it, before the corpus gives it an id and a topic."""

    section: str
    title: str
    question: str | None
    answer: str | None
    derived: bool = False


def is_question(line: str) -> bool:
    """A heading or line that asks: ends with '?', or opens with a question or exam word.

    >>> is_question("What is label smoothing?"), is_question("Explain gradient clipping"), is_question("Losses")
    (True, True, False)
    """
    text = _NUMBERING.sub("", plain(line)).strip()
    if not text or len(text.split()) > 40:
        return False
    return text.endswith("?") or bool(_QUESTION_WORDS.match(text)) and not text.endswith((".", ":"))


def plain(line: str) -> str:
    """A heading or question line without Markdown emphasis, code ticks or numbering marks."""
    line = re.sub(r"(\*\*|__|`)", "", line)
    line = re.sub(r"^\s*[-*+]\s+", "", line)
    return " ".join(line.split())


def question_text(line: str) -> str:
    """``### 3) What is X?`` / ``**Q: what is x**`` -> ``What is X?`` (numbering and markers removed)."""
    text = _NUMBERING.sub("", plain(line)).strip()
    first_word = text.split(" ", 1)[0]
    # "what is x?" reads better capitalised; "clip_grad_norm_ vs …" and "fp16 vs …" are names, kept as written.
    return text[:1].upper() + text[1:] if first_word.isalpha() and first_word.islower() else text


def headings(text: str) -> list[tuple[int, int, int, str]]:
    """(first line, end line, level, text) of every heading, from markdown-it-py's token stream."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(text)
    found = []
    for k, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            heading = _inline_text(tokens[k + 1].children or [])
            if heading:
                found.append((token.map[0], token.map[1], int(token.tag[1]), heading))
    return found


def _inline_text(children) -> str:
    """A heading's words: link texts without their URLs, inline code kept, inline HTML (anchors) and
    citation links such as ``[[src](…)]`` dropped, a trailing colon removed."""
    words, in_link, link_words = [], False, []
    for child in children:
        if child.type == "link_open":
            in_link, link_words = True, []
        elif child.type == "link_close":
            in_link = False
            text = "".join(link_words)
            if not re.fullmatch(r"\W*(src|source|link|ref|\d+)?\W*", text, re.IGNORECASE):
                words.append(text)
        elif child.type in ("text", "code_inline"):
            (link_words if in_link else words).append(f"`{child.content}`" if child.type == "code_inline"
                                                      else child.content)
        elif child.type == "softbreak":
            words.append(" ")
    text = " ".join("".join(words).split())
    return re.sub(r"[\s\[\]]*$", "", text.rstrip(":")).strip() if text else ""


def read_markdown(text: str, plain_text: bool = False) -> tuple[str | None, list[Entry]]:
    """(page title, entries) of a Markdown page, or of plain text (``plain_text``: a PDF's text layer,
    a ``.txt`` page), where a question may be any short line ending in '?' and a short first line
    without a full stop is the page's title."""
    lines = text.splitlines()
    marks = headings(text)
    title = None
    levels = [level for _, _, level, _ in marks]
    # A lone top heading names the page, it is not a topic.
    if marks and levels.count(min(levels)) == 1 and marks[0][2] == min(levels) and not is_question(marks[0][3]):
        title = plain(marks[0][3])
        marks = marks[1:]
    entries: list[Entry] = []
    start = marks[0][0] if marks else len(lines)
    # Text above the first heading is an introduction unless it holds questions, or the page has no headings.
    entries.extend(read_body(lines[:start], section="", topic=None, paragraphs_too=not marks, bare=plain_text))
    if title is None and plain_text:
        title = _title_line(lines)
    path: list[tuple[int, str]] = []
    k = 0
    while k < len(marks):
        first, end, level, heading = marks[k]
        path = [(lv, h) for lv, h in path if lv < level]
        section = " › ".join(plain(h) for _, h in path)
        if is_question(heading):
            # Everything down to the next heading of this level or above, or the next question heading.
            stop = k + 1
            while stop < len(marks) and marks[stop][2] > level and not is_question(marks[stop][3]):
                stop += 1
            body_end = marks[stop][0] if stop < len(marks) else len(lines)
            answer = _tidy("\n".join(lines[end:body_end]))
            question = question_text(heading)
            entries.append(Entry(section, question, question, answer or None))
            k = stop
            continue
        path.append((level, heading))
        body_end = marks[k + 1][0] if k + 1 < len(marks) else len(lines)
        entries.extend(read_body(lines[end:body_end], section=" › ".join(plain(h) for _, h in path),
                                 topic=plain(heading), bare=plain_text))
        k += 1
    return title, entries


def _title_line(lines: list[str]) -> str | None:
    """A plain page's first line when it reads as a title: short, no full stop, not a question."""
    first = next((line.strip() for line in lines if line.strip()), "")
    if 0 < len(first.split()) <= 10 and not first.endswith((".", "?", ":", ",")) and not is_question(first):
        return plain(first)
    return None


def read_body(lines: list[str], section: str, topic: str | None, paragraphs_too: bool = True,
              bare: bool = False) -> Iterator[Entry]:
    """Entries in the text under one topic heading (``topic``), or under no heading (None)."""
    if not "\n".join(lines).strip():
        return
    for split in (_cards, lambda body: _question_lines(body, bare)):
        pairs = split(lines)
        if pairs:
            for question, answer in pairs:
                question = question_text(question)
                yield Entry(section, question, question, _tidy(answer) or None)
            return
    if topic is not None:
        yield Entry(section.rpartition(" › ")[0], topic, None, _tidy("\n".join(lines)))
        return
    if not paragraphs_too:
        return
    for paragraph in paragraphs(lines):
        question = derive_question(paragraph, guess=False)
        title = question or first_sentence(paragraph)
        yield Entry(section, title, question, paragraph, derived=True)


def _cards(lines: list[str]) -> list[tuple[str, str]]:
    """``Q:``/``A:`` (or ``Question:``/``Answer:``) pairs; a question may run over several lines."""
    pairs: list[list[list[str]]] = []
    state = None
    for line in _outside_code(lines):
        card_q, card_a = _CARD_QUESTION.match(line[1]), _CARD_ANSWER.match(line[1])
        if card_q and not line[0]:
            pairs.append([[card_q.group(1)], []])
            state = "q"
        elif card_a and not line[0] and pairs and state == "q":
            pairs[-1][1].append(card_a.group(1))
            state = "a"
        elif pairs:
            pairs[-1][0 if state == "q" else 1].append(line[1])
    complete = [(" ".join(" ".join(q).split()), "\n".join(a)) for q, a in pairs if a]
    return complete if complete and len(complete) * 2 >= len(pairs) else []


def _question_lines(lines: list[str], bare: bool) -> list[tuple[str, str]]:
    """Questions on lines of their own — bold, numbered, or (with ``bare``, for text without markup such
    as a PDF's) any short line ending in '?' after a finished sentence — each followed by its answer."""
    bold_seen = False

    def opener(line: str, previous: str) -> str | None:
        nonlocal bold_seen
        bold = _BOLD_LINE.match(line)
        if bold and is_question(bold.group(2)):
            bold_seen = True
            return bold.group(2)
        numbered = _NUMBERED_QUESTION.match(plain(line)) if not line.startswith((" ", "\t")) else None
        if numbered:
            return numbered.group(1)
        stripped = line.strip()
        if bare and stripped.endswith("?") and len(stripped.split()) <= 25 and is_question(stripped) \
                and (not previous.strip() or previous.rstrip().endswith((".", "!", ":", ")", "?"))):
            return stripped
        return None

    # The first line of a body without markup may be a title ("Einsum notes") right above a question.
    first = next((k for k, line in enumerate(lines) if line.strip()), 0)
    lines = [*lines[:first], "", *lines[first:first + 1], "", *lines[first + 1:]] if bare else lines
    pairs = _split_at(lines, opener)
    return pairs if len(pairs) >= 2 or (pairs and bold_seen) else []


def _split_at(lines: list[str], opener) -> list[tuple[str, str]]:
    """(question, answer) at each line ``opener(line, previous line)`` recognises; text before the first
    question is dropped, and so is a question without an answer."""
    pairs: list[tuple[str, list[str]]] = []
    previous = ""
    for in_code, line in _outside_code(lines):
        question = None if in_code else opener(line, previous)
        if question:
            pairs.append((question, []))
        elif pairs:
            pairs[-1][1].append(line)
        previous = line
    return [(q, "\n".join(a)) for q, a in pairs if "\n".join(a).strip()]


def _outside_code(lines: list[str]) -> Iterator[tuple[bool, str]]:
    """Each line with whether it lies inside a fenced code block (fence lines count as inside)."""
    inside = False
    for line in lines:
        if _FENCE.match(line):
            inside = not inside
            yield True, line
        else:
            yield inside, line


def first_sentence(text: str, max_words: int = 12) -> str:
    """The opening sentence, cut to ``max_words`` words with an ellipsis."""
    sentence = re.split(r"(?<=[.!?:])\s", " ".join(plain(text).split()), maxsplit=1)[0].rstrip(".:")
    words = sentence.split()
    return " ".join(words[:max_words]) + ("…" if len(words) > max_words else "")


def paragraphs(lines: list[str], min_words: int = 12) -> list[str]:
    """Blank-line separated paragraphs; a code block, or a paragraph under ``min_words`` words, joins
    the one before it (a lone short opening paragraph joins the next)."""
    blocks: list[list[str]] = [[]]
    for in_code, line in _outside_code(lines):
        if not line.strip() and not in_code:
            blocks.append([])
        else:
            blocks[-1].append(line)
    out: list[str] = []
    carry = ""
    for block in filter(None, blocks):
        text = "\n".join(block).strip()
        if out and (_FENCE.match(block[0]) or len(text.split()) < min_words):
            out[-1] += "\n\n" + text
        elif len(text.split()) < min_words:
            carry += text + "\n\n"
        else:
            out.append(carry + text)
            carry = ""
    if carry.strip():
        out.append(carry.strip())
    return out


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
