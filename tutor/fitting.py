"""Fitting a freshly built index's ranker and confidence decision.

Both fits retrieve the shipped development questions (``tutor.confidence.fit_rows``) exactly as ``ask``
retrieves them, so they need the retriever; the models they produce (``tutor.ranking.Ranker``,
``tutor.confidence.Decision``) do not, and live apart from it. Notes that the shipped questions do not cover
(a user's own pages only) get the models fitted on the bundled notes instead.
"""

from __future__ import annotations

import logging

import numpy as np

from tutor import confidence, ranking
from tutor.retrieval import Retriever

log = logging.getLogger(__name__)


def fit_ranker(index, embedder) -> ranking.Ranker:
    """Fit the ranker for a freshly built index on the shipped in-scope questions whose items are in these
    notes; with too few of them (a user's own notes), the ranker fitted on the bundled notes."""
    rows = [row for row in confidence.fit_rows(index) if row["in_scope"]]
    if len(rows) < confidence.MIN_FIT_QUESTIONS:
        log.warning("Too few of the shipped questions are about these notes to fit the ranker (%d): using the "
                    "one fitted on the bundled notes with all-MiniLM-L6-v2.", len(rows))
        return ranking.BUNDLED_RANKER
    ids = [item.id for item in index.items]
    found = Retriever(index, embedder, ranker=None).candidates_many([row["q"] for row in rows])
    candidates = [(x, np.array([ids[p] in row["gold"] for p in positions]))
                  for row, (positions, x) in zip(rows, found, strict=True)]
    # Pages that merely share the bundled ids (numbered pages named 000_….txt) would teach it nonsense: on the
    # bundled notes the first stage puts a question's item in its top 3 nine times in ten.
    reached = sum(bool(gold[:3].any()) for _, gold in candidates)
    if reached < max(confidence.MIN_FIT_QUESTIONS, len(rows) / 2):
        log.warning("The shipped questions' items are rarely among their first candidates (%d of %d): these are "
                    "not the bundled notes; using the ranker fitted on them.", reached, len(rows))
        return ranking.BUNDLED_RANKER
    return ranking.fit(candidates)


def fit_decision(index, embedder, bundled_notes: bool = True
                 ) -> tuple[confidence.Decision, confidence.Memory | None]:
    """Fit the confidence decision for a freshly built index, and the memory of shipped questions it compares
    with; ``bundled_notes`` False (the ranker's fit found that items with the bundled ids do not answer the
    shipped questions) means the bundled decision and no memory."""
    rows = confidence.fit_rows(index)
    labels = [row["in_scope"] for row in rows]
    enough = confidence.MIN_FIT_QUESTIONS
    if not bundled_notes or sum(labels) < enough or len(labels) - sum(labels) < enough:
        log.warning("The shipped questions are not about these notes (%d name an item here%s): using the "
                    "confidence decision fitted on the bundled notes with all-MiniLM-L6-v2.", sum(labels),
                    "" if bundled_notes else ", which does not answer them")
        return confidence.BUNDLED_DECISION, None
    retriever = Retriever(index, embedder)
    questions = [row["q"] for row in rows]
    vectors = retriever.embed_many(questions)
    found = [retriever.search(q, 10, v) for q, v in zip(questions, vectors, strict=True)]
    # An out-of-scope question is out of the bundled pages' scope; a user's own notes may answer it ("what
    # does torch.compile do?"), and then its label is unknown: it is left out when a page of the notes, not
    # a bundled one, answers it best.
    named = {gold for row in rows for gold in row["gold"]}
    bundled = {item.source for item in index.items if item.id in named}
    kept = [n for n, (row, ranked) in enumerate(zip(rows, found, strict=True))
            if row["in_scope"] or not ranked or index.items[ranked[0].position].source in bundled]
    memory = confidence.Memory(np.vstack([vectors[n][0] for n in kept]).astype(np.float32),
                               np.array([labels[n] for n in kept], dtype=bool))
    folds = np.array([confidence.fold_of(rows[n]) for n in kept])
    evidence = [confidence.gather_evidence(retriever, questions[n], found[n], index.groups,
                                           known_outside=memory.known_outside(vectors[n][0], among=folds != folds[m]))
                for m, n in enumerate(kept)]
    decision = confidence.fit(evidence, [labels[n] for n in kept], folds=list(folds),
                              rounds=[rows[n].get("round", "") for n in kept])
    return confidence.Decision(**{**decision.to_json(), "data_sha256": confidence.fit_data_sha256()}), memory
