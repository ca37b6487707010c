"""ask() and grade() latency once loaded, p50/p95, each as a multiple of the bare embedding forward pass of
the same text measured in the same run (targets: ask <= 2x, grade <= 4x).

    python benchmarks/latency.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor import Tutor  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed(fn, *args, **kwargs) -> float:
    started = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - started


def main() -> None:
    tutor = Tutor.load()
    questions = [c["q"] for c in json.loads((ROOT / "benchmarks/data/retrieval_test.json").read_text())["in_scope"]]
    grading = json.loads((ROOT / "benchmarks/data/grading_pytorch.json").read_text())["questions"]
    tutor.ask(questions[0])
    tutor.grade(grading[0]["question"], grading[0]["excellent"])

    rows = {}
    ask_t, ask_e = [], []
    for _ in range(3):
        for question in questions:
            ask_t.append(timed(tutor.ask, question))
            ask_e.append(timed(tutor.embedder.embed, [question]))
    rows["ask"] = (ask_t, ask_e)
    grade_t, grade_e = [], []
    for _ in range(3):
        for case in grading:
            for kind in ("excellent", "partial", "misconception"):
                grade_t.append(timed(tutor.grade, case["question"], case[kind]))
                grade_e.append(timed(tutor.embedder.embed, [case[kind]]))
    rows["grade"] = (grade_t, grade_e)

    print("| call | n | p50 (ms) | p95 (ms) | bare embedding p50 (ms) | p50 ratio | target |")
    print("|---|---|---|---|---|---|---|")
    for name, (times, bare) in rows.items():
        ratio = statistics.median(times) / statistics.median(bare)
        target = "<= 2x" if name == "ask" else "<= 4x"
        print(f"| {name} | {len(times)} | {statistics.median(times) * 1000:.1f} | {percentile(times, 0.95) * 1000:.1f} "
              f"| {statistics.median(bare) * 1000:.1f} | {ratio:.2f}x | {target} |")


if __name__ == "__main__":
    main()
