"""The user's own notes: questions answered only by notes in five formats, and the corpus figures with them.

The notes in ``data/own_notes/`` (Markdown, flashcard text, an Anki export, a saved blog page, numbered
notes) and the questions in ``data/own_notes_questions.jsonl`` were written by a helper who never saw the
code. Questions are split by the item they target into dev and test (a stable hash of the item).

Reports, per split: whether every targeted item was read from its page, hit@1/hit@3 and how many
questions were answered (not refused as "not covered"), by file and register; near misses flagged; and
the blind corpus test set with and without the notes (in-corpus figures must not move).

    python benchmarks/own_notes.py
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.retrieval import load_sets, metrics, run, share  # noqa: E402
from tutor import Tutor  # noqa: E402
from tutor.config import Config  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
NOTES = DATA / "own_notes"


def normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def split_of(item: str) -> str:
    return "dev" if int(hashlib.sha1(item.encode()).hexdigest(), 16) % 2 == 0 else "test"


def cases(tutor: Tutor) -> tuple[list[dict], list[dict], list[str]]:
    """(in-scope cases with gold ids, near misses, items the readers did not produce)."""
    by_page = collections.defaultdict(dict)
    for item in tutor.items:
        by_page[item.source][normal(item.title)] = item.id
    in_scope, near, unread = [], [], set()
    for line in (DATA / "own_notes_questions.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["file"] is None:
            near.append({"q": row["question"], "kind": "near_miss", "category": "near_miss"})
            continue
        gold = by_page[row["file"]].get(normal(row["item"]))
        if gold is None:
            unread.add(f"{row['file']}: {row['item']}")
            continue
        in_scope.append({"q": row["question"], "gold": [gold], "register": row["register"], "file": row["file"],
                         "split": split_of(row["item"])})
    return in_scope, near, sorted(unread)


def corpus_figures(tutor: Tutor) -> str:
    data = load_sets("test")["blind"]
    questions, outside = run(tutor, data["in_scope"]), run(tutor, data["out_of_scope"])
    h1, h3, mrr = metrics(questions)
    answered = share([r["confident"] for r in questions])
    flagged = share([not r["confident"] for r in outside])
    return f"| {h1:.3f} | {mrr:.3f} | {answered} | {flagged} |"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Config.from_env(index_dir=Path(folder) / "plain", data_dir=Path(folder) / "data")
        plain = Tutor.load(base)
        with_notes = Tutor.load(Config.from_env(index_dir=Path(folder) / "notes", data_dir=Path(folder) / "data",
                                                notes_dir=NOTES))
        in_scope, near, unread = cases(with_notes)
        pages = [p for p in with_notes.index.manifest["pages"] if p["folder"] == "notes"]
        print(f"{len(pages)} note pages, {sum(p['items'] for p in pages)} items: "
              + ", ".join(f"{p['name']} {p['items']} ({p['shape']})" for p in pages))
        print(f"Targeted items not read from their page: {len(unread)}" + "".join(f"\n  {u}" for u in unread))
        for split in ("dev", "test"):
            rows = run(with_notes, [c for c in in_scope if c["split"] == split])
            h1, h3, mrr = metrics(rows)
            print(f"\n## {split}: {len(rows)} questions\n")
            print(f"hit@1 {h1:.3f}, hit@3 {h3:.3f}, MRR {mrr:.3f}; answered {share([r['confident'] for r in rows])}")
            for field in ("file", "register"):
                groups = collections.defaultdict(list)
                for row in rows:
                    groups[row["case"][field]].append(row)
                print(f"hit@1 by {field}: " + ", ".join(f"{g} {metrics(r)[0]:.2f} ({len(r)})"
                                                       for g, r in sorted(groups.items())))
        flagged = run(with_notes, near)
        print("\nNear misses (neither notes nor corpus answer): flagged "
              f"{share([not r['confident'] for r in flagged])}")
        print("\nBlind corpus test set, with and without the notes:\n")
        print("| index | hit@1 | MRR | in-scope answered | out-of-scope flagged |\n|---|---|---|---|---|")
        print(f"| corpus only | {corpus_figures(plain)[2:]}")
        print(f"| corpus + notes | {corpus_figures(with_notes)[2:]}")
        outside = load_sets("test")["blind"]["out_of_scope"]
        newly = [(case, b) for case, a, b in zip(outside, run(plain, outside), run(with_notes, outside), strict=True)
                 if b["confident"] and not a["confident"]]
        print(f"\nOut-of-scope questions (written before the notes) answered once the notes are in: {len(newly)} "
              "— judge whether the note answers them:")
        for case, row in newly:
            item = with_notes.item(row["ids"][0])
            print(f"  {case['q'][:70]!r} -> {item.source}: {item.title[:60]!r}")


if __name__ == "__main__":
    main()
