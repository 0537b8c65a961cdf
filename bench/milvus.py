"""Milvus next to FAISS Flat on the same corpus: identical top 10, and query latency on loopback.

    python bench/milvus.py [--articles examples/articles] [--questions examples/questions/news.jsonl]
                           [--out bench/results/milvus.json]

Starts ``milvus-lite server`` on a free 127.0.0.1 port, builds the corpus twice with the
packaged model (once into FAISS Flat, once into Milvus), then asks every question of the file
through both: top-10 agreement of the vector search, and p50/p95 of the vector search alone and
of a whole ``QA.search``, one query at a time, alternating backends so load hits both alike.
Needs ``pip install 'article-qa[milvus]'``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import (  # bench/common.py: the script's folder is on sys.path
    RESULTS,
    ROOT,
    describe_machine,
    milvus_lite,
    p50_p95_ms,
    write_results,
)

from qa import QA, build_index
from qa.models.embed import default_encoder, encode_queries


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=Path, default=ROOT / "examples" / "articles")
    parser.add_argument("--questions", type=Path, default=ROOT / "examples" / "questions" / "news.jsonl")
    parser.add_argument("--out", type=Path, default=RESULTS / "milvus.json")
    args = parser.parse_args()
    questions = [
        json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines()
    ]
    results: dict[str, Any] = {"machine": describe_machine(), "questions": len(questions)}
    with (
        tempfile.TemporaryDirectory(prefix="qa-milvus-") as temp,
        milvus_lite(Path(temp) / "milvus-lite") as server,
    ):
        store = f"{server}/bench"
        build_index(args.articles, Path(temp) / "flat", show_progress=False, index_type="Flat")
        build_index(args.articles, Path(temp) / "milvus", show_progress=False, vector_store=store)
        with QA.open(Path(temp) / "flat") as flat, QA.open(Path(temp) / "milvus") as milvus:
            vectors = encode_queries(default_encoder(), questions)
            same_ids, max_score_gap = 0, 0.0
            search_ms: dict[str, list[float]] = {"faiss": [], "milvus": []}
            qa_ms: dict[str, list[float]] = {"faiss": [], "milvus": []}
            for row, question in enumerate(questions):
                found = {}
                for name, qa in (("faiss", flat), ("milvus", milvus)):
                    started = time.perf_counter()
                    found[name] = qa._generation.vectors.search(vectors[row : row + 1], 10)
                    search_ms[name].append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    qa.search(question, 10)
                    qa_ms[name].append((time.perf_counter() - started) * 1000)
                same_ids += set(found["faiss"][1][0]) == set(found["milvus"][1][0])
                max_score_gap = max(
                    max_score_gap, float(np.abs(found["faiss"][0] - found["milvus"][0]).max())
                )
    results["identical_top10_share"] = round(same_ids / len(questions), 4)
    results["max_score_gap"] = max_score_gap
    results["vector_search"] = {k: p50_p95_ms(v) for k, v in search_ms.items()}
    results["qa_search"] = {k: p50_p95_ms(v) for k, v in qa_ms.items()}
    write_results(results, args.out)
    print(
        f"{len(questions)} questions; identical top-10 sets: {results['identical_top10_share']:.1%}; largest score gap {max_score_gap:.2e}"
    )
    print(f"{'backend':<8} {'vector p50':>11} {'vector p95':>11} {'QA.search p50':>14} {'QA.search p95':>14}")
    for name in ("faiss", "milvus"):
        v, q = results["vector_search"][name], results["qa_search"][name]
        print(f"{name:<8} {v['p50_ms']:>9} ms {v['p95_ms']:>9} ms {q['p50_ms']:>12} ms {q['p95_ms']:>12} ms")
    print(f"load {results['machine']['load_before']} -> {results['machine']['load_after']}; wrote {args.out}")


if __name__ == "__main__":
    main()
