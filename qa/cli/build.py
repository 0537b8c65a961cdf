"""``qa build``: build or update an index from a folder of articles."""

from __future__ import annotations

import argparse
import sys

from qa.cli.common import Subcommands, print_json, with_index


def add_build(commands: Subcommands) -> None:
    build = with_index(commands.add_parser("build", help="build or update an index from articles"))
    build.add_argument("articles", help="folder (or file) of .txt .md .html .jsonl .pdf .rss .atom articles")
    build.add_argument("--force", action="store_true", help="rebuild and re-embed everything")
    build.add_argument("--json", action="store_true", help="print the build report as JSON")
    build.add_argument("--quiet", action="store_true", help="no progress bars")
    build.add_argument(
        "--compact",
        action="store_true",
        help="rewrite the index as one part and its vectors in use as one segment, dropping "
        "removed text (no re-embedding)",
    )
    build.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="read symbolic links that lead outside the articles folder (skipped by default)",
    )
    build.add_argument(
        "--model",
        metavar="PATH",
        help="a local sentence-transformers model folder to embed with (default: the packaged all-MiniLM-L6-v2)",
    )
    build.add_argument(
        "--abstain-below",
        type=float,
        metavar="X",
        help="evidence threshold to record for --model (calibrate with qa eval)",
    )
    build.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        help="where the model embeds (default: auto, a GPU when torch sees one)",
    )
    build.add_argument(
        "--vector-store",
        metavar="URI",
        help="keep the vectors in Milvus: milvus://HOST:PORT[/COLLECTION] (needs article-qa[milvus]); "
        "'faiss' goes back to the local file. Default: what the index already uses",
    )
    build.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="where embedding runs: this process (default) or Ray Data actors (needs article-qa[ray])",
    )
    build.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="the Ray cluster for --engine ray (e.g. ray://HEAD:10001 or auto); default: a local Ray",
    )
    build.add_argument(
        "--ray-actors",
        type=int,
        metavar="N",
        help="embedding actors for --engine ray (default: one per GPU, else one per two CPUs)",
    )


def run_build(args: argparse.Namespace) -> int:
    from qa.build import build_index

    report = build_index(
        args.articles,
        args.index,
        force=args.force,
        show_progress=not args.quiet,
        model=args.model,
        abstain_below=args.abstain_below,
        vector_store=args.vector_store,
        device=args.device,
        engine=args.engine,
        ray_address=args.ray_address,
        ray_actors=args.ray_actors,
        compact=args.compact,
        follow_symlinks=args.follow_symlinks,
    )
    for skipped in report.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.summary())
    return 0
