"""Synthesised speech for tests and benchmarks: espeak-ng renders text, sox converts the result.

Real speech, made on demand, so no audio is committed. Needs the Debian packages ``espeak-ng`` and
``sox`` (``.ci/run`` installs them).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def available() -> bool:
    return bool(shutil.which("espeak-ng") and shutil.which("sox"))


def speak(text: str, path: Path, *, rate: int = 16_000, channels: int = 1, words_per_minute: int = 160) -> Path:
    """Render ``text`` as a WAV file at ``rate`` Hz with ``channels`` channels."""
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-s", str(words_per_minute), "-w", str(raw), text], check=True, capture_output=True)
    sox(raw, path, rate=rate, channels=channels)
    raw.unlink()
    return path


def sox(source: Path, target: Path, *, rate: int = 16_000, channels: int = 1, effects: tuple[str, ...] = ()) -> Path:
    subprocess.run(["sox", str(source), "-r", str(rate), "-c", str(channels), str(target), *effects],
                   check=True, capture_output=True)
    return target


def generate(target: Path, seconds: float, *synth: str, rate: int = 16_000) -> Path:
    """Silence (no ``synth`` args), noise (``"whitenoise"``) or tones (``"sine", "440"``) for ``seconds``."""
    command = ["sox", "-n", "-r", str(rate), "-c", "1", str(target)]
    command += ["synth", str(seconds), *synth] if synth else ["trim", "0.0", str(seconds)]
    subprocess.run(command, check=True, capture_output=True)
    return target
