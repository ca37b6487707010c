"""Page readers: bytes of one page in, question/answer entries out, with what was skipped and why.

``page_text`` turns a file's bytes into text by its extension (HTML to Markdown, PDF to its text layer,
any text encoding detected); ``read_entries`` picks the reader: one of the five bundled page shapes
when the text has one (``seed_shapes``), an Anki export (``anki``), else the general Markdown/plain-text
reader (``markdown``). A page that cannot be read raises ``PageSkipped`` with a message that completes
"<file name> …"; the corpus logs it and goes on with the other pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from tutor.errors import PageSkipped
from tutor.readers.markdown import Entry, read_markdown

FORMATS = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".tsv": "anki",
           ".html": "html", ".htm": "html", ".pdf": "pdf"}
SUFFIXES = tuple(FORMATS)


@dataclass(frozen=True)
class PageText:
    """A page decoded: its format, its text (Markdown for HTML), a title when the format has one."""

    format: str
    text: str
    title: str | None = None
    encoding: str = "utf-8"


def page_text(name: str, data: bytes) -> PageText:
    """Decode one page by its extension.

    Raises:
        PageSkipped: unknown extension, empty, binary, undecodable, or a PDF without readable text.
    """
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    kind = FORMATS.get(suffix)
    if kind is None:
        raise PageSkipped(f"has an extension the tutor does not read ({suffix or 'none'}); "
                          f"it reads {', '.join(SUFFIXES)}")
    if not data.strip():
        raise PageSkipped("is empty")
    if kind == "pdf":
        from tutor.readers.pdf import pdf_text

        return PageText("pdf", pdf_text(data))
    text, encoding = decode(data)
    if kind == "html":
        from tutor.readers.html import html_to_markdown

        title, text = html_to_markdown(text)
        if not text.strip():
            raise PageSkipped("has no readable text outside scripts, styles and navigation")
        return PageText("html", text, title, encoding)
    return PageText(kind, text, None, encoding)


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 when it is, else what charset-normalizer detects.

    Raises:
        PageSkipped: the bytes are not text (a binary file under a text extension).
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        boms = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}
        encoding = boms[data[:2]]
        try:
            return data[2:].decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise PageSkipped(f"is not text ({encoding} with errors)") from exc
    if b"\x00" in data[:65536]:
        raise PageSkipped("is not text (it holds binary data)")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise PageSkipped("is not text in any encoding the tutor recognises")
    text = str(best)
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\n\r\t\f")
    if controls > 0.01 * len(text):
        raise PageSkipped("is not text (it holds binary data)")
    return text, best.encoding


def read_entries(page: PageText, vocab) -> tuple[str, str | None, list[Entry]]:
    """(shape, title, entries) of a decoded page. ``vocab`` repairs words the bundled pages glued."""
    from tutor.readers.seed_shapes import detect_shape, read_shape

    if page.format in ("anki", "text"):
        from tutor.readers.anki import looks_like_anki, read_anki

        if page.format == "anki" or looks_like_anki(page.text):
            return "anki", None, read_anki(page.text)
    title, entries = read_markdown(page.text, plain_text=page.format in ("text", "pdf"))
    general = f"{page.format}: {_structure(entries)}", title or page.title, entries
    shape = detect_shape(page.text) if page.format in ("text", "markdown") else None
    if shape:
        seed = [Entry(*parsed) for parsed in read_shape(shape, page.text, vocab)]
        # A bundled shape's marks can occur by chance in other notes (a numbered list looks like an
        # article's sections): keep the shape unless the general reader finds more headed items in a
        # Markdown page, or far more in a text page (the bundled pages are text).
        factor = 1 if page.format == "markdown" else 2
        if sum(not e.derived for e in entries) < factor * max(len(seed), 1):
            return shape, None, seed
    return general


def _structure(entries: list[Entry]) -> str:
    if not entries:
        return "nothing found"
    if all(e.derived for e in entries):
        return "paragraphs"
    sections = sum(e.question is None for e in entries)
    return "sections" if sections * 2 > len(entries) else "questions"


__all__ = ["Entry", "PageSkipped", "PageText", "SUFFIXES", "page_text", "read_entries"]
