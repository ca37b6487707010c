"""Does a sentence of an answer state what a point of the notes says? A small cross-encoder, fitted on data.

Embedding similarity cannot tell a fluent misconception from a correct answer: "eval() turns off gradient
computation" lies as near the notes' point about eval() as a correct sentence does. A cross-encoder reads the
point and the sentence together, so it can. It is fitted once, like the tuned embedder (``tutor.tuning``),
from the embedded all-MiniLM-L6-v2 weights, on the pairs shipped in ``tutor/data/fact_checks.jsonl``: for
key points of the notes, learner sentences written by helper sessions that never saw the code (short ones, and
long two-clause ones as candidates speak), each labelled

* ``states``: says the point, correctly, in other words (at length, in one short clause, or in plain words);
* ``contradicts``: a fluent misconception on the point in its own vocabulary (reversed effects, swapped
  functions or roles, wrong purpose or numbers), a sentence half right and half wrong, or another concept
  described under the point's name;
* ``other``: true, on the same topic, but not this point.

The pairs are about 68 items of the notes, none of them an item of the grading benchmark's test questions
(``benchmarks/grading.py``), so the test split measures the checker on points it never saw.

The grader asks, for each sentence of an answer, the probability that it states one of the two points it is
nearest to (``support``); an answer whose sentences, weighted by length, mostly do not read as stating the
notes keeps only a share of its score (``tutor.grading``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from tutor import models
from tutor.config import DEFAULT_EMBED_MODEL, default_cache_dir
from tutor.files import atomic_write
from tutor.tuning import WEIGHTS, cached_fit, tuned_weights

log = logging.getLogger(__name__)

CHECK_VERSION = 1
LABELS = ("states", "contradicts", "other")
EPOCHS = 4
BATCH = 16
LEARNING_RATE = 3e-5
MAX_TOKENS = 128  # a point and a sentence together; longer pairs are cut
SEED = 0
DATA = "data/fact_checks.jsonl"
# Each fit of the checker reads on its own scale: fitted on all the pairs, it gives correct statements about points
# it never saw a mean P(states) of 0.41; the two half-data fits the grader's settings were chosen with
# (``tutor.grading``) gave 0.25 and 0.28, so the shipped checker believed misconceptions the halves did not. Every
# checker is therefore read on one scale: its P(states) times SCALE_REFERENCE / its own mean P(states) on the correct
# statements of ``SCALE_DATA``, pairs about PyTorch the notes never discuss, which no checker learns from.
# SCALE_REFERENCE is the mean of those two halves' means (0.246 and 0.280), the scale the settings were chosen on.
SCALE_DATA = "data/fact_checks_general.jsonl"
SCALE_REFERENCE = 0.263
SCALE_FILE = "scale.json"
_HELPER_LABELS = {"correct": "states", "correct_short": "states", "correct_plain": "states",
                  "wrong": "contradicts", "wrong_subtle": "contradicts", "half_wrong": "contradicts",
                  "wrong_other_concept": "contradicts", "other_true": "other"}


def fit_rows(data: str = DATA) -> list[dict]:
    """The shipped pairs (or those of another file of ``tutor/``): ``item``, ``point``, ``sentence`` and ``label``
    (one of ``LABELS``)."""
    text = resources.files("tutor").joinpath(data).read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [{**row, "label": _HELPER_LABELS.get(row["label"], row["label"])} for row in rows]


def fit(source: str, rows: list[dict], target: Path, epochs: int = EPOCHS, seed: int = SEED) -> None:
    """Fit a three-way cross-encoder from the transformer in ``source`` on ``rows``; save it in ``target``."""
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = AutoTokenizer.from_pretrained(source)
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # not "newly initialized classifier": that is the point
    try:
        model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=len(LABELS))
    finally:
        transformers_logging.set_verbosity(verbosity)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    model.train()
    batches = []
    for _ in range(epochs):
        order = rows[:]
        rng.shuffle(order)
        batches += [order[start : start + BATCH] for start in range(0, len(order), BATCH)]
    for batch in tqdm(batches, desc="Fitting the fact checker", unit="batch"):
        encoded = tokenizer([r["point"] for r in batch], [r["sentence"] for r in batch], truncation=True,
                            max_length=MAX_TOKENS, padding=True, return_tensors="pt")
        labels = torch.tensor([LABELS.index(r["label"]) for r in batch])
        loss = torch.nn.functional.cross_entropy(model(**encoded).logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.config.id2label = dict(enumerate(LABELS))
    model.config.label2id = {label: n for n, label in enumerate(LABELS)}
    model.save_pretrained(str(target), safe_serialization=True)
    tokenizer.save_pretrained(str(target))
    if not (target / WEIGHTS).is_file():
        raise RuntimeError(f"The fact checker was not saved as {WEIGHTS} in {target}.")


def checker_dir(name_or_path: str = DEFAULT_EMBED_MODEL, cache_dir: Path | None = None,
                rows: list[dict] | None = None, kind: str = "checker") -> Path:
    """The fitted checker's folder, fitted once from the (verified) base model on ``rows`` (default: the shipped
    pairs) and kept in the cache folder as ``<kind>-<key>`` (a benchmark's cross-fitted halves name their own
    kind, so neither replaces the shipped one)."""
    source, base_weights = models.model_source(name_or_path, cache_dir)
    rows = fit_rows() if rows is None else rows
    key = hashlib.sha256(json.dumps([CHECK_VERSION, base_weights, rows]).encode()).hexdigest()[:12]

    def make(staging: Path) -> int:
        log.info("Fitting the fact checker on %d pairs (once; about 7 minutes on 2 CPU cores)", len(rows))
        fit(source, rows, staging)
        return len(rows)

    return cached_fit(cache_dir or default_cache_dir(), f"{kind}-{key}", base_weights, make, "fact checker",
                      {"check_version": CHECK_VERSION})


@dataclass
class FactChecker:
    """The fitted cross-encoder: ``support`` gives P(states) for (point, sentence) pairs."""

    folder: Path
    device: str = "cpu"

    def __post_init__(self) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
        self.model = AutoModelForSequenceClassification.from_pretrained(str(self.folder)).to(self.device).eval()
        self.weights_sha256 = tuned_weights(self.folder)
        self.scale = SCALE_REFERENCE / self.mean_states()

    @classmethod
    def load(cls, name_or_path: str = DEFAULT_EMBED_MODEL, device: str = "auto",
             cache_dir: Path | None = None) -> FactChecker:
        return cls(checker_dir(name_or_path, cache_dir), models.resolve_device(device))

    def support(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """P(the sentence states the point) for each (point, sentence) pair, on the common scale (``SCALE_DATA``)."""
        return np.minimum(1.0, self.probabilities(pairs)[:, LABELS.index("states")] * self.scale)

    def mean_states(self) -> float:
        """This checker's mean P(states) on the correct statements of ``SCALE_DATA``: measured once (about 20 s
        on 2 CPU cores) and kept beside its weights, keyed by their SHA-256 and the statements."""
        correct = [(r["point"], r["sentence"]) for r in fit_rows(SCALE_DATA) if r["label"] == "states"]
        key = hashlib.sha256(json.dumps([self.weights_sha256, correct]).encode()).hexdigest()
        path = self.folder / SCALE_FILE
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
            if kept.get("key") == key:
                return float(kept["mean_states"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # not measured yet, or damaged: measure again
        mean = float(np.concatenate([self.probabilities(correct[k : k + 64])[:, LABELS.index("states")]
                                     for k in range(0, len(correct), 64)]).mean())
        try:
            atomic_write(path, lambda p: p.write_text(json.dumps({"key": key, "mean_states": mean}), encoding="utf-8"))
        except OSError as exc:  # a read-only cache: measured again at the next start
            log.warning("Could not keep the fact checker's scale in %s: %s", path, exc)
        return mean

    def probabilities(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """One row per (point, sentence) pair: the probability of each of ``LABELS``."""
        import torch

        if not pairs:
            return np.zeros((0, len(LABELS)), np.float32)
        with torch.inference_mode():
            encoded = self.tokenizer([p for p, _ in pairs], [s for _, s in pairs], truncation=True,
                                     max_length=MAX_TOKENS, padding=True, return_tensors="pt").to(self.device)
            probabilities = torch.softmax(self.model(**encoded).logits.float(), dim=-1)
        return probabilities.cpu().numpy()
