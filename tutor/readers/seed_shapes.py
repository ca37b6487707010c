"""Readers for the five page shapes of the bundled interview corpus.

Shapes, recognised from the text itself:

* ``numbered``  -- ``### N) question`` headings, each followed by its answer (page 001);
* ``bullets``   -- ``-`` separated questions with ``- Answer:`` blocks under section headings (002);
* ``sparse``    -- ``- N.`` questions, most with an empty ``Answer:`` (003);
* ``lost``      -- blocks that start with ``Answer:`` whose question text was lost (000);
* ``article``   -- numbered sections ``N. Title`` with prose and code (004).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tutor.text import Vocabulary, repair_glued

_TITLE_LINE = re.compile(r"^[A-Z][\w&'’/-]*(?: (?:[A-Z][\w&'’/-]*|with|and|of|to|for|the|in|on|a))*$")


def detect_shape(text: str) -> str | None:
    """The shape of a page, or None when it is none of the five."""
    if re.search(r"^### \d+\) ", text, re.MULTILINE):
        return "numbered"
    if re.search(r"^- \d+\.\s*$", text, re.MULTILINE):
        return "sparse"
    if re.search(r"- Answer:", text):
        return "bullets"
    if re.search(r"^Answer:\s*$", text, re.MULTILINE):
        return "lost"
    numbered = re.findall(r"^\d+\. (.+)$", text, re.MULTILINE)
    # Numbered questions are a user's notes, not an article's sections.
    questions = sum(n.rstrip().endswith("?") for n in numbered)
    if re.search(r"^1\. \S", text, re.MULTILINE) and questions * 2 < len(numbered):
        return "article"
    return None


SHAPES = ("numbered", "bullets", "sparse", "lost", "article")


def read_shape(shape: str, text: str, vocab: Vocabulary) -> Parsed:
    """Entries (section, title, question, answer, derived) of a page of one of the five shapes."""
    return {
        "numbered": _parse_numbered,
        "bullets": _parse_bullets,
        "sparse": _parse_sparse,
        "lost": _parse_lost,
        "article": _parse_article,
    }[shape](text, vocab)


Parsed = Iterator[tuple[str, str, str | None, str | None, bool]]


def _parse_numbered(text: str, vocab: Vocabulary) -> Parsed:
    blocks = re.split(r"^### (\d+)\) (.+)$", text, flags=re.MULTILINE)
    for i in range(1, len(blocks), 3):
        number, question, body = blocks[i], blocks[i + 1].strip(), blocks[i + 2]
        question = question if question.endswith(("?", ".")) else question + "?"
        answer = _render_comparison_table(body.strip())
        answer = re.sub(r"^• ", "- ", answer, flags=re.MULTILINE)
        yield f"Q{number}", question, question, _tidy(answer), False


def _render_comparison_table(body: str) -> str:
    """Rows of a flattened two-column table (``1. cell cell``) become ``- **A:** …; **B:** …``."""
    match = re.search(r"^S\.No (\S+) (\S+)$", body, re.MULTILINE)
    if not match:
        return body
    left_name, right_name = match.group(1), match.group(2)
    lines = []
    for line in body.splitlines():
        if line is match.group(0):
            continue
        row = re.match(r"^\d+\. (.+)$", line)
        if row and line != match.group(0):
            words = row.group(1).split()
            seams = [
                k for k, w in enumerate(words)
                if k > 0 and w[0].isupper() and w not in (left_name, right_name) and sum(c.isupper() for c in w) == 1
            ]
            if len(seams) == 1:
                k = seams[0]
                line = f"- **{left_name}:** {' '.join(words[:k])}; **{right_name}:** {' '.join(words[k:])}"
        elif line == match.group(0):
            line = f"{left_name} compared with {right_name}:"
        lines.append(line)
    return "\n".join(lines)


def _parse_bullets(text: str, vocab: Vocabulary) -> Parsed:
    lines = text.splitlines()
    section, chunk, chunks = "", [], []
    for k, line in enumerate(lines):
        following = lines[k + 1].strip() if k + 1 < len(lines) else ""
        if line.strip() == "-":
            if chunk:
                chunks.append((section, chunk))
            chunk = []
        elif _TITLE_LINE.match(line.strip()) and following == "-":
            if chunk:
                chunks.append((section, chunk))
            section, chunk = line.strip(), []
        elif chunk or lines[k - 1].strip() == "-":
            chunk.append(line)
    if chunk:
        chunks.append((section, chunk))
    for section, chunk in chunks:
        body = "\n".join(chunk)
        if "- Answer:" not in body:
            continue
        question_part, answer_part = body.split("- Answer:", 1)
        question = repair_glued(" ".join(question_part.split()), vocab)
        answer_lines = answer_part.strip().splitlines()
        if answer_lines and answer_lines[-1].strip().startswith("- Answer:"):
            answer_lines = answer_lines[:-1]  # the page repeats each answer's opening line
        answer = _join_code_breaks(answer_lines, vocab).splitlines()
        # ...and the opening line of a nested list, cut short: "- Inference/Evaluation: When you ..., using"
        while len(answer) > 1 and any(earlier.startswith(answer[-1].strip()) for earlier in answer[:-1]):
            answer.pop()
        yield section, question, question, _tidy("\n".join(answer)), False


def _join_code_breaks(lines: list[str], vocab: Vocabulary) -> str:
    """Lines that do not start a bullet were broken before inline code: join them with a space."""
    out: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("- ") or not out:
            out.append(stripped)
        else:
            out[-1] += " " + stripped
    text = "\n".join(out)
    text = re.sub(r" - (?=[A-Z][\w /-]{2,30}:)", "\n- ", text)
    text = re.sub(r":-(?= [A-Z])", ":\n-", text)
    return repair_glued(text, vocab)


def _parse_sparse(text: str, vocab: Vocabulary) -> Parsed:
    first = re.search(r"^- \d+\.\s*$", text, re.MULTILINE)
    head = text[: first.start()].strip().splitlines() if first else []
    section = head[-1].strip() if head and _TITLE_LINE.match(head[-1].strip()) else ""
    parts = re.split(r"(?:^|(?<=Answer: ))- (\d+)\.\s*\n", text[first.start() :] if first else "", flags=re.M)
    for i in range(1, len(parts), 2):
        body = parts[i + 1]
        question_part, _, answer_part = body.partition("Answer:")
        question = repair_glued(" ".join(question_part.split()), vocab)
        answer_lines = [ln.strip() for ln in answer_part.strip().splitlines() if ln.strip()]
        next_section = None
        if answer_lines and _TITLE_LINE.match(answer_lines[-1]) and len(answer_lines[-1].split()) <= 6:
            next_section = answer_lines.pop()  # a topic heading that opens the next questions
        answer = "\n".join(
            f"**{ln}**" if _TITLE_LINE.match(ln) and len(ln.split()) <= 5 else ln for ln in answer_lines
        )
        yield section, question, question, _tidy(repair_glued(answer, vocab)), False
        section = next_section or section


_DERIVATIONS = [
    (r"^To (.+?), you\b", "How do you {0}?"),
    (r"^The key differences? between (.+?) (?:lies|lie|is|are)\b", "What is the difference between {0}?"),
    (r"^(.+?) and (.+?) are both .*differences", "What are the differences between {0} and {1}?"),
    (r"^Let[’']s understand how (.+?) works", "How does {0} work?"),
    (r"^The (?:main )?purpose of (.+?) (?:is|are)\b", "What is the purpose of {0}?"),
    (r"^(.+?) is mainly suitable for", "What are the applications of {0}?"),
    (r"^(.+?) is used to\b", "What is {0} used for?"),
    (r"^(.+?) are (?:a |multi)", "What are {0}?"),
    (r"^(.+?) (?:is|refers to)\b", "What is {0}?"),
]


def derive_question(answer: str, guess: bool = True) -> str | None:
    """A question for an answer whose question was lost, from its first sentence.

    When no pattern fits, the sentence's first words with a question mark — or None without ``guess``.

    >>> derive_question("Max pooling refers to a pooling operation that chooses the maximum.")
    'What is max pooling?'
    """
    sentence = re.split(r"(?<=[.:])\s", answer.strip(), maxsplit=1)[0]
    sentence = re.sub(r"^In (?:PyTorch|simple words), ", "", sentence)
    sentence = re.sub(r", also known as [^,]+,", "", sentence)
    for pattern, template in _DERIVATIONS:
        match = re.match(pattern, sentence)
        if match:
            groups = [_lower_first(g) for g in match.groups()]
            return template.format(*groups)
    return " ".join(sentence.split()[:8]).rstrip(".,:") + "?" if guess else None


def _lower_first(phrase: str) -> str:
    """``Max pooling`` -> ``max pooling``; names (``Recurrent Neural Networks``, ``SUM``) stay."""
    words = phrase.split()
    if words[0] in ("A", "An", "The") or (
        words[0][0].isupper() and words[0][1:].islower() and all(not w[0].isupper() for w in words[1:])
    ):
        return phrase[0].lower() + phrase[1:]
    return phrase


def _parse_lost(text: str, vocab: Vocabulary) -> Parsed:
    blocks = re.split(r"^Answer:\s*$", text, flags=re.MULTILINE)[1:]
    for block in blocks:
        answer = _tidy(block.strip())
        yield "", derive_question(answer), derive_question(answer), answer, True


_CODE_LINE = re.compile(
    r"^(import |from \S+ import|#|def |class |for |if |return\b|print\(|super\(|with torch|self\.|"
    r"[A-Za-z_][\w.,\[\] ]*\s=\s|[a-z_]+\.[a-z_]+\(|\w+\(.*\)\s*(#.*)?$|[\[\]()]|\d+, \d+)"
)


def _fence_code(lines: list[str]) -> str:
    """Wrap runs of code lines in ```python fences, keeping the prose around them."""
    out, in_code = [], False
    for line in lines:
        is_code = bool(_CODE_LINE.match(line)) and not line.startswith("- ")
        if is_code and not in_code:
            out.append("```python")
        elif not is_code and in_code:
            out.append("```")
        out.append(line)
        in_code = is_code
    if in_code:
        out.append("```")
    return "\n".join(out)


def _render_table(rows: list[str]) -> list[str]:
    cells = [[c.strip() for c in row.strip().strip("|").split("|") if c.strip()] for row in rows]
    cells = [c for c in cells if c and not set("".join(c)) <= set("-:")]
    if not cells:
        return []
    header, body = cells[0], cells[1:]
    out = []
    for row in body:
        pairs = [f"{name}: {value}" for name, value in zip(header[1:], row[1:], strict=False)]
        out.append(f"- **{row[0]}** — " + "; ".join(pairs))
    return out


def _article_lines(body: str) -> list[str]:
    lines, table = [], []
    body = re.sub(r" - (?=\.?[\w.]+(?:\(\))?: |[A-Z][\w ]{2,30}: )", "\n- ", body)
    body = re.sub(r"(?<=[)\]])(?=Equation: )", "\n", body)
    for line in body.splitlines():
        line = line.strip()
        if lines and not table and lines[-1].startswith("- ") and re.search(r"\w$", lines[-1]) \
                and not _CODE_LINE.match(lines[-1]):
            lines[-1] += " " + line  # the page broke the line before inline code
            continue
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            lines.extend(_render_table(table))
            table = []
        if line:
            lines.append(line)
    lines.extend(_render_table(table))
    return lines


def _parse_article(text: str, vocab: Vocabulary) -> Parsed:
    sections, expected = [], 1
    current: tuple[str, list[str]] | None = None
    for line in text.splitlines():
        heading = re.match(r"^(\d+)\. (.{3,80})$", line.strip())
        if heading and int(heading.group(1)) == expected:
            current = (heading.group(2).strip(), [])
            sections.append(current)
            expected += 1
        elif current is not None:
            current[1].append(line)
    titles = " ".join(title for title, _ in sections).lower()
    for title, body_lines in sections:
        lines = [ln if _CODE_LINE.match(ln) else repair_glued(ln, vocab)
                 for ln in _article_lines("\n".join(body_lines))]
        exercises = [k for k, ln in enumerate(lines) if re.match(r"^Q\d+: ", ln)]
        if exercises:
            bounds = [*exercises, len(lines)]
            for start, end in zip(bounds, bounds[1:], strict=False):
                question = lines[start].split(": ", 1)[1]
                yield title, question, question, _fence_code(lines[start + 1 : end]), False
            continue
        rows = [k for k, ln in enumerate(lines) if ln.startswith("- **")]
        named = [k for k in rows if lines[k][4:].split("**")[0].lower() in titles]
        if len(named) >= 3 and rows[0] > 0:
            # A table whose rows name the article's other sections summarises the article: its own item.
            yield title, title, None, _fence_code(lines[: rows[0]]), False
            title = "Summary table: each component's purpose and common interview questions"
            yield "Summary table", title, None, "\n".join(lines[rows[0] :]), False
            continue
        yield title, title, None, _fence_code(lines), False


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
