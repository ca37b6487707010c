"""The browser app: Ask, Practice, Progress and Your notes tabs, plus API endpoints (``ask``, ``grade``,
``transcribe``).

``build`` makes the Blocks; ``launch`` loads the models once, says what it is loading, and serves.
"""

import dataclasses
import gc
import os
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402  (after switching analytics off)
from gradio.data_classes import FileData  # noqa: E402

from tutor.config import Config
from tutor.errors import TutorError
from tutor.handlers import ALL_TOPICS, Handlers
from tutor.progress import RATINGS, ProgressStore
from tutor.readers import SUFFIXES
from tutor.tutor import Tutor, clean_text

LOCAL_USER = "local"
MAX_UPLOAD = "25mb"
CSS = """
.your-answer { white-space: pre-wrap; line-height: 1.5; padding: .6em; border-radius: 8px;
               border: 1px solid var(--border-color-primary); }
.your-answer mark { background: #b7f0c1; color: #0b3d17; border-radius: 3px; padding: 0 2px; }
.your-answer mark.contradicts { background: #f6c4c4; color: #5c0b0b; }
#practice-score h2 { margin: 0; }
#mic-note { color: var(--body-text-color-subdued); font-size: .9em; }
#practice-missed label { width: 100%; }
"""
# Browsers allow the microphone only in a secure context (localhost or https).
MIC_CHECK_JS = """() => window.isSecureContext
  ? 'Record with the microphone, upload a recording, or type.'
  : '⚠️ This browser blocks the microphone here: it works only on localhost or https. '
    + 'Upload a recording or type instead.'"""


def _user(request: gr.Request | None) -> str:
    return getattr(request, "username", None) or LOCAL_USER


PAGE_COLUMNS = ["folder", "file", "shape", "items", "without answers", "warning"]
NOTE_TYPES = list(SUFFIXES)  # every extension a page reader takes


@dataclasses.dataclass
class _Practice:
    """The Practice tab's components (the picker's value is the question on screen, the one graded)."""

    topic: gr.Dropdown
    picker: gr.Dropdown
    question_md: gr.Markdown
    answer: gr.Textbox
    audio: gr.Audio
    mic_note: gr.Markdown
    speaking: gr.Markdown
    transcript: gr.State
    attempt_id: gr.State
    grade_btn: gr.Button
    random_btn: gr.Button
    due_btn: gr.Button
    score: gr.Markdown
    marked: gr.HTML
    covered: gr.Markdown
    missed: gr.Radio
    rating: gr.Radio
    rating_note: gr.Markdown
    references: gr.HTML


def build(tutor: Tutor, store: ProgressStore, allow_uploads: bool = True, shared: bool = False):
    """The app's Blocks, with stable element ids for browser tests. ``shared``: several users log in, so
    uploaded notes (when ``allow_uploads``) are seen by all of them."""
    h = Handlers(tutor, store, allow_uploads=allow_uploads)

    with gr.Blocks(title="PyTorch interview tutor") as demo:
        gr.Markdown("# PyTorch interview tutor\nAsk about PyTorch, practise answers out loud, track what you know.")
        with gr.Tabs() as tabs:
            with gr.Tab("Ask", id="ask"):
                chat, question, suggestions, on_ask = _ask_tab(h)
            with gr.Tab("Practice", id="practice"):
                practice = _practice_tab(h)
            with gr.Tab("Progress", id="progress") as progress_tab:
                progress_outputs, on_progress = _progress_tab(h, demo)
            with gr.Tab("Your notes", id="notes"):
                _notes_tab(h, practice, allow_uploads, shared)
        # Drawn when the tab is seen: a chart drawn in a hidden tab has no width for its axis labels.
        progress_tab.select(on_progress, None, progress_outputs, api_visibility="private")

        _wire_practice(h, demo, practice)

        def on_grade(picked, text, transcript, request: gr.Request):
            return _on_grade(h, picked, text, transcript, request)

        grade_event = practice.grade_btn.click(
            on_grade, [practice.picker, practice.answer, practice.transcript],
            [practice.score, practice.marked, practice.covered, practice.missed, practice.attempt_id,
             practice.rating, practice.rating_note, practice.references, practice.speaking],
            api_visibility="private")
        grade_event.then(on_progress, None, progress_outputs, api_visibility="private")

        def ask_about(point, history, request: gr.Request):
            if not point:
                return gr.update(), history, *[gr.update()] * 3
            history, _, *buttons = on_ask(f"Explain: {point}", history, request)
            return gr.Tabs(selected="ask"), history, *buttons

        practice.missed.input(ask_about, [practice.missed, chat], [tabs, chat, *suggestions],
                              api_visibility="private")
        demo.load(None, None, [practice.mic_note], js=MIC_CHECK_JS, api_visibility="private")
        _api(h)
    return demo


def _ask_tab(h: Handlers):
    chat = gr.Chatbot(elem_id="ask-chat", height=480, sanitize_html=True, label="Conversation",
                      show_label=False, buttons=["copy"])
    with gr.Row():
        question = gr.Textbox(elem_id="ask-input", placeholder="e.g. why call optimizer.zero_grad()?",
                              show_label=False, scale=5, max_lines=4, max_length=2000, submit_btn=True)
        new_chat = gr.Button("New conversation", scale=1, elem_id="ask-new")
    with gr.Row():
        suggestions = [gr.Button(visible=False, size="sm", elem_id=f"ask-suggestion-{k}") for k in range(3)]

    def on_ask(text, history, request: gr.Request):
        history, offered = h.ask(text, history)
        buttons = [gr.update(value=s, visible=True) for s in offered[:3]]
        buttons += [gr.update(visible=False)] * (3 - len(buttons))
        return history, "", *buttons

    outputs = [chat, question, *suggestions]
    question.submit(on_ask, [question, chat], outputs, api_visibility="private")
    for button in suggestions:
        button.click(on_ask, [button, chat], outputs, api_visibility="private")
    new_chat.click(lambda: ([], "", *[gr.update(visible=False)] * 3), None, outputs, api_visibility="private")
    return chat, question, suggestions, on_ask


def _practice_tab(h: Handlers) -> _Practice:
    with gr.Row():
        topic = gr.Dropdown(h.topics(), value=ALL_TOPICS, label="Topic", scale=2, elem_id="practice-topic")
        picker = gr.Dropdown(h.questions(ALL_TOPICS), value=None, label="Question", scale=4,
                             elem_id="practice-picker")
        with gr.Column(scale=1, min_width=140):
            random_btn = gr.Button("Random question", elem_id="practice-random")
            due_btn = gr.Button("Due next", variant="primary", elem_id="practice-due")
    question_md = gr.Markdown("Loading a question…", elem_id="practice-question")
    answer = gr.Textbox(label="Your explanation (the transcript of a recording appears here, editable)",
                        lines=6, max_length=10_000, elem_id="practice-answer")
    audio = gr.Audio(sources=["microphone", "upload"], type="filepath", label="Or say it", elem_id="practice-audio")
    mic_note = gr.Markdown(elem_id="mic-note")
    speaking = gr.Markdown()
    grade_btn = gr.Button("Grade my answer", variant="primary", elem_id="practice-grade")
    score = gr.Markdown(elem_id="practice-score")
    marked = gr.HTML(elem_id="practice-marked")
    with gr.Row():
        covered = gr.Markdown(elem_id="practice-covered")
        missed = gr.Radio([], label="Missed — click one to ask the tutor about it", elem_id="practice-missed",
                          visible=False)
    rating = gr.Radio(list(RATINGS), label="How did it feel? (rating sets the next review)")
    rating_note = gr.Markdown()
    references = gr.HTML()
    return _Practice(topic, picker, question_md, answer, audio, mic_note, speaking, gr.State(None), gr.State(None),
                     grade_btn, random_btn, due_btn, score, marked, covered, missed, rating, rating_note, references)


def _wire_practice(h: Handlers, demo: gr.Blocks, p: _Practice) -> None:
    """Every way of choosing a question sets the picker (and its choices) and clears the last grade."""
    shown = [p.picker, p.question_md, p.answer, p.transcript, p.speaking, p.score, p.marked, p.covered, p.missed,
             p.rating, p.rating_note, p.references]

    def show(how: str, chosen_topic: str, request: gr.Request | None, chosen: str | None = None):
        item_id, markdown = h.pick(how, chosen_topic, _user(request), chosen)
        return (gr.update(choices=h.questions(chosen_topic, include=item_id), value=item_id), markdown, "", None,
                "", "", "", "", gr.update(choices=[], value=None, visible=False), None, "", "")

    def pick_due(chosen_topic: str, request: gr.Request):
        return show("due", chosen_topic, request)

    def pick_random(chosen_topic: str, request: gr.Request):
        return show("random", chosen_topic, request)

    def pick_one(chosen: str | None, chosen_topic: str, request: gr.Request):
        if not chosen:
            return (gr.update(), "Pick a question, or press *Due next*.", *[gr.update()] * (len(shown) - 2))
        return show("id", chosen_topic, request, chosen)

    demo.load(pick_due, [p.topic], shown, api_visibility="private")
    p.due_btn.click(pick_due, [p.topic], shown, api_visibility="private")
    p.random_btn.click(pick_random, [p.topic], shown, api_visibility="private")
    p.topic.input(pick_due, [p.topic], shown, api_visibility="private")
    p.picker.input(pick_one, [p.picker, p.topic], shown, api_visibility="private")

    def on_audio(path, picked):
        return h.transcribe(path, picked)

    for event in (p.audio.stop_recording, p.audio.upload):
        event(on_audio, [p.audio, p.picker], [p.answer, p.speaking, p.transcript],
              concurrency_limit=1, concurrency_id="speech", api_visibility="private")
    p.rating.input(h.rerate, [p.attempt_id, p.rating], [p.rating_note], api_visibility="private")


def _on_grade(h: Handlers, picked, text, transcript, request: gr.Request | None):
    feedback = h.grade(picked, text, _user(request), transcript)
    return (feedback.score_markdown, feedback.answer_html, feedback.covered_markdown,
            gr.update(choices=feedback.missed, value=None, visible=bool(feedback.missed)), feedback.attempt_id,
            gr.update(value=feedback.rating or None), "", feedback.references_html,
            feedback.speaking_markdown or gr.update())


def _progress_tab(h: Handlers, demo: gr.Blocks):
    summary = gr.Markdown(elem_id="progress-summary")
    scores_plot = gr.Plot(label="Scores over time", elem_id="progress-plot", visible=False)
    mastery_plot = gr.BarPlot(x="topic", y="mastery", y_lim=[0, 100], title="Mastery per topic (latest score "
                              "per question, averaged; attempts in brackets)", x_label_angle=-30,
                              elem_id="progress-mastery", visible=False)
    export = gr.DownloadButton("Download attempts as CSV", elem_id="progress-export", visible=False)

    def on_progress(request: gr.Request):
        view = h.progress(_user(request))
        return (view.summary, gr.update(value=view.chart, visible=view.attempts > 0),
                gr.update(value=view.mastery, visible=view.attempts > 0),
                gr.update(value=h.export(_user(request)) if view.attempts else None, visible=view.attempts > 0))

    outputs = [summary, scores_plot, mastery_plot, export]
    demo.load(on_progress, None, outputs, api_visibility="private")
    return outputs, on_progress


def _notes_tab(h: Handlers, practice: _Practice, allow_uploads: bool, shared: bool) -> None:
    gr.Markdown(_notes_intro(h.tutor, allow_uploads, shared), elem_id="notes-intro")
    with gr.Row(visible=allow_uploads):
        note_files = gr.File(file_count="multiple", file_types=NOTE_TYPES, label="Pages of notes",
                             elem_id="notes-upload", scale=3)
        add_btn = gr.Button("Add to my notes", variant="primary", elem_id="notes-add", scale=1)
    notes_result = gr.Markdown(elem_id="notes-result")
    pages_table = gr.Dataframe(h.pages(), headers=PAGE_COLUMNS, interactive=False, wrap=True,
                               label="Pages the tutor reads", elem_id="notes-pages")

    def on_add(paths, chosen_topic):
        message = h.add_notes(paths)
        return message, h.pages(), None, gr.update(choices=h.topics())

    add_btn.click(on_add, [note_files, practice.topic], [notes_result, pages_table, note_files, practice.topic],
                  concurrency_limit=1, concurrency_id="notes", api_visibility="private")


def _api(h: Handlers) -> None:
    """Endpoints for gradio_client (limits enforced here, not only in the browser)."""

    def ask_api(question: str, history: list[dict] | None = None) -> str:
        """Ask the tutor; returns the reply as Markdown."""
        try:
            return h.tutor.ask(question, history=history or []).text
        except TutorError as exc:
            raise gr.Error(str(exc)) from None

    def grade_api(question: str, answer: str) -> dict:
        """Grade an answer to a question; returns the grade as JSON."""
        try:
            question = clean_text(question, h.tutor.config.max_question_chars)
            return dataclasses.asdict(h.tutor.grade(question, answer))
        except TutorError as exc:
            raise gr.Error(str(exc)) from None

    def transcribe_api(audio: FileData) -> dict:
        """Transcribe a recorded answer (deleted afterwards); returns text, duration, pace and fillers."""
        path = getattr(audio, "path", None) or (audio.get("path") if isinstance(audio, dict) else None)
        if not path:
            raise gr.Error("Send an audio file.")
        try:
            return dataclasses.asdict(h.tutor.transcribe(path, delete_after=True))
        except TutorError as exc:
            raise gr.Error(str(exc)) from None

    # Asks and grades are cheap and thread-safe (one batching embedder serves every thread), so they skip
    # the queue and run side by side; transcription stays queued, one at a time.
    gr.api(ask_api, api_name="ask", queue=False)
    gr.api(grade_api, api_name="grade", queue=False)
    gr.api(transcribe_api, api_name="transcribe", concurrency_limit=1, concurrency_id="speech")


def _notes_intro(tutor: Tutor, allow_uploads: bool, shared: bool) -> str:
    folder = tutor.config.notes_folder
    text = (f"Add your own pages — Markdown, text with `Q:`/`A:` cards, an Anki deck exported as text, a saved HTML "
            f"page or a PDF. Their questions join *Ask* and *Practice* (under their own topics). They are kept in "
            f"`{folder}`; `tutor add FILE…` does the same from the command line.")
    if not allow_uploads:
        return text + "\n\n**Uploads are off on this shared server** (start it with `--allow-uploads` to allow them)."
    if shared:
        return text + "\n\n**Uploaded notes are shared by everyone who logs in to this server.**"
    return text


def launch(host: str = "127.0.0.1", port: int = 7860, auth: list[str] | None = None, data_dir: str | None = None,
           share: bool = False, config: Config | None = None, prevent_thread_lock: bool = False,
           notes: str | None = None, allow_uploads: bool = False):
    """Load everything once, then serve. ``auth``: "user:password" strings; each user sees only their progress.
    Uploading notes is on for a single user, and with ``auth`` only when ``allow_uploads``."""
    config = config or Config.from_env(data_dir=data_dir, notes_dir=notes)
    started = time.perf_counter()
    print("Loading the embedding model and the index…", flush=True)
    tutor = Tutor.load(config)
    print(f"  {len(tutor.items)} questions from {config.corpus_dir} ({tutor.index.manifest['index_type']}), "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    print("Loading the speech model…", flush=True)
    tutor.transcriber  # noqa: B018 - load now so the first recording does not wait
    store = ProgressStore(config.data_dir)
    print(f"Progress is saved in {store.path}", flush=True)
    credentials = [_credential(a) for a in auth or []]
    demo = build(tutor, store, allow_uploads=allow_uploads or not credentials, shared=bool(credentials))
    demo.queue(max_size=64, default_concurrency_limit=4)
    # What is loaded now (models, index, the app) lives as long as the server: moved out of the collector's
    # reach, a full collection under load scans only the requests' objects, not these millions.
    gc.collect()
    gc.freeze()
    return demo.launch(
        server_name=host, server_port=port, share=share, auth=credentials or None, show_error=False,
        max_file_size=MAX_UPLOAD, enable_monitoring=False, ssr_mode=False, theme=gr.themes.Soft(), css=CSS,
        prevent_thread_lock=prevent_thread_lock, footer_links=[],
    )


def _credential(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise TutorError(f"--auth wants user:password, got {text!r}.")
    return user, password

