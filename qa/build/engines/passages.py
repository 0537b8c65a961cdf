"""The unit of embedding work: a paragraph with its sentences, and how it becomes vectors."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.errors import QAError
from qa.ingest.article import text_hash
from qa.models.embed import Encoder, SpanEncoder, Vectors, encode_spans_separately
from qa.storage.vectors.codec import sentence_key


@dataclass(frozen=True, slots=True, eq=False)
class Passage:
    """A paragraph as the build sees it: where its text is, its flags, sentences and vector key.

    Compact because a build holds one per paragraph of the corpus (10^6 at the scale target):
    the text is not copied out of its article's (``source``, shared by the article's passages),
    the sentence offsets are packed int32 pairs, and the key is hashed once. About 0.3 KB a
    passage instead of ~1.2 KB as a text copy, a list of tuples and a key hashed on each use.
    """

    title: str
    section: str | None
    start: int  # offset of the passage in ``source`` (its article's text)
    end: int
    source: str
    searchable: bool  # neither boilerplate nor a heading
    spans: bytes  # the sentences' (start, end) offsets in ``source``, int32 pairs
    key: str  # key of the passage's cached vectors: the hash of its text

    @classmethod
    def of(
        cls,
        title: str,
        section: str | None,
        source: str,
        start: int,
        end: int,
        searchable: bool,
        sentences: Sequence[tuple[int, int]],
    ) -> Passage:
        """The passage ``source[start:end]`` with ``sentences`` (offsets in ``source``)."""
        spans = array("i", [offset for span in sentences for offset in span]).tobytes()
        return cls(title, section, start, end, source, searchable, spans, text_hash(source[start:end]))

    @property
    def text(self) -> str:
        return self.source[self.start : self.end]

    @property
    def sentences(self) -> list[tuple[int, int]]:
        """Offsets in the article's text."""
        flat = array("i", self.spans)
        return list(zip(flat[::2], flat[1::2], strict=True))

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
        return [key, *(sentence_key(key, s, e) for s, e in self.relative_sentences)]


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
