"""How a cached vector is stored as bytes.

Sentence vectors (keys "<passage key>:<start>:<end>", ~6 per paragraph) are float16 behind a
one-byte tag: half the bytes, and an odd length no float32 blob can have. Paragraph vectors stay
float32: FAISS is rebuilt from them and must get exactly the model's vectors.
"""

from __future__ import annotations

import numpy as np

_HALF = b"\x01"


def encode_vector(key: str, vector: np.ndarray) -> bytes:
    if ":" in key:
        return _HALF + np.asarray(vector, dtype="<f2").tobytes()
    return np.asarray(vector, dtype="<f4").tobytes()


def decode_vector(blob: bytes) -> np.ndarray:
    if len(blob) % 2 and blob[:1] == _HALF:
        return np.frombuffer(blob, dtype="<f2", offset=1).astype(np.float32)
    return np.frombuffer(blob, dtype="<f4")
