"""``qa serve`` and ``qa mcp`` as users run them: real processes, the real model, 127.0.0.1.

The REST routes in detail (errors, schema, pool, chats) are in test_rest_api.py, in-process.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qa.server.tokens import add_token
from tests.conftest import ROOT
from tests.servers import running_api

pytestmark = pytest.mark.slow

QUESTION = "How much did Levi's Stadium cost?"
STADIUM = "super-bowl-50"


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    return path, add_token(path, "tests")


@pytest.fixture(scope="module")
def api(
    real_index: Path, token_file: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("serve")
    with running_api(real_index, workdir, extra_args=["--token-file", str(token_file[0])]) as url:
        yield url


def _cli_json(*args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "qa", *args], capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(done.stdout)


def test_the_api_answers_as_qa_ask_json_does(
    api: str, token_file: tuple[Path, str], real_index: Path
) -> None:
    headers = {"Authorization": f"Bearer {token_file[1]}"}
    response = httpx.post(f"{api}/v1/ask", json={"question": QUESTION}, headers=headers, timeout=120)
    assert response.status_code == 200
    answer = response.json()
    assert not answer["abstained"] and "1.2 billion" in answer["answer"]
    assert STADIUM in answer["citations"][0]["article_id"]
    assert answer == _cli_json("ask", "--json", "--index", str(real_index), QUESTION)
    info = httpx.get(f"{api}/v1/info", headers=headers, timeout=60).json()
    assert info["reader"]["enabled"] and info["reader"]["version"]
    # The reader's confidence, against its threshold, is what decided the answer.
    assert answer["confidence"] >= info["reader"]["abstain_below"] > 0
    key = answer["citations"][0]["passage_key"]
    passage = httpx.get(f"{api}/v1/passages/{key}", headers=headers, timeout=60).json()
    assert passage["text"] == answer["citations"][0]["text"]


def test_tokens_over_a_real_socket(api: str, token_file: tuple[Path, str]) -> None:
    for headers, status in (
        ({}, 401),
        ({"Authorization": "Bearer qa_not-a-real-token"}, 401),
        ({"Authorization": f"Bearer {token_file[1]}"}, 200),
    ):
        response = httpx.post(f"{api}/v1/search", json={"query": "stadium"}, headers=headers, timeout=120)
        assert response.status_code == status
        assert response.headers["content-type"].startswith(
            "application/json" if status == 200 else "application/problem+json"
        )
        mcp = httpx.post(f"{api}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers)
        if status == 401:
            assert mcp.status_code == 401  # the MCP endpoint sits behind the same tokens
    assert httpx.get(f"{api}/healthz").json() == {"status": "ok"}


def test_an_assistant_asks_over_mcp_http(api: str, token_file: tuple[Path, str]) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def session() -> tuple[list[str], Any, Any]:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token_file[1]}"}, timeout=120)
        async with http, Client(streamable_http_client(f"{api}/mcp", http_client=http)) as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            answer = await client.call_tool("ask", {"question": QUESTION})
            certain = await client.call_tool("ask", {"question": QUESTION, "min_confidence": 1.0})
            return tools, answer, certain

    tools, result, certain = asyncio.run(session())
    assert tools == ["ask", "search", "read_article"]
    _assert_cited_answer(result)
    # Asked to answer only when certain, the same reading abstains and lists the same passage.
    assert not certain.is_error and certain.structured_content["abstained"]
    assert certain.structured_content["confidence"] == result.structured_content["confidence"]
    assert certain.structured_content["citations"][0] == result.structured_content["citations"][0]


def test_the_readme_api_sample_runs_as_written(
    api: str,
    token_file: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (sample,) = [block for block in _readme_blocks("python") if "/v1/ask" in block]
    assert "http://127.0.0.1:8000" in sample  # qa serve's default address, as the README says
    monkeypatch.setenv("QA_TOKEN", token_file[1])
    exec(compile(sample.replace("http://127.0.0.1:8000", api), "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "1.2 billion" in out and "paragraph" in out


def test_an_assistant_asks_over_mcp_stdio(real_index: Path, tmp_path: Path) -> None:
    from mcp import Client, StdioServerParameters

    # Started the way the README's client configuration says: `qa mcp --index INDEX`.
    (config,) = [json.loads(block) for block in _readme_blocks("json") if "mcpServers" in block]
    entry = config["mcpServers"]["article-qa"]
    assert Path(entry["command"]).name == "qa" and entry["args"][:2] == ["mcp", "--index"]
    qa_script = Path(sys.executable).parent / "qa"
    params = StdioServerParameters(
        command=str(qa_script) if qa_script.exists() else sys.executable,
        args=([] if qa_script.exists() else ["-m", "qa"]) + [*entry["args"][:2], str(real_index)],
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        cwd=str(tmp_path),
    )

    async def session() -> tuple[Any, Any, Any]:
        async with Client(params, read_timeout_seconds=240) as client:
            tools = await client.list_tools()
            answer = await client.call_tool("ask", {"question": QUESTION})
            cited = answer.structured_content["citations"][0]
            article = await client.call_tool(
                "read_article", {"article_id": cited["article_id"], "paragraph": cited["paragraph"]}
            )
            return tools, answer, article

    tools, answer, article = asyncio.run(asyncio.wait_for(session(), 300))
    described = {t.name: t.description or "" for t in tools.tools}
    assert set(described) == {"ask", "search", "read_article"}
    assert "abstained" in described["ask"] and "article_id" in described["read_article"]
    _assert_cited_answer(answer)
    cited = answer.structured_content["citations"][0]
    assert not article.is_error
    assert article.structured_content["paragraphs"][0]["text"].count(cited["sentence"]) == 1


def _readme_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def _assert_cited_answer(result: Any) -> None:
    assert not result.is_error
    data = result.structured_content
    assert not data["abstained"] and "1.2 billion" in data["answer"]
    assert 0 < data["confidence"] <= 1
    top = data["citations"][0]
    assert STADIUM in top["article_id"] and top["paragraph"] >= 1 and "1.2 billion" in top["sentence"]
    assert top["passage_key"].startswith(top["article_id"] + "@")
    assert 0 < top["confidence"] <= data["confidence"]  # the answer's is the best passage's
    text = result.content[0].text
    assert "[1]" in text and top["title"] in text and f"paragraph {top['paragraph']}" in text
    assert f"Confidence that the articles answer: {data['confidence']:.2f}" in text
