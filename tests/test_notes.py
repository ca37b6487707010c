"""The user's own notes: adding pages safely, listing them, and the tutor answering and grading from them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tutor.config import Config
from tutor.notes import add_pages, safe_name

from .conftest import CORPUS
from .test_cli import tutor_cli

NOTES = Path(__file__).parent / "data" / "notes"
LIMIT = 5 * 2**20


def test_safe_names_stay_inside_the_notes_folder():
    assert safe_name("../../x.md") == "x.md"
    assert safe_name("..\\..\\evil.MD") == "evil.md"
    assert safe_name(".hidden.txt") == "hidden.txt"
    assert safe_name("my notes é\u0000.md") == "my notes é.md"


def test_add_stores_readable_pages_and_refuses_the_rest(tmp_path):
    notes = tmp_path / "notes"
    cards = (NOTES / "flashcards.txt").read_bytes()
    results = add_pages([("../../cards.txt", cards), ("again.txt", cards), ("image.md", b"\x00\x01binary"),
                         ("empty.md", b""), ("big.md", b"x" * 100)], notes, CORPUS, max_page_bytes=50)
    # big.md is over the 50-byte limit given here; cards.txt too, so use a sensible limit for it:
    assert [r.stored for r in results] == [None] * 5
    results = add_pages([("../../cards.txt", cards), ("again.txt", cards), ("image.md", b"\x00\x01binary"),
                         ("empty.md", b"")], notes, CORPUS, max_page_bytes=LIMIT)
    assert [r.stored for r in results] == ["cards.txt", None, None, None]
    assert "same content as notes/cards.txt" in results[1].message
    assert sorted(p.name for p in notes.iterdir()) == ["cards.txt"]  # nothing outside, no temp files left
    assert not (tmp_path / "cards.txt").exists()
    assert "same content as corpus/" in add_pages([("p.txt", (CORPUS / sorted(p.name for p in CORPUS.iterdir())[0])
                                                    .read_bytes())], notes, CORPUS, LIMIT)[0].message


def test_add_never_replaces_a_page(tmp_path):
    notes = tmp_path / "notes"
    first = add_pages([("cards.txt", (NOTES / "flashcards.txt").read_bytes())], notes, CORPUS, LIMIT)
    second = add_pages([("cards.txt", (NOTES / "numbered_questions.txt").read_bytes())], notes, CORPUS, LIMIT)
    assert (first[0].stored, second[0].stored) == ("cards.txt", "cards (2).txt")
    assert (notes / "cards.txt").read_bytes() == (NOTES / "flashcards.txt").read_bytes()


@pytest.fixture
def notes_env(tmp_path, corpus_copy):
    return {"TUTOR_EMBED_MODEL": "hash", "TUTOR_INDEX_DIR": str(tmp_path / "index"),
            "TUTOR_CORPUS_DIR": str(corpus_copy), "TUTOR_DATA_DIR": str(tmp_path / "data")}


def test_cli_add_then_pages(notes_env, tmp_path):
    result = tutor_cli("add", str(NOTES / "training_tricks.md"), str(NOTES / "interview_blog.html"),
                       env_extra=notes_env)
    assert result.returncode == 0, result.stderr
    assert "added training_tricks.md: markdown: questions, 4 items" in result.stdout
    assert "Index updated" in result.stdout
    listing = tutor_cli("pages", env_extra=notes_env)
    assert "notes/interview_blog.html: html: questions, 3 items (0 without answers)" in listing.stdout
    assert "corpus/003_3153261104704058.txt: sparse, 15 items (14 without answers)" in listing.stdout
    refused = tutor_cli("add", str(NOTES / "training_tricks.md"), env_extra=notes_env)
    assert refused.returncode == 2 and "not added: training_tricks.md has the same content" in refused.stdout
    assert sorted(p.name for p in (tmp_path / "data" / "notes").iterdir()) == ["interview_blog.html",
                                                                                 "training_tricks.md"]


def test_a_notes_page_edited_later_is_picked_up_by_the_next_load(fake_config, tmp_path):
    from tutor import Tutor
    from tutor.models import HashEmbedder

    notes = fake_config.notes_folder
    notes.mkdir(parents=True)
    shutil.copy(NOTES / "flashcards.txt", notes)
    first = Tutor.load(fake_config, embedder=HashEmbedder())
    assert sum(item.source == "flashcards.txt" for item in first.items) == 3
    with (notes / "flashcards.txt").open("a") as handle:
        handle.write("\nQ: What is a fourth card?\nA: One added while the app was running.\n")
    second = Tutor.load(fake_config, embedder=HashEmbedder())
    assert sum(item.source == "flashcards.txt" for item in second.items) == 4


@pytest.mark.slow
def test_questions_only_the_notes_answer_are_answered_from_them(tmp_path, real_embedder):
    from tutor import Tutor

    notes = tmp_path / "notes"
    shutil.copytree(NOTES, notes)
    tutor = Tutor.load(Config(index_dir=tmp_path / "index", data_dir=tmp_path / "data", notes_dir=notes),
                       embedder=real_embedder)
    for question, source in [("what does label smoothing do to the targets?", "training_tricks.md"),
                             ("what gets sharded across ranks by FSDP", "interview_blog.html"),
                             ("how does quantization aware training work", "numbered_questions.txt"),
                             ("what is weight tying", "anki_export.txt"),
                             ("what does torch.einsum compute", "einsum.pdf")]:
        reply = tutor.ask(question)
        assert reply.confident, question
        assert reply.hits[0].source == source, (question, reply.hits[0])
    good = ("Instead of a one-hot target the true class gets 1 minus epsilon and the rest share epsilon, so the "
            "model stops pushing logits to be infinitely confident; it helps calibration.")
    grade = tutor.grade("What is label smoothing and why use it?", good)
    assert grade.score >= 60 and grade.references and grade.references[0].source == "training_tricks.md"
