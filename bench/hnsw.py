"""HNSW search depth vs recall on real MiniLM embeddings: which ``efSearch`` keeps recall@10 >= 0.95.

    python bench/hnsw.py [--squad ../shared/evaldata/squad-dev-v1.1-tune.json] [--grow 100000]
                         [--ef 256 384 512 768 1024] [--out bench/results/hnsw.json]

The corpus is every SQuAD tune paragraph and sentence, embedded with the packaged model (the
vectors a real index holds); the queries are the tune questions, embedded as queries. Recall@10 is
the share of Flat's exact top 10 that each graph also returns, at each ``efSearch``: HNSW48_SQ8
(the type ``qa build`` picks past 200,000 passages: 8-bit codes in the graph) and HNSW48 (float
vectors), both built (at ``HNSW_BUILD_DEPTH``) by ``qa.storage.vectors.faiss_index.FaissIndex`` from the
vectors as an index stores them (int8 with a scale, ``qa.storage.vectors.codec.as_stored``), a
chunk at a time as a build adds them. Latency is one query at a time on one thread, as ``QA.ask``
searches. ``--grow N`` adds a second, larger corpus: the real vectors plus noisy copies of them
(cosine ~0.9 to their source, renormalised) up to N vectors, a stand-in for a bigger collection of
similar text that is labelled as such in the output. Embeddings are cached in the work folder, so
a second run only rebuilds the graphs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt
from common import (  # bench/common.py: the script's folder is on sys.path
    RESULTS,
    SQUAD_TUNE,
    describe_machine,
    p50_p95_ms,
    write_results,
)

from qa.models.embed import Vectors, default_encoder, encode_queries
from qa.storage.vectors.codec import as_stored
from qa.storage.vectors.faiss_index import HNSW_NEIGHBORS, SCALAR_QUANTISED, FaissIndex
from qa.text.spans import split_sentences

logger = logging.getLogger("bench.hnsw")
K = 10
GRAPHS = (f"HNSW{HNSW_NEIGHBORS}{SCALAR_QUANTISED}", f"HNSW{HNSW_NEIGHBORS}")
CHUNK = 32_768  # rows per add, as a build adds them
NOISE_COSINE = 0.9


def squad_texts(path: Path) -> tuple[list[str], list[str]]:
    """(paragraphs and their sentences, questions) of a SQuAD JSON file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    passages: list[str] = []
    questions: list[str] = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            passages.append(context)
            passages += [context[a:b] for a, b in split_sentences(context)]
            questions += [q["question"] for q in paragraph["qas"]]
    return passages, questions


def embeddings(squad: Path, work: Path) -> tuple[Vectors, Vectors]:
    """Corpus and query vectors from the packaged model, cached in ``work``."""
    corpus_file, query_file = work / "corpus.npy", work / "queries.npy"
    if corpus_file.exists() and query_file.exists():
        return np.load(corpus_file), np.load(query_file)
    passages, questions = squad_texts(squad)
    logger.info("Embedding %d passages and sentences, %d questions", len(passages), len(questions))
    encoder = default_encoder()
    corpus = encoder.encode(passages, show_progress=True)
    queries = encode_queries(encoder, questions)
    work.mkdir(parents=True, exist_ok=True)
    np.save(corpus_file, corpus)
    np.save(query_file, queries)
    return corpus, queries


def grown(corpus: Vectors, size: int, seed: int = 7) -> Vectors:
    """``corpus`` plus noisy unit-length copies of its rows, ``size`` rows in all."""
    rng = np.random.default_rng(seed)
    extra = size - len(corpus)
    if extra <= 0:
        return corpus
    sources = corpus[rng.integers(0, len(corpus), extra)]
    # Noise orthogonal-ish to the source with a norm that puts the copy at ~NOISE_COSINE from it.
    noise = rng.standard_normal(sources.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    scale = np.sqrt(1 / NOISE_COSINE**2 - 1)
    copies = sources + scale * noise
    copies /= np.linalg.norm(copies, axis=1, keepdims=True)
    return np.vstack([corpus, copies.astype(np.float32)])


def exact_top(corpus: Vectors, queries: Vectors) -> npt.NDArray[np.int64]:
    flat = faiss.IndexFlatIP(corpus.shape[1])
    flat.add(corpus)
    _, ids = flat.search(queries, K)
    return ids


def recall(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found.tolist(), truth.tolist(), strict=True))
    return hits / truth.size


def one_at_a_time_ms(index: faiss.Index, queries: Vectors, count: int = 500) -> list[float]:
    times = []
    for row in queries[:count]:
        start = time.perf_counter()
        index.search(row[None, :], K)
        times.append((time.perf_counter() - start) * 1000)
    return times


def measure(name: str, corpus: Vectors, queries: Vectors, depths: list[int]) -> dict[str, Any]:
    """Recall@10 and single-query latency of each graph at each depth, next to Flat."""
    corpus = as_stored(corpus)
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # building may use every core
    truth = exact_top(corpus, queries)
    faiss.omp_set_num_threads(1)  # queries run on one thread, as QA.ask runs them
    flat = faiss.IndexFlatIP(corpus.shape[1])
    flat.add(corpus)
    rows: list[dict[str, Any]] = [
        {
            "index": "Flat",
            "ef_search": None,
            "recall_at_10": 1.0,
            **p50_p95_ms(one_at_a_time_ms(flat, queries), digits=3),
        }
    ]
    built: dict[str, float] = {}
    for kind in GRAPHS:
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        start = time.perf_counter()
        ids = np.arange(len(corpus), dtype=np.int64)
        index = FaissIndex.build(ids[:0], corpus[:0], kind, count=len(corpus))
        for first in range(0, len(corpus), CHUNK):
            index.add(ids[first : first + CHUNK], corpus[first : first + CHUNK])
        built[kind] = round(time.perf_counter() - start, 1)
        faiss.omp_set_num_threads(1)
        graph = index._index  # the FAISS index itself, to time it without our wrapper
        for ef in depths:
            faiss.ParameterSpace().set_index_parameter(graph, "efSearch", ef)
            _, found = graph.search(queries, K)
            rows.append(
                {
                    "index": kind,
                    "ef_search": ef,
                    "recall_at_10": round(recall(found, truth), 4),
                    **p50_p95_ms(one_at_a_time_ms(graph, queries), digits=3),
                }
            )
    return {
        "corpus": name,
        "vectors": len(corpus),
        "queries": len(queries),
        "build_s": built,
        "rows": rows,
    }


def smallest_depth(result: dict[str, Any], kind: str, target: float = 0.95) -> int | None:
    for row in result["rows"]:
        if row["index"] == kind and row["recall_at_10"] >= target:
            return int(row["ef_search"])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--squad", type=Path, default=SQUAD_TUNE)
    parser.add_argument("--grow", type=int, default=100_000, help="size of the grown corpus (0: none)")
    parser.add_argument("--ef", type=int, nargs="+", default=[256, 384, 512, 768, 1024])
    parser.add_argument("--work", type=Path, default=Path("/tmp/qa-hnsw"))
    parser.add_argument("--out", type=Path, default=RESULTS / "hnsw.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    results: dict[str, Any] = {"machine": describe_machine(), "k": K, "neighbors": HNSW_NEIGHBORS}
    corpus, queries = embeddings(args.squad, args.work)
    results["runs"] = [measure("SQuAD paragraphs + sentences (real)", corpus, queries, args.ef)]
    if args.grow > len(corpus):
        bigger = grown(corpus, args.grow)
        results["runs"].append(
            measure(f"real + noisy copies (cos ~{NOISE_COSINE})", bigger, queries, args.ef)
        )
    results["smallest_ef_for_0.95"] = {
        f"{r['corpus']}, {kind}": smallest_depth(r, kind) for r in results["runs"] for kind in GRAPHS
    }
    write_results(results, args.out)

    for run in results["runs"]:
        print(
            f"\n{run['corpus']}: {run['vectors']:,} vectors, {run['queries']:,} queries, graph built in {run['build_s']} s"
        )
        print(f"{'index':<12} {'efSearch':>8} {'recall@10':>10} {'p50 ms':>8} {'p95 ms':>8}")
        for row in run["rows"]:
            ef = "" if row["ef_search"] is None else row["ef_search"]
            print(
                f"{row['index']:<12} {ef!s:>8} {row['recall_at_10']:>10.4f} {row['p50_ms']:>8.3f} {row['p95_ms']:>8.3f}"
            )
    print(f"\nsmallest efSearch with recall@10 >= 0.95: {results['smallest_ef_for_0.95']}")
    print(f"load {results['machine']['load_before']} -> {results['machine']['load_after']}; wrote {args.out}")


if __name__ == "__main__":
    main()
