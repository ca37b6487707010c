"""The command line as a user runs it (fake embedder for speed, one real-model run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT


def tutor_cli(*args, env_extra=None, tmp_path=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "tutor.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


@pytest.fixture
def fake_env(tmp_path, corpus_copy):
    return {"TUTOR_EMBED_MODEL": "hash", "TUTOR_INDEX_DIR": str(tmp_path / "index"),
            "TUTOR_CORPUS_DIR": str(corpus_copy), "TUTOR_DATA_DIR": str(tmp_path / "data")}


def test_ask_json_is_machine_readable(fake_env):
    result = tutor_cli("ask", "what is a tensor?", "--json", env_extra=fake_env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {"text", "confident", "hits", "query"}
    assert data["hits"][0]["source"].endswith(".txt")


def test_index_command_rebuilds_and_reports(fake_env):
    result = tutor_cli("index", env_extra=fake_env)
    assert result.returncode == 0, result.stderr
    assert "Index ready" in result.stdout and "items" in result.stdout


def test_empty_question_is_one_clear_line_not_a_traceback(fake_env):
    result = tutor_cli("ask", "   ", env_extra=fake_env)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("tutor: Please type a question")
    assert "Traceback" not in result.stderr


def test_missing_corpus_is_reported(fake_env, tmp_path):
    result = tutor_cli("ask", "what is a tensor?", env_extra={**fake_env, "TUTOR_CORPUS_DIR": str(tmp_path / "none")})
    assert result.returncode == 2 and "does not exist" in result.stderr


@pytest.mark.slow
def test_ask_with_the_real_model(tmp_path):
    result = tutor_cli("ask", "what does model.eval() do?",
                       env_extra={"TUTOR_INDEX_DIR": str(tmp_path / "index"), "TUTOR_DATA_DIR": str(tmp_path / "d")})
    assert result.returncode == 0, result.stderr
    assert "Source: PyTorch: Interview Questions" in result.stdout and "002_855883de487cd871.txt" in result.stdout


@pytest.mark.slow
def test_transcribe_and_grade_a_recording(tmp_path):
    from tutor import synth

    if not synth.available():
        pytest.skip("needs espeak-ng and sox")
    wav = synth.speak("Max pooling keeps the largest value in each window of the feature map.", tmp_path / "a.wav")
    env = {"TUTOR_INDEX_DIR": str(tmp_path / "index"), "TUTOR_DATA_DIR": str(tmp_path / "d")}
    result = tutor_cli("transcribe", str(wav), "--json", env_extra=env)
    assert result.returncode == 0, result.stderr
    assert "pooling" in json.loads(result.stdout)["text"].lower()
    result = tutor_cli("grade", "--question", "What is max pooling?", "--audio", str(wav), env_extra=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Transcript: ") and "Score: " in result.stdout
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    result = tutor_cli("transcribe", str(bad), env_extra=env)
    assert result.returncode == 2 and "not a recording" in result.stderr and "Traceback" not in result.stderr
