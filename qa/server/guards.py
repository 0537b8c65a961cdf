"""What every request passes before a route sees it: the bearer token and the body's size.

Plain ASGI middleware, so they guard the MCP endpoint mounted at /mcp exactly as the JSON routes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from http import HTTPStatus
from typing import Any

from qa.server.problems import PROBLEM_JSON
from qa.server.tokens import TokenChecker

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 64 * 1024
OPEN_PATHS = frozenset({"/healthz"})  # a load balancer's probe: no token, and nothing in it to hide


async def send_problem(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps(
        {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    ).encode()
    raw = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class BearerAuth:
    """401 unless ``Authorization: Bearer <token>`` names a known token (every path but /healthz)."""

    def __init__(self, app: ASGIApp, tokens: TokenChecker) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = _header(scope, b"authorization")
        scheme, _, token = (header or "").partition(" ")
        if header is None or scheme.lower() != "bearer" or not token.strip():
            detail = "This server needs a token: send the header 'Authorization: Bearer <token>'."
            if header is not None:
                detail = "The Authorization header is not 'Bearer <token>'. Send the token you were given."
            await send_problem(send, 401, detail + _MAKE, {"WWW-Authenticate": 'Bearer realm="article-qa"'})
            return
        client = self.tokens.client(token.strip())
        if client is None:
            await send_problem(
                send,
                401,
                "The token is not one this server knows (mistyped, or replaced since)." + _MAKE,
                {"WWW-Authenticate": 'Bearer realm="article-qa", error="invalid_token"'},
            )
            return
        scope.setdefault("state", {})["client"] = client
        await self.app(scope, receive, send)


_MAKE = " The server's owner makes tokens with: qa token add TOKEN_FILE NAME"


class BodyLimit:
    """413 for a request body over ``limit`` bytes, whether or not it says its length up front."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        # Read the body now (it is small, or refused): the route then gets it in one piece.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()  # after the body: wait for the disconnect, as servers do
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        await send_problem(
            send,
            413,
            f"The request body is over {self.limit // 1024} KB. Send one question at a time: a question "
            "is at most 2,000 characters.",
        )
