"""How cached vectors are stored as bytes.

From format 5 a segment holds one record per distinct paragraph: its own vector and its
sentences' (keyed by their span in the paragraph), every one int8 with a float32 scale. At 10^6
paragraphs that is ~2 KB a paragraph instead of ~4.6 KB as one float32/int8 row per vector under
a 70-character text key. The paragraph vector is int8 too: the vector index is built from the
decoded vectors on every path (fresh, reused, compacted), so a rebuild reproduces it bit for bit,
and int8 with a per-vector scale changes a cosine by ~1e-4.

Blobs of the per-vector rows of format 4 (float32; int8 behind tag 2; float16 behind tag 1)
still read back, so an upgrade does not re-embed.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]

_HALF = b"\x01"  # float16 (format-4 segments of earlier versions)
_INT8 = b"\x02"  # float32 scale, then int8 values: value * scale is the vector (format 4)
_RECORD = b"\x05"  # a paragraph's record (format 5), laid out below
_HEADER = struct.Struct("<cH")  # tag, number of sentences
_SCALE_BITS = 16  # mantissa bits kept in a scale (see _scales)


def _scales(values: Matrix) -> Matrix:
    """One scale per row, rounded *up* to 16 mantissa bits.

    Rounding up keeps every |value / scale| <= 127 while the largest one still rounds to 127,
    and 127 * scale is then exact in float32: so decoding and encoding again gives the same
    bytes. A rebuild that copies vectors (a compaction) therefore keeps them bit for bit.
    """
    largest = np.abs(values).max(axis=1) if values.shape[1] else np.zeros(len(values), np.float32)
    raw = np.where(largest > 0, largest / np.float32(127.0), np.float32(1.0)).astype(np.float32)
    mantissa, exponent = np.frexp(raw)
    step = np.float32(2.0**_SCALE_BITS)
    return np.ldexp(np.ceil(mantissa * step) / step, exponent).astype(np.float32)


def _quantise(values: Matrix) -> tuple[Matrix, npt.NDArray[np.int8]]:
    values = np.atleast_2d(np.asarray(values, dtype=np.float32))
    scales = _scales(values)
    codes = np.clip(np.rint(values / scales[:, None]), -127, 127).astype(np.int8)
    return scales, codes


def _dequantise(scales: Matrix, codes: npt.NDArray[np.int8]) -> Matrix:
    return (codes.astype(np.float32) * scales[:, None]).astype(np.float32)


def sentence_key(paragraph: str, start: int, end: int) -> str:
    """The key of a sentence's vector: its paragraph's key and its span within the paragraph
    (sentence vectors are pooled in their paragraph's context, so the span names them)."""
    return f"{paragraph}:{start}:{end}"


def encode_record(spans: Sequence[tuple[int, int]], vectors: Matrix) -> bytes:
    """A paragraph's record: ``vectors[0]`` is its own, ``vectors[i + 1]`` the sentence ``spans[i]``
    (offsets within the paragraph). Layout: tag, sentence count (uint16), the spans (int32
    pairs), one float32 scale per vector, then the int8 values, row after row."""
    if len(vectors) != len(spans) + 1:
        raise ValueError(f"{len(vectors)} vectors for {len(spans)} sentences")
    scales, codes = _quantise(vectors)
    return b"".join(
        (
            _HEADER.pack(_RECORD, len(spans)),
            np.asarray(spans, dtype="<i4").reshape(-1, 2).tobytes(),
            scales.astype("<f4").tobytes(),
            codes.tobytes(),
        )
    )


def decode_record(blob: bytes) -> tuple[list[tuple[int, int]], Matrix]:
    """The spans and vectors :func:`encode_record` stored (vectors decoded to float32)."""
    tag, sentences = _HEADER.unpack_from(blob)
    if tag != _RECORD:
        raise ValueError(f"not a paragraph record (tag {tag!r})")
    offset = _HEADER.size
    spans = np.frombuffer(blob, dtype="<i4", count=2 * sentences, offset=offset).reshape(-1, 2)
    offset += spans.nbytes
    scales = np.frombuffer(blob, dtype="<f4", count=sentences + 1, offset=offset)
    offset += scales.nbytes
    codes = np.frombuffer(blob, dtype=np.int8, offset=offset).reshape(sentences + 1, -1)
    return [(int(s), int(e)) for s, e in spans], _dequantise(scales, codes)


def as_stored(vectors: Matrix) -> Matrix:
    """The vectors as a segment gives them back: what the vector index is built from."""
    scales, codes = _quantise(vectors)
    return _dequantise(scales, codes)


def decode_vector(blob: bytes) -> np.ndarray:
    """One vector of a format-4 segment row."""
    if len(blob) % 2:
        tag = blob[:1]
        if tag == _INT8:
            scale = np.frombuffer(blob, dtype="<f4", count=1, offset=1)[0]
            return np.frombuffer(blob, dtype=np.int8, offset=5).astype(np.float32) * scale
        if tag == _HALF:
            return np.frombuffer(blob, dtype="<f2", offset=1).astype(np.float32)
    return np.frombuffer(blob, dtype="<f4")
