"""Index build throughput and query latency at 1k, 10k and 100k passages, and recall of the approximate
index against exact search where the size calls for one.

Synthetic corpora are made from the real notes' sentences, recombined, written as pages of the numbered
shape and built through the normal pipeline (parse, embed, group, calibrate, write). Each item has a
question and a one-chunk answer: two passages.

    python benchmarks/scale.py [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor import Tutor  # noqa: E402
from tutor.config import Config  # noqa: E402
from tutor.corpus import load_corpus  # noqa: E402
from tutor.models import SentenceEmbedder  # noqa: E402
from tutor.points import split_sentences  # noqa: E402

QUERIES = ["why call optimizer.zero_grad()", "what does model.eval() change", "how does max pooling work",
           "difference between DataParallel and DDP", "how to save a model", "what is a tensor",
           "why do gradients explode", "what is transfer learning", "how does a DataLoader shuffle",
           "what is CTCLoss", "what is softmax", "how to freeze layers"]


def synthetic_corpus(folder: Path, passages: int, seed: int = 0) -> None:
    """Pages of ``### n) question`` items whose questions and answers recombine the notes' sentences."""
    items = load_corpus(ROOT / "corpus")
    questions = [item.prompt for item in items]
    sentences = [s for item in items if item.answer for s in split_sentences(item.answer) if len(s.split()) > 4]
    rng = random.Random(seed)
    per_page = 5000
    n_items = passages // 2
    folder.mkdir(parents=True)
    for page in range(0, n_items, per_page):
        lines = [f"# Synthetic page {page // per_page}"]
        for n in range(page, min(page + per_page, n_items)):
            question = f"{rng.choice(questions).rstrip('?')} (variant {n})?"
            answer = " ".join(rng.sample(sentences, 2))
            lines += [f"### {n - page + 1}) {question}", "", answer, ""]
        (folder / f"{page // per_page:03d}_synthetic.txt").write_text("\n".join(lines), encoding="utf-8")


def recall_at_10(index, queries: np.ndarray) -> float:
    import faiss

    vectors = index.reconstruct_n(0, index.ntotal)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    _, found = index.search(queries, 10)
    return float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    args = parser.parse_args()
    embedder = SentenceEmbedder()
    query_vectors = embedder.embed(QUERIES)
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            corpus = Path(folder) / "corpus"
            synthetic_corpus(corpus, size)
            config = Config(corpus_dir=corpus, index_dir=Path(folder) / "index", data_dir=Path(folder) / "data")
            started = time.perf_counter()
            tutor = Tutor.load(config, embedder=embedder)
            build_s = time.perf_counter() - started
            index = tutor.index.faiss_index
            timings = []
            for _ in range(3):
                for query in QUERIES:
                    t0 = time.perf_counter()
                    tutor.ask(query)
                    timings.append(time.perf_counter() - t0)
            search = []
            for vector in query_vectors:
                t0 = time.perf_counter()
                index.search(vector[None, :], 10)
                search.append(time.perf_counter() - t0)
            recall = recall_at_10(index, query_vectors) if type(index).__name__ != "IndexFlatIP" else 1.0
            rows.append((index.ntotal, type(index).__name__, build_s, index.ntotal / build_s,
                         statistics.median(timings), statistics.median(search), recall))
            print(f"  built {index.ntotal} passages in {build_s:.1f} s", flush=True)
    print("\n| passages | index | build (s) | passages/s | ask() median (ms) | vector search median (ms) "
          "| recall@10 vs exact |")
    print("|---|---|---|---|---|---|---|")
    for passages, kind, build_s, rate, ask_s, search_s, recall in rows:
        print(f"| {passages:,} | {kind} | {build_s:.1f} | {rate:.0f} | {ask_s * 1000:.1f} | {search_s * 1000:.2f} "
              f"| {recall:.3f} |")
    if len(rows) > 1:
        print(f"\nask() latency, largest vs smallest corpus: {rows[-1][4] / rows[0][4]:.2f}x")


if __name__ == "__main__":
    main()
