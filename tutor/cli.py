"""Command line: ``tutor ask``, ``tutor index``, ``tutor grade``, ``tutor transcribe``, ``tutor add``, ``tutor pages``.

Domain errors become one sentence on stderr and exit status 2; nothing is printed as a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from tutor.config import Config
from tutor.errors import TutorError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tutor", description="Offline PyTorch interview tutor.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is loaded and where")
    parser.add_argument("--corpus-dir", help="folder of interview pages (default: the project's corpus/)")
    parser.add_argument("--notes", metavar="DIR", help="folder of your own notes, read with the corpus "
                                                     "(default: notes/ in the user data folder; or TUTOR_NOTES_DIR)")
    parser.add_argument("--index-dir", help="where the index is kept (default: the project's index/)")
    parser.add_argument("--embed-model", help="sentence-transformers model name or path")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where models run")
    commands = parser.add_subparsers(dest="command", required=True)

    ask = commands.add_parser("ask", help="ask a question about PyTorch")
    ask.add_argument("question")
    ask.add_argument("--history", type=Path, help="JSON file of earlier turns [{role, content}, ...]")
    ask.add_argument("-k", type=int, default=5, help="how many passages to return")
    ask.add_argument("--json", action="store_true", help="machine-readable output")

    index = commands.add_parser("index", help="(re)build the index")
    index.add_argument("--if-stale", action="store_true", help="only rebuild when the index is stale")

    grade = commands.add_parser("grade", help="grade an explanation against the notes")
    grade.add_argument("--question", required=True)
    source = grade.add_mutually_exclusive_group(required=True)
    source.add_argument("--answer")
    source.add_argument("--audio", type=Path, help="a recording of the spoken answer")
    grade.add_argument("--reference", help="grade against this reference answer instead of the notes")
    grade.add_argument("--json", action="store_true")

    transcribe = commands.add_parser("transcribe", help="transcribe a recorded answer")
    transcribe.add_argument("file", type=Path)
    transcribe.add_argument("--question", help="the question answered, to sharpen the vocabulary")
    transcribe.add_argument("--json", action="store_true")
    add = commands.add_parser("add", help="copy pages of notes into your notes folder and update the index")
    add.add_argument("files", nargs="+", type=Path, help="Markdown, text, Anki export, HTML or PDF pages")

    commands.add_parser("pages", help="list every page with its shape, item count and warnings")
    return parser


def _config(args: argparse.Namespace) -> Config:
    return Config.from_env(corpus_dir=args.corpus_dir, index_dir=args.index_dir, notes_dir=args.notes,
                           embed_model=args.embed_model, device=args.device)


def _to_json(value) -> str:
    def default(obj):
        if dataclasses.is_dataclass(obj):
            return dataclasses.asdict(obj)
        if isinstance(obj, Path):
            return str(obj)
        return str(obj)

    return json.dumps(value if not dataclasses.is_dataclass(value) else dataclasses.asdict(value),
                      default=default, ensure_ascii=False, indent=2)


def _history(path: Path | None) -> list[dict]:
    if path is None:
        return []
    try:
        history = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TutorError(f"Could not read the history file {path}: {exc}") from exc
    if not isinstance(history, list):
        raise TutorError(f"The history file {path} must hold a JSON list of {{role, content}} turns.")
    return history


def run(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from tutor.tutor import Tutor, clean_text

    config = _config(args)
    # Refuse bad input before anything heavy loads: it must change nothing and answer at once.
    if args.command == "ask":
        clean_text(args.question, config.max_question_chars)
        history = _history(args.history)
    if args.command == "pages":
        return _pages(config)
    if args.command == "add":
        return _add(config, args.files)
    if args.command == "index":
        tutor = Tutor.load(config, rebuild=not args.if_stale)
        manifest = tutor.index.manifest
        print(f"Index ready in {config.index_dir}: {manifest['items']} items, {manifest['passages']} passages, "
              f"model {manifest['model']} ({manifest['dimension']} dims, {manifest['index_type']}).")
        return 0
    tutor = Tutor.load(config)
    if args.command == "ask":
        reply = tutor.ask(args.question, history=history, k=args.k)
        print(_to_json(reply) if args.json else reply.text)
    elif args.command == "grade":
        answer = args.answer
        transcript = None
        if args.audio is not None:
            transcript = tutor.transcribe(args.audio, question=args.question)
            answer = transcript.text
        grade = tutor.grade(question=args.question, answer=answer, reference=args.reference)
        if args.json:
            print(_to_json({"grade": grade, "transcript": transcript}))
        else:
            if transcript is not None:
                print(f"Transcript: {transcript.text}\n")
            print(grade.summary())
    elif args.command == "transcribe":
        transcript = tutor.transcribe(args.file, question=args.question)
        print(_to_json(transcript) if args.json else transcript.text)
    return 0


def _pages(config: Config) -> int:
    from tutor.corpus import load_library

    library = load_library(config.corpus_dir, config.notes_folder, config.max_page_bytes)
    for page in library.pages:
        print(page.line)
    print(f"{len(library.items)} items from {sum(p.items > 0 for p in library.pages)} pages; "
          f"your notes folder is {config.notes_folder}")
    return 0


def _add(config: Config, files: list[Path]) -> int:
    from tutor.notes import add_pages
    from tutor.tutor import Tutor

    pages = []
    for path in files:
        try:
            pages.append((path.name, path.read_bytes()))
        except OSError as exc:
            raise TutorError(f"Could not read {path}: {exc.strerror or exc}") from exc
    results = add_pages(pages, config.notes_folder, config.corpus_dir, config.max_page_bytes)
    for result in results:
        print(("added " if result.stored else "not added: ") + result.message)
    if not any(result.stored for result in results):
        return 2
    tutor = Tutor.load(config)
    print(f"Index updated: {len(tutor.items)} items; notes folder {config.notes_folder}")
    return 0 if all(result.stored for result in results) else 2


def main(argv: list[str] | None = None) -> None:
    try:
        code = run(argv)
    except TutorError as exc:
        print(f"tutor: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
