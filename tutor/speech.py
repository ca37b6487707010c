"""Spoken answers: local transcription with faster-whisper, biased toward the notes' vocabulary.

Plain Whisper mangles the domain ("gradients" -> "radiance", "requires_grad" -> "requires rad").
Decoding is primed with a glossary prompt: the question being answered, then the identifiers and terms
of its reference answers and of the notes at large. In benchmarks/speech.py the prompt cut word errors
from 0.171 to 0.105; passing the same terms as ``hotwords`` as well gave 0.100, within noise of the
prompt alone at more decoding time, so only the prompt is used. Voice activity detection stays on, so
silence and noise never turn into invented text.
"""

from __future__ import annotations

import difflib
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tutor.config import DEFAULT_WHISPER_MODEL
from tutor.errors import AudioError, ModelError
from tutor.models import compute_type, embedded_model_dir, resolve_device

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
MIN_SECONDS = 0.3
MAX_FILE_BYTES = 50 * 1024 * 1024
PROMPT_TERMS = 60  # Whisper keeps about 224 prompt tokens; this many terms fit with the question
FILLERS = {
    "um": r"\b(?:um+|erm+)\b",
    "uh": r"\b(?:uh+|er)\b",
    "like": r"(?:(?<=,)\s*like\b|\blike(?=,))",
    "you know": r"\byou know\b",
    "basically": r"\bbasically\b",
}


@dataclass(frozen=True)
class Transcript:
    """What was said, and how: length, pace and filler words."""

    text: str
    duration_s: float
    words_per_minute: float
    fillers: dict[str, int] = field(default_factory=dict)
    speech_s: float = 0.0
    prompt: str | None = None


def count_fillers(text: str) -> dict[str, int]:
    """Filler words per kind (only the kinds that occur)."""
    lowered = text.lower()
    counts = {name: len(re.findall(pattern, lowered)) for name, pattern in FILLERS.items()}
    return {name: n for name, n in counts.items() if n}


def glossary_terms(texts: list[str], limit: int = 200, min_count: int = 2) -> list[str]:
    """The notes' vocabulary worth priming: identifiers (``nn.Module``, ``zero_grad``), CamelCase and
    acronyms (``DataLoader``, ``CUDA``) and domain words, most frequent first, one spelling each."""
    forms: dict[str, Counter[str]] = {}
    for text in texts:
        for token in re.findall(r"[A-Za-z_][\w.]*(?:\(\))?", text):
            token = token.strip(".")
            if token.lower() in ("e.g", "i.e", "etc"):
                continue
            if re.search(r"[._]|\(\)|[a-z][A-Z]|^[A-Z]{2,}$", token) or token.lower() in _DOMAIN_WORDS:
                forms.setdefault(token.lower(), Counter())[token] += 1
    total = {key: sum(c.values()) for key, c in forms.items()}
    # A term seen once is as likely scraping debris ("backpropagation.autogradautomates") as vocabulary.
    ranked = sorted((key for key in forms if total[key] >= min_count), key=lambda k: (-total[k], k))
    return [forms[key].most_common(1)[0][0] for key in ranked[:limit]]


_DOMAIN_WORDS = frozenset(
    """pytorch autograd tensor tensors gradient gradients backpropagation optimizer optimizers dropout
    convolution convolutional pooling softmax sigmoid relu epoch epochs batch minibatch dataset dataloader
    numpy cuda gpu cpu tensorflow perceptron regression neural activation loss inference quantization
    scheduler momentum adam embedding recurrent lstm torchscript onnx overfitting""".split()
)


REPAIR_CUTOFF = 0.8  # similarity (difflib ratio) of a heard word to a glossary word for it to take that spelling
MIN_REPAIR_LETTERS = 5


def repair_terms(text: str, terms: list[str], known: frozenset[str]) -> str:
    """``text`` with each heard word that the notes never use, and that is spelled almost like a word of the
    glossary, given the glossary's spelling.

    A recogniser that misses one sound writes a non-word: "radients" for "gradients", "humpy" for "NumPy".
    The glossary says what this speaker is likely to say, so such a word is mapped back to it. Words the
    notes use (``known``, lower-cased) and short words are left alone, so an ordinary word is never bent
    into a term."""
    spelling = {t.lower(): t for t in terms if t.isalpha()}
    candidates = list(spelling)

    def repair(match: re.Match) -> str:
        word = match.group(0)
        lowered = word.lower()
        if len(lowered) < MIN_REPAIR_LETTERS or lowered in known or lowered in spelling:
            return word
        close = difflib.get_close_matches(lowered, candidates, n=1, cutoff=REPAIR_CUTOFF)
        return spelling[close[0]] if close else word

    return re.sub(r"[A-Za-z]+", repair, text)


def build_prompt(question: str | None, focus_terms: list[str], general_terms: list[str]) -> str:
    """A glossary prompt: the question, then question-specific terms, then the notes' general terms."""
    terms = list(dict.fromkeys([*focus_terms, *general_terms]))[:PROMPT_TERMS]
    head = f"{question.strip()} " if question else ""
    return f"{head}Glossary: {', '.join(terms)}."


def probe(path: Path, max_seconds: float) -> float:
    """Check a recording before decoding it; returns its duration in seconds (0 when the container
    does not say).

    Raises:
        AudioError: missing, empty, too large, not audio, or longer than ``max_seconds``.
    """
    import av

    if not path.is_file():
        raise AudioError(f"No recording at {path}.")
    size = path.stat().st_size
    if size == 0:
        raise AudioError("The recording is empty (0 bytes).")
    if size > MAX_FILE_BYTES:
        raise AudioError(f"The recording is {size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES / 2**20:.0f} MB.")
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError("That file has no audio track.")
            stream = container.streams.audio[0]
            if container.duration:
                duration = container.duration / av.time_base
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = 0.0
    except AudioError:
        raise
    except Exception as exc:  # PyAV raises a different type for each kind of bad file
        raise AudioError("That file is not a recording I can read (try WAV, MP3, OGG, WebM or M4A).") from exc
    if duration > max_seconds:
        raise AudioError(f"The recording is {duration:.0f} s long; the limit is {max_seconds:.0f} s. "
                         "Answer in under that and try again.")
    return duration


def decode(path: Path) -> np.ndarray:
    """16 kHz mono float32 samples of any format PyAV reads (8 kHz, 48 kHz stereo, …)."""
    from faster_whisper.audio import decode_audio

    try:
        return decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except Exception as exc:
        raise AudioError("That file is not a recording I can read (its audio could not be decoded).") from exc


LEAD_IN_SECONDS = 1.0
WINDOW_SECONDS = 30
# tiny.en, in 30 s windows, dropped whole sentences of answers spoken at 130 wpm that the second pass did not
# recover (learners' benchmark, dev half: WER 0.282 / 0.324 against 0.226 / 0.265 in 20 s windows).
WINDOW_SECONDS_BY_MODEL = {"tiny.en": 20}
GAP_SECONDS = 2.0  # unheard audio at least this long between (or around) heard segments is decoded again alone
PROMPT_TOKENS = 180  # Whisper decodes 448 tokens; the prompt may take up to half, leave room for speech
# A run of code names ("torch.zeros(3, 4) ... torch.randn ... torch.arange(0, 10, step=2)") could send the decoder
# into a loop ("torch.n, torch.n, torch.n, ..." to the window's end). No run of this many tokens may repeat in
# one window: the loop cannot start, and Whisper's fallback to sampling, which a loop set off, is needed less.
# Chosen on the dev half of the learners' benchmark against 4 and 8 and a repetition penalty (docs/PERFORMANCE.md).
NO_REPEAT_NGRAM = 6
# When the fallback does sample, it draws from a generator seeded the same way each time, so one recording always
# gives one transcript (and one grade): unseeded, the same clips' word error rate moved by up to 0.06 between runs.
FALLBACK_SEED = 0
# Speech at 175 wpm decodes to about 4-6 tokens a second, code names included. tiny.en once wrote a run of spelled
# letters ("N-dot-c-m-o-t-dot-dot-t-t-t-n…", no n-gram repeated) at 29 tokens a second to the window's end. A segment
# decoded faster than this is no transcript of speech: its audio is decoded again without the glossary prompt or
# the n-gram block (``Transcriber._pieces``).
MAX_TOKENS_PER_SECOND = 15


def runaway(segment) -> bool:
    """Whether a decoded segment holds more text than its speech could: a decoding gone wrong."""
    return len(segment.tokens) > MAX_TOKENS_PER_SECOND * max(segment.end - segment.start, 1.0)


def after_lead_in(samples: np.ndarray, start: float = 0.0, end: float | None = None) -> np.ndarray:
    """``samples`` from ``start`` to ``end`` seconds (the end by default), after ``LEAD_IN_SECONDS`` of silence: a
    decoder started on speech at 0 s can skip its opening words. Times in the result are thus shifted by the
    lead-in."""
    clip = samples[int(start * SAMPLE_RATE): None if end is None else int(end * SAMPLE_RATE)]
    return np.concatenate([np.zeros(int(LEAD_IN_SECONDS * SAMPLE_RATE), dtype=samples.dtype), clip])


def unheard(segments: list, duration: float, gap: float = GAP_SECONDS) -> list[tuple[float, float]]:
    """Stretches of at least ``gap`` seconds that no segment covers: before the first (after the lead-in),
    between two, and after the last, as (start, end) in seconds."""
    edges = [LEAD_IN_SECONDS, *(t for s in sorted(segments, key=lambda s: s.start) for t in (s.start, s.end)),
             duration]
    return [(start, end) for start, end in zip(edges[::2], edges[1::2], strict=True) if end - start >= gap]


class Transcriber:
    """faster-whisper with an embedded model (base assembled in ``cache_dir``, or tiny.en; verified by
    SHA-256), or any model by name or path."""

    window: int = WINDOW_SECONDS  # seconds of audio the decoder reads at once

    def __init__(self, name_or_path: str = DEFAULT_WHISPER_MODEL, device: str = "auto",
                 cache_dir: Path | None = None):
        from faster_whisper import WhisperModel

        self.window = WINDOW_SECONDS_BY_MODEL.get(name_or_path, WINDOW_SECONDS)

        folder = embedded_model_dir(name_or_path, cache_dir)
        self.device = resolve_device(device)
        self.compute_type = compute_type(self.device)
        source = str(folder) if folder else name_or_path
        try:
            self.model = WhisperModel(source, device=self.device, compute_type=self.compute_type,
                                      local_files_only=folder is not None or Path(name_or_path).is_dir())
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"Could not load speech model {name_or_path!r}: {exc}") from exc
        log.info("Speech model %s on %s (%s)", name_or_path, self.device, self.compute_type)

    def _fit(self, prompt: str | None, hotwords: str | None) -> tuple[str | None, str | None]:
        """Drop trailing glossary terms until prompt and hotwords fit ``PROMPT_TOKENS`` together."""
        def size(text: str | None) -> int:
            return len(self.model.hf_tokenizer.encode(" " + text).ids) if text else 0

        while size(prompt) + size(hotwords) > PROMPT_TOKENS:
            longer = "hotwords" if size(hotwords) > size(prompt) else "prompt"
            text = hotwords if longer == "hotwords" else prompt
            cut = text.rstrip(".").rsplit(", ", 1)[0] + "." if ", " in text else text[: len(text) // 2]
            if longer == "hotwords":
                hotwords = cut
            else:
                prompt = cut
        return prompt, hotwords

    def _decode(self, samples: np.ndarray, prompt: str | None, hotwords: str | None,
                no_repeat: int = NO_REPEAT_NGRAM) -> tuple[list, object]:
        """The segments Whisper hears in ``samples`` (times in seconds of ``samples``), and its info."""
        import ctranslate2

        ctranslate2.set_random_seed(FALLBACK_SEED)
        # English always: a multilingual model (base) would otherwise guess the language from the
        # first 30 s, and an accent or a run of code identifiers can send it to another one.
        segments, info = self.model.transcribe(
            samples, language="en", beam_size=5, vad_filter=True, initial_prompt=prompt, hotwords=hotwords,
            condition_on_previous_text=False, without_timestamps=False, chunk_length=self.window,
            no_repeat_ngram_size=no_repeat,
        )
        # Drop segments Whisper itself judges to be no speech: noise and music must not become text. (The
        # segments are decoded here, as the list is built: after the seed above.)
        return [s for s in segments if not (s.no_speech_prob > 0.6 and s.avg_logprob < -0.7)], info

    def _pieces(self, segments: list, samples: np.ndarray, offset: float) -> list[tuple[float, str]]:
        """(start, text) of each segment, its start moved by ``offset`` seconds. A runaway segment is decoded again
        from its own audio, without the prompt and without the block on repeated n-grams (the block is what lets a
        run of letters go on: a loop is caught by Whisper's own check of how well the text compresses); what that
        gives is kept only if it is speech-like too."""
        pieces = []
        for segment in segments:
            if not runaway(segment):
                pieces.append((offset + segment.start, segment.text.strip()))
                continue
            log.warning("A segment decoded at %d tokens in %.1f s; decoding it again without the prompt",
                        len(segment.tokens), segment.end - segment.start)
            again, _ = self._decode(after_lead_in(samples, segment.start, segment.end), None, None, no_repeat=0)
            start = offset + segment.start - LEAD_IN_SECONDS
            pieces += [(start + s.start, s.text.strip()) for s in again if not runaway(s)]
        return pieces

    def transcribe(self, path: Path, *, prompt: str | None = None, hotwords: str | None = None,
                   max_seconds: float = 180.0) -> Transcript:
        """Transcribe a recording.

        Raises:
            AudioError: the file is not usable audio, too short or too long, or holds no speech.
        """
        path = Path(path)
        declared = probe(path, max_seconds)
        samples = decode(path)
        duration = len(samples) / SAMPLE_RATE
        if duration > max_seconds:  # containers that did not declare their length
            raise AudioError(f"The recording is {duration:.0f} s long; the limit is {max_seconds:.0f} s.")
        if duration < MIN_SECONDS:
            what = "has no audio samples" if duration == 0 else f"is only {duration:.2f} s long"
            raise AudioError(f"The recording {what}; say your answer in at least a few words.")
        prompt, hotwords = self._fit(prompt, hotwords)
        # Ways a sentence went missing, measured on 28 fresh spoken answers (docs/PERFORMANCE.md): speech
        # starting at 0 s, right after the glossary prompt, let the decoder skip the opening sentence (a
        # second of silence gives it a start to find); and the decoder could end a window's text early, the
        # rest of the window skipped, or drop the words a window boundary cut (below).
        samples = after_lead_in(samples)
        started = time.perf_counter()
        kept, info = self._decode(samples, prompt, hotwords)
        # The decoder ended a window's text at 8.6 s and the next window began at 20 s: two sentences were never
        # decoded. Audio between (or around) the heard segments is decoded again on its own; where it is
        # silence, voice activity detection finds nothing. With that, whole 30 s windows (an answer under
        # half a minute is one window, no boundary to cut a sentence) make fewer errors than 20 s ones.
        pieces = self._pieces(kept, samples, 0.0)
        for start, end in unheard(kept, len(samples) / SAMPLE_RATE) if kept else []:
            clip = after_lead_in(samples, start, end)
            more, _ = self._decode(clip, prompt, hotwords)
            pieces += self._pieces(more, clip, start - LEAD_IN_SECONDS)
        text = " ".join(piece for _, piece in sorted(pieces)).strip()
        log.info("Transcribed %.1f s of audio (declared %.1f s) in %.2f s", duration, declared,
                 time.perf_counter() - started)
        if not re.search(r"[A-Za-z]", text):
            raise AudioError("No speech was found in the recording. Check the microphone and try again.")
        words = len(text.split())
        speech = float(getattr(info, "duration_after_vad", duration) or duration)
        return Transcript(text=text, duration_s=round(duration, 2),
                          words_per_minute=round(words / (duration / 60), 1), fillers=count_fillers(text),
                          speech_s=round(speech, 2), prompt=prompt)
