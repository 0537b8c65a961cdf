"""Errors as ``application/problem+json`` (RFC 9457), carrying the message the CLI would print.

Every error a client can cause maps to a 4xx with the library's own sentence in ``detail``; a
server that is busy or whose index cannot be read says 503 with ``Retry-After``. A bug is a 500
with a short, fixed detail: the traceback goes to the log, never to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa import (
    BadInputError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    NotFoundError,
    QAError,
)

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_S = 1


class Problem(BaseModel):
    """An error: ``detail`` says what was wrong and how to fix it."""

    type: str = Field("about:blank", description="always about:blank: the status says the kind")
    title: str = Field(description="the HTTP status phrase")
    status: int
    detail: str = Field(description="what was wrong and how to fix it, fit to show to a person")
    errors: list[dict[str, Any]] | None = Field(
        None, description="for 422: each field that has the wrong type, and why"
    )


class ServerBusy(Exception):
    """Every worker is busy and the queue is full: the client should try again shortly."""


def problem(
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def status_of(err: QAError) -> int:
    if isinstance(err, NotFoundError):
        return 404
    if isinstance(err, BadInputError):
        return 400
    if isinstance(err, IndexCorruptError | IndexMismatchError | IndexNotFoundError):
        return 503  # the server's index, not the request: it may be rebuilt or repaired
    return 500


def _field_errors(err: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(part) for part in e.get("loc", ()) if part != "body"),
            "problem": e.get("msg", ""),
        }
        for e in err.errors()
    ]


def install(app: FastAPI) -> None:
    """Make every error response of ``app`` a problem document."""

    async def on_qa_error(request: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, QAError)
        status = status_of(err)
        if status == 500:
            logger.error("Error answering %s %s: %s", request.method, request.url.path, err)
        headers = {"Retry-After": "30"} if status == 503 else None
        return problem(status, str(err), headers=headers)

    async def on_invalid(request: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, RequestValidationError)
        errors = _field_errors(err)
        listed = "; ".join(f"{e['field'] or 'body'}: {e['problem']}" for e in errors[:5])
        return problem(
            422, f"The request does not match the API's schema ({listed}). See /openapi.json.", errors=errors
        )

    async def on_http(request: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, StarletteHTTPException)
        detail = err.detail if isinstance(err.detail, str) else HTTPStatus(err.status_code).phrase
        if err.status_code == 404 and detail == "Not Found":
            detail = f"No route {request.url.path}. The API's routes are listed at /openapi.json."
        elif err.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}. See /openapi.json."
        return problem(err.status_code, detail, headers=err.headers)

    async def on_busy(request: Request, err: Exception) -> JSONResponse:
        return problem(
            503,
            "Every worker is busy and the queue is full. Try again in a moment.",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    async def on_bug(request: Request, err: Exception) -> JSONResponse:
        logger.exception("Unexpected error on %s %s", request.method, request.url.path)
        return problem(
            500,
            f"Unexpected {type(err).__name__} on the server; it is logged there. This is a bug in "
            "article-qa: please report it with the request that caused it.",
        )

    app.add_exception_handler(QAError, on_qa_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(ServerBusy, on_busy)
    app.add_exception_handler(Exception, on_bug)
