"""Stored vectors read from the generation's own segments instead of a remote vector store.

Search needs the vectors of keyword-only candidates too (to score them densely). With Milvus,
``MilvusIndex.vectors_for`` is a second network round trip per question; the same float32
paragraph vectors sit in the generation's vector segments on local disk, keyed by the hash of
the paragraph's text. This adapter searches remotely and reads vectors locally.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qa.models.embed import Vectors
from qa.storage.store import Store
from qa.storage.vectors.milvus_index import MilvusIndex

Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]


class LocallyReadVectors:
    """A :class:`VectorIndex` whose searches go to ``remote`` and whose ``vectors_for`` reads ``store``."""

    def __init__(self, remote: MilvusIndex, store: Store) -> None:
        self.remote = remote
        self.store = store

    @property
    def dim(self) -> int:
        return self.remote.dim

    def __len__(self) -> int:
        return len(self.remote)

    def search(self, query: Vectors, k: int, allowed: Ids | None = None) -> tuple[Scores, Ids]:
        return self.remote.search(query, k, allowed)

    def vectors_for(self, ids: Ids) -> Vectors:
        rows = self.store.passages([int(i) for i in ids])
        hashes = [rows[int(i)].text_hash if int(i) in rows else "" for i in ids]
        found = self.store.vectors(h for h in hashes if h)
        if any(h not in found for h in hashes):  # not in the segments (should not happen): ask the store
            return self.remote.vectors_for(ids)
        if not hashes:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[h] for h in hashes]).astype(np.float32)
