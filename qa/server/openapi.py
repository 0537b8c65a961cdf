"""The API's OpenAPI document: FastAPI's, with problem+json errors and the bearer scheme.

``python -m qa.server.openapi > docs/openapi.json`` writes the copy kept in the repository; a test
checks that the served document is the same.
"""

from __future__ import annotations

import copy
import json
import sys
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


def main() -> int:
    from typing import cast

    from qa import QA
    from qa.server.app import create_app

    app = create_app(cast(QA, None))  # the document needs the routes, not an index
    json.dump(app.openapi(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
