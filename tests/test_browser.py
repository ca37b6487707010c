"""End-to-end in a real browser: Playwright drives Debian's Chromium against the real app and models.

Also takes the README's screenshots (docs/screenshots/).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tutor import synth

from .conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = ROOT / "docs" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(base: Path, *options: str):
    """The real app (python app.py) on a free port, its index and data in ``base``; yields its URL."""
    port = _free_port()
    env = {**os.environ, "TUTOR_INDEX_DIR": str(base / "index"), "PYTHONUNBUFFERED": "1"}
    log = (base / "app.log").open("w")
    process = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--data-dir", str(base / "data"),
                                *options], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    # First start on a fresh machine: the embedder's tuned copy (about 3 minutes on 2 cores, unless an earlier
    # test made it) and the index build come before the page.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail((base / "app.log").read_text())
            time.sleep(1)
    else:
        process.kill()
        pytest.fail("the app did not start in 600 s")
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("app")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(app_url)
    page.wait_for_selector("#ask-input textarea", timeout=60_000)
    yield page
    page.close()


def ask(page, text: str) -> str:
    """Send a question with Enter and wait for the tutor's reply; returns the chat's text."""
    replies = page.locator("#ask-chat [data-testid='bot']")
    before = replies.count()
    page.fill("#ask-input textarea", text)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll(\"#ask-chat [data-testid='bot']\").length > {before}",
                           timeout=60_000)
    return page.inner_text("#ask-chat")


def test_ask_shows_a_cited_answer_and_a_follow_up(page):
    chat = ask(page, "what is Conv1d?")
    assert "Conv1d" in chat and "Source: PyTorch Interview Questions · Q" in chat  # the page's title, its file
    assert "001_99d5553849eeb96a.txt" in chat
    chat = ask(page, "and the 3D one?")
    assert chat.count("Source:") == 2 and "Conv3D" in chat
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "ask.png"))
    page.click("#ask-new")
    page.wait_for_function("!document.querySelector('#ask-chat').innerText.includes('Source:')")


def test_script_in_a_question_renders_inert(page):
    chat = ask(page, "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned=2'> what is a tensor?")
    assert "<script>" in chat  # shown as text
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#ask-chat img[src='x']").count() == 0


def shown_question(page) -> str:
    """The question the Practice tab shows (its heading) once one is loaded."""
    page.wait_for_function("document.querySelector('#practice-question h3') !== null", timeout=60_000)
    return page.inner_text("#practice-question h3").strip()


def grade(page, text: str) -> str:
    """Type an answer, press Grade, wait for the score; returns the score line."""
    page.fill("#practice-answer textarea", text)
    before = page.inner_text("#practice-score")
    page.click("#practice-grade")
    page.wait_for_function("(before) => { const t = document.querySelector('#practice-score').innerText;"
                           " return t.includes('/ 100') && t !== before; }", arg=before, timeout=60_000)
    return page.inner_text("#practice-score")


def picker_value(page) -> str:
    return page.input_value("#practice-picker input")


def test_practice_grades_the_question_on_screen_and_progress_shows_dates(page):
    page.get_by_role("tab", name="Practice").click()
    question = shown_question(page)  # a fresh page shows a question without touching the picker
    assert picker_value(page).startswith(question)
    grade(page, "You write a Python function that takes the predictions and the targets, computes the loss "
                "with tensor operations and returns it; autograd then backpropagates it.")
    missed = page.locator("#practice-missed label").all_inner_texts()
    assert missed and max(len(m) for m in missed) > 60 and not any(m.strip().endswith("…") for m in missed)
    widths = page.eval_on_selector_all("#practice-missed label span",
                                       "els => els.map(e => e.scrollWidth - e.clientWidth)")
    assert max(widths) <= 1  # nothing cut off by the layout either
    page.screenshot(path=str(SHOTS / "practice.png"), full_page=True)
    page.click("#practice-due")
    page.wait_for_function("(q) => { const h = document.querySelector('#practice-question h3');"
                           " return h && h.innerText.trim() !== q; }", arg=question, timeout=30_000)
    second = shown_question(page)
    assert picker_value(page).startswith(second)
    grade(page, "Tensors are n-dimensional arrays that can live on the GPU.")
    page.get_by_role("tab", name="Progress").click()
    page.wait_for_function("document.querySelector('#progress-summary').innerText.includes('2 attempts')",
                           timeout=30_000)
    page.wait_for_function("document.querySelectorAll('#progress-plot svg text').length > 3", timeout=30_000)
    ticks = page.eval_on_selector_all("#progress-plot svg text", "els => els.map(e => e.textContent)")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    today = time.strftime("%b %d")
    dated = [t for t in ticks if t[:3] in months]
    assert len(dated) >= 3 and any(t.startswith(today) for t in dated), ticks
    assert not any(t.startswith(".") for t in ticks), ticks
    assert page.locator("#progress-export").is_visible()
    page.screenshot(path=str(SHOTS / "progress.png"), full_page=True)


def test_changing_topic_shows_a_question_of_that_topic_and_grades_it(page):
    page.get_by_role("tab", name="Practice").click()
    shown_question(page)
    page.locator("#practice-topic input").click()
    page.get_by_role("option", name="CNNs", exact=True).click()
    page.wait_for_function("document.querySelector('#practice-question').innerText.includes('CNNs')",
                           timeout=30_000)
    question = shown_question(page)
    assert picker_value(page).startswith(question)
    assert "/ 100" in grade(page, "Convolutions slide small learned filters over the input to find local patterns.")


@pytest.mark.skipif(not synth.available(), reason="needs espeak-ng and sox")
def test_uploaded_recording_is_transcribed_and_graded(page, tmp_path):
    wav = synth.speak("Max pooling keeps the largest value in each window of the feature map, which shrinks "
                      "the map and keeps the strongest features.", tmp_path / "answer.wav")
    page.get_by_role("tab", name="Practice").click()
    shown_question(page)
    page.locator("#practice-audio button[aria-label='Upload file']").click()
    page.locator("#practice-audio input[type=file]").set_input_files(str(wav))
    page.wait_for_function("document.querySelector('#practice-answer textarea').value.length > 0", timeout=90_000)
    transcript = page.input_value("#practice-answer textarea").lower()
    assert "window" in transcript and "feature map" in transcript
    assert "words per minute" in page.inner_text("body")
    page.click("#practice-grade")
    page.wait_for_function("document.querySelector('#practice-score').innerText.includes('/ 100')", timeout=60_000)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_phone_width_fits_and_both_themes_render(browser, app_url, theme):
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page.goto(f"{app_url}?__theme={theme}")
    page.wait_for_selector("#ask-input textarea", timeout=60_000)
    ask(page, "what does model.eval() do?")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"page is {overflow}px wider than a phone screen"
    background = page.evaluate("getComputedStyle(document.querySelector('.gradio-container')).backgroundColor")
    text = page.evaluate("getComputedStyle(document.querySelector('#ask-chat [data-testid=bot]')).color")
    assert background != text
    page.screenshot(path=str(SHOTS / f"phone-{theme}.png"))
    page.close()


def test_api_bad_input_gets_clear_errors_and_the_server_keeps_answering(app_url, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    with pytest.raises(Exception, match="empty"):
        client.predict("\u200b \x00 ", [], api_name="/ask")
    huge = client.predict("What is max pooling?", "pooling " * 20_000, api_name="/grade")
    assert "first 10,000 characters" in " ".join(huge["notes"])
    image = tmp_path / "image.wav"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(Exception, match="not a recording|no audio"):
        client.predict(handle_file(str(image)), api_name="/transcribe")
    assert "Source:" in client.predict("what is a tensor?", [], api_name="/ask")


def test_oversized_upload_is_refused_with_413(app_url, tmp_path):
    import httpx

    big = tmp_path / "big.wav"
    big.write_bytes(b"\x00" * (26 * 1024 * 1024))
    with big.open("rb") as handle:
        response = httpx.post(f"{app_url}gradio_api/upload", files={"files": ("big.wav", handle, "audio/wav")},
                              timeout=60)
    assert response.status_code == 413


def test_each_logged_in_user_sees_only_their_own_progress(browser, tmp_path):
    with running_app(tmp_path, "--auth", "ana:pw-ana", "--auth", "bo:pw-bo") as url:
        pages = {}
        for name in ("ana", "bo"):
            context = browser.new_context()
            page = context.new_page()
            page.goto(url)
            page.get_by_label("username").fill(name)
            page.get_by_label("password").fill(f"pw-{name}")
            page.keyboard.press("Enter")
            page.wait_for_selector("#ask-input textarea", timeout=60_000)
            pages[name] = page
        ana = pages["ana"]
        ana.get_by_role("tab", name="Practice").click()
        shown_question(ana)
        ana.fill("#practice-answer textarea", "Tensors are n-dimensional arrays that can live on the GPU.")
        ana.click("#practice-grade")
        ana.wait_for_function("document.querySelector('#practice-score').innerText.includes('/ 100')",
                              timeout=60_000)
        ana.get_by_role("tab", name="Progress").click()
        ana.wait_for_function("document.body.innerText.includes('One attempt so far')", timeout=30_000)
        bo = pages["bo"]
        bo.reload()
        bo.wait_for_selector("#ask-input textarea", timeout=60_000)
        bo.get_by_role("tab", name="Progress").click()
        bo.wait_for_function("document.body.innerText.includes('No attempts yet')", timeout=30_000)


def test_notes_uploaded_in_the_app_are_listed_and_answered_from(page):
    # Last in this module: the page it adds stays in the shared app's notes folder.
    page.get_by_role("tab", name="Your notes").click()
    page.locator("#notes-upload input[type=file]").set_input_files(str(ROOT / "tests/data/notes/training_tricks.md"))
    page.wait_for_function("document.querySelector('#notes-upload').innerText.includes('training_tricks.md')",
                           timeout=30_000)
    page.click("#notes-add")
    page.wait_for_function("document.querySelector('#notes-result').innerText.includes('added')", timeout=180_000)
    assert "added training_tricks.md: markdown: questions, 4 items" in page.inner_text("#notes-result")
    page.wait_for_function("document.querySelector('#notes-pages').innerText.includes('training_tricks.md')")
    page.screenshot(path=str(SHOTS / "notes.png"), full_page=True)
    page.get_by_role("tab", name="Ask").click()
    ask(page, "what does label smoothing do to the targets?")
    page.wait_for_function("document.querySelector('#ask-chat').innerText.includes("
                           "'Source: My training tricks notes · Regularisation')", timeout=30_000)
