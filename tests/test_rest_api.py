"""The REST API in-process (FastAPI's TestClient and httpx over ASGI) with the fake encoder.

The real server, started by ``qa serve`` with the real model on 127.0.0.1, is in test_serve.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from mcp.server.mcpserver.exceptions import ToolError

from qa import QA, BadInputError, IndexCorruptError, build_index
from qa.cli import main
from qa.server.app import create_app
from qa.server.chats import ChatStore
from qa.server.pool import WorkerPool
from qa.server.runner import ServeOptions, check_options, needs_tokens
from qa.server.tokens import TOKEN_PREFIX, TokenChecker, add_token, read_token_file, token_hash
from tests.conftest import FAKE_ABSTAIN, ROOT, FakeEncoder, WordReader

QUESTION = "How much did the harbour bridge repairs cost?"
PROBLEM_KEYS = {"type", "title", "status", "detail"}


@pytest.fixture
def qa(articles: Path, fake_encoder: FakeEncoder) -> Iterator[QA]:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    with QA.open("idx", encoder=fake_encoder, abstain_below=FAKE_ABSTAIN, reader=False) as opened:
        yield opened


@pytest.fixture
def token(tmp_path: Path) -> str:
    return add_token(tmp_path / "tokens.txt", "tests")


@pytest.fixture
def client(qa: QA, token: str, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(qa, tokens=TokenChecker.from_file(tmp_path / "tokens.txt"))
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


def assert_problem(response: Any, status: int, detail_has: str = "") -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status and body["type"] == "about:blank"
    assert detail_has in body["detail"]
    assert "Traceback" not in response.text
    return body


# ---- what the routes return -------------------------------------------------------------------


def test_ask_returns_exactly_what_qa_ask_returns(client: TestClient, qa: QA) -> None:
    response = client.post("/v1/ask", json={"question": QUESTION, "top_k": 3})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == qa.ask(QUESTION, top_k=3).to_dict()
    top = response.json()["citations"][0]
    assert (top["article_id"], top["paragraph"]) == ("news/harbour.txt", 1)


def test_ask_and_search_take_the_scope_options(client: TestClient, qa: QA) -> None:
    body = {"question": "comet Lapland", "since": "2024-01-01", "sources": ["news"], "reader": False}
    scoped = client.post("/v1/ask", json=body).json()
    assert all(c["source_path"].startswith("news/") for c in scoped["citations"])
    assert scoped == qa.ask("comet Lapland", since="2024-01-01", sources=["news"]).to_dict()
    hits = client.post("/v1/search", json={"query": "comet Lapland", "top_k": 2}).json()
    assert hits == [h.to_dict() for h in qa.search("comet Lapland", top_k=2)]
    early = client.post("/v1/search", json={"query": "comet Lapland", "as_of": "2023-12-31"}).json()
    assert all(h["article_id"] != "science.md" for h in early)  # published 2024-01-05


def test_articles_passages_and_info(client: TestClient, qa: QA) -> None:
    listed = client.get("/v1/articles").json()
    assert {a["article_id"] for a in listed} == {a.article_id for a in qa.articles()}
    view = client.get("/v1/articles/news/harbour.txt").json()
    assert view == qa.article("news/harbour.txt").to_dict()
    key = view["paragraphs"][0]["passage_key"]
    assert client.get(f"/v1/passages/{key}").json() == qa.passage(key).to_dict()
    info = client.get("/v1/info").json()
    assert info["index"] == qa.info().to_dict()
    assert info["reader"] == {"enabled": False, "version": None, "abstain_below": None}


def test_min_confidence_is_set_per_request(articles: Path, fake_encoder: FakeEncoder) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    reopen = "When did the harbour bridge reopen?"
    with (
        QA.open("idx", encoder=fake_encoder, reader=WordReader(), min_confidence=0.9) as qa,
        TestClient(create_app(qa)) as c,
    ):
        assert c.get("/v1/info").json()["reader"]["abstain_below"] == 0.9
        default = c.post("/v1/ask", json={"question": reopen}).json()
        assert not default["abstained"] and 0.9 < default["confidence"] < 0.99
        strict = c.post("/v1/ask", json={"question": reopen, "min_confidence": 0.99}).json()
        assert strict["abstained"] and strict["confidence"] == default["confidence"]
        assert strict == qa.ask(reopen, min_confidence=0.99).to_dict()
        chat_id = c.post("/v1/chats").json()["chat_id"]
        turn = c.post(f"/v1/chats/{chat_id}/ask", json={"question": reopen, "min_confidence": 1})
        assert turn.status_code == 200 and turn.json()["abstained"]
        for bad in (1.5, -0.1, "0.8"):
            problem = assert_problem(c.post("/v1/ask", json={"question": reopen, "min_confidence": bad}), 422)
            assert [e["field"] for e in problem["errors"]] == ["min_confidence"]


def test_the_mcp_ask_tool_takes_min_confidence_and_refuses_bad_ones(
    articles: Path, fake_encoder: FakeEncoder
) -> None:
    from qa.server.mcp_server import build_server

    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    reopen = "When did the harbour bridge reopen?"
    with QA.open("idx", encoder=fake_encoder, reader=WordReader()) as qa:
        server = build_server(qa)

        async def ask(**arguments: Any) -> Any:
            return await server.call_tool("ask", {"question": reopen, **arguments})

        answered = asyncio.run(ask()).structured_content
        assert not answered["abstained"]
        assert answered["citations"][0]["confidence"] == qa.ask(reopen).citations[0].confidence
        strict = asyncio.run(ask(min_confidence=0.99)).structured_content
        assert strict["abstained"] and strict["confidence"] == answered["confidence"]
        assert strict["citations"] == answered["citations"]  # the closest matches, listed alike
        # A bar set to the confidence shown admits the answer that showed it.
        assert not asyncio.run(ask(min_confidence=answered["confidence"])).structured_content["abstained"]
        for bad in (1.5, -0.1, "0.8", True):
            with pytest.raises(ToolError, match="min_confidence"):
                asyncio.run(ask(min_confidence=bad))


def test_a_chat_resolves_follow_ups_and_ends(client: TestClient) -> None:
    made = client.post("/v1/chats")
    assert made.status_code == 201 and made.json()["idle_expiry_s"] == 3600
    chat = made.json()["chat_id"]
    first = client.post(f"/v1/chats/{chat}/ask", json={"question": QUESTION}).json()
    assert first["citations"][0]["article_id"] == "news/harbour.txt"
    follow = client.post(f"/v1/chats/{chat}/ask", json={"question": "What did they repaint?"}).json()
    assert follow["resolved_query"].startswith(QUESTION)  # searched in the context of turn one
    assert follow["citations"][0]["article_id"] == "news/harbour.txt"
    other = client.post("/v1/chats").json()["chat_id"]
    alone = client.post(f"/v1/chats/{other}/ask", json={"question": "What did they repaint?"}).json()
    assert alone["resolved_query"] == "What did they repaint?"  # chats do not share turns
    assert client.delete(f"/v1/chats/{chat}").status_code == 204
    assert_problem(
        client.post(f"/v1/chats/{chat}/ask", json={"question": "and then?"}), 404, "POST /v1/chats"
    )


def test_chats_expire_when_idle_and_are_bounded(qa: QA) -> None:
    now = [0.0]
    store = ChatStore(qa, max_chats=2, idle_seconds=3600, clock=lambda: now[0])
    first, second = store.create(), store.create()
    now[0] = 100.0
    store.get(first)  # first is now the most recently used
    third = store.create()  # full: the one idle longest (second) goes
    with pytest.raises(BadInputError, match="never made, was deleted, or was idle"):
        store.get(second)
    assert store.get(first) and store.get(third) and len(store) == 2
    now[0] = 100.0 + 3600
    with pytest.raises(BadInputError):
        store.get(first)
    assert len(store) == 0


# ---- errors -----------------------------------------------------------------------------------


def test_bad_input_is_a_400_with_the_message_the_cli_prints(client: TestClient, qa: QA) -> None:
    for body, call in (
        ({"question": "   "}, lambda: qa.ask("   ")),
        ({"question": "x" * 2001}, lambda: qa.ask("x" * 2001)),
        (
            {"question": "bridge", "as_of": "next tuesday-ish"},
            lambda: qa.ask("bridge", as_of="next tuesday-ish"),
        ),
        ({"question": "bridge", "since": "2024-05-01", "until": "2024-01-01"}, None),
    ):
        response = client.post("/v1/ask", json=body)
        problem = assert_problem(response, 400)
        if call is not None:
            with pytest.raises(BadInputError) as err:
                call()
            assert problem["detail"] == str(err.value)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": 5}, "question"),
        ({"question": "bridge", "top_k": "5"}, "top_k"),
        ({"question": "bridge", "top_k": 0}, "top_k"),
        ({"question": "bridge", "top_k": 101}, "top_k"),
        ({"question": "bridge", "topk": 3}, "topk"),
        ({"question": "bridge", "sources": "news"}, "sources"),
        ({}, "question"),
    ],
)
def test_wrong_types_are_a_422_naming_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    problem = assert_problem(client.post("/v1/ask", json=body), 422, field)
    assert any(e["field"] == field for e in problem["errors"])


def test_not_json_unknown_things_and_wrong_methods(client: TestClient) -> None:
    assert_problem(
        client.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"}), 422
    )
    assert_problem(client.get("/v1/articles/no/such.txt"), 404, "No article 'no/such.txt'")
    assert_problem(client.get("/v1/passages/no-such@key"), 404, "No passage")
    assert_problem(client.post("/v1/chats/nope/ask", json={"question": "hi"}), 404, "No chat 'nope'")
    assert_problem(client.get("/v1/nothing"), 404, "/openapi.json")
    assert_problem(client.get("/v1/ask"), 405, "GET is not allowed")


def test_a_body_over_64_kb_is_a_413_with_or_without_its_length(client: TestClient) -> None:
    big = json.dumps({"question": "x" * 70_000}).encode()
    assert_problem(
        client.post("/v1/ask", content=big, headers={"content-type": "application/json"}), 413, "64 KB"
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body arrives in pieces
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    assert_problem(
        client.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"}), 413
    )
    fine = json.dumps({"question": QUESTION}).encode()
    assert (
        client.post(
            "/v1/ask", content=iter([fine[:10], fine[10:]]), headers={"content-type": "application/json"}
        ).status_code
        == 200
    )


def test_a_bug_is_a_500_problem_without_a_traceback(qa: QA, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("secret internal detail")

    monkeypatch.setattr(qa, "ask", broken)
    with TestClient(create_app(qa), raise_server_exceptions=False) as c:
        problem = assert_problem(c.post("/v1/ask", json={"question": QUESTION}), 500, "This is a bug")
    assert "secret internal detail" not in problem["detail"]


def test_a_full_pool_says_503_with_retry_after(qa: QA) -> None:
    release = threading.Event()
    started = threading.Event()
    real_ask = qa.ask

    def slow_ask(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(10)
        return real_ask(*args, **kwargs)

    qa.ask = slow_ask  # type: ignore[method-assign]
    app = create_app(qa, pool=WorkerPool(workers=1, queue=1))

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            tasks = [asyncio.create_task(c.post("/v1/ask", json={"question": QUESTION})) for _ in range(2)]
            await asyncio.to_thread(started.wait, 10)
            refused = await c.post("/v1/ask", json={"question": QUESTION})  # 1 running + 1 queued: full
            healthy = await c.get("/healthz")  # the event loop is free: the server still answers
            release.set()
            return [refused, healthy, *await asyncio.gather(*tasks)]

    refused, healthy, *served = asyncio.run(scenario())
    assert_problem(refused, 503, "busy")
    assert refused.headers["retry-after"] == "1"
    assert healthy.status_code == 200
    assert [r.status_code for r in served] == [200, 200]


def test_the_api_keeps_answering_while_the_index_is_rebuilt(
    client: TestClient, articles: Path, fake_encoder: FakeEncoder
) -> None:
    statuses: list[int] = []
    stop = threading.Event()

    def caller() -> None:
        while not stop.is_set():
            statuses.append(client.post("/v1/ask", json={"question": QUESTION}).status_code)

    callers = [threading.Thread(target=caller) for _ in range(4)]
    for t in callers:
        t.start()
    try:
        for round_number in range(3):  # three new generations published under the callers' feet
            (articles / f"volcano-{round_number}.txt").write_text(
                f"Volcano erupts\n\nThe Etna volcano erupted on day {round_number}, closing Catania airport.\n",
                encoding="utf-8",
            )
            build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    finally:
        stop.set()
        for t in callers:
            t.join(30)
    assert len(statuses) >= 4 and set(statuses) == {200}
    answer = client.post("/v1/ask", json={"question": "Which airport did the Etna eruption close?"}).json()
    assert answer["citations"][0]["article_id"].startswith("volcano-")
    assert client.get("/v1/info").json()["index"]["generation"] == "gen-000004"


def test_an_unreadable_index_is_a_503_to_retry(qa: QA, monkeypatch: pytest.MonkeyPatch) -> None:
    def damaged(*args: object, **kwargs: object) -> None:
        raise IndexCorruptError("Index generation 'idx/gen-000001' cannot be read. Check it with: qa verify")

    monkeypatch.setattr(qa, "ask", damaged)
    with TestClient(create_app(qa)) as c:
        response = c.post("/v1/ask", json={"question": QUESTION})
    assert_problem(response, 503, "qa verify")
    assert int(response.headers["retry-after"]) > 0


def test_cors_is_off_unless_origins_are_named(qa: QA) -> None:
    preflight = {
        "Origin": "https://cms.example.org",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    with TestClient(create_app(qa)) as closed:
        response = closed.post(
            "/v1/ask", json={"question": QUESTION}, headers={"Origin": "https://cms.example.org"}
        )
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-origin" not in closed.options("/v1/ask", headers=preflight).headers
    with TestClient(create_app(qa, cors_origins=["https://cms.example.org"])) as open_to_one:
        allowed = open_to_one.options("/v1/ask", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://cms.example.org"
        other = open_to_one.options("/v1/ask", headers={**preflight, "Origin": "https://evil.example"})
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"


def test_qa_serve_says_what_is_wrong_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--index", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert main(["serve", "--index", "idx", "--port", "99999"]) == 1
    assert "--port must be a number from 1 to 65535" in capsys.readouterr().err
    assert main(["serve", "--index", "idx", "--min-confidence", "-1"]) == 1
    assert "from 0 to 1" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--index", "idx", "--port", str(port)]) == 1
    assert f"port {port} on 127.0.0.1 is in use" in capsys.readouterr().err


# ---- tokens -----------------------------------------------------------------------------------


def test_auth_table(client: TestClient, token: str) -> None:
    routes = [
        ("post", "/v1/ask", {"question": QUESTION}),
        ("get", "/v1/info", None),
        ("get", "/openapi.json", None),
    ]
    for method, path, body in routes:
        for headers, expected in (
            ({"Authorization": ""}, 401),
            ({"Authorization": "Bearer"}, 401),
            ({"Authorization": f"Basic {token}"}, 401),
            ({"Authorization": "Bearer qa_wrong"}, 401),
            ({"Authorization": f"Bearer {token}x"}, 401),
            ({"Authorization": f"Bearer {token}"}, 200),
            ({"Authorization": f"bearer {token}"}, 200),  # the scheme is case-insensitive (RFC 7235)
        ):
            response = (
                getattr(client, method)(path, json=body, headers=headers)
                if body
                else getattr(client, method)(path, headers=headers)
            )
            assert response.status_code == expected, (path, headers)
            if expected == 401:
                assert_problem(response, 401, "qa token add")
                assert response.headers["www-authenticate"].startswith("Bearer")
    bare = TestClient(client.app)
    assert_problem(bare.post("/v1/ask", json={"question": QUESTION}), 401, "Authorization: Bearer")
    assert bare.get("/healthz").json() == {"status": "ok"}  # the only open route, with no detail


def test_a_server_without_tokens_is_open_and_binding_rules(
    qa: QA, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(create_app(qa)) as open_client:
        assert open_client.post("/v1/ask", json={"question": QUESTION}).status_code == 200
    # (host, token file, --insecure-no-auth) -> refused for want of tokens
    for host, tokens, insecure, refused in (
        ("127.0.0.1", None, False, False),
        ("localhost", None, False, False),
        ("::1", None, False, False),
        ("0.0.0.0", None, False, True),
        ("192.0.2.10", None, False, True),
        ("example.org", None, False, True),
        ("0.0.0.0", "tokens.txt", False, False),
        ("0.0.0.0", None, True, False),
    ):
        assert needs_tokens(host, tokens, insecure) is refused, host
    with pytest.raises(BadInputError, match=r"refusing to serve 0\.0\.0\.0 without tokens"):
        check_options(ServeOptions(index="idx", host="0.0.0.0"))
    assert main(["serve", "--index", "idx", "--host", "0.0.0.0"]) == 1
    assert "qa token add tokens.txt NAME" in capsys.readouterr().err


def test_qa_token_add_prints_the_token_once_and_stores_its_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tokens.txt"
    assert main(["token", "add", str(path), "cms"]) == 0
    out = capsys.readouterr().out.splitlines()
    token = out[-1]
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40 and " " not in token
    assert token not in path.read_text()
    assert read_token_file(path) == {"cms": token_hash(token)}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert TokenChecker.from_file(path).client(token) == "cms"
    assert main(["token", "add", str(path), "notebook"]) == 0
    second = capsys.readouterr().out.splitlines()[-1]
    assert main(["token", "add", str(path), "cms"]) == 0  # a new token for cms; the old one stops working
    renewed = capsys.readouterr().out.splitlines()[-1]
    checker = TokenChecker.from_file(path)
    assert (checker.client(token), checker.client(renewed), checker.client(second)) == (
        None,
        "cms",
        "notebook",
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("cms:abc\n", "expected NAME:SHA256"),
        (f"cms:{'a' * 64}\ncms:{'b' * 64}\n", "listed twice"),
        ("# only a comment\n", "lists no tokens"),
    ],
)
def test_a_damaged_token_file_is_a_clear_error(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tokens.txt"
    path.write_text(content)
    with pytest.raises(BadInputError, match=message):
        read_token_file(path)
    if "twice" in message or "NAME:SHA256" in message:
        assert main(["token", "add", str(path), "new"]) == 1  # never adds to a damaged file
        assert path.read_text() == content
    assert main(["serve", "--index", "idx", "--token-file", str(tmp_path / "missing.txt")]) == 1
    assert "qa token add" in capsys.readouterr().err


def test_qa_token_add_refuses_bad_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "add", str(tmp_path / "t.txt"), "has space"]) == 1
    assert "Cannot name a token" in capsys.readouterr().err
    assert not (tmp_path / "t.txt").exists()


# ---- the document ------------------------------------------------------------------------------


def test_the_docs_page_lists_every_route_and_loads_nothing_from_elsewhere(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for path in client.get("/openapi.json").json()["paths"]:
        assert path in page.text
    assert "<script" not in page.text and "http://" not in page.text and "https://" not in page.text
    assert "question" in page.text and "top_k" in page.text  # the request fields are described
    assert TestClient(client.app).get("/docs").status_code == 401  # behind the token like the rest


def test_the_served_openapi_document_is_the_one_in_docs(client: TestClient) -> None:
    served = client.get("/openapi.json").json()
    checked_in = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert served == checked_in, "regenerate it: python -m qa.server.app > docs/openapi.json"
    for path, operations in served["paths"].items():
        for operation in operations.values():
            for code, response in operation["responses"].items():
                if int(code) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (path, code)
            assert operation["security"] == ([] if path == "/healthz" else [{"bearer": []}])


# ---- schemathesis: generated requests against the served document ---------------------------


@pytest.fixture
def api_schema(qa: QA, token: str, tmp_path: Path) -> Any:
    app = create_app(qa, tokens=TokenChecker.from_file(tmp_path / "tokens.txt"))
    app.state.token = token
    return schemathesis.openapi.from_asgi("/openapi.json", app, headers={"Authorization": f"Bearer {token}"})


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(max_examples=25, deadline=None, derandomize=True)
def test_generated_requests_get_documented_answers_and_never_a_500(case: Any) -> None:
    token = case.operation.schema.app.state.token
    # Every check but positive_data_acceptance: that one expects any schema-valid body to pass, and
    # the API refuses some with a 400 by design (a date that does not parse, since after until).
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
    if response.status_code >= 400:
        assert response.headers["content-type"] == ["application/problem+json"]
