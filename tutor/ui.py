"""The browser app: Ask, Practice and Progress tabs, plus API endpoints (``ask``, ``grade``, ``transcribe``).

``build`` makes the Blocks; ``launch`` loads the models once, says what it is loading, and serves.
"""

import dataclasses
import os
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402  (after switching analytics off)
from gradio.data_classes import FileData  # noqa: E402

from tutor.config import Config
from tutor.errors import TutorError
from tutor.handlers import ALL_TOPICS, Handlers
from tutor.progress import RATINGS, ProgressStore
from tutor.tutor import Tutor, clean_text

LOCAL_USER = "local"
MAX_UPLOAD = "25mb"
CSS = """
.your-answer { white-space: pre-wrap; line-height: 1.5; padding: .6em; border-radius: 8px;
               border: 1px solid var(--border-color-primary); }
.your-answer mark { background: #b7f0c1; color: #0b3d17; border-radius: 3px; padding: 0 2px; }
#practice-score h2 { margin: 0; }
#mic-note { color: var(--body-text-color-subdued); font-size: .9em; }
"""
# Browsers allow the microphone only in a secure context (localhost or https).
MIC_CHECK_JS = """() => window.isSecureContext
  ? 'Record with the microphone, upload a recording, or type.'
  : '⚠️ This browser blocks the microphone here: it works only on localhost or https. '
    + 'Upload a recording or type instead.'"""


def _user(request: gr.Request | None) -> str:
    return getattr(request, "username", None) or LOCAL_USER


PAGE_COLUMNS = ["folder", "file", "shape", "items", "without answers", "warning"]
NOTE_TYPES = [".md", ".markdown", ".txt", ".tsv", ".html", ".htm", ".pdf"]


def build(tutor: Tutor, store: ProgressStore, allow_uploads: bool = True, shared: bool = False):
    """The app's Blocks, with stable element ids for browser tests. ``shared``: several users log in, so
    uploaded notes (when ``allow_uploads``) are seen by all of them."""
    h = Handlers(tutor, store, allow_uploads=allow_uploads)

    with gr.Blocks(title="PyTorch interview tutor") as demo:
        gr.Markdown("# PyTorch interview tutor\nAsk about PyTorch, practise answers out loud, track what you know.")
        with gr.Tabs() as tabs:
            with gr.Tab("Ask", id="ask"):
                chat = gr.Chatbot(elem_id="ask-chat", height=480, sanitize_html=True, label="Conversation",
                                  show_label=False, buttons=["copy"])
                with gr.Row():
                    question = gr.Textbox(elem_id="ask-input", placeholder="e.g. why call optimizer.zero_grad()?",
                                          show_label=False, scale=5, max_lines=4, max_length=2000, submit_btn=True)
                    new_chat = gr.Button("New conversation", scale=1, elem_id="ask-new")
                with gr.Row():
                    suggestions = [gr.Button(visible=False, size="sm", elem_id=f"ask-suggestion-{k}") for k in range(3)]

            with gr.Tab("Practice", id="practice"):
                item_id = gr.State(None)
                transcript_state = gr.State(None)
                attempt_id = gr.State(None)
                with gr.Row():
                    topic = gr.Dropdown(h.topics(), value=ALL_TOPICS, label="Topic", scale=2)
                    picker = gr.Dropdown(h.questions(ALL_TOPICS), label="Question", scale=4)
                    with gr.Column(scale=1, min_width=140):
                        random_btn = gr.Button("Random question", elem_id="practice-random")
                        due_btn = gr.Button("Due next", variant="primary", elem_id="practice-due")
                question_md = gr.Markdown("Pick a question, or press *Due next*.", elem_id="practice-question")
                answer = gr.Textbox(label="Your explanation (the transcript of a recording appears here, editable)",
                                    lines=6, max_length=10_000, elem_id="practice-answer")
                audio = gr.Audio(sources=["microphone", "upload"], type="filepath", label="Or say it",
                                 elem_id="practice-audio")
                mic_note = gr.Markdown(elem_id="mic-note")
                speaking = gr.Markdown()
                grade_btn = gr.Button("Grade my answer", variant="primary", elem_id="practice-grade")
                score = gr.Markdown(elem_id="practice-score")
                marked = gr.HTML(elem_id="practice-marked")
                with gr.Row():
                    covered = gr.Markdown(elem_id="practice-covered")
                    with gr.Column():
                        gr.Markdown("**Missed** — click one to ask the tutor about it:")
                        missed = gr.Dataset(components=[gr.Textbox(visible=False)], samples=[], label="Missed points",
                                            elem_id="practice-missed", layout="table")
                rating = gr.Radio(list(RATINGS), label="How did it feel? (rating sets the next review)")
                rating_note = gr.Markdown()
                references = gr.HTML()

            with gr.Tab("Progress", id="progress"):
                summary = gr.Markdown()
                scores_plot = gr.ScatterPlot(x="when", y="score", color="topic", y_lim=[0, 100],
                                             title="Scores over time", elem_id="progress-plot")
                mastery_plot = gr.BarPlot(x="topic", y="mastery", y_lim=[0, 100], title="Mastery per topic",
                                          elem_id="progress-mastery")
                with gr.Row():
                    export_btn = gr.Button("Export attempts as CSV", elem_id="progress-export")
                    export_file = gr.File(label="CSV", interactive=False)

            with gr.Tab("Your notes", id="notes"):
                gr.Markdown(_notes_intro(tutor, allow_uploads, shared), elem_id="notes-intro")
                with gr.Row(visible=allow_uploads):
                    note_files = gr.File(file_count="multiple", file_types=NOTE_TYPES, label="Pages of notes",
                                         elem_id="notes-upload", scale=3)
                    add_btn = gr.Button("Add to my notes", variant="primary", elem_id="notes-add", scale=1)
                notes_result = gr.Markdown(elem_id="notes-result")
                pages_table = gr.Dataframe(h.pages(), headers=PAGE_COLUMNS, interactive=False, wrap=True,
                                           label="Pages the tutor reads", elem_id="notes-pages")

        # ---- ask wiring
        def on_ask(text, history, request: gr.Request):
            history, offered = h.ask(text, history)
            buttons = [gr.update(value=s, visible=True) for s in offered[:3]]
            buttons += [gr.update(visible=False)] * (3 - len(buttons))
            return history, "", *buttons

        ask_outputs = [chat, question, *suggestions]
        question.submit(on_ask, [question, chat], ask_outputs, api_visibility="private")
        for button in suggestions:
            button.click(on_ask, [button, chat], ask_outputs, api_visibility="private")
        new_chat.click(lambda: ([], "", *[gr.update(visible=False)] * 3), None, ask_outputs,
                       api_visibility="private")

        # ---- practice wiring
        def show(item_pair):
            item, markdown = item_pair
            return item, markdown, gr.update(value=item), "", None, "", "", "", gr.update(samples=[]), None, "", ""

        shown = [item_id, question_md, picker, answer, transcript_state, speaking, score, marked, missed, rating,
                 rating_note, references]
        def pick_random(chosen_topic: str, request: gr.Request):
            return show(h.pick("random", chosen_topic, _user(request)))

        def pick_due(chosen_topic: str, request: gr.Request):
            return show(h.pick("due", chosen_topic, _user(request)))

        def pick_one(chosen: str, chosen_topic: str, request: gr.Request):
            return show(h.pick("id", chosen_topic, _user(request), chosen))

        random_btn.click(pick_random, [topic], shown, api_visibility="private")
        due_btn.click(pick_due, [topic], shown, api_visibility="private")
        picker.input(pick_one, [picker, topic], shown, api_visibility="private")
        topic.change(lambda t: gr.update(choices=h.questions(t), value=None), [topic], [picker],
                     api_visibility="private")

        def on_audio(path, item):
            text, stats, transcript = h.transcribe(path, item)
            return text, stats, transcript

        audio.stop_recording(on_audio, [audio, item_id], [answer, speaking, transcript_state],
                             concurrency_limit=1, concurrency_id="speech", api_visibility="private")
        audio.upload(on_audio, [audio, item_id], [answer, speaking, transcript_state],
                     concurrency_limit=1, concurrency_id="speech", api_visibility="private")

        def on_grade(item, text, transcript, request: gr.Request):
            feedback = h.grade(item, text, _user(request), transcript)
            return (feedback.score_markdown, feedback.answer_html, feedback.covered_markdown,
                    gr.update(samples=[[m] for m in feedback.missed]), feedback.attempt_id,
                    gr.update(value=feedback.rating or None), "", feedback.references_html,
                    feedback.speaking_markdown or gr.update())

        grade_btn.click(on_grade, [item_id, answer, transcript_state],
                        [score, marked, covered, missed, attempt_id, rating, rating_note, references, speaking],
                        api_visibility="private")
        rating.input(h.rerate, [attempt_id, rating], [rating_note], api_visibility="private")

        def ask_about(point, history, request: gr.Request):
            history, _, *buttons = on_ask(f"Explain: {point[0]}", history, request)
            return gr.Tabs(selected="ask"), history, *buttons

        missed.click(ask_about, [missed, chat], [tabs, chat, *suggestions], api_visibility="private")

        # ---- progress wiring
        def on_progress(request: gr.Request):
            scores, topics, text = h.progress(_user(request))
            return scores, topics, text

        progress_outputs = [scores_plot, mastery_plot, summary]
        demo.load(on_progress, None, progress_outputs, api_visibility="private")
        grade_btn.click(on_progress, None, progress_outputs, api_visibility="private")
        def on_export(request: gr.Request):
            return h.export(_user(request))

        export_btn.click(on_export, None, [export_file], api_visibility="private")
        demo.load(None, None, [mic_note], js=MIC_CHECK_JS, api_visibility="private")

        # ---- notes wiring
        def on_add(paths, chosen_topic):
            message = h.add_notes(paths)
            return (message, h.pages(), None, gr.update(choices=h.topics()),
                    gr.update(choices=h.questions(chosen_topic)))

        add_btn.click(on_add, [note_files, topic], [notes_result, pages_table, note_files, topic, picker],
                      concurrency_limit=1, concurrency_id="notes", api_visibility="private")

        # ---- API endpoints for gradio_client (limits enforced here, not only in the browser)
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

        gr.api(ask_api, api_name="ask")
        gr.api(grade_api, api_name="grade")
        gr.api(transcribe_api, api_name="transcribe", concurrency_limit=1, concurrency_id="speech")
    return demo


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

