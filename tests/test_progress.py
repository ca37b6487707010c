"""Progress store: a real SQLite file, spaced repetition, users kept apart, nothing lost."""

from __future__ import annotations

import csv
import multiprocessing
import os
import signal
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import pytest

from tutor.progress import ProgressStore, StoreBusy, StoreError, rating_for

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    return ProgressStore(tmp_path / "data")


def save(store, user="local", item="001-21", score=80.0, **kw):
    return store.record(user, item, "What is Conv1d?", "CNNs", "an answer", score, **kw)


def test_grade_becomes_a_rating():
    assert [rating_for(s) for s in (10, 50, 70, 95)] == ["Again", "Hard", "Good", "Easy"]


def test_attempt_is_saved_in_wal_mode(store):
    attempt = save(store, now=T0)
    assert attempt.rating == "Good" and attempt.created_at == T0.isoformat()
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_good_answers_are_scheduled_later_than_poor_ones(store):
    save(store, item="a", score=95, now=T0)
    save(store, item="b", score=10, now=T0)
    soon = T0 + timedelta(hours=1)
    assert store.due("local", ["a", "b", "c"], now=soon) == ["b", "c"]  # "a" is not due yet, "c" unseen
    later = T0 + timedelta(days=60)
    assert set(store.due("local", ["a", "b"], now=later)) == {"a", "b"}


def test_user_can_override_the_automatic_rating(store):
    attempt = save(store, item="a", score=95, now=T0)
    assert store.due("local", ["a"], now=T0 + timedelta(hours=1)) == []
    changed = store.rerate(attempt.id, "Again")
    assert changed.rating == "Again"
    assert store.due("local", ["a"], now=T0 + timedelta(hours=1)) == ["a"]
    with pytest.raises(StoreError, match="Unknown rating"):
        store.rerate(attempt.id, "Superb")


def test_users_see_only_their_own_progress(store):
    save(store, user="ana", score=90)
    save(store, user="bo", score=20)
    assert [a.score for a in store.attempts("ana")] == [90]
    assert store.mastery("bo") == {"CNNs": 20}


def test_mastery_uses_each_questions_latest_score(store):
    save(store, item="a", score=20, now=T0)
    save(store, item="a", score=80, now=T0 + timedelta(days=1))
    save(store, item="b", score=60, now=T0)
    assert store.mastery("local") == {"CNNs": 70.0}


def test_export_csv_has_every_attempt(store, tmp_path):
    save(store, score=80, fillers={"um": 2})
    save(store, score=40)
    rows = list(csv.DictReader(store.export_csv("local", tmp_path / "out.csv").open()))
    assert [float(r["score"]) for r in rows] == [80.0, 40.0]
    assert rows[0]["fillers"] == '{"um": 2}'


def test_locked_database_says_busy_and_loses_nothing(tmp_path):
    store = ProgressStore(tmp_path / "data", busy_timeout_s=0.2)
    save(store, score=70)
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StoreBusy, match="busy"):
        save(store, score=50)
    other.execute("ROLLBACK")
    assert [a.score for a in store.attempts("local")] == [70]
    save(store, score=50)
    assert [a.score for a in store.attempts("local")] == [70, 50]


def _hammer(data_dir: str) -> None:
    store = ProgressStore(data_dir)
    for n in range(100_000):
        store.record("local", f"q{n % 7}", "question", "CNNs", "answer " * 50, float(n % 100))


def test_killed_mid_write_keeps_every_attempt_whole(tmp_path):
    process = multiprocessing.get_context("spawn").Process(target=_hammer, args=(str(tmp_path / "data"),))
    process.start()
    time.sleep(3)
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    store = ProgressStore(tmp_path / "data")
    assert store.integrity_ok()
    attempts = store.attempts("local")
    assert attempts, "the writer saved nothing in 3 s"
    cards = sqlite3.connect(store.path).execute("SELECT COUNT(*) FROM cards").fetchone()[0]
    assert cards == min(7, len(attempts))  # every saved attempt has its card update with it
    assert all(a.answer == "answer " * 50 for a in attempts)


def test_unusable_data_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot be used"):
        ProgressStore(blocker / "data")
