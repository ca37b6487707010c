"""Grading quality and speed.

1. Mohler et al. short-answer benchmark (development half, ../shared/benchmarks/mohler/dev.csv): Pearson and
   Spearman correlation of the grade with the human score, against plain cosine of whole answers.
2. The PyTorch set (benchmarks/data/grading_pytorch.json): excellent, partial, misconception and off-topic
   answers to corpus questions; orderings and means, against plain cosine.
3. Latency of grading a 100-word answer once loaded, and as a multiple of one bare embedding forward pass.

    python benchmarks/grading.py [--mohler PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor import Tutor  # noqa: E402

KINDS = ("excellent", "partial", "misconception", "off_topic")


def plain_cosine(tutor: Tutor, answer: str, references: list[str]) -> float:
    vectors = tutor.embedder.embed([answer, *references])
    return float((vectors[1:] @ vectors[0]).max()) * 100


def pearson_spearman(x: list[float], y: list[float]) -> tuple[float, float]:
    from scipy.stats import pearsonr, spearmanr

    return float(pearsonr(x, y)[0]), float(spearmanr(x, y)[0])


def mohler(tutor: Tutor, path: Path) -> dict:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    human = [float(r["score_avg"]) for r in rows]
    ours = [tutor.grade(r["question"], r["student_answer"], reference=r["reference_answer"]).score for r in rows]
    cosine = [plain_cosine(tutor, r["student_answer"], [r["reference_answer"]]) for r in rows]
    return {"n": len(rows), "grader": pearson_spearman(ours, human), "cosine": pearson_spearman(cosine, human)}


def pytorch_set(tutor: Tutor) -> dict:
    data = json.loads((ROOT / "benchmarks" / "data" / "grading_pytorch.json").read_text())["questions"]
    results = {"grader": [], "cosine": []}
    for case in data:
        references = [r.answer for r in tutor.references_for(case["question"])[0]]
        results["grader"].append([tutor.grade(case["question"], case[k]).score for k in KINDS])
        results["cosine"].append([plain_cosine(tutor, case[k], references) for k in KINDS])
    return {"questions": [c["question"] for c in data], **results}


def ordered(row: list[float]) -> bool:
    excellent, partial, misconception, off_topic = row
    return excellent > partial > off_topic and excellent > misconception > off_topic


def latency(tutor: Tutor, repeats: int = 30) -> tuple[float, float]:
    question = "What is the difference between model.train() and model.eval()? When would you use each?"
    answer = ("Calling train puts every module in training mode, so dropout layers randomly zero activations "
              "and batch normalisation uses the statistics of the current batch while it keeps updating its "
              "running mean and variance. Calling eval switches those layers to inference behaviour: dropout "
              "passes everything through and batch normalisation uses the running averages it stored, which "
              "makes predictions deterministic. You call train before the training loop, eval before "
              "validation or testing, and usually wrap evaluation in no_grad so no graph is recorded and "
              "memory is saved. Forgetting eval is a classic bug that makes validation scores noisy.")
    assert 95 <= len(answer.split()) <= 105, len(answer.split())
    tutor.grade(question, answer)  # warm up
    grade_times, embed_times = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        tutor.grade(question, answer)
        grade_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        tutor.embedder.embed([answer])
        embed_times.append(time.perf_counter() - started)
    return statistics.median(grade_times), statistics.median(embed_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mohler", type=Path, default=ROOT.parent / "shared" / "benchmarks" / "mohler" / "dev.csv")
    args = parser.parse_args()
    tutor = Tutor.load()

    if args.mohler.is_file():
        result = mohler(tutor, args.mohler)
        print(f"Mohler dev ({result['n']} answers): correlation with the human grade\n")
        print("| scorer | Pearson | Spearman |\n|---|---|---|")
        for name in ("cosine", "grader"):
            p, s = result[name]
            print(f"| {'plain cosine' if name == 'cosine' else 'tutor grader'} | {p:.3f} | {s:.3f} |")
    else:
        print(f"(Mohler data not found at {args.mohler}; skipped)")

    result = pytorch_set(tutor)
    print(f"\nPyTorch set ({len(result['questions'])} questions x 4 answers)\n")
    print("| scorer | excellent | partial | misconception | off-topic | excellent - misconception "
          "| all orderings hold |")
    print("|---|---|---|---|---|---|---|")
    for name in ("cosine", "grader"):
        rows = result[name]
        means = [statistics.mean(r[i] for r in rows) for i in range(4)]
        holds = sum(ordered(r) for r in rows)
        label = "plain cosine x100" if name == "cosine" else "tutor grader"
        print(f"| {label} | {means[0]:.1f} | {means[1]:.1f} | {means[2]:.1f} | {means[3]:.1f} | "
              f"{means[0] - means[2]:.1f} | {holds}/{len(rows)} |")
    print("\nPer question (tutor grader): excellent / partial / misconception / off-topic")
    for question, row in zip(result["questions"], result["grader"], strict=True):
        flag = "" if ordered(row) else "   <- ordering broken"
        print(f"  {' / '.join(f'{x:5.1f}' for x in row)}  {question[:70]}{flag}")

    grade_s, embed_s = latency(tutor)
    print(f"\nGrading a 100-word answer: median {grade_s * 1000:.1f} ms; one bare embedding of it "
          f"{embed_s * 1000:.1f} ms; ratio {grade_s / embed_s:.1f}x")
    np.set_printoptions(precision=3)


if __name__ == "__main__":
    main()
