"""Speech: word error rate with and without the vocabulary bias, real-time factor, and spoken vs typed grades.

Corpus answers are rendered with espeak-ng (no audio is committed) and transcribed with the embedded
faster-whisper tiny.en on this machine. Variants: plain decoding, the glossary prompt, the same terms
as hotwords, and both.

    python benchmarks/speech.py
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor import Tutor  # noqa: E402
from tutor.grading import split_sentences  # noqa: E402
from tutor.synth import speak  # noqa: E402

# Answers of prose (no code blocks) across four pages.
ITEMS = ["001-01", "001-03", "001-06", "001-07", "001-11", "001-14", "001-21", "001-22", "001-29", "001-33",
         "001-50", "002-03", "002-05", "002-09", "002-10", "002-11", "000-04", "000-08", "000-10", "000-11"]


def passage(answer: str, max_words: int = 45) -> str:
    """The answer's opening sentences, up to about ``max_words`` words."""
    out: list[str] = []
    for sentence in split_sentences(answer):
        if out and len(" ".join(out).split()) + len(sentence.split()) > max_words:
            break
        out.append(sentence)
    return " ".join(out)


def normalize(text: str) -> str:
    text = re.sub(r"[._=()\-/]", " ", text.lower())
    text = re.sub(r"[^a-z0-9' ]", " ", text)
    return " ".join(text.split())


def main() -> None:
    import jiwer

    tutor = Tutor.load()
    variants = {"plain": (False, False), "glossary prompt": (True, False), "hotwords": (False, True),
                "prompt + hotwords": (True, True)}
    results = {name: {"hyp": [], "seconds": 0.0} for name in variants}
    references, audio_seconds, typed, spoken = [], 0.0, [], []
    with tempfile.TemporaryDirectory() as folder:
        for item_id in ITEMS:
            item = tutor.item(item_id)
            text = passage(item.answer)
            wav = speak(text, Path(folder) / f"{item_id}.wav")
            references.append(normalize(text))
            prompt = tutor.speech_prompt(item.prompt)
            terms = prompt.split("Glossary: ", 1)[1].rstrip(".")
            for name, (use_prompt, use_hotwords) in variants.items():
                started = time.perf_counter()
                transcript = tutor.transcriber.transcribe(
                    wav, prompt=prompt if use_prompt else None, hotwords=terms if use_hotwords else None)
                results[name]["seconds"] += time.perf_counter() - started
                results[name]["hyp"].append(normalize(transcript.text))
                if name == "plain":
                    audio_seconds += transcript.duration_s
                if name == "glossary prompt":
                    typed.append(tutor.grade(item.prompt, text).score)
                    spoken.append(tutor.grade(item.prompt, transcript.text).score)

    print(f"{len(ITEMS)} spoken corpus answers, {audio_seconds:.0f} s of espeak-ng speech, "
          f"faster-whisper tiny.en on {tutor.transcriber.device} ({tutor.transcriber.compute_type})\n")
    print("| decoding | WER | real-time factor |\n|---|---|---|")
    plain_wer = jiwer.wer(references, results["plain"]["hyp"])
    for name, result in results.items():
        wer = jiwer.wer(references, result["hyp"])
        print(f"| {name} | {wer:.3f} | {result['seconds'] / audio_seconds:.3f} |")
    best = jiwer.wer(references, results["glossary prompt"]["hyp"])
    print(f"\nGlossary prompt vs plain: {100 * (1 - best / plain_wer):.0f}% fewer word errors.")
    differences = [abs(a - b) for a, b in zip(typed, spoken, strict=True)]
    print(f"Grade of the spoken answer vs the same answer typed: mean |difference| {statistics.mean(differences):.1f} "
          f"points (max {max(differences):.1f}); typed mean {statistics.mean(typed):.1f}, "
          f"spoken mean {statistics.mean(spoken):.1f}.")


if __name__ == "__main__":
    main()
