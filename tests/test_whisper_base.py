"""faster-whisper base, shipped in two packages: joined once into the user cache, verified, repaired.

The fast tests use two small importable packages written to a temporary folder; the slow one assembles
the real installed model and transcribes espeak-ng speech with it.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tutor import models, synth
from tutor.config import Config
from tutor.errors import ModelError
from tutor.models import SplitModel

# Over 1 MiB each, so a part is copied in more than one block.
PART1 = bytes(range(256)) * 5000
PART2 = bytes(reversed(range(256))) * 4500
CONFIG = b'{"lang_ids": [50259]}'
PACKAGES = ("tutor_test_whisper_part1", "tutor_test_whisper_part2")
ANSWER = ("Autograd records the operations on tensors that require gradients. Calling backward on the loss "
          "computes the gradients with the chain rule.")
QUESTION = "What is autograd in PyTorch, and why is it important for deep learning?"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def site(tmp_path: Path, monkeypatch) -> Path:
    """Two importable packages holding a model cut in two, registered as the split model ``fake``."""
    site = tmp_path / "site"
    contents = [{"model.bin.part1": PART1, "config.json": CONFIG}, {"model.bin.part2": PART2}]
    for package, files in zip(PACKAGES, contents, strict=True):
        (site / package / "data").mkdir(parents=True)
        (site / package / "__init__.py").write_text('"""Model data only."""\n')
        for name, data in files.items():
            (site / package / "data" / name).write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    model = SplitModel(folder="fake-whisper", packages=PACKAGES,
                       hashes={"model.bin": sha256(PART1 + PART2), "config.json": sha256(CONFIG)},
                       part_hashes={"model.bin.part1": sha256(PART1), "model.bin.part2": sha256(PART2)})
    monkeypatch.setitem(models.SPLIT_MODELS, "fake", model)
    models._verified.cache_clear()
    yield site
    for package in PACKAGES:
        sys.modules.pop(package, None)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and mtime."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_assembly_is_the_concatenation_of_the_parts(site, tmp_path):
    folder = models.embedded_model_dir("fake", tmp_path / "cache")
    assert folder == tmp_path / "cache" / "fake-whisper"
    assert (folder / "model.bin").read_bytes() == PART1 + PART2
    assert (folder / "config.json").read_bytes() == CONFIG


def test_no_temp_files_are_left_and_nothing_is_written_beside_the_packages(site, tmp_path):
    before = snapshot(site)
    models.embedded_model_dir("fake", tmp_path / "cache")
    assert snapshot(site) == before
    assert sorted(p.name for p in (tmp_path / "cache" / "fake-whisper").iterdir()) == ["config.json", "model.bin"]


def test_second_load_does_not_hash_the_model_again(site, tmp_path, monkeypatch):
    hashed: list[str] = []
    real_sha256 = models.sha256_file

    def counting_sha256(path: Path) -> str:
        hashed.append(path.name)
        return real_sha256(path)

    monkeypatch.setattr(models, "sha256_file", counting_sha256)
    models.embedded_model_dir("fake", tmp_path / "cache")  # assembles, hashing as it writes
    models.embedded_model_dir("fake", tmp_path / "cache")  # checks what is on disk
    assert sorted(hashed) == ["config.json", "model.bin"]
    models.embedded_model_dir("fake", tmp_path / "cache")  # same size and mtime: no hashing
    assert len(hashed) == 2


@pytest.mark.parametrize("damage", ["tampered", "partial"])
def test_damaged_cached_file_is_refused_and_assembled_again(site, tmp_path, caplog, damage):
    folder = models.embedded_model_dir("fake", tmp_path / "cache")
    cached = folder / "model.bin"
    if damage == "tampered":
        data = bytearray(cached.read_bytes())
        data[1000] ^= 0xFF
        cached.write_bytes(bytes(data))
    else:
        cached.write_bytes(PART1)  # as if the copy had stopped halfway
    models._verified.cache_clear()  # a later run of the tutor
    with caplog.at_level(logging.WARNING, logger="tutor.models"):
        models.embedded_model_dir("fake", tmp_path / "cache")
    assert "fails its SHA-256 check" in caplog.text and "model.bin" in caplog.text
    assert cached.read_bytes() == PART1 + PART2


def test_wrong_package_part_is_a_model_error_naming_the_file_and_hash(site, tmp_path):
    wrong = site / PACKAGES[1] / "data" / "model.bin.part2"
    wrong.write_bytes(b"x" * len(PART2))
    with pytest.raises(ModelError) as error:
        models.embedded_model_dir("fake", tmp_path / "cache")
    message = str(error.value)
    assert str(wrong) in message and sha256(PART2) in message and sha256(b"x" * len(PART2)) in message
    # Neither a half-written model nor its temp file stays in the cache.
    left = [p.name for p in (tmp_path / "cache" / "fake-whisper").iterdir()]
    assert "model.bin" not in left and not [name for name in left if name.endswith(".tmp")]


def test_missing_part_and_missing_package_say_what_to_install(site, tmp_path, monkeypatch):
    (site / PACKAGES[1] / "data" / "model.bin.part2").unlink()
    with pytest.raises(ModelError, match=r"model\.bin\.part2 is missing; reinstall"):
        models.embedded_model_dir("fake", tmp_path / "cache")
    absent = SplitModel(folder="absent", packages=("tutor_test_absent_part1",), hashes={"model.bin": "0" * 64},
                        part_hashes={})
    monkeypatch.setitem(models.SPLIT_MODELS, "absent", absent)
    with pytest.raises(ModelError, match="pip install tutor-test-absent-part1"):
        models.embedded_model_dir("absent", tmp_path / "cache")


def test_base_is_the_default_and_tiny_en_stays_selectable(monkeypatch, tmp_path):
    assert Config().whisper_model == "base"
    monkeypatch.setenv("TUTOR_WHISPER_MODEL", "tiny.en")
    assert Config.from_env().whisper_model == "tiny.en"
    monkeypatch.setenv("TUTOR_WHISPER_MODEL", "base")
    monkeypatch.setenv("TUTOR_CACHE_DIR", str(tmp_path / "cache"))
    config = Config.from_env()
    assert (config.whisper_model, config.cache_dir) == ("base", tmp_path / "cache")
    base = models.SPLIT_MODELS["base"]
    data = [models.package_folder(package, "base") / "data" for package in base.packages]
    assert {p.name for folder in data for p in folder.iterdir()} >= {*base.hashes, *base.part_hashes} - {"model.bin"}


def _tone(path: Path, seconds: float) -> Path:
    from tutor.speech import SAMPLE_RATE

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        tone = 8000 * np.sin(np.linspace(0, 440 * 2 * np.pi * seconds, int(SAMPLE_RATE * seconds)))
        out.writeframes(tone.astype("<i2").tobytes())
    return path


def test_transcription_language_is_fixed_to_english(tmp_path):
    from tutor.speech import SAMPLE_RATE, Transcriber

    calls: list[dict] = []

    def transcribe(samples, **options):
        calls.append(options)
        segment = SimpleNamespace(text=" Autograd records operations.", no_speech_prob=0.0, avg_logprob=-0.1,
                                  start=1.0, end=len(samples) / SAMPLE_RATE, tokens=[1, 2, 3, 4])
        return [segment], SimpleNamespace(duration_after_vad=1.0)

    transcriber = Transcriber.__new__(Transcriber)  # no model loaded: its decoder is the stand-in above
    transcriber.model = SimpleNamespace(transcribe=transcribe)
    assert transcriber.transcribe(_tone(tmp_path / "tone.wav", 1.0)).text == "Autograd records operations."
    assert calls[0]["language"] == "en"


def test_speech_the_decoder_skipped_is_decoded_again_and_kept_in_order(tmp_path):
    from tutor.speech import LEAD_IN_SECONDS, SAMPLE_RATE, Transcriber

    clips: list[float] = []

    def transcribe(samples, **options):
        # The whole recording: the decoder hears 1-8 s and 20-24 s and skips what lies between. A clip: two
        # segments, timed from the clip's own start (its lead-in included); the second ends the gap just before
        # 20 s, so it must still come before the last sentence.
        seconds = len(samples) / SAMPLE_RATE
        clips.append(seconds)
        if len(clips) == 1:
            heard = [(1.0, 8.0, " First sentence."), (20.0, 24.0, " Last sentence.")]
        else:
            heard = [(LEAD_IN_SECONDS, 6.0, " Middle one."), (seconds - 0.5, seconds, " Middle two.")]
        return ([SimpleNamespace(start=a, end=b, text=t, no_speech_prob=0.0, avg_logprob=-0.2, tokens=t.split())
                 for a, b, t in heard], SimpleNamespace(duration_after_vad=seconds))

    transcriber = Transcriber.__new__(Transcriber)
    transcriber.model = SimpleNamespace(transcribe=transcribe)
    text = transcriber.transcribe(_tone(tmp_path / "answer.wav", 23.5)).text
    assert text == "First sentence. Middle one. Middle two. Last sentence."
    assert clips[1] == pytest.approx(LEAD_IN_SECONDS + 12.0)  # only the 8-20 s gap, after a lead-in of silence
    assert len(clips) == 2  # 24-24.5 s is shorter than a gap worth decoding


def test_a_segment_decoded_faster_than_speech_is_decoded_again_without_the_prompt(tmp_path):
    """tiny.en once spelled out letters to the end of a window ("N-dot-c-m-o-t-…", 29 tokens a second)."""
    from tutor.speech import LEAD_IN_SECONDS, NO_REPEAT_NGRAM, SAMPLE_RATE, Transcriber

    prompts: list[tuple[str | None, int]] = []

    def transcribe(samples, **options):
        prompts.append((options["initial_prompt"], options["no_repeat_ngram_size"]))
        seconds = len(samples) / SAMPLE_RATE
        if len(prompts) == 1:  # the recording: a sentence, then 5 s decoded to 150 tokens
            heard = [(1.0, 4.0, " Activations add nonlinearity.", 6), (4.0, 9.0, " N-dot-c-m-o-t-dot", 150)]
        else:  # that stretch alone, without the prompt
            heard = [(LEAD_IN_SECONDS, seconds, " Use nn.ReLU or torch.tanh.", 8)]
        return ([SimpleNamespace(start=a, end=b, text=t, tokens=list(range(n)), no_speech_prob=0.0, avg_logprob=-0.2)
                 for a, b, t, n in heard], SimpleNamespace(duration_after_vad=seconds))

    transcriber = Transcriber.__new__(Transcriber)
    words = SimpleNamespace(encode=lambda text: SimpleNamespace(ids=text.split()))  # the prompt's size, in words
    transcriber.model = SimpleNamespace(transcribe=transcribe, hf_tokenizer=words)
    text = transcriber.transcribe(_tone(tmp_path / "answer.wav", 8.0), prompt="Glossary: nn.ReLU.").text
    assert text == "Activations add nonlinearity. Use nn.ReLU or torch.tanh."
    assert prompts == [("Glossary: nn.ReLU.", NO_REPEAT_NGRAM), (None, 0)]  # again without prompt or n-gram block


@pytest.mark.slow
def test_real_base_model_assembles_and_transcribes_english(tmp_path):
    base = models.SPLIT_MODELS["base"]
    installed = [models.package_folder(package, "base") for package in base.packages]
    before = [snapshot(package_dir) for package_dir in installed]
    started = time.perf_counter()
    folder = models.embedded_model_dir("base", tmp_path / "cache")
    print(f"\nassembled faster-whisper base in {time.perf_counter() - started:.2f} s")
    assert (folder / "model.bin").stat().st_size == 145_217_532
    assert models.sha256_file(folder / "model.bin") == base.hashes["model.bin"]
    assert [snapshot(package_dir) for package_dir in installed] == before
    if not synth.available():
        pytest.skip("needs espeak-ng and sox (apt-get install)")
    from tutor.speech import Transcriber, build_prompt

    speech = synth.speak(ANSWER, tmp_path / "answer.wav")
    # Primed as the tutor primes it: without the glossary, base hears espeak's "gradients" as "radiance".
    prompt = build_prompt(QUESTION, ["autograd", "tensors", "requires_grad", "gradients", "backward()", "loss",
                                     "chain rule"], [])
    text = Transcriber("base", cache_dir=tmp_path / "cache").transcribe(speech, prompt=prompt).text
    print(f"base heard: {text!r}")
    # "gradients" itself comes out as "radients" in about 1 run of 5 (sox dithers, so each rendering differs).
    words = text.lower()
    assert all(term in words for term in ("autograd", "tensors", "backward on the loss", "chain rule"))
