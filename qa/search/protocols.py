"""What the search core needs from its indexes. FAISS and bm25s implement these today; a Milvus
or remote backend plugs in by implementing them, without touching the ranking logic."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from qa.models.embed import Vectors
from qa.models.reader import Calibration, Passages, Reading
from qa.storage.rows import PassageRow, SentenceRow

Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]


class VectorIndex(Protocol):
    """Nearest passages by inner product of unit vectors; ids are passage ids."""

    @property
    def dim(self) -> int: ...

    def __len__(self) -> int: ...

    def search(self, query: Vectors, k: int, allowed: Ids | None = None) -> tuple[Scores, Ids]:
        """Top ``k`` (scores, ids) per query row, best first; missing slots have id -1.

        ``allowed``: only these passage ids (ascending) may be returned (date and source filters).
        """
        ...

    def vectors_for(self, ids: Ids) -> Vectors:
        """The stored vectors of ``ids``, one row each."""
        ...


class LexicalMatches(Protocol):
    """A keyword query's scores over the whole index, ready for lookups by passage id."""

    @property
    def best(self) -> float:
        """The highest score of any passage (0 when no passage matches)."""
        ...

    @property
    def coverage(self) -> float:
        """Idf-weighted share of the query's content words found in the index (1.0 if it has none).

        A question about something the articles never mention has words no article uses.
        """
        ...

    def top(self, k: int, allowed: Ids | None = None) -> Ids:
        """Ids of the ``k`` best-scoring passages with a score above 0, best first (only
        ``allowed`` ones, when given)."""
        ...

    def scores_of(self, ids: Ids) -> Scores:
        """The scores of the given passage ids (0 for ids the index does not hold)."""
        ...


class LexicalIndex(Protocol):
    """Keyword (BM25) scoring of passages."""

    def __len__(self) -> int: ...

    def match(self, text: str) -> LexicalMatches: ...


class PassageStore(Protocol):
    """Where the ranking reads passages, their sentences and sentence vectors from."""

    def passages(self, ids: Sequence[int]) -> dict[int, PassageRow]: ...

    def sentences(self, passage_ids: Sequence[int]) -> dict[int, list[SentenceRow]]: ...

    def vectors(self, keys: Iterable[str]) -> dict[str, np.ndarray]: ...

    def neighbours(self, ids: Sequence[int]) -> dict[int, int]:
        """For each passage, the next searchable passage of its article, if any."""
        ...

    def ledes(self, ids: Sequence[int]) -> set[int]:
        """Those passages that open their article (no searchable passage before them)."""
        ...

    def copies(self, text_hashes: Iterable[str]) -> dict[str, list[tuple[int, str]]]:
        """Searchable passages with each text hash: (passage id, article id)."""
        ...


class PassageReader(Protocol):
    """Reads a question with each passage (qa.models.reader): does it answer, and where."""

    @property
    def calibration(self) -> Calibration: ...

    def read(self, question: str, passages: Passages, titles: Sequence[str] | None = None) -> list[Reading]:
        """A reading of each (passage text, its sentences' spans in that text), in order;
        ``titles``: their articles' titles (a reader trained without titles ignores them)."""
        ...
