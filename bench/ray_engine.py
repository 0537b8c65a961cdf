"""The Ray embedding engine next to the local one: per-actor throughput on the same passages.

    python bench/ray_engine.py [--data ../shared/evaldata/squad-dev-v1.1-tune.json]
                               [--passages 1024] [--repeats 2] [--out bench/results/ray_engine.json]

Embeds the same SQuAD paragraphs (with their sentences, as a build does) with the packaged model
through ``LocalEngine`` (the model loaded in this process) and through ``RayEngine`` with one
actor on a local Ray (``ray.init(num_cpus=N)``, the model loaded in the actor), alternating runs
so load hits both alike. For each run it records the total time and the worker's rate: passages
per second of the encoder's own time where it ran (this process, or the actor), which leaves out
Ray's start and the actor's model load (paid once per build, reported as overhead). Needs ``pip install 'article-qa[ray]'``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from common import (  # bench/common.py: the script's folder is on sys.path
    RESULTS,
    SQUAD_TUNE,
    describe_machine,
    write_results,
)
from retrieval import load_squad

from qa.build.engines import EmbeddingEngine, Passage
from qa.build.engines.base import LocalEngine
from qa.build.engines.ray_data import RayEngine
from qa.models.embed import LazyDefaultEncoder, default_encoder
from qa.text.spans import split_sentences


def passages_of(data: Path, limit: int) -> list[Passage]:
    _, paragraphs, _ = load_squad(data)
    out = []
    for p in paragraphs[:limit]:
        spans = [(start, end) for start, end in split_sentences(p.text)]
        out.append(Passage.of(p.file, None, p.text, 0, len(p.text), True, spans))
    return out


def timed(engine: EmbeddingEngine, passages: list[Passage]) -> dict[str, float]:
    started = time.perf_counter()
    encoding = 0.0
    for batch in engine.embed(passages):
        encoding += batch.seconds
    total = time.perf_counter() - started
    return {
        "seconds": total,
        "encoding_s": encoding,
        "worker_passages_per_s": len(passages) / encoding,
        "overall_passages_per_s": len(passages) / total,
        "overhead_s": total - encoding,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SQUAD_TUNE)
    parser.add_argument("--passages", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="CPUs given to the local Ray")
    parser.add_argument("--out", type=Path, default=RESULTS / "ray_engine.json")
    args = parser.parse_args(argv)
    import ray

    machine = describe_machine()
    passages = passages_of(args.data, args.passages)
    local = LocalEngine(default_encoder())  # loaded before timing, like an actor's model
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    on_ray = RayEngine(LazyDefaultEncoder(), actors=1)
    runs: dict[str, list[dict[str, float]]] = {"local": [], "ray (1 actor)": []}
    try:
        for _ in range(args.repeats):
            runs["local"].append(timed(local, passages))
            runs["ray (1 actor)"].append(timed(on_ray, passages))
    finally:
        ray.shutdown()
    print(f"{len(passages)} SQuAD paragraphs, {args.repeats} runs each, load before {machine['load_before']}")
    print(f"{'engine':<16} {'worker p/s':>11} {'overall p/s':>12} {'overhead s':>11}")
    summary: dict[str, Any] = {}
    for name, results in runs.items():
        row = {key: statistics.median(r[key] for r in results) for key in results[0]}
        summary[name] = row
        print(
            f"{name:<16} {row['worker_passages_per_s']:>11.1f} {row['overall_passages_per_s']:>12.1f} "
            f"{row['overhead_s']:>11.1f}"
        )
    ratio = summary["ray (1 actor)"]["worker_passages_per_s"] / summary["local"]["worker_passages_per_s"]
    print(f"per-actor throughput / local: {ratio:.3f}")
    write_results(
        {"machine": machine, "passages": len(passages), "runs": runs, "median": summary, "ratio": ratio},
        args.out,
        indent=1,
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
