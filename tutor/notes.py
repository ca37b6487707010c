"""The user's notes folder: pages added from the command line or the app, checked before they are kept.

A page is stored only when it reads into at least one item; it gets a safe name inside the folder (never
a path from the upload), is written atomically, and never replaces a page already there.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from tutor.corpus import page_paths
from tutor.errors import CorpusError, PageSkipped
from tutor.readers import page_text, read_entries


@dataclass(frozen=True)
class Added:
    """What became of one page: stored under ``stored`` (None when refused), and why."""

    name: str
    stored: str | None
    message: str


def safe_name(name: str) -> str:
    """A file name that stays inside the notes folder: no folders, no control or reserved characters.

    >>> safe_name("../../etc/x.md"), safe_name("Mes notes: été?.MD")
    ('x.md', 'Mes notes_ été_.md')
    """
    base = unicodedata.normalize("NFC", re.split(r"[\\/]", str(name))[-1])
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    base = re.sub(r'[<>:"|?*]', "_", base).strip().lstrip(".").strip()
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem[:100].strip() or "page"
    return f"{stem}.{suffix.lower()}" if suffix else stem


def add_pages(pages: list[tuple[str, bytes]], notes_dir: Path, corpus_dir: Path, max_page_bytes: int) -> list[Added]:
    """Check each (name, bytes) page and store the readable ones in ``notes_dir``.

    A page is refused, with its reason, when it is over the size limit, cannot be read, yields no item,
    or has the same content as a page already in the corpus or the notes.
    """
    from tutor.text import Vocabulary

    existing: dict[str, str] = {}
    try:
        for folder, path in page_paths(corpus_dir, notes_dir):
            existing[hashlib.sha256(path.read_bytes()).hexdigest()] = f"{folder}/{path.name}"
    except CorpusError:
        pass
    results = []
    for name, data in pages:
        target_name = safe_name(name)
        try:
            if len(data) > max_page_bytes:
                raise PageSkipped(f"is {len(data) / 2**20:.1f} MB, over the {max_page_bytes / 2**20:g} MB limit")
            digest = hashlib.sha256(data).hexdigest()
            if digest in existing:
                raise PageSkipped(f"has the same content as {existing[digest]}; not added again")
            shape, _, entries = read_entries(page_text(target_name, data), Vocabulary([]))
            if not entries:
                raise PageSkipped("yields no questions or sections; not added")
        except PageSkipped as refused:
            results.append(Added(name, None, f"{target_name} {refused}"))
            continue
        stored = _store(notes_dir, target_name, data)
        existing[digest] = f"notes/{stored}"
        results.append(Added(name, stored, f"{stored}: {shape}, {len(entries)} items"))
    return results


def _store(notes_dir: Path, name: str, data: bytes) -> str:
    """Write ``data`` under ``name`` or, when that is taken, ``name (2)``…; atomically. Returns the name."""
    notes_dir.mkdir(parents=True, exist_ok=True)
    stem, dot, suffix = name.rpartition(".")
    candidate, n = name, 2
    while (notes_dir / candidate).exists():
        candidate, n = f"{stem} ({n}).{suffix}" if dot else f"{name} ({n})", n + 1
    fd, tmp = tempfile.mkstemp(dir=notes_dir, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # link() refuses an existing target, so a page written meanwhile under the same name is never replaced.
        os.link(tmp, notes_dir / candidate)
    except FileExistsError:
        return _store(notes_dir, name, data)
    finally:
        os.unlink(tmp)
    return candidate

