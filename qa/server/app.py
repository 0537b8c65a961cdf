"""The REST API: a FastAPI application over one :class:`qa.QA`, on the public Python API only.

Routes under ``/v1`` take and give JSON; errors are problem documents (qa.server.problems). A
question runs on a bounded worker pool (qa.server.pool); between questions ``QA`` switches to a
newer index generation by itself, so a rebuild never interrupts the service.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute

from qa import QA, ArticleSummary, ArticleView, Hit, __version__
from qa.server import problems
from qa.server.chats import ChatStore
from qa.server.guards import BearerAuth, BodyLimit
from qa.server.openapi import docs_page, problem_document
from qa.server.pool import WorkerPool
from qa.server.schemas import (
    AnswerBody,
    AskRequest,
    ChatAskRequest,
    ChatCreated,
    Health,
    ReaderState,
    SearchRequest,
    ServerInfo,
)
from qa.server.tokens import TokenChecker

logger = logging.getLogger(__name__)

T = TypeVar("T")
API_TITLE = "article-qa"
DESCRIPTION = """Questions answered from your articles, with exact citations: the article, the
paragraph and the sentence that answers. Answers are extractive (sentences from the articles,
never generated) and say "not found" when nothing answers.

Every route but `/healthz` needs `Authorization: Bearer <token>` when the server has a token file
(`qa token add FILE NAME`). Errors are `application/problem+json` (RFC 9457)."""


def create_app(
    qa: QA,
    *,
    tokens: TokenChecker | None = None,
    cors_origins: Sequence[str] = (),
    pool: WorkerPool | None = None,
    chats: ChatStore | None = None,
    routes: Sequence[BaseRoute] = (),
    lifespans: Sequence[Callable[[], AbstractAsyncContextManager[None]]] = (),
) -> FastAPI:
    """The API over ``qa``. ``tokens=None`` serves without auth (only sensible on loopback).

    ``routes`` adds raw ASGI routes (the MCP endpoint) behind the same guards, and ``lifespans``
    their start-up and shut-down.
    """
    pool = pool or WorkerPool()
    chats = chats or ChatStore(qa)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for started in lifespans:
                await stack.enter_async_context(started())
            yield
        pool.close()

    app = FastAPI(
        title=API_TITLE,
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # our own page below: Swagger UI's code would come from a CDN
        redoc_url=None,
    )
    problems.install(app)

    async def work(call: Callable[[], T]) -> T:
        return await pool.run(call)

    # The answer routes return their JSON as it is: the result types already have the documented
    # shape (tests check it against the schema), and validating it again costs ~10% of a question.

    @app.post("/v1/ask", response_model=AnswerBody, tags=["questions"], summary="Answer a question")
    async def ask(body: AskRequest) -> JSONResponse:
        """The answer with its citations: the same JSON as `qa ask --json`."""
        answer = await work(
            lambda: qa.ask(
                body.question,
                body.top_k,
                reader=body.reader,
                min_confidence=body.min_confidence,
                **_scope(body),
            )
        )
        return JSONResponse(answer.to_dict())

    @app.post("/v1/search", response_model=list[Hit], tags=["questions"], summary="Rank passages")
    async def search(body: SearchRequest) -> JSONResponse:
        """The passages that match best, without answer assembly: the JSON of `qa search --json`."""
        hits = await work(lambda: qa.search(body.query, body.top_k, reader=body.reader, **_scope(body)))
        return JSONResponse([h.to_dict() for h in hits])

    @app.post(
        "/v1/chats", response_model=ChatCreated, status_code=201, tags=["chats"], summary="Start a chat"
    )
    async def new_chat() -> dict[str, Any]:
        """A conversation: its questions may refer back to the turns before (who, they, the same)."""
        return {"chat_id": chats.create(), "idle_expiry_s": int(chats.idle_seconds)}

    @app.post("/v1/chats/{chat_id}/ask", response_model=AnswerBody, tags=["chats"], summary="Ask in a chat")
    async def chat_ask(chat_id: str, body: ChatAskRequest) -> JSONResponse:
        """The next turn of a chat; a follow-up is resolved against the turn before it."""
        held = chats.get(chat_id)

        def turn() -> dict[str, Any]:
            with held.lock:
                answer = held.chat.ask(
                    body.question, body.top_k, min_confidence=body.min_confidence, **_scope(body)
                )
                chats.trim(held)
            return answer.to_dict()

        return JSONResponse(await work(turn))

    @app.delete("/v1/chats/{chat_id}", status_code=204, tags=["chats"], summary="End a chat")
    async def end_chat(chat_id: str) -> None:
        chats.delete(chat_id)

    @app.get("/v1/articles", response_model=list[ArticleSummary], tags=["articles"], summary="List articles")
    async def articles() -> list[dict[str, Any]]:
        return [a.to_dict() for a in await work(qa.articles)]

    @app.get(
        "/v1/articles/{article_id:path}",
        response_model=ArticleView,
        tags=["articles"],
        summary="Read an article",
    )
    async def article(article_id: str) -> dict[str, Any]:
        """The whole article with its paragraphs and their passage keys (a source viewer's data)."""
        return (await work(lambda: qa.article(article_id))).to_dict()

    @app.get(
        "/v1/passages/{passage_key:path}", response_model=Hit, tags=["articles"], summary="Read a passage"
    )
    async def passage(passage_key: str) -> dict[str, Any]:
        """The passage a citation's `passage_key` names, even one handed out before a rebuild."""
        return (await work(lambda: qa.passage(passage_key))).to_dict()

    @app.get("/v1/info", response_model=ServerInfo, tags=["server"], summary="Index and reader")
    async def info() -> dict[str, Any]:
        """The live index generation (when built, counts, model) and the reader in use."""
        index = await work(qa.info)
        calibration = qa.reader.calibration if qa.reader is not None else None
        reader = ReaderState(
            enabled=calibration is not None,
            version=calibration.reader_version if calibration is not None else None,
            abstain_below=qa.min_confidence,
        )
        return {"version": __version__, "index": index.to_dict(), "reader": reader.model_dump()}

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        """The API described on one page, from the OpenAPI document; nothing loaded from elsewhere."""
        return HTMLResponse(docs_page(app.openapi()))

    @app.get("/healthz", response_model=Health, tags=["server"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        """Always 200 while the server runs; no token needed and no detail given."""
        return {"status": "ok"}

    app.router.routes.extend(routes)
    app.openapi = lambda: problem_document(app)  # type: ignore[method-assign]
    # Outermost last: CORS answers preflights, then the token, then the body's size.
    app.add_middleware(BodyLimit)
    if tokens is not None:
        app.add_middleware(BearerAuth, tokens=tokens)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Mcp-Session-Id", "Mcp-Protocol-Version"],
            expose_headers=["Mcp-Session-Id", "Retry-After"],
        )
    return app


def _scope(body: Any) -> dict[str, Any]:
    return {"as_of": body.as_of, "since": body.since, "until": body.until, "sources": body.sources}


def main() -> int:
    """Print the OpenAPI document (``python -m qa.server.app > docs/openapi.json``)."""
    from typing import cast

    app = create_app(cast(QA, None))  # the document needs the routes, not an index
    json.dump(app.openapi(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
