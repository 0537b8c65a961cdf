"""The ``qa`` command's options: one subcommand each for build, ask, search, info, verify,
eval, passwd and fetch (qa.cli runs them)."""

from __future__ import annotations

import argparse
import os

EPILOG = """examples:
  qa build examples/articles                 build or update ./index from a folder
  qa build ~/news --index ~/news-index       another folder and index
  qa ask "What did Ukraine vow to do in Bakhmut?"
  qa ask --json "Who won Super Bowl 50?"     the answer and citations as JSON
  qa search "Wagner" --top-k 5
  qa info
  qa verify                                  check every byte of the index (opening only samples)
  qa eval questions.jsonl --json             score the index on your own questions
  qa passwd users.txt alice                  add a login, then: python app.py --auth-file users.txt

The index defaults to $QA_INDEX, else ./index.
"""


def command_parser() -> argparse.ArgumentParser:
    default_index = os.environ.get("QA_INDEX", "index")
    parser = argparse.ArgumentParser(
        prog="qa",
        description="Offline question answering over a folder of articles, with exact citations.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_index(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--index", default=default_index, help=f"index folder (default: {default_index})")
        return p

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

    for name, help_text, default_k in (
        ("ask", "answer a question with citations", 5),
        ("search", "list the passages that match best", 10),
    ):
        p = with_index(commands.add_parser(name, help=help_text))
        p.add_argument("question", metavar="QUESTION" if name == "ask" else "QUERY")
        p.add_argument(
            "--top-k", type=int, default=default_k, help=f"passages to return (default {default_k})"
        )
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        p.add_argument(
            "--as-of",
            metavar="DATE",
            help="ask as of this date (ISO 8601; default now): nothing published later is cited",
        )
        p.add_argument("--since", metavar="DATE", help="only articles published on or after DATE")
        p.add_argument("--until", metavar="DATE", help="only articles published on or before DATE")
        p.add_argument(
            "--source",
            action="append",
            metavar="NAME",
            help="only articles from this site (URL host), folder or file; repeat for more",
        )

    verify = with_index(
        commands.add_parser(
            "verify",
            help="read every byte of the index against its checksums (opening only samples them)",
        )
    )
    verify.add_argument("--json", action="store_true", help="print the index info as JSON when intact")
    info = with_index(commands.add_parser("info", help="describe the index"))
    info.add_argument("--json", action="store_true", help="print JSON instead of text")

    ev = with_index(commands.add_parser("eval", help="score the index on your own questions"))
    ev.add_argument(
        "file",
        metavar="FILE",
        help='questions: JSON Lines, one {"question", "article", "paragraph", "answer", "kind"} a line '
        '("article": null when the articles cannot answer), or a SQuAD v1.1 .json file',
    )
    ev.add_argument("--top-k", type=int, default=20, help="citations asked for per question (default 20)")
    ev.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N questions")
    ev.add_argument(
        "--show-failures", type=int, default=10, metavar="N", help="failures to list (default 10)"
    )
    ev.add_argument("--json", action="store_true", help="print the whole report as JSON")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")

    pw = commands.add_parser(
        "passwd",
        help="add a login for the web chat, or change its password",
        description="Add USER to the login file FILE (made if missing) or change their password. "
        "Start the web chat with it: python app.py --auth-file FILE",
    )
    pw.add_argument("file", metavar="FILE", help="the login file, one USER:HASH a line")
    pw.add_argument("user", metavar="USER", help="the user name (no ':' or spaces)")
    pw.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of asking twice",
    )

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
    return parser
