"""``qa fetch``: download pages, PDFs and feeds into an articles folder (the only command that
uses the network)."""

from __future__ import annotations

import argparse
import sys

from qa.cli.common import Subcommands, print_json


def add_fetch(commands: Subcommands) -> None:
    fe = commands.add_parser(
        "fetch",
        help="download pages, PDFs and feeds into an articles folder (the only command that uses the network)",
        description="Download web pages, PDFs and RSS/Atom feeds into files that qa build reads offline. "
        "robots.txt is honoured, one request per host per interval, and a refetch only downloads what "
        "changed. Only public internet addresses are fetched unless --allow-private.",
    )
    fe.add_argument("urls", nargs="*", metavar="URL", help="a page, PDF or feed file to save")
    fe.add_argument(
        "--feed", action="append", default=[], metavar="URL", help="a feed whose entries' pages to save"
    )
    fe.add_argument("--from-file", metavar="FILE", help="more URLs, one a line (# comments)")
    fe.add_argument("--into", required=True, metavar="DIR", help="the articles folder to save into")
    fe.add_argument(
        "--allow-private", action="store_true", help="also fetch from private and loopback addresses"
    )
    fe.add_argument(
        "--min-interval", type=float, default=1.0, metavar="S", help="seconds between requests to one host"
    )
    fe.add_argument(
        "--timeout", type=float, default=20.0, metavar="S", help="seconds per request (default 20)"
    )
    fe.add_argument(
        "--max-mb", type=float, default=10.0, metavar="N", help="largest download in MB (default 10)"
    )
    fe.add_argument("--json", action="store_true", help="print the report as JSON")


def run_fetch(args: argparse.Namespace) -> int:
    from qa import BadInputError
    from qa.fetch import FetchSettings, fetch, read_url_list

    if args.min_interval < 0 or args.timeout <= 0 or args.max_mb <= 0:
        raise BadInputError("--min-interval must be 0 or more; --timeout and --max-mb more than 0.")
    urls = [*args.urls, *(read_url_list(args.from_file) if args.from_file else [])]
    settings = FetchSettings(
        allow_private=args.allow_private,
        min_interval=args.min_interval,
        timeout=args.timeout,
        max_bytes=int(args.max_mb * 1024 * 1024),
    )
    report = fetch(args.into, urls, args.feed, settings)
    for url, reason in report.skipped:
        print(f"skipped {url}: {reason}", file=sys.stderr)
    if args.json:
        print_json(report.to_dict())
    else:
        print(f"{report.summary()} into {args.into}. Index them with: qa build {args.into}")
    return 0 if report.saved or report.unchanged or not report.skipped else 1
