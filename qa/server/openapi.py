"""The API's OpenAPI document: FastAPI's, with problem+json errors and the bearer scheme.

``python -m qa.server.app > docs/openapi.json`` writes the copy kept in the repository; a test
checks that the served document is the same.
"""

from __future__ import annotations

import copy
from html import escape
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from qa.server import problems
from qa.server.problems import Problem

ERRORS = {
    400: "the input cannot be used as given (detail says why and how to fix it)",
    401: "no token, or not one this server knows",
    404: "no such article, passage or chat",
    413: "the request body is over 64 KB",
    422: "the body does not match the schema (a wrong type, a missing or unknown field)",
    503: "busy, or the index cannot be read; retry after Retry-After seconds",
}


def problem_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with every error as a problem+json response and the bearer scheme.

    The same document whether or not this server has tokens, so docs/openapi.json describes every
    server (one started without tokens simply does not ask for them).
    """
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = Problem.model_json_schema()
    document["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "a token from qa token add"}
    }
    reference = {"$ref": "#/components/schemas/Problem"}
    for path, operations in document["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            responses.pop("422", None)  # FastAPI's own (HTTPValidationError); ours follow where they apply
            codes = set(ERRORS) if path != "/healthz" else set()
            if path == "/healthz":
                operation["security"] = []
            else:
                operation["security"] = [{"bearer": []}]
            if not operation.get("requestBody"):
                codes -= {413, 422}
            if "{" not in path:
                codes.discard(404)
            for code in sorted(codes):
                responses[str(code)] = {
                    "description": ERRORS[code],
                    "content": {problems.PROBLEM_JSON: {"schema": copy.deepcopy(reference)}},
                }
                if code == 503:
                    responses[str(code)]["headers"] = {
                        "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
                    }
    app.openapi_schema = document
    return document


def docs_page(document: dict[str, Any]) -> str:
    """The document as one self-contained HTML page (no script, nothing fetched from elsewhere:
    Swagger UI would load its code from a CDN, which an offline or firewalled machine cannot reach)."""
    schemas = document.get("components", {}).get("schemas", {})
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(document['info']['title'])} API</title>",
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "code,pre{background:#f4f4f4;padding:0 .2rem}h2{margin-top:2rem;border-top:1px solid #ddd;padding-top:1rem}"
        "td,th{text-align:left;padding:.2rem .6rem;vertical-align:top}</style></head><body>",
        f"<h1>{escape(document['info']['title'])} {escape(document['info']['version'])}</h1>",
        f"<p>{escape(document['info'].get('description', ''))}</p>",
        "<p>The machine-readable document: <a href='/openapi.json'>/openapi.json</a>.</p>",
    ]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            parts.append(
                f"<h2><code>{method.upper()} {escape(path)}</code> {escape(operation.get('summary', ''))}</h2>"
            )
            parts.append(f"<p>{escape(operation.get('description', ''))}</p>")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "")
            fields = schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}) if ref else {}
            if fields:
                rows = "".join(
                    f"<tr><td><code>{escape(name)}</code></td><td>{escape(str(spec.get('default', '')))}</td>"
                    f"<td>{escape(spec.get('description', ''))}</td></tr>"
                    for name, spec in fields.items()
                )
                parts.append(f"<table><tr><th>field</th><th>default</th><th></th></tr>{rows}</table>")
            codes = ", ".join(sorted(operation.get("responses", {})))
            parts.append(f"<p>Responses: {escape(codes)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
