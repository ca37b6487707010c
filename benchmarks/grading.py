"""Grading quality and speed.

1. Mohler et al. short-answer benchmark (development half, ../shared/benchmarks/mohler/dev.csv): Pearson and
   Spearman correlation of the grade with the human score, against plain cosine of whole answers.
   The grade's two weights are chosen by leave-questions-out cross-validation: the questions are dealt into
   folds, each fold's answers are scored with the weights that correlate best on the other folds, and the
   pooled out-of-fold Pearson is reported with the folds' mean and spread (``--folds``).
2. The PyTorch set (benchmarks/data/grading_pytorch*.json, 79 corpus questions in three parts, each with an
   excellent, a partial, a misconception and an off-topic answer, written before the grader was tuned on them),
   split by question into dev and test (the order of each question's SHA-256, alternating). Tune on dev; report
   test. ``--fresh FILE`` grades a set written later, outside the splits, instead (below).
3. Latency of grading a 100-word answer once loaded, and as a multiple of one bare embedding forward pass.

On dev with a checker, a table gives each (CHECK_FULL, CHECK_EXPONENT, CHECK_CAP) setting's excellent and misconception
means and partial > misconception on the same grades, to choose the checker's settings from.

The fact checker (``tutor.checking``) is fitted on pairs about items of the notes that no test question asks
about, but about most dev questions' items: on dev, ``--cross-fit`` grades each question with one of two checkers
fitted on halves of the pairs (by item), the one that never saw its items. ``TUTOR_FACT_CHECK=off`` grades
without a checker; ``TUTOR_CHECKER_MODEL`` names the model the checkers are fitted from (default the embedded
MiniLM).

``--fresh grading_pytorch_blind2.json``: every question of a set written blind after the splits were fixed (40
questions), each graded by the cross-fitted checker that never saw its items (a question whose items both halves
saw is counted and graded by the first), without Mohler or the settings table: a check of the shipped grader on
answers nobody tuned on.

    python benchmarks/grading.py [--split dev|test] [--mohler PATH] [--folds 5] [--cross-fit]
    python benchmarks/grading.py --fresh grading_pytorch_blind2.json
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor import Tutor, checking  # noqa: E402
from tutor.grading import CHECK_CAP, CHECK_EXPONENT, CHECK_FULL, COVERAGE_WEIGHT, SEMANTIC_SHARE, check_factor  # noqa: E402

KINDS = ("excellent", "partial", "misconception", "off_topic")
# Written before tuning: the first two files by this project; the third blind, by a separate author from the
# corpus pages alone, after the contradiction cues were first tuned (it checks them on fresh questions).
PARTS = (("grading_pytorch.json", "grading_pytorch_more.json"), ("grading_pytorch_blind.json",))
COVERAGE_GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
SEMANTIC_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


def plain_cosine(tutor: Tutor, answer: str, references: list[str]) -> float:
    vectors = tutor.embedder.embed([answer, *references])
    return float((vectors[1:] @ vectors[0]).max()) * 100


def pearson_spearman(x: list[float], y: list[float]) -> tuple[float, float]:
    from scipy.stats import pearsonr, spearmanr

    return float(pearsonr(x, y)[0]), float(spearmanr(x, y)[0])


def mohler(tutor: Tutor, path: Path, folds: int) -> dict:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    human = np.array([float(r["score_avg"]) for r in rows])
    grades = [tutor.grade(r["question"], r["student_answer"], reference=r["reference_answer"]) for r in rows]
    cosine = [plain_cosine(tutor, r["student_answer"], [r["reference_answer"]]) for r in rows]
    question_ids = sorted({r["question_id"] for r in rows}, key=lambda q: [int(x) for x in q.split(".")])
    fold_of = {q: n % folds for n, q in enumerate(question_ids)}
    fold = np.array([fold_of[r["question_id"]] for r in rows])
    grid = list(itertools.product(COVERAGE_GRID, SEMANTIC_GRID))
    scores = np.array([[g.evidence.score(c, s) if g.evidence else g.score for g in grades]
                       for c, s in grid])  # settings x answers
    return {"n": len(rows), "questions": len(question_ids),
            "grader": pearson_spearman([g.score for g in grades], list(human)),
            "cosine": pearson_spearman(cosine, list(human)), "cv": cross_validate(scores, human, fold, grid)}


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(x, y)[0, 1])


def cross_validate(scores: np.ndarray, human: np.ndarray, fold: np.ndarray, grid: list) -> dict:
    """Leave-questions-out: each fold scored with the setting that correlates best on the other folds."""
    out_of_fold = np.zeros_like(human)
    chosen, fold_r = [], []
    for f in sorted(set(fold)):
        train, held = fold != f, fold == f
        best = max(range(len(grid)), key=lambda k: pearson(scores[k, train], human[train]))
        chosen.append(grid[best])
        out_of_fold[held] = scores[best, held]
        fold_r.append(pearson(scores[best, held], human[held]))
    per_setting = [[pearson(scores[k, fold == f], human[fold == f]) for f in sorted(set(fold))]
                   for k in range(len(grid))]
    return {"pooled": pearson(out_of_fold, human), "folds": fold_r, "chosen": chosen,
            "per_setting": dict(zip(grid, per_setting, strict=True))}


def load_cases(parts: tuple[tuple[str, ...], ...] = PARTS) -> dict[str, list[dict]]:
    """The PyTorch set by split. Each part (files written at one time) is split on its own: its questions in
    the order of their SHA-256, dev and test alternating, so adding a part never moves a question."""
    splits: dict[str, list[dict]] = {"dev": [], "test": []}
    for names in parts:
        cases = [c for name in names
                 for c in json.loads((ROOT / "benchmarks" / "data" / name).read_text())["questions"]]
        cases.sort(key=lambda c: hashlib.sha256(c["question"].encode()).hexdigest())
        splits["dev"] += cases[0::2]
        splits["test"] += cases[1::2]
    return splits


def cross_fit_checkers(tutor: Tutor) -> list[tuple[set[str], checking.FactChecker]]:
    """Two fact checkers, each fitted on the shipped pairs about half the items (sorted ids, alternating),
    with the items each was fitted on; cached like the shipped one."""
    rows = checking.fit_rows()
    items = sorted({row["item"] for row in rows})
    device = tutor.grader.checker.device if tutor.grader.checker else "cpu"
    out = []
    for half in (0, 1):
        mine = set(items[half::2])
        folder = checking.checker_dir(tutor.config.checker_model, cache_dir=tutor.config.cache_dir,
                                      kind=f"xfit{half}", rows=[row for row in rows if row["item"] in mine])
        out.append((mine, checking.FactChecker(folder, device)))
    return out


def pytorch_set(tutor: Tutor, data: list[dict], checkers: list | None = None) -> dict:
    results = {"grader": [], "cosine": [], "graded": [], "checker_saw": 0}
    for case in data:
        found = tutor.references_for(case["question"])[0]
        references = [r.answer for r in found]
        if checkers:  # the checker fitted without this question's items
            seen = {r.item_id for r in found}
            unseen = [checker for mine, checker in checkers if not mine & seen]
            tutor.grader.checker = unseen[0] if unseen else checkers[0][1]
            results["checker_saw"] += not unseen
        grades = [tutor.grade(case["question"], case[k]) for k in KINDS]
        results["grader"].append([g.score for g in grades])
        results["graded"].append(grades)
        results["cosine"].append([plain_cosine(tutor, case[k], references) for k in KINDS])
    return {"questions": [c["question"] for c in data], **results}


CHECK_FULL_GRID = (0.1, 0.15, 0.2, 0.25, 0.3)
CHECK_EXPONENT_GRID = (0.5, 1, 2)
CHECK_CAP_GRID = (1.0, 1.1, 1.2, 1.3, 1.5)


def check_settings_table(graded: list[list]) -> None:
    """Each (CHECK_FULL, CHECK_EXPONENT) setting by CHECK_CAP applied to the same grades: excellent / misconception
    means and partial > misconception, so the fact checker's settings are chosen from a printed table (on dev)."""
    def cell(setting: tuple[float, float], cap: float) -> str:
        rows = [[g.score if g.stated is None or g.evidence is None else
                 dataclasses.replace(g.evidence, checked=check_factor(g.stated, *setting, cap), cap=cap).score()
                 for g in grades] for grades in graded]
        return (f"{statistics.mean(r[0] for r in rows):.1f} / {statistics.mean(r[2] for r in rows):.1f}, "
                f"{sum(r[1] > r[2] for r in rows)}")

    print("\nFact checker settings (excellent / misconception, partial > misconception); shipped marked *. Recomputed "
          "from each grade's stated share as the grade gives it (3 decimals), so a near tie can fall the other way "
          "than in the table above.\n")
    settings = tuple((full, exponent) for full in CHECK_FULL_GRID for exponent in CHECK_EXPONENT_GRID)
    grid_table("(CHECK_FULL, CHECK_EXPONENT) \\ CHECK_CAP", settings, CHECK_CAP_GRID, cell,
               ((CHECK_FULL, CHECK_EXPONENT), CHECK_CAP))


def grid_table(corner: str, rows: tuple, columns: tuple, cell, shipped: tuple) -> None:
    """A Markdown table of ``cell(row, column)`` over two settings, the shipped pair marked *."""
    print(f"| {corner} | " + " | ".join(str(c) for c in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for r in rows:
        print(f"| {r} | " + " | ".join(("*" if (r, c) == shipped else "") + cell(r, c) for c in columns) + " |")


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
    parser.add_argument("--split", choices=("dev", "test"), default="dev",
                        help="PyTorch-set split to report (tune on dev; report test once per change)")
    parser.add_argument("--mohler", type=Path, default=ROOT.parent / "shared" / "benchmarks" / "mohler" / "dev.csv")
    parser.add_argument("--folds", type=int, default=5, help="question folds for the Mohler cross-validation")
    parser.add_argument("--fresh", metavar="FILE", help="grade this set of benchmarks/data (outside the splits) "
                        "with cross-fitted checkers, instead of Mohler and a split")
    parser.add_argument("--cross-fit", action="store_true",
                        help="grade the PyTorch set with fact checkers fitted without each question's items")
    args = parser.parse_args()
    tutor = Tutor.load()
    print(f"Model: {tutor.embedder.name}\n")

    cross_fit = args.cross_fit or bool(args.fresh)  # a fresh set is always read by checkers blind to its items
    if args.fresh:
        data = json.loads((ROOT / "benchmarks" / "data" / args.fresh).read_text())["questions"]
        label = f"{args.fresh}, all"
    else:
        if args.mohler.is_file():
            mohler_table(mohler(tutor, args.mohler, args.folds))
        else:
            print(f"(Mohler data not found at {args.mohler}; skipped)")
        data, label = load_cases()[args.split], f"{args.split} split"
    shipped = tutor.grader.checker
    result = pytorch_set(tutor, data, cross_fit_checkers(tutor) if cross_fit and shipped else None)
    tutor.grader.checker = shipped
    print(f"\nFact checker: {'none' if shipped is None else 'cross-fitted' if cross_fit else 'shipped'}")
    if cross_fit and shipped:
        print(f"Questions whose items both cross-fitted checkers saw: {result['checker_saw']} of {len(data)}")
    print(f"\nPyTorch set, {label} ({len(data)} questions x 4 answers)\n")
    print("| scorer | excellent | partial | misconception | off-topic | excellent - misconception "
          "| partial > misconception | all orderings hold |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ("cosine", "grader"):
        rows = result[name]
        means = [statistics.mean(r[i] for r in rows) for i in range(4)]
        above = sum(r[1] > r[2] for r in rows)
        holds = sum(ordered(r) for r in rows)
        label = "plain cosine x100" if name == "cosine" else "tutor grader"
        print(f"| {label} | {means[0]:.1f} | {means[1]:.1f} | {means[2]:.1f} | {means[3]:.1f} | "
              f"{means[0] - means[2]:.1f} | {above}/{len(rows)} = {above / len(rows):.2f} | {holds}/{len(rows)} |")
    print("\nPer question (tutor grader): excellent / partial / misconception / off-topic")
    for question, row in zip(result["questions"], result["grader"], strict=True):
        flag = "" if ordered(row) else "   <- ordering broken"
        print(f"  {' / '.join(f'{x:5.1f}' for x in row)}  {question[:70]}{flag}")

    # Settings are chosen on dev; test and a fresh set report the shipped one.
    if shipped is not None and args.split == "dev" and not args.fresh:
        check_settings_table(result["graded"])

    grade_s, embed_s = latency(tutor)
    print(f"\nGrading a 100-word answer: median {grade_s * 1000:.1f} ms; one bare embedding of it "
          f"{embed_s * 1000:.1f} ms; ratio {grade_s / embed_s:.1f}x")


def mohler_table(result: dict) -> None:
    print(f"Mohler dev ({result['n']} answers, {result['questions']} questions): correlation with the human grade\n")
    print("| scorer | Pearson | Spearman |\n|---|---|---|")
    for name in ("cosine", "grader"):
        p, s = result[name]
        label = "plain cosine" if name == "cosine" else f"tutor grader ({COVERAGE_WEIGHT}, {SEMANTIC_SHARE})"
        print(f"| {label} | {p:.3f} | {s:.3f} |")
    cv = result["cv"]
    folds = np.array(cv["folds"])
    print(f"\nLeave-questions-out cross-validation ({len(folds)} folds by question): pooled out-of-fold Pearson "
          f"{cv['pooled']:.3f}; per fold {folds.mean():.3f} ± {folds.std():.3f} "
          f"({', '.join(f'{r:.2f}' for r in folds)}); chosen (coverage weight, semantic share) per fold: "
          f"{', '.join(f'({c}, {s})' for c, s in cv['chosen'])}")
    print("\nPer setting, Pearson over the folds (mean ± spread); the shipped setting is marked *\n")
    def cell(c: float, s: float) -> str:
        r = np.array(cv["per_setting"][(c, s)])
        return f"{r.mean():.3f} ± {r.std():.3f}"

    grid_table("coverage weight \\ semantic share", COVERAGE_GRID, SEMANTIC_GRID, cell,
               (COVERAGE_WEIGHT, SEMANTIC_SHARE))


if __name__ == "__main__":
    main()
