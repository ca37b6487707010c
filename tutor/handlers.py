"""What the app does for each click, as plain functions of the tutor and the progress store.

No Gradio here: the UI (``tutor.ui``) only wires these to components, and tests call them directly.
Everything shown in the browser passes through ``inert``/``html.escape``: user text and corpus text can
never become markup.
"""

from __future__ import annotations

import collections
import html
import random
import re
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tutor.errors import TutorError
from tutor.grading import Grade
from tutor.items import Item
from tutor.progress import RATINGS, ProgressStore, rating_for
from tutor.speech import Transcript
from tutor.tutor import Tutor, inert

ALL_TOPICS = "All topics"


@dataclass
class ProgressView:
    """What the Progress tab shows: a summary, scores over time (a table and its chart), mastery per topic."""

    summary: str
    scores: object
    mastery: object
    attempts: int
    chart: object = None


def scores_chart(scores):
    """Scores over time as an Altair chart: a line per topic through its attempts, every attempt a point
    (so a single attempt is visible), local dates on an axis at least a day wide, drawn as SVG."""
    import altair as alt
    import pandas as pd

    start, end = scores["date"].min(), scores["date"].max()
    pad = max(pd.Timedelta(hours=12) - (end - start) / 2, pd.Timedelta(minutes=30))
    def moment(t):  # read in the browser's local time, like the chart's naive dates
        return alt.DateTime(year=t.year, month=t.month, date=t.day, hours=t.hour, minutes=t.minute)

    x = alt.X("date:T", title="date (local time)", scale=alt.Scale(domain=[moment(start - pad), moment(end + pad)]),
              axis=alt.Axis(format="%b %d %H:%M", labelAngle=-30))
    y = alt.Y("score:Q", title="score", scale=alt.Scale(domain=[0, 100]))
    base = alt.Chart(scores).encode(x=x, y=y, color=alt.Color("topic:N", title="topic"),
                                    tooltip=["date:T", "topic:N", "score:Q"])
    chart = (base.mark_line() + base.mark_point(filled=True, size=70)).properties(
        width=720, height=260, title="Scores over time",
        usermeta={"embedOptions": {"renderer": "svg", "actions": False}})
    return chart


def _local_zone():
    from datetime import datetime

    return datetime.now().astimezone().tzinfo


@dataclass
class Feedback:
    """A graded practice answer, ready to show."""

    score_markdown: str
    answer_html: str
    covered_markdown: str
    missed: list[str]
    references_html: str
    speaking_markdown: str = ""
    attempt_id: int | None = None
    rating: str = ""
    notes: list[str] = field(default_factory=list)


class Handlers:
    def __init__(self, tutor: Tutor, store: ProgressStore, seed: int | None = None, allow_uploads: bool = True):
        self.store = store
        self.random = random.Random(seed)
        self.allow_uploads = allow_uploads
        self._reload_lock = threading.Lock()
        self._use(tutor)

    def _use(self, tutor: Tutor) -> None:
        # One assignment each: a click served meanwhile sees the old tutor or the new one, never a mix.
        self.practice_items = [item for item in tutor.items if item.question or item.answer]
        self.tutor = tutor

    # ---- ask ------------------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None) -> tuple[list[dict], list[str]]:
        """Append the question and the tutor's reply to the chat; returns (history, suggestions)."""
        history = list(history or [])
        try:
            reply = self.tutor.ask(question, history=history)
        except TutorError as exc:
            return history + [{"role": "assistant", "content": inert(str(exc))}], []
        shown_question = inert(" ".join(str(question).split())[:2000])
        answer = self.tutor.render(reply.hits, reply.confident, fold=True)
        turn = [{"role": "user", "content": shown_question}, {"role": "assistant", "content": answer}]
        return history + turn, reply.suggestions

    # ---- practice -------------------------------------------------------------------------------
    def topics(self) -> list[str]:
        return [ALL_TOPICS, *sorted({item.topic for item in self.practice_items})]

    def questions(self, topic: str, include: str | None = None) -> list[tuple[str, str]]:
        """(label, item id) for the question picker: the topic's questions, plus ``include`` when it is
        another topic's (a "Due next" that found nothing due in the topic)."""
        items = self._in_topic(topic)
        if include and include not in {item.id for item in items}:
            items = [self.tutor.item(include), *items]
        return [(self._label(item), item.id) for item in items]

    def _in_topic(self, topic: str) -> list[Item]:
        return [item for item in self.practice_items if topic in (None, "", ALL_TOPICS) or item.topic == topic]

    @staticmethod
    def _label(item: Item) -> str:
        return f"{item.prompt}  ·  {item.topic}" + ("" if item.answer else "  ·  (no answer in the notes)")

    def pick(self, how: str, topic: str, user: str, item_id: str | None = None) -> tuple[str, str]:
        """Choose a question: ``random``, ``due`` (spaced repetition) or ``id``; returns (item id, Markdown)."""
        candidates = self._in_topic(topic) or self.practice_items
        if how == "id" and item_id:
            item = self.tutor.item(item_id)
        elif how == "due":
            due = self.store.due(user, [item.id for item in candidates])
            item = self.tutor.item(due[0]) if due else self.random.choice(candidates)
        else:
            item = self.random.choice(candidates)
        return item.id, self.question_markdown(item)

    @staticmethod
    def question_markdown(item: Item) -> str:
        note = "" if item.answer else ("\n\n*The notes ask this but do not answer it: your answer is graded "
                                       "against the closest passages.*")
        return f"### {inert(item.prompt)}\n\n{item.topic} · {inert(item.page or item.source)}{note}"

    def transcribe(self, audio_path: str | None, item_id: str | None) -> tuple[str, str, Transcript | None]:
        """Transcribe an uploaded or recorded answer (the file is deleted afterwards)."""
        if not audio_path:
            return "", "", None
        question = self.tutor.item(item_id).prompt if item_id else None
        try:
            transcript = self.tutor.transcribe(audio_path, question=question, delete_after=True)
        except TutorError as exc:
            return "", f"⚠️ {inert(str(exc))}", None
        return transcript.text, speaking_markdown(transcript), transcript

    def grade(self, item_id: str | None, answer: str, user: str,
              transcript: Transcript | None = None) -> Feedback:
        """Grade a practice answer and save the attempt with its automatic rating."""
        if not item_id:
            return Feedback("Pick a question first.", "", "", [], "")
        item = self.tutor.item(item_id)
        try:
            grade = self.tutor.grade(item.prompt, answer)
        except TutorError as exc:
            return Feedback(f"⚠️ {inert(str(exc))}", "", "", [], "")
        spoken = transcript is not None and transcript.text.strip() == (answer or "").strip()
        feedback = render_grade(grade, answer or "", speaking_markdown(transcript) if spoken else "")
        if grade.message:  # nothing to grade: show what to cover, save nothing
            return feedback
        try:
            attempt = self.store.record(
                user, item.id, item.prompt, item.topic, answer, grade.score, mode="spoken" if spoken else "typed",
                duration_s=transcript.duration_s if spoken else None,
                words_per_minute=transcript.words_per_minute if spoken else None,
                fillers=transcript.fillers if spoken else None)
        except TutorError as exc:
            feedback.notes.append(str(exc))
            feedback.score_markdown += f"\n\n⚠️ {inert(str(exc))}"
            return feedback
        feedback.attempt_id, feedback.rating = attempt.id, attempt.rating
        return feedback

    def rerate(self, attempt_id: int | None, rating: str) -> str:
        if attempt_id is None or rating not in RATINGS:
            return ""
        try:
            attempt = self.store.rerate(int(attempt_id), rating)
        except TutorError as exc:
            return f"⚠️ {inert(str(exc))}"
        return f"Saved as **{attempt.rating}**: the next review is scheduled from that."

    # ---- your notes -----------------------------------------------------------------------------
    def pages(self) -> list[list]:
        """One row per page of the corpus and the notes: folder, file, shape, items, without answers, warning."""
        return [[p["folder"], p["name"], p["shape"], p["items"], p["unanswered"], p["warning"] or ""]
                for p in self.tutor.index.manifest.get("pages", [])]

    def add_notes(self, paths: list[str] | None) -> str:
        """Store uploaded pages in the notes folder and rebuild the index (only new texts are embedded);
        returns what happened to each page, as Markdown."""
        from tutor.notes import add_pages

        if not self.allow_uploads:
            return "⚠️ Uploads are off on this shared server (start it with --allow-uploads to allow them)."
        if not paths:
            return "Choose one or more pages first."
        config = self.tutor.config
        pages = []
        for path in paths:
            try:
                pages.append((Path(path).name, Path(path).read_bytes()))
            except OSError as exc:
                return f"⚠️ Could not read the upload {inert(Path(path).name)}: {inert(exc.strerror or str(exc))}"
        with self._reload_lock:
            results = add_pages(pages, config.notes_folder, config.corpus_dir, config.max_page_bytes)
            lines = [("added " if r.stored else "**not added:** ") + inert(r.message) for r in results]
            if any(r.stored for r in results):
                try:
                    self._use(self.tutor.reloaded())
                except TutorError as exc:
                    lines.append(f"⚠️ {inert(str(exc))}")
        return "\n".join(f"- {line}" for line in lines)

    # ---- progress -------------------------------------------------------------------------------
    def progress(self, user: str) -> ProgressView:
        """Scores over time (local dates), mastery per topic with attempt counts, and a summary."""
        import pandas as pd

        attempts = self.store.attempts(user)
        local = pd.to_datetime([a.created_at for a in attempts], utc=True).tz_convert(_local_zone()).tz_localize(None)
        scores = pd.DataFrame({"date": local, "score": [a.score for a in attempts],
                               "topic": [a.topic for a in attempts]})
        mastery = self.store.mastery(user)
        counts = collections.Counter(a.topic for a in attempts)
        topics = pd.DataFrame({"topic": [f"{t} ({counts[t]})" for t in mastery], "mastery": list(mastery.values())})
        due = len(self.store.due(user, [i.id for i in self.practice_items]))
        if not attempts:
            summary = "No attempts yet: practise a question and your progress appears here."
        elif len(attempts) == 1:
            only = attempts[0]
            summary = (f"One attempt so far: **{only.score:.0f}/100** on “{inert(only.question)}” ({only.topic}), "
                       f"{local[0]:%b %d %H:%M}. The chart of scores over time appears from the second attempt; "
                       f"{due} questions are due or unseen.")
        else:
            summary = f"{len(attempts)} attempts on {len({a.item_id for a in attempts})} questions; {due} questions " \
                      "due or unseen."
        return ProgressView(summary, scores, topics, len(attempts), scores_chart(scores) if attempts else None)

    def export(self, user: str) -> str:
        folder = Path(tempfile.mkdtemp(prefix="tutor-export-"))
        safe = re.sub(r"[^\w-]", "_", user)[:40] or "user"
        return str(self.store.export_csv(user, folder / f"progress-{safe}.csv"))


def speaking_markdown(transcript: Transcript | None) -> str:
    if transcript is None:
        return ""
    fillers = ", ".join(f"“{k}” ×{n}" for k, n in transcript.fillers.items()) or "none"
    pace = transcript.words_per_minute
    advice = " (fast: slow down a little)" if pace > 170 else " (slow: tighten it up)" if pace < 100 else ""
    return (f"**Speaking:** {transcript.duration_s:.0f} s · {pace:.0f} words per minute{advice} · "
            f"filler words: {fillers}")


def render_grade(grade: Grade, answer: str, speaking: str = "") -> Feedback:
    """The grade as the page shows it: score, the answer with covered parts marked, points, references."""
    rating = rating_for(grade.score)
    score = f"## {grade.score:.0f} / 100 · {rating}"
    if grade.message:
        score += f"\n\n{inert(grade.message)}"
    for note in grade.notes:
        score += f"\n\n*{inert(note)}*"
    marked = html.escape(answer)
    # A sentence that contradicts a point is marked red even where it also covers another one.
    tags = {c.evidence.rstrip(" …"): "<mark>" for c in grade.covered}
    tags.update({c.evidence.rstrip(" …"): "<mark class='contradicts'>" for c in grade.contradicted})
    for point, tag in sorted(tags.items(), key=lambda s: len(s[0]), reverse=True):
        escaped = html.escape(point)
        if escaped and escaped in marked:
            marked = marked.replace(escaped, f"{tag}{escaped}</mark>", 1)
    answer_html = f"<div class='your-answer'>{marked}</div>" if answer.strip() else ""
    covered = "\n".join(f"- {inert(c.point)}  \n  <small>{inert(c.source)}</small>" for c in grade.covered)
    covered = f"**Covered** (marked in your answer):\n\n{covered}" if covered else "*No key point covered yet.*"
    if grade.contradicted:
        covered += "\n\n**Contradicts the notes** (marked red in your answer):\n\n" + "\n".join(
            f"- contradicts: {inert(c.point)}  \n  you said: “{inert(c.evidence)}”, which {inert(c.reason)}  \n"
            f"  <small>{inert(c.source)}</small>" for c in grade.contradicted)
    references = "".join(
        f"<details><summary>Reference: {html.escape(r.citation)} <small>({html.escape(r.source)})</small></summary>"
        f"<div>{html.escape(r.answer)}</div></details>"
        for r in grade.references)
    return Feedback(score, answer_html, covered,
                    [m.point for m in grade.missed], references, speaking, rating=rating)
