"""Speech: word error rate with and without the vocabulary bias, real-time factor, and spoken vs typed grades.

Default: corpus answers rendered with espeak-ng (no audio is committed) and transcribed with the configured
model (``TUTOR_WHISPER_MODEL``; default base) on this machine. Variants: plain decoding, the glossary
prompt, the same terms as hotwords, and both.

``--learners``: 28 answers written in fresh words by a helper who never saw the code
(``data/speech_answers.json``), each spoken at 130 and 175 words per minute by two espeak-ng voices, plus
a copy at 175 wpm with white noise 20 dB below the speech (sox); and, where Festival and its HTS voice are
installed (``apt-get install festival festvox-us-slt-hts``), the same answers in that voice, nearer a human's
than espeak-ng's, sped up to about 153 and 174 words per minute (sox ``tempo``). For each model (tiny.en, base) and
each condition: WER with the question given (as the app does) and without, real-time factor, sentences
mostly missing from the transcript, the share of the answer's technical terms heard, and the
spoken-vs-typed grade difference.

    python benchmarks/speech.py
    python benchmarks/speech.py --learners [--models tiny.en base]
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
from tutor.points import split_sentences  # noqa: E402
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


SENTENCE_KEPT = 0.34  # a sentence counts as missing when fewer than this share of its longer words is heard


def missing_sentences(reference: str, transcript: str) -> int:
    heard = set(normalize(transcript).split())
    missing = 0
    for sentence in split_sentences(reference):
        words = [w for w in normalize(sentence).split() if len(w) > 3]
        missing += bool(words) and sum(w in heard for w in words) / len(words) < SENTENCE_KEPT
    return missing


def terms_heard(reference: str, transcript: str) -> tuple[int, int]:
    """(heard, total) of the answer's technical terms (identifiers, CamelCase, acronyms, domain words)."""
    from tutor.speech import glossary_terms

    heard = f" {normalize(transcript)} "
    terms = {normalize(t) for t in glossary_terms([reference], limit=100, min_count=1)} - {""}
    return sum(f" {t} " in heard for t in terms), len(terms)


def learners(models: list[str], limit: int | None = None, dump: Path | None = None) -> None:
    import json

    import jiwer

    from tutor.config import Config
    from tutor.synth import HTS_VOICE, hts_available, speak_hts, with_noise

    answers = json.loads((ROOT / "benchmarks/data/speech_answers.json").read_text())["answers"][:limit]
    conditions = {"130 wpm, voice en-us": (130, "en-us", False), "175 wpm, voice en-us": (175, "en-us", False),
                  "130 wpm, voice en+f3": (130, "en+f3", False), "175 wpm, voice en+f3": (175, "en+f3", False),
                  "175 wpm, en-us, noise 20 dB SNR": (175, "en-us", True)}
    # The HTS voice speaks at about 139 words a minute; sped up by these factors, at about 153 and 174.
    hts = {"~153 wpm, HTS voice (Festival)": 1.1, "~174 wpm, HTS voice (Festival)": 1.25} if hts_available() else {}
    if not hts:
        print(f"Festival's {HTS_VOICE} voice is not installed: its conditions are left out.")
    with tempfile.TemporaryDirectory() as folder:
        clips = {}
        for name, (wpm, voice, noisy) in conditions.items():
            for k, answer in enumerate(answers):
                wav = speak(answer["answer"], Path(folder) / f"{k}-{wpm}-{voice}.wav", words_per_minute=wpm,
                            voice=voice)
                clips[name, k] = with_noise(wav, Path(folder) / f"{k}-noisy.wav", 20) if noisy else wav
        for name, tempo in hts.items():
            for k, answer in enumerate(answers):
                clips[name, k] = speak_hts(answer["answer"], Path(folder) / f"{k}-hts-{tempo}.wav", tempo=tempo)
        names = [*conditions, *hts]  # every condition: espeak-ng's, then the HTS voice's
        print(f"{len(answers)} fresh-worded answers x {len(names)} conditions, CPU int8, 2 cores\n")
        print("| model | condition | WER, question given | WER, no question | key terms heard | sentences missing | "
              "real-time factor | spoken - typed grade, mean abs |")
        print("|---|---|---|---|---|---|---|---|")
        transcripts = []
        for model in models:
            tutor = Tutor.load(Config.from_env(whisper_model=model))
            typed = [tutor.grade(a["question"], a["answer"]).score for a in answers]
            for name in names:
                refs, with_q, without_q, seconds, audio, missing, diffs = [], [], [], 0.0, 0.0, 0, []
                terms = [0, 0]
                for k, answer in enumerate(answers):
                    started = time.perf_counter()
                    heard = tutor.transcribe(clips[name, k], question=answer["question"])
                    seconds += time.perf_counter() - started
                    audio += heard.duration_s
                    bare = tutor.transcribe(clips[name, k])
                    refs.append(normalize(answer["answer"]))
                    with_q.append(normalize(heard.text))
                    without_q.append(normalize(bare.text))
                    missing += missing_sentences(answer["answer"], heard.text)
                    terms = [a + b for a, b in zip(terms, terms_heard(answer["answer"], heard.text), strict=True)]
                    diffs.append(abs(tutor.grade(answer["question"], heard.text).score - typed[k]))
                    transcripts.append({"model": model, "condition": name, "answer": k, "reference": answer["answer"],
                                        "question_given": heard.text, "no_question": bare.text})
                print(f"| {model} | {name} | {jiwer.wer(refs, with_q):.3f} | {jiwer.wer(refs, without_q):.3f} | "
                      f"{terms[0] / max(terms[1], 1):.3f} ({terms[0]}/{terms[1]}) | "
                      f"{missing} | {seconds / audio:.3f} | {statistics.mean(diffs):.1f} |", flush=True)
    if dump:
        dump.write_text(json.dumps(transcripts, indent=1))


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", action="store_true",
                        help="the fresh-worded answers in five conditions (seven with Festival)")
    parser.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    parser.add_argument("--limit", type=int, help="only the first N answers (a quick check)")
    parser.add_argument("--dump", type=Path, help="with --learners: write every transcript to this JSON file")
    args = parser.parse_args()
    if args.learners:
        learners(args.models, args.limit, args.dump)
        return
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
          f"faster-whisper {tutor.config.whisper_model} on {tutor.transcriber.device} "
          f"({tutor.transcriber.compute_type})\n")
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
