"""Web chat over the article index: ``python app.py`` (binds 127.0.0.1:7860).

Builds ``index/`` from ``examples/articles/`` on first start when no index exists. The page is up
as soon as the index is open; the embedding model loads in the background meanwhile. Every
option can also come from a ``QA_*`` environment variable (``QA_INDEX``, ``QA_PORT``...).
"""

from __future__ import annotations

import gc

if __name__ == "__main__":
    # Start-up creates hundreds of thousands of long-lived objects (Gradio's classes, the
    # index); the cyclic collector scanning them over and over cost ~0.35 s of a ~3 s start
    # (bench/app.py). It comes back on, with those objects frozen, once the page is served.
    gc.disable()

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa import QA, QAError, build_index, configure_logging
from qa.search.inputs import check_min_confidence
from qa.server.binding import StartError, check_port, is_loopback, port_number

logger = logging.getLogger("qa.app")
HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description="article-qa web chat. Each option also reads a QA_* environment variable."
    )
    parser.add_argument(
        "--articles",
        default=env("QA_ARTICLES", str(HERE / "examples" / "articles")),
        help="articles to index on first start, when the index does not exist yet "
        "(QA_ARTICLES; default: the sample corpus)",
    )
    parser.add_argument(
        "--index", default=env("QA_INDEX", str(HERE / "index")), help="index folder (QA_INDEX)"
    )
    parser.add_argument(
        "--host", default=env("QA_HOST", "127.0.0.1"), help="address to bind (QA_HOST; default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", default=env("QA_PORT", "7860"), help="port to listen on (QA_PORT; default 7860)"
    )
    parser.add_argument(
        "--auth-file",
        default=env("QA_AUTH_FILE"),
        help="require a login: a file of user:password-hash lines written by `qa passwd FILE USER` (QA_AUTH_FILE)",
    )
    parser.add_argument(
        "--insecure-no-auth",
        action="store_true",
        default=env("QA_INSECURE_NO_AUTH", "") == "1",
        help="allow binding a non-loopback address without --auth-file (anyone who can reach it can ask)",
    )
    parser.add_argument(
        "--no-reader",
        dest="reader",
        action="store_false",
        default=env("QA_NO_READER", "") != "1",
        help="answer without the reader (QA_NO_READER=1): faster, ranks and abstains on retrieval scores alone",
    )
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=env("QA_MIN_CONFIDENCE") or None,
        metavar="P",
        help="answer only when the reader's probability that the articles answer is at least P "
        "(QA_MIN_CONFIDENCE; 0-1; default: the threshold fitted for the reader)",
    )
    return parser.parse_args(argv)


def ensure_index(articles: Path, index: Path) -> None:
    if (index / "CURRENT").exists():
        return
    logger.warning("No index at %s yet: building it from %s (first start only)", index, articles)
    gc.enable()  # a build is long and makes garbage: not the few seconds the collector was off for
    report = build_index(articles, index, show_progress=True)
    logger.warning("%s", report.summary())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    try:
        port = port_number(str(args.port))
        login = None
        if args.auth_file:
            from qa.web.auth import login_checker, read_auth_file

            login = login_checker(read_auth_file(args.auth_file))
        elif not is_loopback(args.host) and not args.insecure_no_auth:
            raise StartError(
                f"refusing to serve {args.host} without a login: anyone on the network could use it. "
                "Create users with `qa passwd users.txt NAME` and start with --auth-file users.txt, "
                "or pass --insecure-no-auth if that is what you want."
            )
        check_min_confidence(args.min_confidence)  # before a first start's build
        check_port(args.host, port, also=" (or QA_PORT=N)")
        ensure_index(Path(args.articles), Path(args.index))
        # Gradio's import (~2.5 s) goes first: the model's load would only slow it down.
        from qa.web.page import CSS, HEAD, build_page

        qa = QA.open(
            args.index, background_model=True, reader=args.reader, min_confidence=args.min_confidence
        )
    except QAError as err:  # StartError is one too
        print(f"error: {err}", file=sys.stderr)
        return 1

    exports = Path(tempfile.gettempdir()) / "article-qa-exports"
    page = build_page(qa, exports)
    page.queue(max_size=64, default_concurrency_limit=1)
    try:
        page.launch(
            server_name=args.host,
            server_port=port,
            share=False,
            css=CSS,
            head=HEAD,
            show_error=False,
            quiet=True,
            auth=login,
            auth_message="Sign in with a user from the auth file (qa passwd FILE USER).",
            allowed_paths=[str(exports)],
            footer_links=["api"],
            prevent_thread_lock=True,
        )
    except OSError as err:
        print(f"error: cannot serve on {args.host}:{port} ({err}). Try another --port.", file=sys.stderr)
        return 1
    logger.warning("article-qa is up at http://%s:%d (the model loads in the background)", args.host, port)
    gc.freeze()  # what start-up made lives as long as the server: later collections skip it
    gc.enable()
    try:
        page.block_thread()  # until Ctrl+C
    finally:
        page.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
