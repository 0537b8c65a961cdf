"""``qa serve`` (the REST API, with MCP at /mcp), ``qa mcp`` (MCP over stdio) and ``qa token add``."""

from __future__ import annotations

import argparse
import os

from qa.cli.common import Subcommands, with_index, with_min_confidence


def add_serve(commands: Subcommands) -> None:
    env = os.environ.get
    s = with_index(
        commands.add_parser(
            "serve",
            help="serve the index as a JSON API (and MCP at /mcp)",
            description="Serve the index over HTTP: a versioned JSON API under /v1 (OpenAPI at "
            "/openapi.json, docs at /docs) and an MCP endpoint at /mcp for assistants. Every route "
            "but /healthz needs 'Authorization: Bearer TOKEN' when --token-file is given.",
        )
    )
    s.add_argument("--host", default=env("QA_HOST", "127.0.0.1"), help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", default=env("QA_API_PORT", "8000"), help="port (default 8000)")
    s.add_argument(
        "--token-file",
        default=env("QA_TOKEN_FILE"),
        help="accept the tokens in this file (made with: qa token add FILE NAME)",
    )
    s.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="allow binding a non-loopback address without --token-file (anyone who can reach it can ask)",
    )
    s.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let web pages from ORIGIN (e.g. https://cms.example.org) call the API; repeat for more",
    )
    s.add_argument("--workers", type=int, default=4, help="questions answered at once (default 4)")
    s.add_argument(
        "--queue",
        type=int,
        default=32,
        help="questions that may wait beyond those; more get 503 (default 32)",
    )
    s.add_argument("--no-mcp", dest="mcp", action="store_false", help="do not serve MCP at /mcp")
    s.add_argument(
        "--no-reader",
        dest="reader",
        action="store_false",
        help="answer without the reader (faster; ranks and abstains on retrieval scores alone)",
    )
    with_min_confidence(s)

    m = with_index(
        commands.add_parser(
            "mcp",
            help="serve the index to an assistant over MCP (stdio)",
            description="Run an MCP server on stdin/stdout with the tools ask, search and "
            "read_article, for an MCP client (Claude Desktop, an IDE) to start. Logs go to stderr.",
        )
    )
    m.add_argument(
        "--no-reader",
        dest="reader",
        action="store_false",
        help="answer without the reader (faster; ranks and abstains on retrieval scores alone)",
    )
    with_min_confidence(m)

    t = commands.add_parser(
        "token",
        help="make an API token for qa serve",
        description="Make API tokens for `qa serve --token-file FILE`.",
    )
    actions = t.add_subparsers(dest="token_action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="make a new token for NAME (replacing NAME's old one) and print it once",
        description="Make a random token for NAME, store only its hash in FILE (made if missing) and "
        "print the token once, alone on the last line. A NAME already in FILE gets a new token and "
        "its old one stops working.",
    )
    add.add_argument("file", metavar="FILE", help="the token file, one NAME:SHA256 a line")
    add.add_argument("name", metavar="NAME", help="who the token is for, e.g. cms or notebook")


def run_serve(args: argparse.Namespace) -> int:
    from qa.server.binding import port_number
    from qa.server.runner import ServeOptions, serve

    serve(
        ServeOptions(
            index=args.index,
            host=args.host,
            port=port_number(str(args.port)),
            token_file=args.token_file,
            insecure_no_auth=args.insecure_no_auth,
            cors_origins=tuple(args.cors_origin),
            workers=args.workers,
            queue=args.queue,
            reader=args.reader,
            mcp=args.mcp,
            min_confidence=args.min_confidence,
        )
    )
    return 0


def run_mcp(args: argparse.Namespace) -> int:
    from qa.server.mcp_server import run_stdio

    run_stdio(args.index, reader=args.reader, min_confidence=args.min_confidence)
    return 0


def run_token(args: argparse.Namespace) -> int:
    from qa.server.tokens import add_token

    token = add_token(args.file, args.name)
    print(f"Added token {args.name!r} to {args.file}; only its hash is stored, so copy it now.")
    print(f"Start the API with: qa serve --token-file {args.file}")
    print(token)
    return 0
