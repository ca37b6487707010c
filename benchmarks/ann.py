"""Vector index by size: exact search up to FLAT_LIMIT passages, HNSW beyond. Recall@10 against exact
search and single-query search latency at 1k, 10k and 100k vectors.

Embedding 100k passages takes about an hour on the 2-core CPU (see benchmarks/scale.py for the full
pipeline at 1k and 10k), so this measures the part that depends on size on vectors derived from real
ones: all-MiniLM-L6-v2 embeddings of 1,000 synthetic passages, each derived vector a random mix of two
of them plus a little noise, normalised. Queries are real questions, embedded.

    python benchmarks/ann.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.scale import QUERIES, synthetic_corpus  # noqa: E402
from tutor.corpus import load_corpus  # noqa: E402
from tutor.index import FLAT_LIMIT, make_faiss_index  # noqa: E402
from tutor.models import SentenceEmbedder  # noqa: E402
from tutor.passages import build_passages  # noqa: E402


def derived(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(base), n), rng.integers(0, len(base), n)
    a, b = rng.uniform(0.5, 1.0, (n, 1)), rng.uniform(0.0, 0.5, (n, 1))
    vectors = a * base[i] + b * base[j] + rng.normal(0, 0.02, (n, base.shape[1]))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    import faiss

    embedder = SentenceEmbedder()
    with tempfile.TemporaryDirectory() as folder:
        synthetic_corpus(Path(folder) / "c", 1000)
        texts = [p.text for p in build_passages(load_corpus(Path(folder) / "c"))]
    base = embedder.embed(texts)
    queries = np.vstack([embedder.embed(QUERIES), derived(base, 188, seed=99)])
    print(f"FLAT_LIMIT = {FLAT_LIMIT:,} passages; {len(queries)} queries\n")
    print("| vectors | index | build (s) | recall@10 vs exact | search median (ms) | search p95 (ms) |")
    print("|---|---|---|---|---|---|")
    medians = {}
    for size in (1_000, 10_000, 100_000):
        vectors = derived(base, size, seed=size)
        started = time.perf_counter()
        index = make_faiss_index(vectors)
        build = time.perf_counter() - started
        exact = faiss.IndexFlatIP(vectors.shape[1])
        exact.add(vectors)
        _, truth = exact.search(queries, 10)
        times, found = [], []
        for query in queries:
            t0 = time.perf_counter()
            _, ids = index.search(query[None, :], 10)
            times.append(time.perf_counter() - t0)
            found.append(ids[0])
        recall = float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)]))
        medians[size] = statistics.median(times)
        p95 = sorted(times)[int(0.95 * (len(times) - 1))]
        print(f"| {size:,} | {type(index).__name__} | {build:.1f} | {recall:.3f} | {medians[size] * 1000:.2f} "
              f"| {p95 * 1000:.2f} |")
    print(f"\nSearch latency at 100k vs 1k: {medians[100_000] / medians[1_000]:.1f}x "
          f"(absolute: {medians[100_000] * 1000:.2f} ms vs {medians[1_000] * 1000:.2f} ms)")
    print("\nWhole retrieval (embed the query, HNSW/flat search, BM25 over every answer, fuse), per query:")
    print("| passages | items | retrieval median (ms) | p95 (ms) |\n|---|---|---|---|")
    whole = {}
    for size in (1_000, 100_000):
        retriever = synthetic_retriever(base, texts, size, embedder)
        times = []
        for _ in range(3):
            for query in QUERIES:
                t0 = time.perf_counter()
                retriever.search(query, k=8)
                times.append(time.perf_counter() - t0)
        whole[size] = statistics.median(times)
        p95 = sorted(times)[int(0.95 * (len(times) - 1))]
        print(f"| {size:,} | {size // 2:,} | {whole[size] * 1000:.1f} | {p95 * 1000:.1f} |")
    print(f"\nWhole retrieval at 100k vs 1k: {whole[100_000] / whole[1_000]:.2f}x")


def synthetic_retriever(base: np.ndarray, texts: list[str], size: int, embedder):
    """A Retriever over ``size`` derived passages: ``size // 2`` items, each a question and an answer."""
    from tutor.index import IndexData
    from tutor.items import Item
    from tutor.retrieval import Retriever

    rng = np.random.default_rng(size)
    n_items = size // 2
    items = [Item(f"s-{k}", "synthetic.txt", "", texts[(2 * k) % len(texts)], texts[(2 * k) % len(texts)],
                  " ".join(rng.choice(texts, 2)), "tensors") for k in range(n_items)]
    vectors = derived(base, size, seed=size + 1)
    rows = np.repeat(np.arange(n_items, dtype=np.int32), 2)
    dimension = vectors.shape[1]
    index = IndexData(items, list(range(n_items)), rows, np.zeros((len(rows), 3), np.int32), make_faiss_index(vectors),
                      {"dimension": dimension}, np.zeros(0, np.int32), np.zeros((0, dimension), np.float32),
                      np.zeros((n_items, dimension), np.float32))
    return Retriever(index, embedder)


if __name__ == "__main__":
    main()
