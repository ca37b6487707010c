"""The page readers on fixtures of every format (tests/data/notes, written for this project), and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tutor.corpus import load_library
from tutor.errors import PageSkipped
from tutor.readers import page_text, read_entries
from tutor.text import Vocabulary

NOTES = Path(__file__).parent / "data" / "notes"


def read(name: str, data: bytes | None = None):
    data = (NOTES / name).read_bytes() if data is None else data
    return read_entries(page_text(name, data), Vocabulary([]))


def test_markdown_question_headings_topics_and_code():
    shape, title, entries = read("training_tricks.md")
    assert shape == "markdown: questions" and title == "My training tricks notes"
    assert [(e.section, e.title, e.question is not None) for e in entries] == [
        ("Regularisation", "What is label smoothing and why use it?", True),
        ("Regularisation", "How does stochastic depth differ from dropout?", True),
        ("", "Mixed precision", False),  # a topic heading's own text is a section of it
        ("Mixed precision", "Explain why bfloat16 rarely needs a GradScaler", True),
    ]
    assert "CrossEntropyLoss(label_smoothing=0.1)" in entries[0].answer  # the code stays with its prose
    assert "```python" in entries[0].answer
    assert all("training tricks" not in e.answer for e in entries)  # the page intro is not an answer


def test_flashcards_in_both_spellings():
    shape, _, entries = read("flashcards.txt")
    assert shape == "text: questions"
    assert [e.question for e in entries] == ["What does gradient clipping by norm do?",
                                             "What is an exponential moving average of weights?",
                                             "Why warm up the learning rate?"]
    assert "clip_grad_norm_" in entries[0].answer and "Answer:" not in entries[1].answer


def test_anki_export_fields_lose_their_html_and_tags_column():
    shape, _, entries = read("anki_export.txt")
    assert shape == "anki"
    assert [e.question for e in entries] == ["What is torch.compile?", "What does pin_memory=True do in a DataLoader?",
                                             "What is weight tying?"]
    assert entries[1].answer.splitlines()[1].startswith("so copies to the GPU")  # <div> became a line break
    assert "—" in entries[2].answer and "&" not in entries[2].answer
    assert not any("pytorch::" in e.answer for e in entries)


def test_html_main_content_only():
    shape, title, entries = read("interview_blog.html")
    assert shape == "html: questions" and title == "Three distributed training questions"
    assert [e.question for e in entries] == ["Why is DistributedDataParallel preferred over DataParallel?",
                                             "What does FSDP shard?", "When would you use gradient accumulation?"]
    text = " ".join(e.title + " " + e.answer for e in entries)
    for boilerplate in ("cookie", "Subscribe", "Popular posts", "Kubernetes", "comments", "Great post", "©",
                        "Privacy", "dataLayer", "font-family", "Posted in", "Archive"):
        assert boilerplate not in text, boilerplate
    assert "model = FSDP(model, auto_wrap_policy=policy)" in entries[1].answer
    assert "`optimizer.step()`" in entries[2].answer


def test_numbered_and_bold_questions():
    shape, title, entries = read("numbered_questions.txt")
    assert title == "Quantization cheat sheet"
    assert [e.question for e in entries] == ["What is post-training dynamic quantization?",
                                             "How is quantization-aware training different?",
                                             "Why does static quantization need calibration data?"]
    assert entries[0].answer.startswith("Weights are converted to int8")


def test_pdf_text_layer_questions():
    shape, title, entries = read("einsum.pdf")
    assert shape == "pdf: questions" and title == "Einsum and broadcasting notes"
    assert [e.question for e in entries] == ["What does torch.einsum compute?",
                                             "Why can einsum be slower than a dedicated op?"]


def test_text_without_questions_falls_back_to_paragraphs():
    shape, _, entries = read("essay.txt")
    assert shape == "text: paragraphs" and len(entries) == 2
    assert entries[0].title == "Activation checkpointing trades compute for memory"
    assert entries[0].question is None and entries[0].answer.startswith("Activation checkpointing")


def _pdf(encrypt: bool) -> bytes:
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if encrypt:
        writer.encrypt("secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(("name", "data", "message"), [
    ("photo.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "is not text"),
    ("empty.md", b"  \n\n", "is empty"),
    ("scan.pdf", _pdf(encrypt=False), "no text layer"),
    ("locked.pdf", _pdf(encrypt=True), "encrypted"),
    ("app.html", b"<html><head><script>var a = 1;</script><style>p{}</style></head><body><script>x()</script>"
                 b"</body></html>", "no readable text"),
    ("notes.docx", b"PK\x03\x04 whatever", "extension"),
])
def test_unreadable_pages_say_why(name, data, message):
    with pytest.raises(PageSkipped, match=message):
        page_text(name, data)


def test_legacy_encodings_are_detected():
    text = "Q: Qu'est-ce qu'un tenseur ?\nA: Un tableau à plusieurs dimensions, comme un ndarray, sur CPU ou GPU.\n"
    _, _, entries = read("notes.txt", text.encode("cp1252"))
    assert entries[0].answer.startswith("Un tableau à plusieurs")


def test_a_bad_page_is_reported_and_the_rest_still_count(corpus_copy, tmp_path, caplog):
    notes = tmp_path / "notes"
    notes.mkdir()
    shutil.copy(NOTES / "flashcards.txt", notes / "my cards é.txt")  # spaces and non-ASCII in the name
    shutil.copy(NOTES / "flashcards.txt", notes / "the same cards.txt")
    (notes / "broken.md").write_bytes(b"\x00\x01\x02binary")
    (notes / "huge.md").write_bytes(b"# Big\n\n" + b"word " * 300_000)
    library = load_library(corpus_copy, notes, max_page_bytes=1_000_000)
    reports = {p.name: p for p in library.pages}
    assert reports["my cards é.txt"].items == 3
    assert "same content as notes/my cards é.txt" in reports["the same cards.txt"].warning
    assert "not text" in reports["broken.md"].warning and "over the" in reports["huge.md"].warning
    assert sum(p.folder == "corpus" and p.items > 0 for p in library.pages) == 5
    ids = [item.id for item in library.items if item.source == "my cards é.txt"]
    assert ids == ["my-cards-e-01", "my-cards-e-02", "my-cards-e-03"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 3 and all("\n" not in w for w in warnings)


def test_notes_topics_come_from_headings_when_no_keyword_fits(corpus_copy, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "kitchen.md").write_text("# Notes\n\n## Knife skills\n\n### How do you hold a chef's knife?\n\n"
                                      "Pinch the blade between thumb and index finger, and curl the other hand.\n\n"
                                      "### Why call optimizer.zero_grad() each step?\n\n"
                                      "Gradients accumulate otherwise.\n")
    shutil.copy(NOTES / "training_tricks.md", notes)
    items = {item.title: item for item in load_library(corpus_copy, notes).items}
    assert items["How do you hold a chef's knife?"].topic == "Knife skills"
    assert items["Why call optimizer.zero_grad() each step?"].topic == "optimizers"  # a keyword topic fits
    assert items["What is label smoothing and why use it?"].topic == "Regularisation"


def test_markdown_from_the_web_links_and_numbered_lists():
    text = ("# Interview questions\n\n## Basics\n\n#### 1) What is gradient descent? [[src](http://example.com/a)]\n\n"
            "It follows the negative gradient of the loss downhill.\n\n#### 2) What is a <a name='x'></a>[batch](http://b)?\n\n"
            "A group of samples processed together.\n\n## Training stages\n\n1. Pretraining on raw text\n"
            "2. Fine-tuning on labelled pairs\n3. Alignment with preferences\n")
    shape, title, entries = read("web.md", text.encode())
    assert shape == "markdown: questions" and title == "Interview questions"
    assert [e.title for e in entries] == ["What is gradient descent?", "What is a batch?", "Training stages"]
    assert entries[2].answer.startswith("1. Pretraining")  # a numbered list is not an article's sections


def test_page_titles_from_pages_toml_then_headings_then_file_names(corpus_copy, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    for name in ("training_tricks.md", "essay.txt", "flashcards.txt"):
        shutil.copy(NOTES / name, notes)
    (notes / "pages.toml").write_text('["flashcards.txt"]\ntitle = "Cards from the ML course"\n')
    titles = {p.name: p.title for p in load_library(corpus_copy, notes).pages}
    assert titles["flashcards.txt"] == "Cards from the ML course"  # pages.toml
    assert titles["training_tricks.md"] == "My training tricks notes"  # the first heading
    assert titles["essay.txt"] == "essay"  # the file name
    assert titles["004_5a5c71b225f530c2.txt"] == "PyTorch Basics For AI Interviews"  # corpus/pages.toml
    assert "pages.toml" not in titles


def test_phrasings_toml_gives_items_other_ways_to_be_asked_and_a_broken_one_changes_nothing(corpus_copy, caplog):
    before = load_library(corpus_copy)
    (corpus_copy / "phrasings.toml").unlink(missing_ok=True)
    plain = load_library(corpus_copy)
    item = next(i for i in plain.items if i.source.startswith("001_") and i.answer)
    (corpus_copy / "phrasings.toml").write_text(
        f'[{json.dumps(item.source)}]\n{json.dumps(item.prompt)} = ["first way to ask", "second way"]\n'
        '["no-such-page.txt"]\n"Anything?" = ["ignored"]\n', encoding="utf-8")
    listed = load_library(corpus_copy)
    assert next(i for i in listed.items if i.id == item.id).phrasings == ("first way to ask", "second way")
    assert sum(bool(i.phrasings) for i in listed.items) == 1
    assert "phrasings.toml" not in {p.name for p in listed.pages}  # not read as a page
    assert listed.sha256 != plain.sha256  # the index is rebuilt when it changes
    (corpus_copy / "phrasings.toml").write_text("[unclosed", encoding="utf-8")
    broken = load_library(corpus_copy)
    assert not any(i.phrasings for i in broken.items) and "phrasings.toml is not valid TOML" in caplog.text
    assert [i.prompt for i in broken.items] == [i.prompt for i in before.items]


def test_every_bundled_phrasing_belongs_to_an_answered_item(corpus_copy):
    from tutor.corpus import page_phrasings

    items = {(i.source, i.prompt): i for i in load_library(corpus_copy).items}
    listed = page_phrasings(corpus_copy)
    assert len(listed) >= 100
    unmatched = [key for key in listed if key not in items or not items[key].answer]
    assert not unmatched, f"phrasings.toml names questions the pages no longer ask: {unmatched[:3]}"
