"""The unit of embedding work: a paragraph with its sentences, and how it becomes vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.embed import Encoder, SpanEncoder, Vectors, encode_spans_separately
from qa.errors import QAError
from qa.ingest.article import text_hash


@dataclass
class Passage:
    """A paragraph as the build sees it: its text, flags, sentences and vector keys."""

    title: str
    section: str | None
    start: int  # offset of the passage in its article's text
    text: str
    searchable: bool  # neither boilerplate nor a heading
    sentences: list[tuple[int, int]]  # offsets in the article's text

    @property
    def key(self) -> str:
        """Key of the passage's cached vectors: the hash of its text."""
        return text_hash(self.text)

    @property
    def relative_sentences(self) -> list[tuple[int, int]]:
        return [(s - self.start, e - self.start) for s, e in self.sentences]

    @property
    def vector_keys(self) -> list[str]:
        """The passage's vector key, then one per sentence.

        Sentence vectors are pooled in the context of their paragraph, so their key names the
        paragraph and the span rather than the sentence's own text.
        """
        key = self.key
        return [key, *(f"{key}:{s}:{e}" for s, e in self.relative_sentences)]


def encode_texts(
    encoder: Encoder, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
) -> list[Vectors]:
    """Per text, one array: its own vector, then one per span (its sentences)."""
    if not texts:
        return []
    if isinstance(encoder, SpanEncoder):
        text_vectors, span_vectors = encoder.encode_with_spans(texts, spans)
    else:
        text_vectors, span_vectors = encode_spans_separately(encoder, texts, spans)
    if text_vectors.shape != (len(texts), encoder.dim):
        raise QAError(f"Encoder {encoder.name!r} returned shape {text_vectors.shape} for {len(texts)} texts")
    return [
        np.vstack([vector[None, :], sentence_vectors.reshape(-1, encoder.dim)]).astype(np.float32)
        for vector, sentence_vectors in zip(text_vectors, span_vectors, strict=True)
    ]


def encode(encoder: Encoder, passages: Sequence[Passage]) -> dict[str, np.ndarray]:
    """Vectors of the passages and of their sentences, keyed by ``Passage.vector_keys``."""
    out: dict[str, np.ndarray] = {}
    stacked = encode_texts(encoder, [p.text for p in passages], [p.relative_sentences for p in passages])
    for passage, vectors in zip(passages, stacked, strict=True):
        out.update(zip(passage.vector_keys, vectors, strict=True))
    return out
