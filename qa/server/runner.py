"""``qa serve``: check the options, open the index, and run the API with uvicorn until Ctrl+C."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from qa.search.inputs import check_min_confidence
from qa.server.binding import StartError, check_port, is_loopback

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    index: str
    host: str = "127.0.0.1"
    port: int = 8000
    token_file: str | None = None
    insecure_no_auth: bool = False
    cors_origins: Sequence[str] = field(default_factory=tuple)
    workers: int = 4
    queue: int = 32
    reader: bool = True
    mcp: bool = True
    min_confidence: float | None = None  # the reader's threshold, instead of its version's


def needs_tokens(host: str, token_file: str | None, insecure_no_auth: bool) -> bool:
    """True when serving ``host`` this way would open the index to the network without tokens."""
    return token_file is None and not is_loopback(host) and not insecure_no_auth


def check_options(options: ServeOptions) -> None:
    """Refuse an open server on the network, and a port that is taken, before anything loads."""
    if needs_tokens(options.host, options.token_file, options.insecure_no_auth):
        raise StartError(
            f"refusing to serve {options.host} without tokens: anyone on the network could use it. "
            "Make one with `qa token add tokens.txt NAME` and start with --token-file tokens.txt, "
            "or pass --insecure-no-auth if that is what you want."
        )
    if not 1 <= options.workers <= 64 or not 0 <= options.queue <= 10_000:
        raise StartError("--workers must be 1 to 64 and --queue 0 to 10000.")
    check_min_confidence(options.min_confidence)
    check_port(options.host, options.port)


def serve(options: ServeOptions) -> None:
    import uvicorn

    from qa import QA, index_info
    from qa.server.app import create_app
    from qa.server.pool import WorkerPool
    from qa.server.tokens import TokenChecker

    check_options(options)
    tokens = TokenChecker.from_file(options.token_file) if options.token_file else None
    index_info(options.index)  # a missing or damaged index is said before the model loads
    if tokens is None and not is_loopback(options.host):
        logger.warning(
            "Serving %s without tokens (--insecure-no-auth): anyone who reaches it can ask", options.host
        )
    qa = QA.open(options.index, reader=options.reader, min_confidence=options.min_confidence)
    routes = []
    lifespans = []
    if options.mcp:
        from qa.server.mcp_server import http_route

        route, lifespan = http_route(qa, options.host)
        routes.append(route)
        lifespans.append(lifespan)
    app = create_app(
        qa,
        tokens=tokens,
        cors_origins=options.cors_origins,
        pool=WorkerPool(options.workers, options.queue),
        routes=routes,
        lifespans=lifespans,
    )
    where = f"http://{options.host}:{options.port}"
    logger.warning(
        "article-qa API is up at %s (docs at %s/docs; MCP at %s/mcp)%s",
        where,
        where,
        where,
        "" if tokens is None else f", {len(tokens.hashes)} token(s) from {options.token_file}",
    )
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        log_config=None,  # our logging: one line per record on stderr
        access_log=os.environ.get("QA_ACCESS_LOG", "") == "1",
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        qa.close()
