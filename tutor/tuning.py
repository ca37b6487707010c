"""The embedding model adapted to interview questions: tuned once per model, kept in the user cache folder.

An off-the-shelf sentence embedder matches a question written in the notes' own words well and one in the
asker's own words ("roll my own training objective" for a custom loss) poorly. Tuning it briefly on question ->
item pairs teaches it how people ask: the shipped development questions (``tutor/data/confidence_questions.jsonl``,
written apart from the code, dev split only) paired with the bundled page item that answers each, and every
bundled item's own question paired with its answer. The loss is in-batch-negatives contrastive learning (that
of sentence-transformers' MultipleNegativesRankingLoss), one epoch, a fixed seed.

The ranker and the confidence decision are then fitted on the same questions, with the tuned model's scores,
when the index is built. Tuning on half of them and fitting on the other half was tried (so that the fits
would not see questions the model had learnt): it ranked worse and refused fresh in-scope questions just as
often (docs/PERFORMANCE.md).

Cross-validated by item on the blind dev questions (``benchmarks/tuning_cv.py``), it raised hit@1 of the
ranked retrieval from 0.768 to 0.807, and of dense retrieval alone from 0.680 to 0.724, ahead or level in every
fold. Mined hard negatives (``tuning_cv.py --hard-negatives``) gained
more there (0.816 ranked, 0.772 dense) but not on the test split, doubled the tuning's time and memory, and
are not used (docs/PERFORMANCE.md).

The tuned copy lives in ``<cache_dir>/tuned-<key>/``, the key naming the base weights, what the training pairs
are made from and ``TUNING_VERSION``; a ``tuned.json`` beside it records the tuned weights' SHA-256, checked
before each use: a tampered or partial copy is refused and tuned again. It is built in a staging folder and
renamed into place.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import functools
import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from tutor import models
from tutor.config import DEFAULT_EMBED_MODEL, Config, default_cache_dir

log = logging.getLogger(__name__)

TUNING_VERSION = 1
SUFFIX = "+tuned"  # the tuned copy's model name: ``all-MiniLM-L6-v2+tuned``
EPOCHS = 1
BATCH = 16
LEARNING_RATE = 2e-5
SCALE = 20.0  # cosine -> logit, as in MultipleNegativesRankingLoss
SEED = 0
WEIGHTS = "model.safetensors"


def document(item) -> str:
    """What a question is paired with: the item's question and answer."""
    return f"{item.prompt}\n{item.answer}"


def training_pairs(items, questions: list[dict] | None = None) -> list[tuple[str, str]]:
    """(question, document) pairs: each shipped in-scope question (or each of ``questions``, rows of the same
    shape: a benchmark's tuning folds) with the first of its gold items found in ``items``, then each answered
    item's own question."""
    from tutor.confidence import fit_questions

    by_id = {item.id: item for item in items if item.answer}
    pairs = []
    for row in fit_questions() if questions is None else questions:
        gold = next((by_id[g] for g in row["gold"] if g in by_id), None) if row["in_scope"] else None
        if gold is not None:
            pairs.append((row["q"], document(gold)))
    pairs += [(item.prompt, document(item)) for item in by_id.values()]
    return pairs


def bundled_pairs() -> list[tuple[str, str]]:
    """The training pairs over the bundled pages (the same for every user, whatever their own notes)."""
    from tutor.corpus import load_library

    return training_pairs(load_library(Config().corpus_dir).items)


def bundled_data_sha256() -> str:
    """What ``bundled_pairs()`` are made from, hashed without parsing a page: the bundled pages' bytes (with the
    parser's version) and the shipped questions."""
    from tutor.confidence import fit_data_sha256
    from tutor.corpus import corpus_hash

    return hashlib.sha256(f"{corpus_hash(Config().corpus_dir)}\0{fit_data_sha256()}".encode()).hexdigest()


def tune(model, pairs: list[tuple[str, ...]], epochs: int = EPOCHS, seed: int = SEED):
    """A copy of the sentence-transformers ``model`` tuned so each question embeds nearest its own document
    among the batch's documents (and the batch's hard negatives, when ``pairs`` are triples). ``model``
    itself is left as it was."""
    import torch
    from tqdm import tqdm

    torch.manual_seed(seed)
    model = copy.deepcopy(model)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    rng = random.Random(seed)

    def encode(texts: list[str]):
        features = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in model.preprocess(texts).items()}
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    for _ in range(epochs):
        order = pairs[:]
        rng.shuffle(order)
        batches = [order[start : start + BATCH] for start in range(0, len(order), BATCH)]
        for batch in tqdm(batches, desc="Adapting the embedder to interview questions", unit="batch",
                          disable=len(batches) < 4):
            if len(batch) < 2:
                continue
            documents = [example[1] for example in batch] + [example[2] for example in batch if len(example) > 2]
            logits = SCALE * encode([example[0] for example in batch]) @ encode(documents).T
            # Two questions of one document in a batch: neither is the other's negative.
            same = torch.tensor([[example[1] == d for d in documents] for example in batch], device=logits.device)
            own = torch.zeros_like(same)
            own[range(len(batch)), range(len(batch))] = True
            loss = torch.nn.functional.cross_entropy(logits.masked_fill(same & ~own, -1e4),
                                                     torch.arange(len(batch), device=logits.device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    return model


def tuning_key(base_weights: str, data: str | list[tuple[str, str]]) -> str:
    """Names a tuned copy: the base weights, what the pairs are made from (or the pairs) and the version."""
    return hashlib.sha256(json.dumps([TUNING_VERSION, base_weights, data]).encode()).hexdigest()[:12]


def _record(folder: Path) -> dict | None:
    with contextlib.suppress(OSError, ValueError):
        return json.loads((folder / "tuned.json").read_text(encoding="utf-8"))
    return None


def _intact(folder: Path) -> bool:
    record = _record(folder)
    weights = folder / WEIGHTS
    return bool(record) and weights.is_file() and models.file_matches(weights, str(record.get("weights_sha256")))


def tuned_model_dir(load_model: Callable, base_weights: str, cache_dir: Path,
                    pairs: list[tuple[str, ...]] | None = None) -> Path:
    """The folder of a model (``load_model()`` loads the SentenceTransformer whose weights hash is
    ``base_weights``) tuned on ``pairs`` (default: ``bundled_pairs()``, made only when tuning): reused when
    intact, else tuned (again) and saved."""
    key = tuning_key(base_weights, bundled_data_sha256() if pairs is None else pairs)

    def make(staging: Path) -> int:
        examples = bundled_pairs() if pairs is None else pairs
        log.info("Adapting the embedding model to interview questions (%d pairs; once per model, "
                 "about 4 minutes on 2 CPU cores)", len(examples))
        tune(load_model(), examples).save(str(staging))
        return len(examples)

    return cached_fit(cache_dir, f"tuned-{key}", base_weights, make, "tuned embedding model",
                      {"tuning_version": TUNING_VERSION})


def cached_fit(cache_dir: Path, name: str, base_weights: str, make: Callable[[Path], int], what: str,
               record: dict) -> Path:
    """``cache_dir / name``: a model fitted from the base weights hashed ``base_weights`` by ``make(staging)``
    (which saves it in ``staging`` and returns how many examples it learnt from), reused when intact (its
    weights' SHA-256 as recorded), else fitted (again) and moved into place whole. Earlier fits of the same
    kind (``name``'s prefix) from the same base are removed."""
    target = cache_dir / name
    if _intact(target):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    prefix = name.split("-")[0]
    with open(cache_dir / f".fitting-{prefix}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits, then finds the first one's copy
        try:
            if _intact(target):
                return target
            if target.exists():
                log.warning("The %s in %s fails its SHA-256 check (partial or tampered with); refusing it and "
                            "fitting it again.", what, target)
            staging = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f".{target.name}."))
            try:
                examples = make(staging)
                done = {**record, "base_weights_sha256": base_weights, "pairs": examples,
                        "weights_sha256": models.sha256_file(staging / WEIGHTS)}
                (staging / "tuned.json").write_text(json.dumps(done, indent=2), encoding="utf-8")
                if target.exists():
                    shutil.rmtree(target)
                os.replace(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            for older in cache_dir.glob(f"{prefix}-*"):  # earlier fits of this kind from this base: superseded
                if older != target and (_record(older) or {}).get("base_weights_sha256") == base_weights:
                    shutil.rmtree(older, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def tuned_weights(folder: Path) -> str:
    """The recorded (and checked) SHA-256 of a tuned copy's weights."""
    return _record(folder)["weights_sha256"]


class TunedEmbedder(models.SentenceEmbedder):
    """A sentence-transformers model's copy adapted to interview questions, named ``<model>+tuned``. The copy
    is made once per model and kept in ``cache_dir``; the model as it comes is loaded only to make it."""

    def __init__(self, name_or_path: str = DEFAULT_EMBED_MODEL, device: str = "auto",
                 cache_dir: Path | None = None):
        source, base_weights = models.model_source(name_or_path, cache_dir)
        self.device = models.resolve_device(device)
        folder = tuned_model_dir(lambda: models.sentence_transformer(source, self.device, name_or_path),
                                 base_weights, cache_dir or default_cache_dir())
        self._use(models.sentence_transformer(str(folder), self.device, name_or_path),
                  f"{name_or_path}{SUFFIX}", tuned_weights(folder))
        self.untuned = functools.partial(models.SentenceEmbedder, name_or_path, device, cache_dir)
