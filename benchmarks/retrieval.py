"""Retrieval quality: hit@1, hit@3 and MRR for dense-only, BM25-only and the hybrid, plus follow-ups and
the confidence decision (out-of-scope flagged, in-scope kept confident).

    python benchmarks/retrieval.py            # the held-out test set
    python benchmarks/retrieval.py --split dev
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tutor import Tutor  # noqa: E402


def ranks(tutor: Tutor, cases: list[dict], follow_ups: bool = False) -> tuple[list, list[bool], list[float]]:
    """Rank (1-based) of the first gold item among each reply's hits, its confidence, and its latency."""
    out, confident, latency = [], [], []
    for case in cases:
        history = [{"role": "user", "content": h} for h in case.get("history", [])] if follow_ups else None
        started = time.perf_counter()
        reply = tutor.ask(case["q"], history=history, k=5)
        latency.append(time.perf_counter() - started)
        ids = [hit.id for hit in reply.hits]
        out.append(next((r + 1 for r, item_id in enumerate(ids) if item_id in case["gold"]), None))
        confident.append(reply.confident)
    return out, confident, latency


def metrics(found: list[int | None]) -> tuple[float, float, float]:
    n = len(found)
    hit1 = sum(r == 1 for r in found) / n
    hit3 = sum(r is not None and r <= 3 for r in found) / n
    mrr = sum(1 / r for r in found if r) / n
    return hit1, hit3, mrr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["test", "dev"], default="test")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    data = json.loads((Path(__file__).parent / "data" / f"retrieval_{args.split}.json").read_text())
    tutor = Tutor.load()
    print(f"Split: {args.split} — {len(data['in_scope'])} in-scope, {len(data['follow_ups'])} follow-ups, "
          f"{len(data['out_of_scope'])} out-of-scope\n")
    print(f"| {'retriever':<10} | {'set':<10} | hit@1 | hit@3 |  MRR  |")
    print(f"|{'-' * 12}|{'-' * 12}|-------|-------|-------|")
    results = {}
    for mode in ("dense", "lexical", "hybrid"):
        tutor.retriever.mode = mode
        for name, cases, follow in (("questions", data["in_scope"], False), ("follow-ups", data["follow_ups"], True)):
            found, confident, latency = ranks(tutor, cases, follow)
            results[mode, name] = (found, confident, latency)
            h1, h3, mrr = metrics(found)
            label = "BM25" if mode == "lexical" else mode
            print(f"| {label:<10} | {name:<10} | {h1:.3f} | {h3:.3f} | {mrr:.3f} |")
    tutor.retriever.mode = "hybrid"
    flagged = [not tutor.ask(q).confident for q in data["out_of_scope"]]
    in_conf = results["hybrid", "questions"][1]
    latency = results["hybrid", "questions"][2]
    print("\nConfidence decision (hybrid):")
    print(f"  out-of-scope flagged:     {sum(flagged)}/{len(flagged)} = {sum(flagged) / len(flagged):.3f}")
    print(f"  in-scope kept confident:  {sum(in_conf)}/{len(in_conf)} = {sum(in_conf) / len(in_conf):.3f}")
    print(f"\nask() latency, hybrid, {len(latency)} questions: median {statistics.median(latency) * 1000:.1f} ms, "
          f"p95 {sorted(latency)[int(0.95 * len(latency)) - 1] * 1000:.1f} ms")
    if args.show_misses:
        for (mode, name), (found, confident, _) in results.items():
            if mode != "hybrid":
                continue
            cases = data["in_scope"] if name == "questions" else data["follow_ups"]
            for case, rank, conf in zip(cases, found, confident, strict=True):
                if rank != 1 or not conf:
                    history = [{"role": "user", "content": h} for h in case.get("history", [])]
                    reply = tutor.ask(case["q"], history=history)
                    print(f"  [{name}] rank={rank} confident={conf} {case['q']!r} -> {[h.id for h in reply.hits[:3]]} "
                          f"{reply.evidence}")
        for q, flag in zip(data["out_of_scope"], flagged, strict=True):
            if not flag:
                print(f"  [oos] confident: {q!r} {tutor.ask(q).evidence}")


if __name__ == "__main__":
    main()
