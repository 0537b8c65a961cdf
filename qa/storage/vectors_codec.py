"""How a cached vector is stored as bytes.

Sentence vectors (keys "<passage key>:<start>:<end>", ~5 per paragraph, used only to pick the
answering sentence) are int8 with one float32 scale: a quarter of float32's bytes, behind a
one-byte tag that gives an odd length no float32 blob can have. Paragraph vectors stay float32:
FAISS is rebuilt from them and must get exactly the model's vectors. Blobs written by earlier
versions (float16 sentence vectors, plain float32) still read back.
"""

from __future__ import annotations

import numpy as np

_HALF = b"\x01"  # float16 (written by earlier versions)
_INT8 = b"\x02"  # float32 scale, then int8 values: value * scale is the vector


def encode_vector(key: str, vector: np.ndarray) -> bytes:
    if ":" in key:
        values = np.asarray(vector, dtype=np.float32)
        largest = float(np.abs(values).max()) if values.size else 0.0
        scale = largest / 127.0 if largest > 0 else 1.0
        quantised = np.clip(np.rint(values / scale), -127, 127).astype(np.int8)
        return _INT8 + np.float32(scale).astype("<f4").tobytes() + quantised.tobytes()
    return np.asarray(vector, dtype="<f4").tobytes()


def decode_vector(blob: bytes) -> np.ndarray:
    if len(blob) % 2:
        tag = blob[:1]
        if tag == _INT8:
            scale = np.frombuffer(blob, dtype="<f4", count=1, offset=1)[0]
            return np.frombuffer(blob, dtype=np.int8, offset=5).astype(np.float32) * scale
        if tag == _HALF:
            return np.frombuffer(blob, dtype="<f2", offset=1).astype(np.float32)
    return np.frombuffer(blob, dtype="<f4")
