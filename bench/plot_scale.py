"""Plot bench/scale.py's results: query latency and memory against corpus size (log scale).

python bench/plot_scale.py [RESULTS_JSON] [--out docs/scale.png]   # needs matplotlib
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", nargs="?", type=Path, default=HERE / "results" / "scale.json")
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "scale.png")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [
        r
        for r in json.loads(args.results.read_text(encoding="utf-8"))["runs"]
        if r["code"] == "this checkout"
    ]
    runs.sort(key=lambda r: r["paragraphs"])
    sizes = [r["paragraphs"] for r in runs]
    figure, (latency, memory) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    latency.plot(sizes, [r["query"]["query_p50_ms"] for r in runs], "o-", label="p50")
    latency.plot(sizes, [r["query"]["query_p95_ms"] for r in runs], "s--", label="p95")
    latency.axhline(15, color="grey", linewidth=0.8, linestyle=":", label="target p50 15 ms")
    latency.set(
        xscale="log",
        xlabel="paragraphs",
        ylabel="ms per query (no encoder, one thread)",
        title="Query latency",
    )
    latency.legend()
    memory.plot(sizes, [r["build"]["peak_rss_mib"] / 1024 for r in runs], "o-", label="build peak RSS")
    memory.plot(sizes, [r["query"]["peak_rss_mib"] / 1024 for r in runs], "s-", label="query process RSS")
    memory.plot(sizes, [r["build"]["index_bytes"] / 2**30 for r in runs], "^--", label="index on disk")
    memory.axhline(3, color="grey", linewidth=0.8, linestyle=":", label="target build RSS 3 GB")
    memory.set(xscale="log", xlabel="paragraphs", ylabel="GiB", title="Memory and disk")
    memory.legend()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
