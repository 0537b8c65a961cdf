"""How cached vectors are stored as bytes.

A segment holds one record per distinct paragraph: its own vector and its sentences' (keyed by
their span in the paragraph), each with a float32 scale. The paragraph's vector is int8: the
vector index is built from the decoded vectors on every path (fresh, reused, compacted), so a
rebuild reproduces it bit for bit, and int8 with a per-vector scale changes a cosine by ~1e-4.

The sentences' vectors (~5 a paragraph, only compared with the question to pick the sentence
that answers) are int8 too (tag 5, the layout of format 5), or 4-bit, two to a byte (tag 6), in
indexes past NIBBLE_SENTENCES_FROM passages: ~1.2 KB a paragraph instead of ~2.2 KB, 1 GB less
at 10^6 paragraphs, for 10 of 5,397 SQuAD tune questions' cited sentence (docs/BENCHMARKS.md).

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
_RECORD_INT8 = b"\x05"  # a paragraph's record, every vector int8 (layout below)
_RECORD = b"\x06"  # a paragraph's record: its vector int8, its sentences' 4-bit (layout below)
# Past this many passages in an index its sentence vectors are stored at 4 bits (as its graph
# stores 8-bit codes past FLAT_LIMIT): disk is what a million paragraphs run out of first.
NIBBLE_SENTENCES_FROM = 200_000
_HEADER_INT8 = struct.Struct("<cH")  # tag, number of sentences
_HEADER = struct.Struct("<cHH")  # tag, number of sentences, dimension
_SCALE_BITS = 16  # mantissa bits kept in a scale (see _scales)
INT8_LEVELS, NIBBLE_LEVELS = 127, 7  # codes run from -levels to +levels


def _scales(values: Matrix, levels: int) -> Matrix:
    """One scale per row, rounded *up* to 16 mantissa bits.

    Rounding up keeps every |value / scale| <= levels while the largest one still rounds to
    ``levels``, and levels * scale is then exact in float32: so decoding and encoding again
    gives the same bytes. A rebuild that copies vectors (a compaction) keeps them bit for bit.
    """
    largest = np.abs(values).max(axis=1) if values.shape[1] else np.zeros(len(values), np.float32)
    raw = np.where(largest > 0, largest / np.float32(levels), np.float32(1.0)).astype(np.float32)
    mantissa, exponent = np.frexp(raw)
    step = np.float32(2.0**_SCALE_BITS)
    return np.ldexp(np.ceil(mantissa * step) / step, exponent).astype(np.float32)


def _quantise(values: Matrix, levels: int = INT8_LEVELS) -> tuple[Matrix, npt.NDArray[np.int8]]:
    values = np.atleast_2d(np.asarray(values, dtype=np.float32))
    scales = _scales(values, levels)
    codes = np.clip(np.rint(values / scales[:, None]), -levels, levels).astype(np.int8)
    return scales, codes


def _pack_nibbles(codes: npt.NDArray[np.int8]) -> bytes:
    """Codes in -7..7, two to a byte (low nibble first), each row padded to an even length."""
    if codes.shape[1] % 2:
        codes = np.pad(codes, ((0, 0), (0, 1)))
    unsigned = (codes.astype(np.int16) & 0x0F).astype(np.uint8)
    return (unsigned[:, 0::2] | (unsigned[:, 1::2] << 4)).tobytes()


def _unpack_nibbles(packed: npt.NDArray[np.uint8], rows: int, dim: int) -> npt.NDArray[np.int8]:
    halves = packed.reshape(rows, -1)
    codes = np.empty((rows, halves.shape[1] * 2), dtype=np.int8)
    codes[:, 0::2] = (halves & 0x0F).astype(np.int8)
    codes[:, 1::2] = (halves >> 4).astype(np.int8)
    codes[codes > 7] -= 16  # two's complement of a nibble
    return codes[:, :dim]


def _dequantise(scales: Matrix, codes: npt.NDArray[np.int8]) -> Matrix:
    return (codes.astype(np.float32) * scales[:, None]).astype(np.float32)


def sentence_key(paragraph: str, start: int, end: int) -> str:
    """The key of a sentence's vector: its paragraph's key and its span within the paragraph
    (sentence vectors are pooled in their paragraph's context, so the span names them)."""
    return f"{paragraph}:{start}:{end}"


def encode_record(spans: Sequence[tuple[int, int]], vectors: Matrix, sentence_bits: int = 8) -> bytes:
    """A paragraph's record: ``vectors[0]`` is its own, ``vectors[i + 1]`` the sentence ``spans[i]``
    (offsets within the paragraph). Layout: tag, sentence count (uint16), with 4-bit sentences
    (tag 6) the dimension (uint16), the spans (int32 pairs), one float32 scale per vector, then
    the paragraph's int8 values and the sentences' int8 or 4-bit values, row after row."""
    if len(vectors) != len(spans) + 1:
        raise ValueError(f"{len(vectors)} vectors for {len(spans)} sentences")
    if sentence_bits not in (4, 8):
        raise ValueError(f"sentence vectors are stored at 8 or 4 bits, not {sentence_bits}")
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    spans_bytes = np.asarray(spans, dtype="<i4").reshape(-1, 2).tobytes()
    if sentence_bits == 8:
        scales, codes = _quantise(vectors)
        header = _HEADER_INT8.pack(_RECORD_INT8, len(spans))
        return b"".join((header, spans_bytes, scales.astype("<f4").tobytes(), codes.tobytes()))
    own_scale, own = _quantise(vectors[:1])
    sentence_scales, sentences = _quantise(vectors[1:], NIBBLE_LEVELS)
    return b"".join(
        (
            _HEADER.pack(_RECORD, len(spans), vectors.shape[1]),
            spans_bytes,
            np.concatenate([own_scale, sentence_scales]).astype("<f4").tobytes(),
            own.tobytes(),
            _pack_nibbles(sentences),
        )
    )


def decode_record(blob: bytes) -> tuple[list[tuple[int, int]], Matrix]:
    """The spans and vectors :func:`encode_record` stored (vectors decoded to float32)."""
    tag = blob[:1]
    if tag == _RECORD:
        _, sentences, dim = _HEADER.unpack_from(blob)
        offset = _HEADER.size
    elif tag == _RECORD_INT8:
        _, sentences = _HEADER_INT8.unpack_from(blob)
        offset, dim = _HEADER_INT8.size, 0
    else:
        raise ValueError(f"not a paragraph record (tag {tag!r})")
    spans = np.frombuffer(blob, dtype="<i4", count=2 * sentences, offset=offset).reshape(-1, 2)
    offset += spans.nbytes
    scales = np.frombuffer(blob, dtype="<f4", count=sentences + 1, offset=offset)
    offset += scales.nbytes
    if tag == _RECORD_INT8:
        codes = np.frombuffer(blob, dtype=np.int8, offset=offset).reshape(sentences + 1, -1)
    else:
        codes = np.empty((sentences + 1, dim), dtype=np.int8)
        codes[0] = np.frombuffer(blob, dtype=np.int8, count=dim, offset=offset)
        if sentences:
            packed = np.frombuffer(blob, dtype=np.uint8, offset=offset + dim)
            codes[1:] = _unpack_nibbles(packed, sentences, dim)
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
