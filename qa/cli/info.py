"""``qa verify`` and ``qa info``: check every byte of an index, or describe it."""

from __future__ import annotations

import argparse

from qa.cli.common import Subcommands, print_json, with_index


def add_info(commands: Subcommands) -> None:
    verify = with_index(
        commands.add_parser(
            "verify",
            help="read every byte of the index against its checksums (opening only samples them)",
        )
    )
    verify.add_argument("--json", action="store_true", help="print the index info as JSON when intact")
    info = with_index(commands.add_parser("info", help="describe the index"))
    info.add_argument("--json", action="store_true", help="print JSON instead of text")


def run_verify(args: argparse.Namespace) -> int:
    from qa import verify_index

    info = verify_index(args.index)  # raises IndexCorruptError naming the damaged file
    if args.json:
        print_json(info.to_dict())
        return 0
    where = f" and its {info.searchable:,} vectors in Milvus" if info.vector_store else ""
    print(
        f"ok: {info.index} ({info.generation}): every file matches its sha256{where}, {info.size_bytes / 2**20:.1f} MiB read"
    )
    return 0


def run_info(args: argparse.Namespace) -> int:
    from qa import index_info

    info = index_info(args.index)  # doubles as an integrity check; no model needed
    if args.json:
        print_json(info.to_dict())
        return 0
    parts = "" if info.parts == 1 else f", {info.parts} parts"
    print(f"index       {info.index} ({info.generation}{parts}, {info.size_bytes / 2**20:.1f} MiB)")
    print(f"built       {info.created} by article-qa {info.qa_version}")
    print(f"source      {info.source}")
    print(f"articles    {info.articles}")
    print(
        f"passages    {info.passages} ({info.boilerplate} boilerplate, {info.headings} headings, "
        f"{info.searchable} searchable)"
    )
    model = info.model if info.model_path is None else f"{info.model} from {info.model_path}"
    index_type = (
        info.index_type if info.ef_search is None else f"{info.index_type} (efSearch {info.ef_search})"
    )
    print(f"model       {model} ({info.dim}-d), {index_type} index, abstains below {info.abstain_below:.2f}")
    print(f"vectors     {info.vectors} cached in {info.segments} segment(s)")
    if info.vector_store:
        print(f"vectors     in Milvus: {info.vector_store}")
    return 0
