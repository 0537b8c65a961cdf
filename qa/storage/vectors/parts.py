"""Dense search over a generation's parts: one FAISS index per part, results merged by score."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from qa.models.embed import Vectors
from qa.storage.vectors.faiss_index import FaissIndex

Ids = npt.NDArray[np.int64]


class PartedVectors:
    """Implements :class:`qa.search.protocols.VectorIndex` over several parts' FAISS indexes.

    ``first_ids[i]`` is the lowest passage id part ``i`` may hold (parts hold ascending, disjoint
    id ranges). ``deleted`` are passage ids of articles the generation no longer has: a search
    never returns them (excluded by a FAISS id selector, so a part's top k are all live).
    """

    def __init__(self, parts: Sequence[FaissIndex], first_ids: Sequence[int], deleted: Ids) -> None:
        if len(parts) != len(first_ids) or not parts:
            raise ValueError("one first id per part, and at least one part")
        self._parts = list(parts)
        self._first_ids = np.asarray(first_ids, dtype=np.int64)
        self._deleted = np.unique(np.asarray(deleted, dtype=np.int64))
        # Deleted ids per part: a search of a part with none needs no selector.
        owner = self._part_of(self._deleted)
        self._deleted_in = [self._deleted[owner == i] for i in range(len(parts))]

    def _part_of(self, ids: Ids) -> npt.NDArray[np.intp]:
        return np.maximum(np.searchsorted(self._first_ids, ids, side="right") - 1, 0)

    @property
    def dim(self) -> int:
        return self._parts[0].dim

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts) - len(self._deleted)

    def search(
        self, query: Vectors, k: int, allowed: Ids | None = None
    ) -> tuple[npt.NDArray[np.float32], Ids]:
        """Top ``k`` (scores, passage ids) per query row over every part, best first (equal
        scores: lower id first); missing slots have id -1."""
        if allowed is not None:
            allowed = np.setdiff1d(np.asarray(allowed, dtype=np.int64), self._deleted, assume_unique=True)
        scores, ids = [], []
        for part, deleted in zip(self._parts, self._deleted_in, strict=True):
            if not len(part):
                continue
            if allowed is None and len(deleted):
                found = _search_excluding(part, query, k, deleted)
            else:
                found = part.search(query, k, allowed)
            scores.append(found[0])
            ids.append(found[1])
        if not ids:
            return np.zeros((len(query), 1), dtype=np.float32), np.full((len(query), 1), -1, dtype=np.int64)
        merged_scores = np.concatenate(scores, axis=1)
        merged_ids = np.concatenate(ids, axis=1)
        merged_scores = np.where(merged_ids >= 0, merged_scores, -np.inf)
        width = min(k, merged_ids.shape[1])
        out_scores = np.zeros((len(query), width), dtype=np.float32)
        out_ids = np.full((len(query), width), -1, dtype=np.int64)
        for row in range(len(query)):
            order = np.lexsort((merged_ids[row], -merged_scores[row]))[:width]
            live = np.isfinite(merged_scores[row][order])
            out_scores[row, : live.sum()] = merged_scores[row][order][live]
            out_ids[row, : live.sum()] = merged_ids[row][order][live]
        return out_scores, out_ids

    def vectors_for(self, ids: Ids) -> Vectors:
        ids = np.asarray(ids, dtype=np.int64)
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        owner = self._part_of(ids)
        for number, part in enumerate(self._parts):
            rows = np.flatnonzero(owner == number)
            if len(rows):
                out[rows] = part.vectors_for(ids[rows])
        return out


def _search_excluding(
    part: FaissIndex, query: Vectors, k: int, deleted: Ids
) -> tuple[npt.NDArray[np.float32], Ids]:
    api: Any = faiss  # the bundled type stubs lack the selector classes
    inner = api.IDSelectorBatch(np.ascontiguousarray(deleted, dtype=np.int64))
    selector = api.IDSelectorNot(inner)
    return part.search_with(query, k, selector, keep_alive=inner)
