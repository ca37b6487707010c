"""Progress: attempts and spaced-repetition cards in SQLite.

One connection per thread, WAL journal, every write one ``BEGIN IMMEDIATE`` transaction: an attempt and
its card update land together or not at all, so a server killed mid-write loses nothing already saved.
Scheduling is the maintained FSRS algorithm (the ``fsrs`` package); each grade becomes a rating
automatically (``rating_for``) and the user may override it (``rerate``).
"""

from __future__ import annotations

import contextlib
import csv
import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tutor.errors import TutorError

RATINGS = ("Again", "Hard", "Good", "Easy")
SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    item_id TEXT NOT NULL,
    question TEXT NOT NULL,
    topic TEXT NOT NULL,
    answer TEXT NOT NULL,
    score REAL NOT NULL,
    rating TEXT NOT NULL,
    mode TEXT NOT NULL,
    duration_s REAL,
    words_per_minute REAL,
    fillers TEXT,
    card_before TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_user ON attempts(user, created_at);
CREATE TABLE IF NOT EXISTS cards (
    user TEXT NOT NULL,
    item_id TEXT NOT NULL,
    card TEXT NOT NULL,
    due TEXT NOT NULL,
    PRIMARY KEY (user, item_id)
);
"""


class StoreError(TutorError):
    """Progress could not be read or saved; earlier progress is intact."""


class StoreBusy(StoreError):
    """Another process holds the database longer than the busy timeout."""


@dataclass(frozen=True)
class Attempt:
    id: int
    user: str
    item_id: str
    question: str
    topic: str
    answer: str
    score: float
    rating: str
    mode: str
    duration_s: float | None
    words_per_minute: float | None
    fillers: dict
    created_at: str


def rating_for(score: float) -> str:
    """The FSRS rating a grade earns: below 40 Again, below 65 Hard, below 85 Good, else Easy."""
    return "Again" if score < 40 else "Hard" if score < 65 else "Good" if score < 85 else "Easy"


def storable(text: str) -> str:
    """``text`` without what SQLite's UTF-8 cannot hold (lone surrogates) or should not (NUL); all else,
    right-to-left marks and emoji included, is kept byte for byte."""
    return "".join(ch for ch in text if ch != "\x00" and not 0xD800 <= ord(ch) <= 0xDFFF)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ProgressStore:
    """Attempts and review cards of every user, in ``data_dir/progress.sqlite3``."""

    def __init__(self, data_dir: Path, busy_timeout_s: float = 5.0):
        self.path = Path(data_dir) / "progress.sqlite3"
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection().executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"The progress database {self.path} cannot be opened: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"The data directory {self.path.parent} cannot be used: {exc}") from exc

    # ---- connections ----------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
        return db

    @contextlib.contextmanager
    def _write(self):
        """One ``BEGIN IMMEDIATE`` transaction: committed whole, or rolled back whole."""
        db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._translate(exc) from exc
        try:
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise self._translate(exc) from exc
            raise

    @staticmethod
    def _translate(exc: sqlite3.OperationalError) -> StoreError:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return StoreBusy("The progress store is busy; try again in a moment. Nothing was lost.")
        if "full" in text or "disk i/o" in text:
            return StoreError("Could not save this attempt: the disk is full. Earlier progress is intact.")
        return StoreError(f"Could not save this attempt ({exc}). Earlier progress is intact.")

    # ---- writing --------------------------------------------------------------------------------
    def record(self, user: str, item_id: str, question: str, topic: str, answer: str, score: float, *,
               rating: str | None = None, mode: str = "typed", duration_s: float | None = None,
               words_per_minute: float | None = None, fillers: dict | None = None,
               now: datetime | None = None) -> Attempt:
        """Save an attempt and schedule the question's next review, in one transaction."""
        rating = rating or rating_for(score)
        if rating not in RATINGS:
            raise StoreError(f"Unknown rating {rating!r}; use one of {', '.join(RATINGS)}.")
        now = now or _now()
        with self._write() as db:
            before = self._card(db, user, item_id)
            card = self._review(before, rating, now)
            cursor = db.execute(
                "INSERT INTO attempts (user, item_id, question, topic, answer, score, rating, mode, duration_s, "
                "words_per_minute, fillers, card_before, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (user, item_id, question, topic, storable(answer), float(score), rating, mode, duration_s,
                 words_per_minute, json.dumps(fillers or {}), before.to_json() if before else None, now.isoformat()),
            )
            self._save_card(db, user, item_id, card)
            attempt_id = cursor.lastrowid
        return self.attempt(attempt_id)

    def rerate(self, attempt_id: int, rating: str) -> Attempt:
        """Replace an attempt's automatic rating by the user's, rescheduling from the card it started from."""
        if rating not in RATINGS:
            raise StoreError(f"Unknown rating {rating!r}; use one of {', '.join(RATINGS)}.")
        from fsrs import Card

        with self._write() as db:
            row = db.execute("SELECT * FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
            if row is None:
                raise StoreError(f"No attempt {attempt_id}.")
            latest = db.execute("SELECT MAX(id) FROM attempts WHERE user = ? AND item_id = ?",
                                (row["user"], row["item_id"])).fetchone()[0]
            db.execute("UPDATE attempts SET rating = ? WHERE id = ?", (rating, attempt_id))
            if latest == attempt_id:  # only the newest review decides the schedule
                before = Card.from_json(row["card_before"]) if row["card_before"] else None
                card = self._review(before, rating, datetime.fromisoformat(row["created_at"]))
                self._save_card(db, row["user"], row["item_id"], card)
        return self.attempt(attempt_id)

    @staticmethod
    def _card(db, user: str, item_id: str):
        from fsrs import Card

        row = db.execute("SELECT card FROM cards WHERE user = ? AND item_id = ?", (user, item_id)).fetchone()
        return Card.from_json(row["card"]) if row else None

    @staticmethod
    def _review(before, rating: str, when: datetime):
        from fsrs import Card, Rating, Scheduler

        card, _ = Scheduler(enable_fuzzing=False).review_card(before or Card(), Rating[rating], when)
        return card

    @staticmethod
    def _save_card(db, user: str, item_id: str, card) -> None:
        db.execute("INSERT INTO cards (user, item_id, card, due) VALUES (?,?,?,?) "
                   "ON CONFLICT(user, item_id) DO UPDATE SET card = excluded.card, due = excluded.due",
                   (user, item_id, card.to_json(), card.due.isoformat()))

    # ---- reading --------------------------------------------------------------------------------
    def _read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        try:
            return self._connection().execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            raise self._translate(exc) from exc

    def attempt(self, attempt_id: int) -> Attempt:
        return _attempt(self._read("SELECT * FROM attempts WHERE id = ?", (attempt_id,))[0])

    def attempts(self, user: str) -> list[Attempt]:
        return [_attempt(r) for r in self._read("SELECT * FROM attempts WHERE user = ? ORDER BY id", (user,))]

    def due(self, user: str, item_ids: list[str], now: datetime | None = None) -> list[str]:
        """Questions to practise next: overdue reviews first (most overdue first), then unseen ones in order."""
        now = now or _now()
        dues = {r["item_id"]: r["due"] for r in self._read("SELECT item_id, due FROM cards WHERE user = ?", (user,))}
        overdue = sorted((due, item) for item, due in dues.items() if datetime.fromisoformat(due) <= now
                         and item in set(item_ids))
        unseen = [item for item in item_ids if item not in dues]
        return [item for _, item in overdue] + unseen

    def mastery(self, user: str) -> dict[str, float]:
        """Per topic, the mean of each question's latest score."""
        rows = self._read(
            "SELECT topic, AVG(score) AS mastery FROM attempts a WHERE user = ? AND id = "
            "(SELECT MAX(id) FROM attempts b WHERE b.user = a.user AND b.item_id = a.item_id) GROUP BY topic",
            (user,))
        return {r["topic"]: round(r["mastery"], 1) for r in rows}

    def export_csv(self, user: str, target: Path) -> Path:
        fields = ["created_at", "item_id", "topic", "question", "score", "rating", "mode", "duration_s",
                  "words_per_minute", "fillers", "answer"]
        with Path(target).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(fields)
            for attempt in self.attempts(user):
                row = {**attempt.__dict__, "fillers": json.dumps(attempt.fillers)}
                writer.writerow([row[f] for f in fields])
        return Path(target)

    def integrity_ok(self) -> bool:
        return self._read("PRAGMA integrity_check")[0][0] == "ok"


def _attempt(row: sqlite3.Row) -> Attempt:
    return Attempt(row["id"], row["user"], row["item_id"], row["question"], row["topic"], row["answer"],
                   row["score"], row["rating"], row["mode"], row["duration_s"], row["words_per_minute"],
                   json.loads(row["fillers"] or "{}"), row["created_at"])
