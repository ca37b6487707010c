"""The app's handlers as plain functions: fake embedder, real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tutor.handlers import ALL_TOPICS, Handlers, render_grade, speaking_markdown
from tutor.progress import ProgressStore
from tutor.speech import Transcript


@pytest.fixture
def handlers(fake_tutor, tmp_path):
    return Handlers(fake_tutor, ProgressStore(tmp_path / "data"), seed=1)


def test_chat_turn_appends_question_and_reply(handlers):
    history, suggestions = handlers.ask("what is a tensor?", [])
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert history[0]["content"] == "what is a tensor?"
    assert "Source:" in history[1]["content"] or "isn't covered" in history[1]["content"]


def test_script_in_a_question_stays_inert(handlers):
    history, _ = handlers.ask("<script>alert(1)</script><img src=x onerror=alert(2)>", [])
    assert all("<script" not in m["content"] and "<img" not in m["content"] for m in history)


def test_empty_question_gets_a_message_not_an_exception(handlers):
    history, suggestions = handlers.ask("   ", [{"role": "user", "content": "earlier"}])
    assert history[-1]["role"] == "assistant" and "empty" in history[-1]["content"]
    assert suggestions == []


def test_topic_filter_and_picks(handlers):
    assert handlers.topics()[0] == ALL_TOPICS and "CNNs" in handlers.topics()
    cnn = handlers.questions("CNNs")
    assert cnn and all("CNNs" in label for label, _ in cnn)
    item_id, markdown = handlers.pick("random", "CNNs", "local")
    assert handlers.tutor.item(item_id).topic == "CNNs" and markdown.startswith("### ")
    unanswered = [i for i in handlers.practice_items if i.answer is None]
    assert unanswered, "page 003's unanswered questions are practisable"
    _, markdown = handlers.pick("id", ALL_TOPICS, "local", unanswered[0].id)
    assert "do not answer it" in markdown


def test_grading_saves_an_attempt_and_due_next_moves_on(handlers):
    first, _ = handlers.pick("due", ALL_TOPICS, "local")
    feedback = handlers.grade(first, "Tensors are n-dimensional arrays that can live on the GPU.", "local")
    assert feedback.attempt_id is not None and feedback.score_markdown.startswith("## ")
    assert handlers.store.attempts("local")[0].item_id == first
    second, _ = handlers.pick("due", ALL_TOPICS, "local")
    assert second != first
    assert "Saved as **Again**" in handlers.rerate(feedback.attempt_id, "Again")
    view = handlers.progress("local")
    assert list(view.scores["score"]) == [handlers.store.attempts("local")[0].score]
    assert view.summary.startswith("One attempt so far")
    assert view.chart.to_dict()["layer"][1]["mark"]["type"] == "point"  # a single attempt is a visible point
    assert list(view.mastery["topic"]) == [f"{handlers.tutor.item(first).topic} (1)"]


def test_progress_dates_are_local_and_the_axis_spans_at_least_a_day(handlers):
    for _ in range(2):
        item_id, _ = handlers.pick("due", ALL_TOPICS, "local")
        handlers.grade(item_id, "Tensors are n-dimensional arrays that can live on the GPU.", "local")
    view = handlers.progress("local")
    assert view.summary.startswith("2 attempts") and view.scores["date"].dt.tz is None
    import pandas as pd

    start, end = (pd.Timestamp(year=t["year"], month=t["month"], day=t["date"], hour=t["hours"], minute=t["minutes"])
                  for t in view.chart.to_dict()["layer"][0]["encoding"]["x"]["scale"]["domain"])
    assert end - start >= pd.Timedelta(days=1) - pd.Timedelta(minutes=2)


def test_missed_points_are_kept_whole(real_tutor, tmp_path):
    handlers = Handlers(real_tutor, ProgressStore(tmp_path / "data"))
    item = next(i for i in real_tutor.items if i.answer and len(i.answer) > 600)
    feedback = handlers.grade(item.id, "It is a thing in PyTorch.", "local")
    assert feedback.missed and max(len(m) for m in feedback.missed) > 100
    assert not any(m.endswith("…") for m in feedback.missed)


def test_a_due_question_from_another_topic_is_among_the_picker_choices(handlers):
    other = next(i for i in handlers.practice_items if i.topic != "CNNs")
    assert other.id in [value for _, value in handlers.questions("CNNs", include=other.id)]


def test_empty_answer_is_not_saved(handlers):
    item_id, _ = handlers.pick("random", ALL_TOPICS, "local")
    feedback = handlers.grade(item_id, "  ", "local")
    assert "empty" in feedback.score_markdown and feedback.attempt_id is None
    assert handlers.store.attempts("local") == []


def test_spoken_attempt_keeps_pace_and_fillers(handlers):
    item_id, _ = handlers.pick("random", ALL_TOPICS, "local")
    transcript = Transcript("um tensors are arrays", 4.0, 60.0, {"um": 1})
    feedback = handlers.grade(item_id, "um tensors are arrays", "local", transcript)
    attempt = handlers.store.attempts("local")[0]
    assert attempt.mode == "spoken" and attempt.fillers == {"um": 1}
    assert "60 words per minute" in feedback.speaking_markdown


def test_users_are_kept_apart(handlers):
    item_id, _ = handlers.pick("random", ALL_TOPICS, "ana")
    handlers.grade(item_id, "an answer about tensors", "ana")
    assert handlers.progress("bo").summary.startswith("No attempts yet")


def test_covered_parts_are_marked_and_html_escaped(real_tutor):
    answer = "Max pooling keeps the largest value in each window of the feature map. <b>bold</b>"
    feedback = render_grade(real_tutor.grade("What is max pooling?", answer), answer)
    assert "<mark>" in feedback.answer_html and "&lt;b&gt;bold&lt;/b&gt;" in feedback.answer_html
    assert feedback.missed and feedback.references_html.count("<details>") == 2


@pytest.mark.slow
def test_a_contradiction_is_marked_red_and_listed_with_the_reference_sentence(real_tutor):
    answer = "model.eval() enables dropout, so every prediction at inference is noisy."
    feedback = render_grade(real_tutor.grade("What is the difference between model.train() and model.eval()?",
                                             answer), answer)
    assert "<mark class='contradicts'>model.eval() enables dropout" in feedback.answer_html
    assert "**Contradicts the notes**" in feedback.covered_markdown
    assert "- contradicts: " in feedback.covered_markdown and "Disables" in feedback.covered_markdown


def test_speaking_summary_flags_a_fast_pace():
    text = speaking_markdown(Transcript("x", 30.0, 190.0, {"like": 2}))
    assert "fast" in text and "“like” ×2" in text


NOTES = Path(__file__).parent / "data" / "notes"


def test_uploaded_notes_join_pages_topics_and_practice(handlers, tmp_path):
    upload = tmp_path / "upload" / "training_tricks.md"
    upload.parent.mkdir()
    upload.write_bytes((NOTES / "training_tricks.md").read_bytes())
    before = len(handlers.practice_items)
    message = handlers.add_notes([str(upload), str(NOTES / "essay.txt")])
    assert "added training_tricks.md: markdown: questions, 4 items" in message
    assert "added essay.txt" in message
    assert ["notes", "training_tricks.md", "markdown: questions", 4, 0, ""] in handlers.pages()
    assert len(handlers.practice_items) == before + 6
    assert "Regularisation" in handlers.topics()
    labels = [label for label, _ in handlers.questions("Regularisation")]
    assert labels[0].startswith("What is label smoothing and why use it?")
    item_id, _ = handlers.pick("due", "Regularisation", "local")
    assert handlers.tutor.item(item_id).source == "training_tricks.md"
    again = handlers.add_notes([str(upload)])
    assert "not added:** training_tricks.md has the same content" in again
    assert len(handlers.practice_items) == before + 6


def test_uploads_can_be_switched_off(fake_tutor, tmp_path):
    shared = Handlers(fake_tutor, ProgressStore(tmp_path / "data"), allow_uploads=False)
    assert "Uploads are off" in shared.add_notes([str(NOTES / "flashcards.txt")])
    assert not fake_tutor.config.notes_folder.exists()
