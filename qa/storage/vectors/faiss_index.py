"""FAISS inner-product index over unit vectors; FAISS ids are passage ids."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from qa.errors import BadInputError
from qa.models.embed import Vectors

logger = logging.getLogger(__name__)

# Exact search costs ~6 ms a query per 100,000 MiniLM vectors on one thread (bench/hnsw.py), so
# up to 200,000 passages it stays under ~12 ms; past that an HNSW graph answers in ~1 ms.
FLAT_LIMIT = 200_000
# Past the limit: HNSW, 48 neighbours a node, built at depth (efConstruction) 128 and searched at
# efSearch 768. bench/hnsw.py measures recall@10 vs Flat on real MiniLM embeddings (SQuAD: ~1.0)
# and on a harder 10^6-vector set (the real vectors plus noisy near-copies), with the graph built
# as a build adds vectors, 32,768 at a time. With 8-bit codes at 10^6 (docs/BENCHMARKS.md): FAISS's
# default build depth of 40 needed efSearch 2048 for 0.958 (3.2 ms); built at 128, the graph gives
# 0.955 at 512 and 0.960 at 768 (0.6 ms), for ~1.5x the graph's build time. 32 neighbours stay
# under 0.87 even built at 200; a build depth of 256 reaches 0.958 at 256 for 3.8x the build time.
HNSW_NEIGHBORS = 48
HNSW_BUILD_DEPTH = 128
HNSW_EF_SEARCH = 768

_threads_lock = threading.Lock()


_INDEX_TYPE = re.compile(r"Flat|HNSW(\d{1,3})(_SQ8)?")
# The graph's own copy of the vectors as 8-bit codes (a trained range per dimension): 384 bytes
# a vector instead of 1,536, so at 10^6 passages the FAISS file is ~0.8 GB instead of ~1.9 GB.
# On the hard 10^6 set recall@10 fell ~1.5 points against float storage at the same depth, and
# each step of the search got cheaper (bench/hnsw.py, docs/BENCHMARKS.md). Float storage stays
# available by name ("HNSW48").
SCALAR_QUANTISED = "_SQ8"
SQ_TRAINING_ROWS = 32_768  # the first vectors added train the per-dimension ranges


# A part beside others (docs/DESIGN-STORAGE.md) is searched on every question too: past 20,000
# vectors (~1.2 ms of exact search) it gets a graph of its own.
PART_FLAT_LIMIT = 20_000


def choose_index_type(count: int, beside_others: bool = False) -> str:
    """Flat up to FLAT_LIMIT vectors (PART_FLAT_LIMIT for a part searched beside others), then
    an HNSW graph over 8-bit codes."""
    limit = PART_FLAT_LIMIT if beside_others else FLAT_LIMIT
    return "Flat" if count <= limit else f"HNSW{HNSW_NEIGHBORS}{SCALAR_QUANTISED}"


def check_index_type_message(index_type: str) -> str:
    return (
        f"Unknown index type {index_type!r}; use 'Flat' (exact), 'HNSW48_SQ8' (graph over 8-bit "
        "codes, for millions) or 'HNSW48' (graph over float vectors)."
    )


def check_index_type(index_type: str | None) -> None:
    """Raise BadInputError for an index type FAISS is not asked to build here."""
    if index_type is not None and (
        not isinstance(index_type, str)
        or not _INDEX_TYPE.fullmatch(index_type)
        or index_type.startswith("HNSW0")
    ):
        raise BadInputError(check_index_type_message(str(index_type)))


def _reserve(inner: faiss.Index, count: int) -> None:
    """Room for ``count`` vectors up front: added a chunk at a time, FAISS's arrays would grow by
    doubling, and each growth holds the old and the new array at once (10^5 vectors in a flat
    storage: 651 MiB instead of 381). For a graph, the same for its neighbour lists: 2M slots a
    node at level 0, and on average ~1 more for the levels above (a node reaches level l with
    probability M^-l, and has M slots there)."""
    flat = faiss.downcast_index(inner.storage) if isinstance(inner, faiss.IndexHNSW) else inner
    codes = getattr(flat, "codes", None)
    if codes is not None and hasattr(codes, "resize"):
        codes.resize(count * flat.sa_code_size())  # a vector sized down keeps its capacity
        codes.resize(0)
    if isinstance(inner, faiss.IndexHNSW):
        graph: Any = inner.hnsw  # the bundled stubs lack these members
        neighbours = graph.neighbors
        slots = count * (graph.nb_neighbors(0) + 2)
        neighbours.resize(slots)
        neighbours.resize(0)


class FaissIndex:
    """Implements :class:`qa.search.protocols.VectorIndex` with a FAISS ``IndexIDMap2``."""

    def __init__(self, index: faiss.Index, index_type: str, ef_search: int | None = None) -> None:
        self._index = index
        self.index_type = index_type
        self.ef_search: int | None = None
        if index_type.startswith("HNSW"):
            self.ef_search = ef_search or HNSW_EF_SEARCH
            faiss.ParameterSpace().set_index_parameter(index, "efSearch", self.ef_search)

    @classmethod
    def build(
        cls,
        ids: npt.NDArray[np.int64],
        vectors: Vectors,
        index_type: str | None = None,
        ef_search: int | None = None,
        count: int | None = None,
    ) -> FaissIndex:
        """An index of ``vectors``; ``count`` (default: their number) is how many it will hold
        in the end, which picks the index type when none is given (more come through :meth:`add`)."""
        if vectors.ndim != 2 or len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for vectors of shape {vectors.shape}")
        dim = vectors.shape[1]
        index_type = index_type or choose_index_type(len(ids) if count is None else count)
        if index_type == "Flat":
            inner: faiss.Index = faiss.IndexFlatIP(dim)
        elif index_type.endswith(SCALAR_QUANTISED):
            neighbours = int(index_type[4 : -len(SCALAR_QUANTISED)])
            api: Any = faiss  # the bundled stubs type the quantiser argument wrongly
            inner = api.IndexHNSWSQ(dim, api.ScalarQuantizer.QT_8bit, neighbours, faiss.METRIC_INNER_PRODUCT)
        elif index_type.startswith("HNSW"):
            inner = faiss.IndexHNSWFlat(dim, int(index_type[4:]), faiss.METRIC_INNER_PRODUCT)
        else:
            raise BadInputError(check_index_type_message(index_type))
        if isinstance(inner, faiss.IndexHNSW):
            inner.hnsw.efConstruction = HNSW_BUILD_DEPTH
        _reserve(inner, count or len(ids))
        built = cls(faiss.IndexIDMap2(inner), index_type, ef_search)
        built.add(ids, vectors)
        return built

    def add(self, ids: npt.NDArray[np.int64], vectors: Vectors) -> None:
        """Add vectors; an untrained index (8-bit codes) is first trained on up to
        SQ_TRAINING_ROWS of them (the build's first chunk: the same rows on every rebuild of
        the same corpus, so the same codes)."""
        if len(ids):
            matrix = np.ascontiguousarray(vectors, dtype=np.float32)
            if not self._index.is_trained:
                self._index.train(matrix[:SQ_TRAINING_ROWS])
            self._index.add_with_ids(matrix, ids.astype(np.int64))

    @classmethod
    def load(cls, path: Path, index_type: str, ef_search: int | None = None) -> FaissIndex:
        """Read a saved index; an HNSW one searches at ``ef_search`` (the manifest's value).

        The vectors are memory-mapped, read-only (FAISS's IO_FLAG_MMAP_IFC, for Flat and HNSW
        storage): a published generation never changes, so they stay in the page cache, shared
        by every process serving the index, instead of being copied into each. Opening a
        200,000-vector Flat index took 0.011 s and 12 MiB instead of 0.94 s and 300 MiB.
        """
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError:  # an index type FAISS cannot map: read it whole
            index = faiss.read_index(str(path))
        return cls(index, index_type, ef_search)

    def save(self, path: Path) -> None:
        try:
            faiss.write_index(self._index, str(path))
        except RuntimeError as err:  # FAISS reports a failed write (disk full, read-only) this way
            raise OSError(f"FAISS could not write the index ({str(err).splitlines()[0]})") from None

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(
        self, query: Vectors, k: int, allowed: npt.NDArray[np.int64] | None = None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Top ``k`` (scores, passage ids) per query row; missing slots have id -1. ``allowed``
        restricts the search to those passage ids (a FAISS ID selector, exact for Flat)."""
        if allowed is not None and len(allowed) == 0:
            return self.search_with(query, 0, None)
        api: Any = faiss  # the bundled type stubs lack the selector classes
        selector = (
            None if allowed is None else api.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        )
        return self.search_with(query, k, selector)

    def search_with(
        self, query: Vectors, k: int, selector: Any, keep_alive: Any = None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """:meth:`search` with a FAISS ID selector (None: every vector; ``k`` 0: nothing).
        ``keep_alive``: an object the selector points into, held until the search is done."""
        if len(self) == 0 or k <= 0:
            empty = np.full((len(query), 1), -1, dtype=np.int64)
            return np.zeros((len(query), 1), dtype=np.float32), empty
        k = min(k, len(self))
        params: Any = None
        if selector is not None:
            api: Any = faiss  # the bundled type stubs lack the search-parameter classes
            params = (
                api.SearchParametersHNSW(sel=selector, efSearch=self.ef_search)
                if self.ef_search
                else api.SearchParameters(sel=selector)
            )
        with _one_thread() if len(query) == 1 else contextlib.nullcontext():
            matrix = np.ascontiguousarray(query, dtype=np.float32)
            if params is None:
                scores, ids = self._index.search(matrix, k)
            else:
                scores, ids = self._index.search(matrix, k, params=params)
        del keep_alive
        return scores, ids

    def vectors_for(self, ids: npt.NDArray[np.int64]) -> Vectors:
        """Stored vectors of the given passage ids (exact for Flat and HNSW48; decoded from the
        8-bit codes for HNSW48_SQ8, within ~1e-3 of a cosine)."""
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        # One call for all of them: a Python call per id cost ~4 us each, ~100 ids a question.
        return np.asarray(
            self._index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64)), np.float32
        )


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """One OpenMP thread for a single query: spinning up a team costs more than it saves, and on
    a busy machine the spin-waiting threads turn milliseconds into hundreds (see MODELS.md)."""
    with _threads_lock:
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            yield
        finally:
            faiss.omp_set_num_threads(before)
