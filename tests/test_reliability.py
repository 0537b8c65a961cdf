"""The holes a fault campaign found, each closed and kept closed: a damaged CURRENT, a store
damaged under a running QA, odd encodings, stray NULs, symlinks out of the articles folder, a
huge one-paragraph file, unexpected errors in the CLI."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import qa.api
import qa.build.pipeline
import qa.cli
from qa import QA, IndexCorruptError, IndexNotFoundError, build_index
from qa.cli import main
from qa.ingest import read_corpus
from tests.conftest import FakeEncoder

QUESTION = "When did the harbour bridge reopen?"


def _answer(index: str | Path, encoder: FakeEncoder) -> list[tuple[str, int]]:
    with QA.open(index, encoder=encoder) as engine:
        return [(c.article_id, c.paragraph) for c in engine.ask(QUESTION).citations]


DAMAGED_POINTERS = [
    (b"\xff\xfe\x00g\x00e\x00n", "not text"),
    (b"", "is empty"),
    (b"  \n", "is empty"),
    (b"gen-0000", "not a generation name"),
    (b"../../etc\n", "not a generation name"),
    (b"gen-000009\n", "not a generation folder"),
]


@pytest.mark.parametrize(("content", "problem"), DAMAGED_POINTERS)
def test_damaged_current_is_refused_clearly_and_a_build_repairs_it_without_re_embedding(
    articles: Path,
    fake_encoder: FakeEncoder,
    content: bytes,
    problem: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    before = _answer("idx", fake_encoder)
    Path("idx/CURRENT").write_bytes(content)

    with pytest.raises(IndexNotFoundError, match=problem) as refused:
        QA.open("idx", encoder=fake_encoder)
    assert "qa build ARTICLES --index idx" in str(refused.value)
    for command in (["info", "--index", "idx"], ["ask", "who?", "--index", "idx"]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and problem in err and "Traceback" not in err

    monkeypatch.setattr(qa.build.pipeline, "LazyDefaultEncoder", lambda: fake_encoder)
    assert main(["build", str(articles), "--index", "idx", "--quiet", "--force"]) == 0
    assert Path("idx/CURRENT").read_text().strip() == "gen-000002"
    Path("idx/CURRENT").write_bytes(content)
    calls = fake_encoder.texts_encoded
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert report.embedded == 0  # the intact generation's vectors were reused, not re-embedded
    assert fake_encoder.texts_encoded == calls
    assert Path("idx/CURRENT").read_text().strip() == report.generation == "gen-000003"
    assert sorted(p.name for p in Path("idx").glob("gen-*")) == ["gen-000003"]
    assert _answer("idx", fake_encoder) == before


def test_a_running_qa_keeps_answering_when_current_or_the_new_generation_is_damaged(
    articles: Path, fake_encoder: FakeEncoder, caplog: pytest.LogCaptureFixture
) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    with QA.open("idx", encoder=fake_encoder) as engine:
        before = engine.ask(QUESTION)
        Path("idx/CURRENT").write_bytes(b"\x00\x9f")
        with caplog.at_level(logging.WARNING, logger="qa.api"):
            assert engine.ask(QUESTION) == before
            assert engine.ask(QUESTION) == before
        warnings = [r.getMessage() for r in caplog.records if "still answering" in r.getMessage()]
        assert len(warnings) == 1 and "gen-000001" in warnings[0]  # said once, not per question

        # A newer generation that fails its checks is not switched to.
        (articles / "extra.txt").write_text("Extra story\n\nA new paragraph about ferries.\n")
        Path("idx/CURRENT").write_text("gen-000001\n")
        build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
        faiss_file = Path("idx/gen-000002/vectors.faiss")
        data = bytearray(faiss_file.read_bytes())
        data[-100:] = bytes(100)
        faiss_file.write_bytes(bytes(data))
        assert engine.ask(QUESTION) == before
        assert engine.generation == "gen-000001"


def test_a_store_damaged_after_opening_is_a_clear_error(articles: Path, fake_encoder: FakeEncoder) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    with QA.open("idx", encoder=fake_encoder) as engine:
        store = Path("idx/gen-000001/qa.sqlite")
        size = store.stat().st_size
        with store.open("r+b") as f:  # the same inode the open connection reads
            f.seek(4096)
            f.write(os.urandom(size - 4096))
        with pytest.raises(IndexCorruptError, match="qa verify --index idx") as excinfo:
            for article in ("news/harbour.txt", "science.md"):
                engine.article(article)
            engine.ask(QUESTION)
        assert "qa build ARTICLES --index idx --force" in str(excinfo.value)


BODY = "The harbour bridge reopened on Friday after two years of repairs."


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_files_with_a_byte_order_mark_are_read_with_exact_offsets(tmp_path: Path, encoding: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    text = f"Brücke wieder offen\n\n{BODY}\n"
    data = text.encode(encoding)
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(encoding, b"")
    (folder / "a.txt").write_bytes(bom + data)
    corpus = read_corpus(folder)
    assert not corpus.skipped
    (article,) = corpus.articles
    assert article.title == "Brücke wieder offen"
    assert [article.text[p.start : p.end] for p in article.paragraphs] == [BODY]
    assert not article.text.startswith("\ufeff")


def test_a_nul_past_the_first_8_kib_becomes_a_space_and_offsets_stay_exact(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    filler = "\n\n".join(f"Paragraph {i} says something ordinary about the city council." for i in range(200))
    secret = "The secret \x00 ingredient was cardamom, the chef told reporters on Monday."
    (folder / "a.txt").write_text(f"Title\n\n{filler}\n\n{secret}\n", encoding="utf-8")
    assert len(filler) > 8192
    (article,) = read_corpus(folder).articles
    last = article.paragraphs[-1]
    assert article.text[last.start : last.end] == secret.replace("\x00", " ")
    assert "\x00" not in article.text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"Title\n\n\x00\x01\x02 binary", "binary file"),
        ("Title\n\nCaf\u00e9 \u201cquoted\u201d".encode("cp1252"), "iconv -f cp1252"),
        ("Title\n\nCaf\u00e9 \u00ff\u0081".encode("latin-1"), "iconv -f latin1"),
        (b"\xff\xfe\x00\xd8", "not valid UTF-16"),  # a lone surrogate after the BOM
    ],
)
def test_undecodable_files_are_skipped_with_the_right_fix(tmp_path: Path, data: bytes, reason: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad.txt").write_bytes(data)
    (folder / "good.txt").write_text(f"Good\n\n{BODY}\n")
    corpus = read_corpus(folder)
    assert [a.id for a in corpus.articles] == ["good.txt"]
    assert [s.path for s in corpus.skipped] == ["bad.txt"] and reason in corpus.skipped[0].reason


def test_symlinks_out_of_the_articles_folder_are_skipped_unless_followed(tmp_path: Path) -> None:
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"Secret\n\n{BODY}\n")
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "own.txt").write_text(f"Own\n\n{BODY}\n")
    (folder / "link.txt").symlink_to(outside / "secret.txt")
    (folder / "dir-link").symlink_to(outside, target_is_directory=True)
    (folder / "inside-link.txt").symlink_to(folder / "own.txt")  # stays inside: read
    (folder / "sub" / "loop").symlink_to(folder, target_is_directory=True)

    corpus = read_corpus(folder)
    assert sorted(a.id for a in corpus.articles) == ["inside-link.txt", "own.txt"]
    reasons = {s.path: s.reason for s in corpus.skipped}
    assert set(reasons) == {"link.txt", "dir-link"}
    assert all("outside the articles folder" in r and "--follow-symlinks" in r for r in reasons.values())

    followed = read_corpus(folder, follow_symlinks=True)  # and the loop back up does not hang
    assert sorted(a.id for a in followed.articles) == [
        "dir-link/secret.txt",
        "inside-link.txt",
        "link.txt",
        "own.txt",
    ]


def test_a_50_mb_single_paragraph_file_is_skipped_within_seconds_in_bounded_memory(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ok.txt").write_text(f"Fine\n\n{BODY}\n")
    words = "the council voted to fund a new bridge over the river again and "
    with (folder / "huge.txt").open("w") as f:
        f.write("Huge\n\n")
        for _ in range(49 * 2**20 // len(words)):
            f.write(words)
    # The peak from /proc (VmHWM): ru_maxrss survives exec, so it would count pytest's own memory.
    script = (
        "import re, sys; from qa.ingest import read_corpus; c = read_corpus(sys.argv[1]); "
        "print([a.id for a in c.articles], [s.reason for s in c.skipped]); "
        "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    )
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-c", script, str(folder)], capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - started
    kept, peak_kib = run.stdout.splitlines()
    assert kept.startswith("['ok.txt'] [\"article 'huge.txt' has a paragraph of")
    assert int(peak_kib) < 1024 * 1024  # under 1 GB RSS
    assert seconds < 30  # seconds, not minutes (about 1 s on a quiet 2-core box)


def test_an_unexpected_error_in_the_cli_is_one_line_that_says_how_to_report_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object) -> int:
        raise RuntimeError("something impossible")

    monkeypatch.setitem(qa.cli.COMMANDS, "info", broken)
    assert main(["info"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unexpected RuntimeError: something impossible")
    assert "--verbose" in err and "Traceback" not in err
    assert main(["--verbose", "info"]) == 1
    assert "Traceback" in capsys.readouterr().err  # asked for: the details are there


def test_qa_ask_on_a_missing_or_damaged_index_fails_before_loading_the_model(
    articles: Path,
    fake_encoder: FakeEncoder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def no_model(path: object = None) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(qa.api, "query_encoder", no_model)
    assert main(["ask", "Who won?", "--index", "nowhere"]) == 1
    assert "No index at 'nowhere'" in capsys.readouterr().err
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    with Path("idx/gen-000001/vectors.faiss").open("r+b") as f:
        f.write(b"\xff" * 64)
    assert main(["ask", "Who won?", "--index", "idx"]) == 1
    assert "vectors.faiss" in capsys.readouterr().err


def _prepare_bad_inputs(tmp: Path) -> None:
    (tmp / "odd").mkdir()
    (tmp / "odd" / "notes.docx").write_bytes(b"PK\x03\x04")
    (tmp / "a-file").write_text("x")
    (tmp / "questions.jsonl").write_text('{"question": "Who?"\nnot json\n')
    (tmp / "garbage").mkdir()
    (tmp / "garbage" / "CURRENT").write_bytes(b"\xc3\x28\x00")


# (argv after ``qa``, text its one error line must contain): every command, odd input. {a} is the
# articles folder, {i} a new index folder, {b} a built index, {t} the test's folder.
BAD_INPUTS = [
    (["build", "{t}/missing", "--index", "{i}"], "does not exist"),
    (["build", "{t}/odd", "--index", "{i}"], "No articles found"),
    (["build", "{a}", "--index", "{t}/a-file"], "is a file"),
    (["build", "{a}", "--index", "{i}", "--index-type", "IVF"], "IVF"),
    (["build", "{a}", "--index", "{i}", "--vector-store", "mongodb://x"], "milvus://"),
    (["build", "{a}", "--index", "{i}", "--engine", "spark"], "spark"),
    (["ask", "   ", "--index", "{b}"], "empty"),
    (["ask", "Who?", "--index", "{b}", "--top-k", "0"], "top_k"),
    (["ask", "Who?", "--index", "{b}", "--as-of", "next tuesday"], "next tuesday"),
    (["ask", "Who?", "--index", "{b}", "--since", "2024-05-01", "--until", "2024-01-01"], "after"),
    (["ask", "Who? \udcff\udcfe", "--index", "{b}"], "not valid text"),
    (["search", "harbour", "--index", "{t}/a-file"], "is a file"),
    (["info", "--index", "{t}/garbage"], "not text"),
    (["verify", "--index", "{t}/garbage"], "not text"),
    (["eval", "{t}/nowhere.jsonl", "--index", "{b}"], "nowhere.jsonl"),
    (["eval", "{t}/questions.jsonl", "--index", "{b}"], "line 1"),
    (["fetch", "not a url", "--into", "{t}/dl"], "not a url"),
    (["fetch", "ftp://example.org/x", "--into", "{t}/dl"], "ftp"),
    (["fetch", "http://127.0.0.1:9/", "--into", "{t}/dl"], "--allow-private"),
    (["passwd", "{t}/no/such/auth", "ann", "--password-stdin"], "does not exist"),
    (["serve", "--index", "{t}/garbage"], "not text"),
    (["serve", "--index", "{b}", "--host", "0.0.0.0"], "without tokens"),
    (["serve", "--index", "{b}", "--token-file", "{t}/no-tokens"], "qa token add"),
    (["mcp", "--index", "{t}/missing-index"], "No index"),
    (["token", "add", "{t}/no/such/tokens", "cms"], "does not exist"),
    (["token", "add", "{t}/tokens", "bad name"], "Cannot name a token"),
]


def _argv(template: list[str], articles: Path, tmp: Path) -> list[str]:
    where = {"a": str(articles), "i": str(tmp / "idx"), "b": str(tmp / "built"), "t": str(tmp)}
    return [part.format(**where) for part in template]


@pytest.mark.parametrize(
    ("template", "expected"), BAD_INPUTS, ids=lambda v: " ".join(v)[:40] if isinstance(v, list) else None
)
def test_every_command_answers_bad_input_with_one_explained_line(
    articles: Path,
    fake_encoder: FakeEncoder,
    tmp_path: Path,
    template: list[str],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 1 or 2 and a line naming the problem; never a traceback, never the "bug" line."""
    import io

    _prepare_bad_inputs(tmp_path)
    build_index(articles, tmp_path / "built", encoder=fake_encoder, show_progress=False)
    monkeypatch.setattr(qa.build.pipeline, "LazyDefaultEncoder", lambda: fake_encoder)
    monkeypatch.setattr(qa.api, "query_encoder", lambda path=None: fake_encoder)
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    try:
        code = main(_argv(template, articles, tmp_path))
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert code in (1, 2), err
    assert expected in err and "This is a bug" not in err and "Traceback" not in err


@pytest.mark.slow
def test_bad_input_in_a_real_process_prints_no_traceback(articles: Path, tmp_path: Path) -> None:
    """The same as a person sees it, for a few commands: the process's whole stderr."""
    _prepare_bad_inputs(tmp_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONIOENCODING": "utf-8"}
    for template, expected in (BAD_INPUTS[0], BAD_INPUTS[12], BAD_INPUTS[18]):
        run = subprocess.run(
            [sys.executable, "-m", "qa", *_argv(template, articles, tmp_path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert run.returncode == 1 and expected in run.stderr, run.stderr
        assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
