"""Anki decks exported as text: one card per line, front and back separated by a tab.

Anki writes ``#separator:tab``/``#html:true`` header lines and quotes fields that hold tabs, quotes or
line breaks; fields may hold HTML, which is reduced to text (``<br>`` and ``<div>`` become line breaks).
"""

from __future__ import annotations

import csv
import io
import re

from tutor.readers.markdown import Entry


def looks_like_anki(text: str) -> bool:
    """A tab-separated export: an Anki header, or most lines holding a tab."""
    if re.search(r"^#separator:\s*(tab|Tab)\s*$", text, re.MULTILINE):
        return True
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return len(lines) >= 2 and sum("\t" in ln for ln in lines) >= 0.8 * len(lines)


def read_anki(text: str) -> list[Entry]:
    body = "\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))
    columns = _header_columns(text)
    entries = []
    for row in csv.reader(io.StringIO(body), delimiter="\t", quotechar='"'):
        fields = [f for k, f in enumerate(row) if k not in columns]
        if len(fields) < 2:
            continue
        front, back = field_text(fields[0]), field_text(fields[1])
        if front and back:
            question = " ".join(front.split())
            entries.append(Entry("", question, question, back))
    return entries


def _header_columns(text: str) -> set[int]:
    """Zero-based columns that hold metadata (guid, notetype, deck, tags), from Anki's header lines."""
    skip = set()
    for name in ("guid", "notetype", "deck", "tags"):
        match = re.search(rf"^#{name} column:\s*(\d+)\s*$", text, re.MULTILINE)
        if match:
            skip.add(int(match.group(1)) - 1)
    return skip


def field_text(field: str) -> str:
    """An Anki field's HTML as text: line breaks kept, tags dropped, entities decoded, cloze marks opened."""
    from bs4 import BeautifulSoup

    field = re.sub(r"(?i)<br\s*/?>|</?div[^>]*>|</?p[^>]*>|</li>", "\n", field)
    field = re.sub(r"\{\{c\d+::(.*?)(?:::[^}]*)?\}\}", r"\1", field)
    text = BeautifulSoup(field, "html.parser").get_text()
    text = text.replace("\u00a0", " ")
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())
