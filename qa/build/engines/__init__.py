"""Where a build's embedding step runs: in this process (``local``) or on a Ray cluster (``ray``).

Everything else of a build (reading, splitting, the store, the indexes, publishing) runs in the
build's own process either way, so a build is as incremental and crash-safe on Ray as locally.
"""

from __future__ import annotations

from qa.build.engines.base import ENGINES, EmbeddedBatch, EmbeddingEngine
from qa.build.engines.choose import make_engine
from qa.build.engines.passages import Passage, encode

__all__ = ["ENGINES", "EmbeddedBatch", "EmbeddingEngine", "Passage", "encode", "make_engine"]
