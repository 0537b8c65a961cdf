"""The engine protocol, the in-process engine, and choosing one from build options."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from qa.build.engines.passages import Passage, encode
from qa.models.embed import Encoder

ENGINES = ("local", "ray")
ENCODE_CHUNK = 256  # passages per encoder call: bounded memory, steady progress


@dataclass(frozen=True)
class EmbeddedBatch:
    """Vectors of some passages, keyed by ``Passage.vector_keys``."""

    passages: int
    vectors: dict[str, np.ndarray]
    seconds: float = 0.0  # the encoder's time on this batch, where it ran (throughput per worker)


class EmbeddingEngine(Protocol):
    """Embeds passages, yielding their vectors batch by batch (in any order) as they are done,
    so the build writes them out and memory holds a few batches, never the corpus."""

    @property
    def name(self) -> str: ...

    def embed(self, passages: Sequence[Passage]) -> Iterator[EmbeddedBatch]: ...


class LocalEngine:
    """The encoder in this process, ENCODE_CHUNK passages at a time."""

    name = "local"

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    def embed(self, passages: Sequence[Passage]) -> Iterator[EmbeddedBatch]:
        for start in range(0, len(passages), ENCODE_CHUNK):
            batch = passages[start : start + ENCODE_CHUNK]
            started = time.perf_counter()
            vectors = encode(self.encoder, batch)
            yield EmbeddedBatch(len(batch), vectors, time.perf_counter() - started)
