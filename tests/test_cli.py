from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

import qa.api
import qa.build.pipeline
from qa import Citation
from qa.cli import main
from qa.models.reader import ReaderUnavailableError
from tests.conftest import FakeEncoder


@pytest.fixture(autouse=True)
def _fake_model(monkeypatch: pytest.MonkeyPatch) -> FakeEncoder:
    encoder = FakeEncoder()
    monkeypatch.setattr(qa.build.pipeline, "LazyDefaultEncoder", lambda: encoder)
    monkeypatch.setattr(qa.api, "query_encoder", lambda path=None: encoder)
    return encoder


def test_build_then_ask_json(articles: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(articles), "--index", "idx", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Built gen-000001 in idx") and "4 articles" in out
    assert (
        main(["ask", "--json", "When did the harbour bridge reopen?", "--index", "idx", "--top-k", "3"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"question", "answer", "abstained", "resolved_query", "confidence", "citations"}
    assert data["resolved_query"] == "When did the harbour bridge reopen?"
    assert len(data["citations"]) == 3
    first = data["citations"][0]
    assert set(first) == {f.name for f in fields(Citation)}  # the JSON is the Python API's Citation
    assert (first["number"], first["article_id"], first["paragraph"]) == (1, "news/harbour.txt", 1)


def test_rebuild_reports_up_to_date_and_json_report(
    articles: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["build", str(articles), "--index", "idx", "--quiet"])
    capsys.readouterr()
    assert main(["build", str(articles), "--index", "idx", "--quiet", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["up_to_date"] is True and report["embedded"] == 0


def test_index_from_environment(
    articles: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_INDEX", "env-idx")
    assert main(["build", str(articles), "--quiet"]) == 0
    assert Path("env-idx/CURRENT").exists()
    capsys.readouterr()
    assert main(["search", "comet Lapland", "--top-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. ") and "Comet seen over Lapland — paragraph 1" in out
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["articles"] == 4 and info["generation"] == "gen-000001"


def test_text_output_of_ask(articles: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["build", str(articles), "--index", "idx", "--quiet"])
    capsys.readouterr()
    assert main(["ask", "What did engineers replace on the harbour bridge?", "--index", "idx"]) == 0
    out = capsys.readouterr().out
    assert "[1]" in out and "Harbour bridge reopens — paragraph 2" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", "anything", "--index", "missing"], "No index at 'missing'"),
        (["ask", "", "--index", "missing"], "The question is empty"),
        (["search", "x", "--top-k", "0", "--index", "missing"], "top_k must be"),
        (["build", "no/such/folder", "--index", "idx"], "does not exist"),
        (["info", "--index", "missing"], "No index at 'missing'"),
    ],
)
def test_user_errors_exit_1_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and message in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


@pytest.mark.parametrize("argv", [[], ["bogus"], ["ask"], ["ask", "q", "--top-k", "many"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2


def test_skipped_files_are_named_on_stderr(articles: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (articles / "latin.txt").write_bytes("Caf\u00e9\n\nna\u00efve".encode("latin-1"))
    assert main(["build", str(articles), "--index", "idx", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "skipped latin.txt: not valid UTF-8" in captured.err
    assert "skipped 1 files" in captured.out


def test_no_reader_answers_when_the_reader_cannot_load(
    articles: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise ReaderUnavailableError("The reader's weights are damaged. Reinstall, or use --no-reader.")

    monkeypatch.setattr(qa.api, "packaged_reader", broken)
    main(["build", str(articles), "--index", "idx", "--quiet"])
    capsys.readouterr()
    assert main(["ask", "When did the harbour bridge reopen?", "--index", "idx"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: The reader's weights are damaged") and "Traceback" not in err
    for command in ("ask", "search"):
        assert main([command, "When did the harbour bridge reopen?", "--index", "idx", "--no-reader"]) == 0
        assert "harbour" in capsys.readouterr().out.lower()
