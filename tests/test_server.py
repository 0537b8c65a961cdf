"""The real web app in a subprocess on 127.0.0.1, driven through its HTTP API (gradio_client)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError, AuthenticationError

from qa import QA, Citation
from qa.web.auth import set_password
from tests.conftest import EXAMPLES
from tests.servers import HOST, listening_addresses, non_loopback_ipv4, running_app

pytestmark = pytest.mark.slow

QUESTION = "What did Ukraine vow to do in Bakhmut?"
SEED_ID = "news/russia-reaffirms-bakhmut-push.txt"
CITATION_KEYS = {f.name for f in fields(Citation)}  # the JSON is the Python API's Citation


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False)


def test_api_answers_with_exact_citations(client: Client, real_index: Path) -> None:
    result: Any = client.predict(QUESTION, 5, api_name="/ask")

    assert isinstance(result, dict)
    assert set(result) == {"question", "answer", "abstained", "resolved_query", "confidence", "citations"}
    assert result["question"] == QUESTION
    assert result["abstained"] is False
    assert isinstance(result["answer"], str) and "[1]" in result["answer"]
    citations = result["citations"]
    assert 1 <= len(citations) <= 5
    assert [c["number"] for c in citations] == list(range(1, len(citations) + 1))
    for c in citations:
        assert set(c) == CITATION_KEYS
        for key in ("number", "paragraph", "start", "end", "sentence_start", "sentence_end"):
            assert isinstance(c[key], int), (key, c[key])
        assert c["start"] <= c["sentence_start"] <= c["sentence_end"] <= c["end"]
        # Offsets point into the article file itself: the citation is exact.
        text = (EXAMPLES / c["source_path"]).read_bytes().decode("utf-8")
        assert text[c["start"] : c["end"]] == c["text"]
        assert text[c["sentence_start"] : c["sentence_end"]] == c["sentence"]

    first = citations[0]
    assert (first["article_id"], first["paragraph"]) == (SEED_ID, 4)
    assert "bolster its defenses" in first["sentence"]
    assert first["sentence"] in result["answer"]

    # The web API, the CLI (tests/test_real_model.py) and Python users get the same answer.
    with QA.open(real_index) as qa:
        assert result == qa.ask(QUESTION).to_dict()


@pytest.mark.parametrize("question", ["", "   "])
def test_api_rejects_an_empty_question(client: Client, question: str) -> None:
    with pytest.raises(AppError):
        client.predict(question, 5, api_name="/ask")
    # The server survives a bad request and keeps answering.
    assert client.predict(QUESTION, 1, api_name="/ask")["citations"][0]["paragraph"] == 4


def test_api_error_says_what_is_wrong(client: Client) -> None:
    with pytest.raises(AppError, match="question is empty"):
        client.predict("", 5, api_name="/ask")


def test_server_listens_on_loopback_only(app_url: str) -> None:
    port = int(app_url.rstrip("/").rsplit(":", 1)[1])
    addresses = listening_addresses(port)
    assert addresses == {HOST}, f"port {port} is listening on {addresses}"

    outside = non_loopback_ipv4()
    if not outside:
        pytest.skip("this machine has no non-loopback IPv4 address to try connecting from")
    for address in outside:
        with pytest.raises(OSError):  # refused (or at worst dropped): never served
            socket.create_connection((address, port), timeout=3).close()


USER, PASSWORD = "alice", "correct horse battery"


@pytest.fixture(scope="module")
def auth_url(real_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second app over the same index that requires a login (``--auth-file``)."""
    base = tmp_path_factory.mktemp("auth")
    users = base / "users.txt"
    set_password(users, USER, PASSWORD)
    with running_app(real_index, base / "server", extra_args=["--auth-file", str(users)]) as url:
        yield url


def test_api_refuses_callers_without_a_login(auth_url: str) -> None:
    request = urllib.request.Request(
        f"{auth_url}gradio_api/call/ask",
        data=json.dumps({"data": [QUESTION, 5]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 401
    assert "Not authenticated" in refused.value.read().decode()
    with pytest.raises(AuthenticationError):
        Client(auth_url, verbose=False)
    with pytest.raises(ValueError, match="Could not login"):  # gradio_client's wrong-password error
        Client(auth_url, verbose=False, auth=(USER, "wrong password"))


def test_api_answers_a_logged_in_caller(auth_url: str, real_index: Path) -> None:
    client = Client(auth_url, verbose=False, auth=(USER, PASSWORD))
    result = client.predict(QUESTION, 5, api_name="/ask")
    with QA.open(real_index) as qa:
        assert result == qa.ask(QUESTION).to_dict()
