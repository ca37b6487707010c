"""Assemble the blind evaluation set and split it by item into dev and test.

The questions in ``benchmarks/data/blind/`` were written by helper sessions that saw the five pages and the
parsed items, never the code, and were not told which cases the code finds hard. This script only splits:

* in-scope questions go with their item; items that answer each other's questions (each lists the other
  as gold, e.g. two pages' "What is max pooling?") stay together, so no question is tested on an item
  whose twin was tuned on;
* follow-ups go with the split of their first gold item; out-of-scope questions alternate within their
  category.

A second round, ``blind/dev_more/``, was written later by other helper sessions for the dev items only (five
registers per item, follow-ups whose first gold item is a dev item, out-of-scope questions): it joins the dev
split as ``"part": "more"``, and the split of the first round is computed without it, so the test split is
unchanged.

A fifth round, ``blind/dev_more2/``, was written later still for the dev items only, in the fourth round's six
registers (interviewer, spoken, non-native, scenario, beginner, code) with follow-ups and out-of-scope questions
of its own, so the fits learn those registers from dev items: it joins the dev split as ``"part": "more2"``.

Two more rounds were written later for the test items only (``blind/test_fresh/``, ``blind/test_fresh2/``), each
after the rounds before it had been run on test too often to stay a guide; they join the test split as ``"part":
"fresh"`` and ``"fresh2"``, and a case on a dev item or worded as a dev case is refused.

It writes ``benchmarks/data/retrieval_blind.json`` and the confidence decision's fit data,
``tutor/data/confidence_questions.jsonl``: the dev split plus the older ``retrieval_dev.json``.

    python benchmarks/split_eval.py
"""

from __future__ import annotations

import collections
import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "benchmarks" / "data" / "blind"
MORE = "dev_more"  # the second round, dev items only
MORE2 = "dev_more2"  # the fifth round, dev items only, in the fourth round's registers (written after it)
FRESH = "test_fresh"  # the third round, test items only, written after the test split had been run many times
FRESH2 = "test_fresh2"  # the fourth round, test items only, other registers, after the third had been run three times


def _lines(name: str) -> list[dict]:
    return [json.loads(line) for line in (RAW / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _wording(case: dict) -> str:
    """A case as asked: a follow-up with its conversation."""
    return json.dumps([case.get("history", []), case["q"]])


def _later_round(folder: str, split: str, part: str, splits: dict[str, str], other_questions: set[str]) \
        -> tuple[list[dict], list[dict], list[dict]]:
    """A later round's cases (``folder``), all of ``split`` and marked ``part``; a case on an item of the other
    split, or worded as one of its cases (``other_questions``), is an error, not a silent move."""
    in_scope, follow_ups, out_of_scope = [], _lines(f"{folder}/followups.jsonl"), _lines(f"{folder}/out_of_scope.jsonl")
    for name in sorted(p.name for p in (RAW / folder).glob("inscope_*.jsonl")):
        in_scope += _lines(f"{folder}/{name}")
    for case, item in [(c, c["item"]) for c in in_scope] + [(c, c["gold"][0]) for c in follow_ups]:
        if splits.get(item) != split:
            raise SystemExit(f"{folder}: {case['q']!r} is on item {item}, which is not in the {split} split")
    for case in in_scope + follow_ups + out_of_scope:
        if _wording(case) in other_questions:
            raise SystemExit(f"{folder}: {case['q']!r} is also a case of the other split")
        case.update(split=split, part=part)
    return in_scope, follow_ups, out_of_scope


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def item_splits(in_scope: list[dict]) -> dict[str, str]:
    """item id -> "dev" / "test": mutually-answering items together, groups dealt to the smaller split."""
    golds: dict[str, set[str]] = collections.defaultdict(set)
    for case in in_scope:
        golds[case["item"]] |= set(case["gold"])
    parent = {item: item for item in golds}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a in golds:
        for b in golds[a]:
            if b != a and b in golds and a in golds[b]:
                parent[find(a)] = find(b)
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for item in golds:
        groups[find(item)].append(item)
    size = collections.Counter(case["item"] for case in in_scope)
    load = {"dev": 0, "test": 0}
    out = {}
    for members in sorted(groups.values(), key=lambda m: _key(min(m))):
        split = min(load, key=lambda s: (load[s], s))
        load[split] += sum(size[m] for m in members)
        out.update((m, split) for m in members)
    return out


def main() -> None:
    in_scope, follow_ups = [], _lines("followups.jsonl")
    for name in sorted(p.name for p in RAW.glob("inscope_*.jsonl")):  # the first round only
        in_scope += _lines(name)
    out_of_scope = _lines("out_of_scope.jsonl")
    splits = item_splits(in_scope)
    for case in in_scope:
        case["split"] = splits[case["item"]]
    for case in follow_ups:
        first = case["gold"][0]
        case["split"] = splits.get(first, "dev" if int(_key(first), 16) % 2 else "test")
    by_category = collections.defaultdict(list)
    for case in out_of_scope:
        by_category[case["category"]].append(case)
    for cases in by_category.values():
        for n, case in enumerate(sorted(cases, key=lambda c: _key(c["q"]))):
            case["split"] = ("dev", "test")[n % 2]
    tests = {_wording(c) for c in in_scope + follow_ups + out_of_scope if c["split"] == "test"}
    for folder, part in ((MORE, "more"), (MORE2, "more2")):
        for cases, more in zip((in_scope, follow_ups, out_of_scope),
                               _later_round(folder, "dev", part, splits, tests), strict=True):
            cases += more
    devs = {_wording(c) for c in in_scope + follow_ups + out_of_scope if c["split"] == "dev"}
    for folder, part in ((FRESH, "fresh"), (FRESH2, "fresh2")):
        for cases, fresh in zip((in_scope, follow_ups, out_of_scope),
                                _later_round(folder, "test", part, splits, devs), strict=True):
            cases += fresh
    blind = {
        "about": "Blind set written apart from the code (benchmarks/data/blind/), split by item by "
                 "benchmarks/split_eval.py. Tune on dev only; report test.",
        "in_scope": in_scope, "follow_ups": follow_ups, "out_of_scope": out_of_scope,
    }
    (ROOT / "benchmarks" / "data" / "retrieval_blind.json").write_text(json.dumps(blind, indent=1) + "\n")

    legacy = json.loads((ROOT / "benchmarks" / "data" / "retrieval_dev.json").read_text())
    # "round": who wrote it (the confidence decision's threshold must serve the hardest round, not the pool).
    fit = [{"q": c["q"], "in_scope": True, "gold": c["gold"], "round": c.get("part") or "first"}
           for c in in_scope if c["split"] == "dev"]
    fit += [{"q": c["q"], "in_scope": True, "gold": c["gold"], "round": "older"} for c in legacy["in_scope"]]
    fit += [{"q": c["q"], "in_scope": False, "gold": [], "round": c.get("part") or "first"}
            for c in out_of_scope if c["split"] == "dev"]
    fit += [{"q": q, "in_scope": False, "gold": [], "round": "older"} for q in legacy["out_of_scope"]]
    target = ROOT / "tutor" / "data" / "confidence_questions.jsonl"
    target.write_text("".join(json.dumps(row) + "\n" for row in fit), encoding="utf-8")
    for name, cases in (("in-scope", in_scope), ("follow-ups", follow_ups), ("out-of-scope", out_of_scope)):
        count = collections.Counter(c["split"] for c in cases)
        part = collections.Counter(c.get("part") for c in cases)
        print(f"{name:>13}: dev {count['dev']} ({part['more']} of them from {MORE}, {part['more2']} from {MORE2}), "
              f"test {count['test']} ({part['fresh']} of them from {FRESH}, {part['fresh2']} from {FRESH2})")
    print(f"confidence fit data: {len(fit)} questions -> {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
