"""Synthesised speech for tests and benchmarks: espeak-ng renders text, sox converts the result.

Real speech, made on demand, so no audio is committed. Needs the Debian packages ``espeak-ng`` and
``sox`` (``.ci/run`` installs them). The speech benchmark also speaks with a statistical-parametric (HTS) voice of
Festival, nearer a human's than espeak-ng's formant voices: the Debian packages ``festival`` and
``festvox-us-slt-hts`` (``hts_available``, ``speak_hts``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def available() -> bool:
    return bool(shutil.which("espeak-ng") and shutil.which("sox"))


HTS_VOICE = "cmu_us_slt_arctic_hts"  # a US English female voice, about 140 words a minute


def hts_available() -> bool:
    return bool(shutil.which("text2wave") and shutil.which("sox")
                and Path("/usr/share/festival/voices/us", HTS_VOICE).is_dir())


def speak(text: str, path: Path, *, rate: int = 16_000, channels: int = 1, words_per_minute: int = 160,
          voice: str | None = None) -> Path:
    """Render ``text`` as a WAV file at ``rate`` Hz with ``channels`` channels (``voice``: an espeak-ng
    voice such as ``en-us`` or ``en+f3``)."""
    raw = path.with_suffix(".espeak.wav")
    command = ["espeak-ng", "-s", str(words_per_minute), "-w", str(raw)] + (["-v", voice] if voice else [])
    subprocess.run([*command, text], check=True, capture_output=True)
    sox(raw, path, rate=rate, channels=channels)
    raw.unlink()
    return path


def speak_hts(text: str, path: Path, *, tempo: float = 1.0, voice: str = HTS_VOICE) -> Path:
    """Render ``text`` with a Festival voice as a 16 kHz mono WAV file, ``tempo`` times as fast (sox's ``tempo``
    shortens the speech and keeps its pitch: the HTS voice does not take a rate of its own)."""
    raw, script = path.with_suffix(".festival.wav"), path.with_suffix(".festival.txt")
    script.write_text(text, encoding="utf-8")
    subprocess.run(["text2wave", "-eval", f"(voice_{voice})", str(script), "-o", str(raw)], check=True,
                   capture_output=True)
    sox(raw, path, effects=("tempo", f"{tempo:g}") if tempo != 1.0 else ())
    raw.unlink()
    script.unlink()
    return path


def sox(source: Path, target: Path, *, rate: int = 16_000, channels: int = 1, effects: tuple[str, ...] = ()) -> Path:
    # -R: no random dither, so the same text always gives the same samples (and tests the same transcript).
    subprocess.run(["sox", "-R", str(source), "-r", str(rate), "-c", str(channels), str(target), *effects],
                   check=True, capture_output=True)
    return target


def generate(target: Path, seconds: float, *synth: str, rate: int = 16_000) -> Path:
    """Silence (no ``synth`` args), noise (``"whitenoise"``) or tones (``"sine", "440"``) for ``seconds``."""
    command = ["sox", "-n", "-r", str(rate), "-c", "1", str(target)]
    command += ["synth", str(seconds), *synth] if synth else ["trim", "0.0", str(seconds)]
    subprocess.run(command, check=True, capture_output=True)
    return target


def with_noise(source: Path, target: Path, snr_db: float) -> Path:
    """``source`` mixed with white noise ``snr_db`` below its RMS level (sox measures, synthesises and mixes), the
    same noise and the same mix every time (sox's repeatable mode, ``-R``, for the noise and the mix's dither)."""
    stats = subprocess.run(["sox", str(source), "-n", "stat"], capture_output=True, text=True, check=True).stderr
    rms = float(next(line.split(":")[1] for line in stats.splitlines() if line.startswith("RMS     amplitude")))
    seconds = float(next(line.split(":")[1] for line in stats.splitlines() if line.startswith("Length (seconds)")))
    noise = target.with_suffix(".noise.wav")
    # White noise at amplitude A has RMS A/sqrt(3): scale it to rms / 10^(snr/20).
    amplitude = min(1.0, rms / 10 ** (snr_db / 20) * 3 ** 0.5)
    subprocess.run(["sox", "-R", "-n", "-r", "16000", "-c", "1", str(noise), "synth", str(seconds), "whitenoise",
                    "vol", f"{amplitude:.6f}"], check=True, capture_output=True)
    subprocess.run(["sox", "-R", "-m", str(source), str(noise), str(target)], check=True, capture_output=True)
    noise.unlink()
    return target
