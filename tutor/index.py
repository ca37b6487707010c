"""The vector index in ``index/``: built on first use, rebuilt when the corpus, model or format changes.

Layout (no pickle anywhere)::

    index/manifest.json          format, model name and weight hash, dimension, corpus hash, counts, file names
    index/vectors-<key>.faiss    one row per passage: each item's question, whole answer and answer parts
    index/rows-<key>.npy         passage row -> item position
    index/spans-<key>.npy        passage row -> kind (question, answer, part) and the part's span in the answer
    index/items-<key>.jsonl      the parsed items, each with its question group
    index/memory-<key>.npy       the shipped development questions' vectors, index/memorylabels-<key>.npy
                                 whether each is in scope (the confidence decision's ``known_outside``)

Data files carry a content key in their names and the manifest is replaced last, atomically: a build
killed at any point leaves the previous manifest pointing at the previous, intact files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import re
import time
from pathlib import Path

import numpy as np

from tutor.corpus import MAX_PAGE_BYTES, corpus_hash, load_library
from tutor.errors import IndexMismatch, TutorError
from tutor.files import atomic_write
from tutor.index_data import IndexData
from tutor.items import Item
from tutor.models import Embedder, untuned_of
from tutor.passages import build_passages

log = logging.getLogger(__name__)

FORMAT_VERSION = 15
# Two pages ask the same question when their question embeddings are at least this close.
SAME_QUESTION_COSINE = 0.80
MUTUAL_COSINE = 0.78
FLAT_LIMIT = 50_000  # beyond this many passages an HNSW graph replaces exact search


def group_questions(items: list[Item], question_vectors: np.ndarray, neighbours: int = 64) -> list[int]:
    """Union items of different pages that ask the same question; returns a group id per item.

    Two items are linked when each is the other's nearest question on the other's page and their
    cosine is at least ``MUTUAL_COSINE``, or when both pages state the question explicitly and the
    cosine reaches ``SAME_QUESTION_COSINE``. Mutual nearest neighbours keep a broad item such as
    "What are tensors?" from swallowing every tensor question of another page. Only each question's
    ``neighbours`` nearest are compared (a k-NN search, not an n x n matrix), so this scales to 100k items.
    """
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if len(items) < 2:
        return parent
    search = _faiss().IndexFlatIP(question_vectors.shape[1])
    search.add(np.ascontiguousarray(question_vectors, dtype=np.float32))
    scores, ids = search.search(np.ascontiguousarray(question_vectors, dtype=np.float32), min(neighbours, len(items)))
    # nearest[i][source]: the item of `source` nearest to item i (among its k nearest)
    nearest: list[dict[str, tuple[int, float]]] = []
    for i in range(len(items)):
        firsts: dict[str, tuple[int, float]] = {}
        for j, score in zip(ids[i], scores[i], strict=True):
            if j >= 0 and j != i and items[j].source != items[i].source:
                firsts.setdefault(items[j].source, (int(j), float(score)))
        nearest.append(firsts)
    explicit = [item.question is not None and not item.question_derived for item in items]
    for i in range(len(items)):
        for j, score in zip(ids[i], scores[i], strict=True):
            if j < 0 or j == i or items[j].source == items[i].source:
                continue
            mutual = nearest[i].get(items[j].source, (-1,))[0] == j and nearest[j].get(items[i].source, (-1,))[0] == i
            if (mutual and score >= MUTUAL_COSINE) or (explicit[i] and explicit[j] and score >= SAME_QUESTION_COSINE):
                parent[find(int(j))] = find(i)
    return [find(i) for i in range(len(items))]


def _faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss-cpu is a hard dependency
        raise TutorError("FAISS is not available - install faiss-cpu") from exc
    return faiss


def make_faiss_index(vectors: np.ndarray):
    """Exact inner-product search for small corpora, HNSW beyond ``FLAT_LIMIT`` passages."""
    faiss = _faiss()
    dimension = vectors.shape[1]
    if len(vectors) <= FLAT_LIMIT:
        index = faiss.IndexFlatIP(dimension)
    else:
        index = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 96
    index.add(vectors)
    return index


def expected_manifest(corpus_dir: Path, embedder: Embedder, notes_dir: Path | None = None,
                      max_page_bytes: int = MAX_PAGE_BYTES) -> dict:
    from tutor.calibration import CALIBRATION_VERSION
    from tutor.confidence import fit_data_sha256
    from tutor.ranking import RANKER_VERSION

    return {
        "format_version": FORMAT_VERSION,
        "ranker_version": RANKER_VERSION,
        "calibration_version": CALIBRATION_VERSION,
        "confidence_fit_sha256": fit_data_sha256(),
        "model": embedder.name,
        "model_weights_sha256": embedder.weights,
        "dimension": embedder.dimension,
        "corpus_sha256": corpus_hash(corpus_dir, notes_dir, max_page_bytes),
    }


@contextlib.contextmanager
def build_lock(index_dir: Path, timeout_s: float = 300.0):
    """One build at a time: a second builder waits here, then finds the first one's index fresh."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".build.lock", "w") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TutorError(f"Another process has been building the index in {index_dir} "
                                     f"for over {timeout_s:.0f} s; try again later.") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class CachedEmbedder:
    """An embedder that remembers every text it embedded for this model in ``index_dir``, so a rebuild
    after a small corpus edit embeds only the new texts. Stored as NumPy + JSON lines (no pickle)."""

    def __init__(self, embedder: Embedder, index_dir: Path):
        self.inner = embedder
        self.name, self.weights, self.dimension = embedder.name, embedder.weights, embedder.dimension
        key = hashlib.sha256(f"{embedder.name}\0{embedder.weights}".encode()).hexdigest()[:12]
        # One file, one atomic write: digests and vectors can never disagree after a crash.
        self.path = index_dir / f"cache-{key}.npz"
        self.known: dict[str, np.ndarray] = {}
        self.used: dict[str, np.ndarray] = {}
        with contextlib.suppress(OSError, ValueError, KeyError, EOFError), \
                np.load(self.path, allow_pickle=False) as stored:
            digests, vectors = stored["digests"], stored["vectors"]
            if len(vectors) == len(digests) and vectors.shape[1:] == (self.dimension,):
                self.known = dict(zip(digests.tolist(), vectors, strict=True))

    @staticmethod
    def _digest(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()

    def embed(self, texts: list[str]) -> np.ndarray:
        digests = [self._digest(t) for t in texts]
        missing = {d: t for d, t in zip(digests, texts, strict=True) if d not in self.known}
        if missing:
            self.known.update(zip(missing, self.inner.embed(list(missing.values())), strict=True))
        self.used.update((d, self.known[d]) for d in digests)
        return np.vstack([self.known[d] for d in digests]) if texts else np.zeros((0, self.dimension), np.float32)

    def save(self) -> None:
        """Keep the vectors this build used (older ones are dropped), atomically."""
        digests = np.array(list(self.used), dtype="<U40")
        vectors = np.vstack([self.used[d] for d in digests]).astype(np.float32) if len(digests) else \
            np.zeros((0, self.dimension), np.float32)

        def write(path: Path) -> None:
            with path.open("wb") as handle:
                np.savez(handle, digests=digests, vectors=vectors)

        atomic_write(self.path, write)


def build_index(corpus_dir: Path, index_dir: Path, embedder: Embedder, *, progress: bool = True,
                notes_dir: Path | None = None, max_page_bytes: int = MAX_PAGE_BYTES) -> IndexData:
    """Read the pages, embed and write the index atomically; returns it loaded."""
    library = load_library(corpus_dir, notes_dir, max_page_bytes)
    items = library.items
    index_dir.mkdir(parents=True, exist_ok=True)
    embedder = CachedEmbedder(embedder, index_dir)
    passages = build_passages(items)
    texts, rows = [p.text for p in passages], [p.item for p in passages]
    vectors = _embed_with_progress(embedder, texts, progress)
    question_rows = np.searchsorted(np.asarray(rows), np.arange(len(items)))  # each item's first passage
    untuned = untuned_of(embedder)
    same_question_vectors = vectors[question_rows] if untuned is None else \
        untuned.embed([texts[r] for r in question_rows])
    groups = group_questions(items, same_question_vectors)
    from tutor.calibration import calibrate
    from tutor.points import key_points

    calibration = calibrate(items, groups, embedder)
    answered = [i for i, item in enumerate(items) if item.answer]
    points = [(i, point) for i in answered for point in key_points(items[i].answer, items[i].prompt)]
    point_items = np.asarray([i for i, _ in points], dtype=np.int32)
    point_vectors = embedder.embed([point for _, point in points]) if points \
        else np.zeros((0, embedder.dimension), np.float32)
    answer_vectors = np.zeros((len(items), embedder.dimension), np.float32)
    answer_vectors[answered] = embedder.embed([items[i].answer for i in answered])
    manifest = expected_manifest(corpus_dir, embedder, notes_dir, max_page_bytes)
    manifest["corpus_sha256"] = library.sha256  # the bytes parsed: a page edited meanwhile rebuilds next time
    key = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:12]
    files = {"vectors": f"vectors-{key}.faiss", "rows": f"rows-{key}.npy", "spans": f"spans-{key}.npy",
             "items": f"items-{key}.jsonl",
             "points": f"points-{key}.npy", "point_items": f"pointitems-{key}.npy",
             "answers": f"answers-{key}.npy", "hubs": f"hubs-{key}.npy", "memory": f"memory-{key}.npy",
             "memory_labels": f"memorylabels-{key}.npy"}
    faiss_index = make_faiss_index(vectors)
    atomic_write(index_dir / files["vectors"], lambda p: _faiss().write_index(faiss_index, str(p)))
    row_array = np.asarray(rows, dtype=np.int32)
    span_array = np.asarray([(p.kind, p.start, p.end) for p in passages], dtype=np.int32).reshape(-1, 3)
    arrays = {"rows": row_array, "spans": span_array, "points": point_vectors.astype(np.float32),
              "point_items": point_items, "answers": answer_vectors}
    for name, array in arrays.items():
        atomic_write(index_dir / files[name], lambda p, a=array: _save_npy(p, a))
    data = IndexData(items, groups, row_array, span_array, faiss_index, manifest, point_items, point_vectors,
                     answer_vectors)
    from tutor.retrieval import hub_pull

    data.hubs = hub_pull(data, vectors[question_rows])  # before the fits: they see the scores ask() sees
    atomic_write(index_dir / files["hubs"], lambda p: _save_npy(p, data.hubs))
    from tutor import fitting, ranking

    ranker = fitting.fit_ranker(data, embedder)
    manifest["ranker"] = ranker.to_json()  # the confidence fit ranks with it
    decision, memory = fitting.fit_decision(data, embedder, bundled_notes=ranker is not ranking.BUNDLED_RANKER)
    data.memory = memory
    memory_arrays = (memory.vectors, memory.in_scope) if memory is not None else \
        (np.zeros((0, embedder.dimension), np.float32), np.zeros(0, bool))
    for name, array in zip(("memory", "memory_labels"), memory_arrays, strict=True):
        atomic_write(index_dir / files[name], lambda p, a=array: _save_npy(p, a))
    lines = "".join(json.dumps({**item.to_json(), "group": g}) + "\n" for item, g in zip(items, groups, strict=True))
    atomic_write(index_dir / files["items"], lambda p: p.write_text(lines, encoding="utf-8"))
    manifest.update(
        items=len(items), passages=len(rows), index_type=type(faiss_index).__name__, files=files,
        grading_calibration=dataclasses.asdict(calibration), confidence=decision.to_json(),
        pages=[dataclasses.asdict(page) for page in library.pages],
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    atomic_write(index_dir / "manifest.json", lambda p: p.write_text(json.dumps(manifest, indent=2)))
    embedder.save()  # after the manifest: a cache never refers to an index, so order only matters for speed
    _remove_unreferenced(index_dir, set(files.values()))
    log.info("Built index: %d items, %d passages (%s)", len(items), len(rows), manifest["index_type"])
    return data


def _save_npy(path: Path, array: np.ndarray) -> None:
    with path.open("wb") as handle:
        np.save(handle, array, allow_pickle=False)


def _embed_with_progress(embedder: Embedder, texts: list[str], progress: bool) -> np.ndarray:
    from tqdm import tqdm

    batch = 256
    parts = []
    with tqdm(total=len(texts), desc="Embedding passages", unit="passage",
              disable=not progress or len(texts) < 2 * batch) as bar:
        for start in range(0, len(texts), batch):
            parts.append(embedder.embed(texts[start : start + batch]))
            bar.update(len(texts[start : start + batch]))
    return np.vstack(parts).astype(np.float32) if parts else np.zeros((0, embedder.dimension), np.float32)


def _remove_unreferenced(index_dir: Path, keep: set[str]) -> None:
    for path in index_dir.iterdir():
        data_file = re.match(r"(vectors|rows|spans|items|points|pointitems|answers|hubs|memory|memorylabels)"
                             r"-[0-9a-f]+\.", path.name)
        if data_file and path.name not in keep:
            with contextlib.suppress(OSError):
                path.unlink()


def load_index(index_dir: Path, expected: dict) -> IndexData:
    """Load the index, checking it against ``expected`` (see ``expected_manifest``).

    Raises:
        IndexMismatch: missing, unreadable or truncated files, or a manifest that differs; the message
            names what differs.
    """
    manifest_path = index_dir / "manifest.json"
    if not manifest_path.is_file():
        raise IndexMismatch(f"No index in {index_dir} yet.")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise IndexMismatch(f"The index manifest {manifest_path} is unreadable ({exc}).") from exc
    differences = [f"{k}: index has {manifest.get(k)!r}, wanted {v!r}" for k, v in expected.items()
                   if manifest.get(k) != v]
    if differences:
        raise IndexMismatch("The index is stale — " + "; ".join(differences))
    try:
        faiss_index = _faiss().read_index(str(index_dir / files["vectors"]))
        rows = np.load(index_dir / files["rows"], allow_pickle=False)
        spans = np.load(index_dir / files["spans"], allow_pickle=False)
        point_vectors = np.load(index_dir / files["points"], allow_pickle=False)
        point_items = np.load(index_dir / files["point_items"], allow_pickle=False)
        answer_vectors = np.load(index_dir / files["answers"], allow_pickle=False)
        hubs = np.load(index_dir / files["hubs"], allow_pickle=False)
        memory_vectors = np.load(index_dir / files["memory"], allow_pickle=False)
        memory_labels = np.load(index_dir / files["memory_labels"], allow_pickle=False)
        records = [json.loads(line) for line in (index_dir / files["items"]).read_text("utf-8").splitlines()]
        groups = [record.pop("group") for record in records]
        items = [Item.from_json(record) for record in records]
    except (RuntimeError, OSError, ValueError, KeyError, TypeError, EOFError) as exc:  # EOFError: an empty .npy
        raise IndexMismatch(f"The index files in {index_dir} are damaged ({exc}).") from exc
    if faiss_index.ntotal != manifest["passages"] or len(rows) != manifest["passages"] or len(spans) != len(rows) \
            or len(items) != manifest["items"] or faiss_index.d != manifest["dimension"] \
            or len(point_vectors) != len(point_items) or len(answer_vectors) != len(items) or len(hubs) != len(items) \
            or len(memory_vectors) != len(memory_labels):
        raise IndexMismatch(f"The index files in {index_dir} are truncated or do not match their manifest.")
    from tutor.confidence import Memory

    memory = Memory(memory_vectors, memory_labels.astype(bool)) if len(memory_labels) else None
    return IndexData(items, groups, rows, spans, faiss_index, manifest, point_items, point_vectors, answer_vectors,
                     hubs, memory)


def load_or_build(corpus_dir: Path, index_dir: Path, embedder: Embedder, *, rebuild: bool = False,
                  notes_dir: Path | None = None, max_page_bytes: int = MAX_PAGE_BYTES) -> IndexData:
    """The fresh index: loaded if it matches, else rebuilt (under the build lock), saying why."""
    expected = expected_manifest(corpus_dir, embedder, notes_dir, max_page_bytes)
    if not rebuild:
        try:
            return load_index(index_dir, expected)
        except IndexMismatch as reason:
            first_build = not (index_dir / "manifest.json").exists()
            (log.info if first_build else log.warning)("%s Rebuilding.", reason)
    with build_lock(index_dir):
        if not rebuild:
            with contextlib.suppress(IndexMismatch):
                return load_index(index_dir, expected)  # another process built it while we waited
        return build_index(corpus_dir, index_dir, embedder, notes_dir=notes_dir, max_page_bytes=max_page_bytes)
