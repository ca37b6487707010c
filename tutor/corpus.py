"""The corpus: the bundled pages in ``corpus/`` and the user's own notes, read into question/answer items.

Each page is read by its format and shape (see ``tutor.readers``), never by its file name. Every item
gets a stable id (``001-26``: file prefix and position), its source file, section and a topic. Each
page's bytes are read once: what is hashed is what is parsed, so a page edited during a build is picked
up whole by the next one. A page that cannot be read is reported and skipped; the others still count.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from tutor.errors import CorpusError, PageSkipped
from tutor.items import Item, classify_topic

log = logging.getLogger(__name__)

PARSER_VERSION = 7
MAX_PAGE_BYTES = 5 * 1024 * 1024

BOILERPLATE = re.compile(r"^(LISTEN TO THE .* LIKE AN AUDIOBOOK|/?p>)\s*$", re.IGNORECASE | re.MULTILINE)
# Everything after these headings links to other pages.
TRAILERS = re.compile(r"^(\d+\. )?(Related Articles|Related Posts|Further Resources)\s*$.*", re.MULTILINE | re.DOTALL)


def strip_boilerplate(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\u00a0", " ")
    text = re.sub(r"\./p>", ".", text)
    text = BOILERPLATE.sub("", text)
    text = TRAILERS.sub("", text)
    return text


@dataclass(frozen=True)
class PageReport:
    """What one page gave: its detected shape, items, questions without answers, and any warning."""

    name: str
    folder: str
    shape: str
    title: str | None
    items: int
    unanswered: int
    warning: str | None = None

    @property
    def line(self) -> str:
        """The page as one line of ``tutor pages``."""
        what = f"{self.items} items ({self.unanswered} without answers)" if self.items else "0 items"
        titled = f" · “{self.title}”" if self.title else ""
        warning = f" — {self.warning}" if self.warning else ""
        return f"{self.folder}/{self.name}: {self.shape}, {what}{titled}{warning}"


@dataclass(frozen=True)
class Library:
    """Every item of the corpus and the notes, what each page gave, and the hash of the bytes read."""

    items: list[Item]
    pages: list[PageReport]
    sha256: str


def page_paths(corpus_dir: Path, notes_dir: Path | None = None) -> list[tuple[str, Path]]:
    """(folder name, path) of every file in the corpus folder, then the notes folder, sorted by name.

    Raises:
        CorpusError: the corpus folder is missing, or neither folder has a page.
    """
    if not corpus_dir.is_dir():
        raise CorpusError(f"Corpus directory {corpus_dir} does not exist.")
    found = [("corpus", p) for p in sorted(corpus_dir.iterdir()) if _is_page(p)]
    if notes_dir is not None and notes_dir.is_dir():
        found += [("notes", p) for p in sorted(notes_dir.iterdir()) if _is_page(p)]
    if not found:
        raise CorpusError(f"Corpus directory {corpus_dir} has no pages.")
    return found


TITLES_FILE = "pages.toml"
PHRASINGS_FILE = "phrasings.toml"
SIDECARS = (TITLES_FILE, PHRASINGS_FILE)  # files about the pages, not pages


def _is_page(path: Path) -> bool:
    return path.is_file() and not path.name.startswith((".", "~")) and path.name.lower() not in ("readme.md",
                                                                                                 *SIDECARS)


def _sidecar(folders: tuple[Path | None, ...], name: str, instead: str) -> list[dict]:
    """Each folder's ``name`` TOML file, parsed (an unreadable one is reported and ignored)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    tables = []
    for folder in folders:
        path = folder / name if folder is not None else None
        if path is None or not path.is_file():
            continue
        try:
            tables.append(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            log.warning("%s is not valid TOML (%s); %s", path, exc, instead)
    return tables


def page_titles(*folders: Path | None) -> dict[str, str]:
    """File name -> title from each folder's ``pages.toml``."""
    titles: dict[str, str] = {}
    for entries in _sidecar(folders, TITLES_FILE, "page titles come from the pages themselves"):
        titles.update({name: str(entry["title"]) for name, entry in entries.items()
                       if isinstance(entry, dict) and entry.get("title")})
    return titles


def page_phrasings(*folders: Path | None) -> dict[tuple[str, str], tuple[str, ...]]:
    """(file name, question) -> other ways to ask it, from each folder's ``phrasings.toml``: a table per
    page, mapping each question as the tutor shows it to a list of phrasings."""
    phrasings: dict[tuple[str, str], tuple[str, ...]] = {}
    for entries in _sidecar(folders, PHRASINGS_FILE, "questions are matched as the pages ask them"):
        for name, questions in entries.items():
            if isinstance(questions, dict):
                phrasings.update({(name, question): tuple(str(q) for q in asked if str(q).strip())
                                  for question, asked in questions.items() if isinstance(asked, list)})
    return phrasings


def _snapshot(corpus_dir: Path, notes_dir: Path | None, max_page_bytes: int):
    """(folder, path, bytes or a skip message) per page, and the SHA-256 of exactly what was read."""
    digest = hashlib.sha256(f"parser:{PARSER_VERSION}:{max_page_bytes}".encode())
    for folder in (corpus_dir, notes_dir):
        for sidecar in SIDECARS:
            if folder is not None and (folder / sidecar).is_file():
                digest.update(sidecar.encode() + (folder / sidecar).read_bytes())
    pages = []
    for folder, path in page_paths(corpus_dir, notes_dir):
        size = path.stat().st_size
        if size > max_page_bytes:
            content: bytes | str = (f"is {size / 2**20:.1f} MB, over the {max_page_bytes / 2**20:g} MB limit "
                                    f"(TUTOR_MAX_PAGE_MB)")
            digest.update(f"{folder}/{path.name}\0{size}\0".encode())
        else:
            content = path.read_bytes()
            digest.update(f"{folder}/{path.name}\0".encode() + content + b"\0")
        pages.append((folder, path, content))
    return pages, digest.hexdigest()


def corpus_hash(corpus_dir: Path, notes_dir: Path | None = None, max_page_bytes: int = MAX_PAGE_BYTES) -> str:
    """SHA-256 over the parser version and every page's folder, name and bytes."""
    return _snapshot(corpus_dir, notes_dir, max_page_bytes)[1]


def load_library(corpus_dir: Path, notes_dir: Path | None = None, max_page_bytes: int = MAX_PAGE_BYTES) -> Library:
    """Read every page of the corpus and the notes into items, logging one warning line per page skipped.

    Raises:
        CorpusError: the corpus folder is missing or empty, or no page yields an answered item.
    """
    from tutor.readers import page_text, read_entries
    from tutor.readers.seed_shapes import SHAPES
    from tutor.text import Vocabulary

    snapshot, sha256 = _snapshot(corpus_dir, notes_dir, max_page_bytes)
    decoded, reports, seen = [], [], {}
    for folder, path, content in snapshot:
        try:
            if isinstance(content, str):
                raise PageSkipped(content)
            digest = hashlib.sha256(content).hexdigest()
            if digest in seen:
                raise PageSkipped(f"has the same content as {seen[digest]}; skipped")
            seen[digest] = f"{folder}/{path.name}"
            page = page_text(path.name, content)
            decoded.append((folder, path, replace(page, text=strip_boilerplate(page.text))))
        except PageSkipped as skipped:
            reports.append(PageReport(path.name, folder, "skipped", None, 0, 0, str(skipped)))
    # Glued words are repaired with the bundled pages' vocabulary only: notes never change how they read.
    vocab = Vocabulary(page.text for folder, _, page in decoded if folder == "corpus")
    items: list[Item] = []
    prefixes: set[str] = set()
    titles = page_titles(corpus_dir, notes_dir)
    phrasings = page_phrasings(corpus_dir, notes_dir)
    for folder, path, page in decoded:
        shape, title, entries = read_entries(page, vocab)
        title = titles.get(path.name) or title or _title_from_name(path.stem)
        seed = shape in SHAPES
        prefix = _unique(path.stem.split("_")[0] if seed else slug(path.stem), prefixes)
        page_items = [_item(f"{prefix}-{n:02d}", path.name, entry, title, general=not seed)
                      for n, entry in enumerate(entries, start=1)]
        page_items = [replace(item, phrasings=phrasings.get((path.name, item.prompt), ())) for item in page_items]
        warning = None if page_items else "yields no questions or sections"
        if warning is None and page.encoding not in ("utf-8", "ascii"):
            warning = f"read as {page.encoding}"
        reports.append(PageReport(path.name, folder, shape, title, len(page_items),
                                  sum(item.answer is None for item in page_items), warning))
        items.extend(page_items)
    order = {(folder, path.name): k for k, (folder, path, _) in enumerate(snapshot)}
    reports.sort(key=lambda r: order[(r.folder, r.name)])
    for report in reports:
        if report.warning and (report.shape == "skipped" or not report.items):
            log.warning("%s/%s %s", report.folder, report.name, report.warning)
    if not any(item.answer for item in items):
        raise CorpusError(f"No question/answer items could be parsed from {corpus_dir}.")
    return Library(items, reports, sha256)


def load_corpus(corpus_dir: Path, notes_dir: Path | None = None, max_page_bytes: int = MAX_PAGE_BYTES) -> list[Item]:
    """The items of ``load_library``."""
    return load_library(corpus_dir, notes_dir, max_page_bytes).items


def _title_from_name(stem: str) -> str:
    """``my_dl-notes`` -> ``my dl notes``: a page without a title is named by its file."""
    return " ".join(re.split(r"[_\-\s]+", stem)).strip() or stem


def _item(item_id: str, source: str, entry, page_title: str, general: bool) -> Item:
    answer = entry.answer.strip() if entry.answer and entry.answer.strip() else None
    # Notes of the user's own: a topic from the heading path when no keyword topic clearly fits.
    fallback = (entry.section.split(" › ")[0] or page_title) if general else None
    return Item(id=item_id, source=source, section=entry.section, title=entry.title, question=entry.question,
                answer=answer, topic=classify_topic(entry.title, answer, fallback=fallback),
                question_derived=entry.derived, page=page_title)


def slug(stem: str) -> str:
    """A file stem as an id prefix: ASCII letters, digits and dashes (``Mes notes é`` -> ``mes-notes-e``)."""
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_stem.lower()).strip("-") or "page"


def _unique(prefix: str, used: set[str]) -> str:
    candidate, n = prefix, 2
    while candidate in used:
        candidate, n = f"{prefix}-{n}", n + 1
    used.add(candidate)
    return candidate
