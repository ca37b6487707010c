"""A loaded index (``tutor.index`` builds and loads it): what retrieval, grading and the fits read.

It imports only ``tutor.items`` and ``tutor.points``, so the modules that read an index (``tutor.retrieval``) need not
import the module that builds one, which imports them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tutor.items import Item


@dataclass
class IndexData:
    """A loaded index: items, their question groups, the FAISS index over passages, and every answer's
    key points with their vectors (for grading)."""

    items: list[Item]
    groups: list[int]
    rows: np.ndarray
    spans: np.ndarray  # passage row -> (kind, start, end); see tutor.passages
    faiss_index: object
    manifest: dict
    point_items: np.ndarray  # key point -> item position
    point_vectors: np.ndarray
    answer_vectors: np.ndarray  # one per item (zeros for an unanswered one)
    hubs: np.ndarray | None = None  # per item: how strongly it pulls the notes' other questions (tutor.retrieval)
    memory: object = None  # the shipped questions the confidence decision compares with (tutor.confidence.Memory)

    def vector_cache(self) -> dict[str, np.ndarray]:
        """Text -> vector for every key point and whole answer of the notes, so grading embeds only the
        user's words."""
        from tutor.points import key_points

        texts = [p for item in self.items if item.answer for p in key_points(item.answer, item.prompt)]
        cache = dict(zip(texts, self.point_vectors, strict=True))
        cache.update({item.answer: v for item, v in zip(self.items, self.answer_vectors, strict=True) if item.answer})
        first_rows = np.searchsorted(self.rows, np.arange(len(self.items)))
        cache.update({item.prompt: self.faiss_index.reconstruct(int(r)) for item, r in zip(self.items, first_rows,
                                                                                          strict=True)})
        return cache

    @property
    def dimension(self) -> int:
        return int(self.manifest["dimension"])
