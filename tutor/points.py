"""Key points: a reference answer broken into the sentences and bullets that state its content.

Grading credits an answer point by point (``tutor.grading``), and calibration measures how alike two pages'
points are (``tutor.calibration``); both read answers through ``split_sentences`` and ``key_points``.
"""

from __future__ import annotations

import re

from tutor.text import tokenize

MAX_POINTS_PER_REFERENCE = 14
MAX_CODE_POINT_CHARS = 300  # a code block's point: its first lines, enough to say what it does


def _strip_markup(text: str) -> str:
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)  # code is shown, not graded as prose
    text = re.sub(r"\*\*|__|`", "", text)
    return text


def split_sentences(text: str) -> list[str]:
    """Sentences and bullet lines of ``text``, without markup."""
    out = []
    for line in _strip_markup(text).splitlines():
        line = re.sub(r"^\s*(?:[-•*]|\d+[.)])\s+", "", line).strip()
        if not line:
            continue
        out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(])", line) if s.strip())
    return out


def key_points(answer: str, question: str | None = None) -> list[str]:
    """A reference's key points: its sentences and bullets that state content, then each code block.

    Headers ("as follows:") are dropped. A sentence that says little beyond the question ("To implement a
    custom loss in PyTorch, you can do the following.") is a lead-in: dropped when it opens the answer,
    else joined to the point before it; so is a sentence that opens with a demonstrative pointing back
    ("This allows the model to learn…"), which completes the point it refers to.
    """
    asked = set(tokenize(question or ""))
    points: list[str] = []
    for sentence in split_sentences(answer):
        if len(sentence.split()) < 3 or sentence.endswith(":"):
            continue
        new_terms = {t for t in tokenize(sentence) if t not in asked and t not in _FILLER_STEMS}
        refers_back = bool(_REFERS_BACK.match(sentence))
        if len(new_terms) < MIN_POINT_TERMS or refers_back:
            if points:
                points[-1] = f"{points[-1]} {sentence}"
            elif len(new_terms) >= MIN_POINT_TERMS:
                points.append(sentence)  # refers back to nothing: the answer's first point
            continue
        points.append(sentence)
    # A code block is one point: the reference may answer in code alone ("for p in model.features.parameters():
    # p.requires_grad = False # freeze"), and a learner who says what it does has made the point.
    for block in re.findall(r"```[^\n]*\n(.*?)```", answer, flags=re.DOTALL):
        code = " ".join(block.split())[:MAX_CODE_POINT_CHARS]
        if len({t for t in tokenize(code) if t not in asked and t not in _FILLER_STEMS}) >= MIN_POINT_TERMS:
            points.append(code)
    return points[:MAX_POINTS_PER_REFERENCE] or [" ".join(answer.split())[:500]]


# A point states at least this many terms beyond the question's own; fewer make it a lead-in.
MIN_POINT_TERMS = 3
# Words that carry no content of their own in a reference sentence.
_FILLER_STEMS = frozenset(tokenize(
    "pytorch torch use used using can could way ways following follow step steps example examples thing things "
    "need needs make makes also one like various different allow allows help helps provide provides called "
    "simply basically important commonly typically generally several many flexible easy simple powerful "
    "convenient interface create creating"))
# A demonstrative points back at the sentence before ("This allows…"). "It"/"They" usually name the
# question's subject again, and a connective ("Hence, …") states a consequence: points of their own.
_REFERS_BACK = re.compile(r"^(this|these|that|those|such|which)\b", re.IGNORECASE)
