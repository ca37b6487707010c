"""Would fine-tuning the embedder on question -> item pairs help retrieval? Cross-validated on the blind dev
questions only, by item: for each of 5 folds the model is tuned on the other folds' questions (and/or the
notes' own question -> answer pairs), and the held-out questions are retrieved three ways — dense alone,
the hybrid first stage, and the hybrid re-ordered by the bundled ranker — with the base model and the tuned
one. The tuning is ``tutor.tuning``'s (with ``--hard-negatives``, each pair gets a mined hard negative:
tried, not kept; docs/PERFORMANCE.md); the tutor itself tunes on every shipped dev question at once, and
fits its ranker and confidence decision on the same questions.

    python benchmarks/tuning_cv.py --pairs both            # dev questions + the notes' own pairs
    python benchmarks/tuning_cv.py --pairs dev --epochs 2
    python benchmarks/tuning_cv.py --more                  # + the second round's questions on the tuning folds
    python benchmarks/tuning_cv.py --more --phrasings      # + each item's listed ways of asking
    python benchmarks/tuning_cv.py --as-shipped [--phrasings]  # the tutor's own recipe, ranker refitted per fold

Held-out figures are on the first round's dev questions (comparable between runs), then on the second
round's questions about the held-out items. ``--as-shipped`` instead repeats the tutor's own recipe per fold:
tuned on every shipped in-scope dev question whose items are outside the fold (all rounds) and the notes' own
pairs, the ranker refitted on the same questions with the tuned model, every dev round's questions on the fold's
items held out.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tutor import Tutor, ranking  # noqa: E402
from tutor.confidence import fit_questions  # noqa: E402
from tutor.config import Config  # noqa: E402
from tutor.index import group_questions, make_faiss_index  # noqa: E402
from tutor.passages import build_passages  # noqa: E402
from tutor.retrieval import Retriever  # noqa: E402
from tutor.tuning import document, training_pairs, tune  # noqa: E402

DATA = Path(__file__).parent / "data"
FOLDS = 5


class ModelEmbedder:
    """A sentence-transformers model behind the tutor's ``Embedder`` protocol."""

    def __init__(self, model, dimension: int):
        self.model, self.dimension = model, dimension

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False).astype(np.float32)


def with_hard_negatives(embedder: ModelEmbedder, items, examples: list[tuple[str, list]]) -> list[tuple[str, str, str]]:
    """(question, document, hard negative) triples: beside each example's document, the answered item's
    document that ``embedder`` (the model as it comes) puts nearest the question, among items that do not ask
    the same question as one of its answers (mined hard negatives, as in dense passage retrieval)."""
    answered = [item for item in items if item.answer]
    encode = embedder.embed
    groups = dict(zip((item.id for item in answered),
                      group_questions(answered, encode([item.prompt for item in answered])), strict=True))
    documents = [document(item) for item in answered]
    scores = encode([question for question, _ in examples]) @ encode(documents).T
    triples = []
    for row, (question, golds) in enumerate(examples):
        taken = {groups[gold.id] for gold in golds if gold.id in groups}
        negative = next((j for j in np.argsort(-scores[row]) if groups[answered[j].id] not in taken), None)
        if negative is not None:
            triples.append((question, document(golds[0]), documents[negative]))
    return triples


def hits_at_1(tutor: Tutor, embedder: ModelEmbedder, texts: list[str], cases: list[dict]) -> dict[str, list[bool]]:
    """Per retriever, whether each case's first item is a gold one, over the notes embedded by ``embedder``."""
    data = copy.copy(tutor.index)
    data.faiss_index = make_faiss_index(embedder.embed(texts))
    out = {}
    for name, mode, ranker in (("dense", "dense", None), ("first stage", "hybrid", None),
                               ("ranked", "hybrid", ranking.BUNDLED_RANKER)):
        retriever = Retriever(data, embedder, mode=mode, ranker=ranker)
        found = retriever.search_many([c["q"] for c in cases], k=1)
        out[name] = [bool(f) and tutor.items[f[0].position].id in c["gold"] for f, c in zip(found, cases, strict=True)]
    return out


def as_shipped(tutor: Tutor, base: ModelEmbedder, texts: list[str], dev: list[dict], phrasings: bool,
               folds: list[int]) -> None:
    """Five folds by item over every dev round, each tuned, ranked and refitted as the tutor does (with
    ``phrasings``: each item's other ways of asking paired with its document, too); prints hit@1 per stage and
    the ranked MRR, base model → tuned."""
    ids = [item.id for item in tutor.items]
    by_id = {item.id: item for item in tutor.items if item.answer}
    shipped = [row for row in fit_questions() if row["in_scope"] and any(g in by_id for g in row["gold"])]
    item_ids = sorted({c["gold"][0] for c in dev})
    random.Random(0).shuffle(item_ids)
    extra = [(phrasing, document(item)) for item in by_id.values() for phrasing in item.phrasings] if phrasings \
        else []

    def outcomes(embedder: ModelEmbedder, fitted_on: list[dict], cases: list[dict]) -> dict[str, list[float]]:
        data = copy.copy(tutor.index)
        data.faiss_index = make_faiss_index(embedder.embed(texts))
        found = Retriever(data, embedder, ranker=None).candidates_many([row["q"] for row in fitted_on])
        ranker = ranking.fit([(x, np.array([ids[p] in row["gold"] for p in positions]))
                              for row, (positions, x) in zip(fitted_on, found, strict=True)])
        out = {}
        for name, mode, rank_with in (("dense", "dense", None), ("first stage", "hybrid", None),
                                      ("ranked", "hybrid", ranker)):
            results = Retriever(data, embedder, mode=mode, ranker=rank_with).search_many([c["q"] for c in cases], k=10)
            ranks = [next((n for n, s in enumerate(r) if ids[s.position] in c["gold"]), None)
                     for r, c in zip(results, cases, strict=True)]
            out[name] = [float(rank == 0) for rank in ranks]
            if name == "ranked":
                out["ranked MRR"] = [0.0 if rank is None else 1 / (rank + 1) for rank in ranks]
        return out

    print(f"as shipped: every dev round, ranker refitted per fold, phrasings: {phrasings}\n")
    print("| fold | held-out questions | pairs | tuning s | dense | first stage | ranked | ranked MRR |")
    print("|---|---|---|---|---|---|---|---|")
    totals: dict[str, list[list[float]]] = {}
    for fold in folds:
        held = set(item_ids[fold::FOLDS])
        fitted_on = [row for row in shipped if not set(row["gold"]) & held]
        cases = [c for c in dev if set(c["gold"]) & held]
        pairs = training_pairs(tutor.items, fitted_on) + extra  # the tutor's own recipe, on these folds' questions
        started = time.perf_counter()
        tuned = ModelEmbedder(tune(base.model, pairs), base.dimension)
        seconds = time.perf_counter() - started
        before, after = outcomes(base, fitted_on, cases), outcomes(tuned, fitted_on, cases)
        for name in before:
            totals.setdefault(name, [[], []])
            totals[name][0] += before[name]
            totals[name][1] += after[name]
        print(f"| {fold} | {len(cases)} | {len(pairs)} | {seconds:.0f} | " + " | ".join(
            f"{np.mean(before[n]):.3f} → {np.mean(after[n]):.3f}" for n in before) + " |", flush=True)
    print(f"| all | {len(totals['dense'][0])} | | | " + " | ".join(
        f"**{np.mean(a):.3f} → {np.mean(b):.3f}**" for a, b in totals.values()) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", choices=("dev", "notes", "both"), default="both",
                        help="tune on the other folds' dev questions, the notes' own questions, or both")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--hard-negatives", action="store_true",
                        help="beside each pair, the other item the model as it comes puts nearest the question")
    parser.add_argument("--more", action="store_true",
                        help="tune on the second round of dev questions too (blind/dev_more/)")
    parser.add_argument("--phrasings", action="store_true",
                        help="tune on each item's listed ways of asking (corpus/phrasings.toml) too, paired with its "
                             "document: they are part of the notes, so the held-out items' are tuned on as well")
    parser.add_argument("--phrasings-to", choices=("document", "question"), default="document",
                        help="pair each phrasing with its item's document (question and answer) or its question only")
    parser.add_argument("--as-shipped", action="store_true",
                        help="the tutor's own recipe per fold: every dev round, the ranker refitted per fold")
    parser.add_argument("--folds", type=int, nargs="+", default=list(range(FOLDS)),
                        help="run only these of the five folds (a quicker, noisier comparison)")
    args = parser.parse_args()

    tutor = Tutor.load(Config.from_env(embed_tuning=False))
    base = ModelEmbedder(tutor.embedder.inner.model, tutor.embedder.dimension)
    items = tutor.items
    position = {item.id: i for i, item in enumerate(items)}
    texts = [p.text for p in build_passages(items)]

    blind = json.loads((DATA / "retrieval_blind.json").read_text())
    dev = [c for c in blind["in_scope"] if c["split"] == "dev" and c.get("part") is None]
    more = [c for c in blind["in_scope"] if c["split"] == "dev" and c.get("part") == "more"]
    if args.as_shipped:
        as_shipped(tutor, base, texts, [c for c in blind["in_scope"] if c["split"] == "dev"], args.phrasings,
                   args.folds)
        return
    item_ids = sorted({c["item"] for c in dev})
    random.Random(0).shuffle(item_ids)
    notes_examples = [(item.prompt, [item]) for item in items if item.answer]
    phrasing_pairs = []
    if args.phrasings:
        target = document if args.phrasings_to == "document" else (lambda item: item.prompt)
        phrasing_pairs = [(phrasing, target(item)) for item in items if item.answer for phrasing in item.phrasings]
    totals: dict[str, list[list[bool]]] = {}
    totals_more: dict[str, list[list[bool]]] = {}
    print(f"tuning on: {args.pairs}, {args.epochs} epoch(s), hard negatives: {args.hard_negatives}, "
          f"second round: {args.more}, phrasings: {args.phrasings} (to {args.phrasings_to}); "
          f"model {tutor.embedder.name}\n")
    print("| fold | held-out questions | pairs | tuning s | " + " | ".join(
        f"{n} base → tuned" for n in ("dense", "first stage", "ranked")) + " |")
    print("|---|---|---|---|---|---|---|")
    for fold in args.folds:
        held = set(item_ids[fold::FOLDS])
        cases = [c for c in dev if c["item"] in held]
        examples = []
        if args.pairs in ("dev", "both"):
            tuned_on = dev + more if args.more else dev
            examples += [(c["q"], [items[position[g]] for g in c["gold"]]) for c in tuned_on if c["item"] not in held]
        if args.pairs in ("notes", "both"):
            examples += notes_examples
        started = time.perf_counter()
        pairs = with_hard_negatives(base, items, examples) if args.hard_negatives else \
            [(question, document(golds[0])) for question, golds in examples]
        if args.pairs in ("notes", "both"):
            pairs += phrasing_pairs
        tuned = ModelEmbedder(tune(base.model, pairs, args.epochs), base.dimension)
        seconds = time.perf_counter() - started
        before, after = hits_at_1(tutor, base, texts, cases), hits_at_1(tutor, tuned, texts, cases)
        cells = []
        for name in before:
            totals.setdefault(name, [[], []])
            totals[name][0] += before[name]
            totals[name][1] += after[name]
            cells.append(f"{np.mean(before[name]):.3f} → {np.mean(after[name]):.3f}")
        print(f"| {fold} | {len(cases)} | {len(pairs)} | {seconds:.0f} | " + " | ".join(cells) + " |", flush=True)
        held_more = [c for c in more if c["item"] in held]
        if held_more:
            for total, embedder in ((0, base), (1, tuned)):
                for name, found in hits_at_1(tutor, embedder, texts, held_more).items():
                    totals_more.setdefault(name, [[], []])[total].extend(found)
    print(f"| all | {len(totals['dense'][0])} | | | " + " | ".join(
        f"**{np.mean(a):.3f} → {np.mean(b):.3f}**" for a, b in totals.values()) + " |")
    if totals_more:
        print(f"| second round, held out | {len(totals_more['dense'][0])} | | | " + " | ".join(
            f"{np.mean(a):.3f} → {np.mean(b):.3f}" for a, b in totals_more.values()) + " |")


if __name__ == "__main__":
    main()
