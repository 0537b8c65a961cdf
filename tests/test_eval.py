from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa import QA, BadInputError, build_index
from qa.cli import main
from qa.evaluation import EvalQuestion, evaluate, load_questions
from tests.conftest import FAKE_ABSTAIN, ROOT, SEED, FakeEncoder, WordReader

HARBOUR_REOPEN = "When did the harbour bridge reopen?"
HARBOUR_ENGINEERS = "What did engineers replace on the harbour bridge?"
COMET = "Astronomers in Lapland photographed what on Thursday night?"
OFF_TOPIC = "Xylophone quintet rehearsal schedule?"


def write_jsonl(path: Path, *records: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def fake_qa(articles: Path, fake_encoder: FakeEncoder) -> Iterator[QA]:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    # The fast path: FAKE_ABSTAIN calibrates its rule for the fake encoder (the reader has its own).
    with QA.open("idx", encoder=fake_encoder, abstain_below=FAKE_ABSTAIN, reader=False) as qa:
        yield qa


def test_metrics_on_a_small_question_file(fake_qa: QA, tmp_path: Path) -> None:
    file = write_jsonl(
        tmp_path / "questions.jsonl",
        {
            "question": HARBOUR_REOPEN,
            "article": "harbour",
            "paragraph": 1,
            "answer": "Friday",
            "kind": "when",
        },
        {"question": HARBOUR_ENGINEERS, "article": "Harbour bridge reopens", "answer": ["steel CABLES"]},
        # deliberately wrong gold: the comet article answers this, not the harbour one
        {"question": COMET, "article": "news/harbour.txt", "paragraph": 2, "kind": "when"},
        {"question": OFF_TOPIC, "article": None, "kind": "off-topic"},
    )
    report = evaluate(fake_qa, file, top_k=20, show_progress=False)

    assert report.source == str(file) and report.top_k == 20 and len(report.results) == 4
    a = report.answerable
    assert a.questions == 3
    assert a.hit_at_1 == pytest.approx(2 / 3, abs=1e-4)
    comet_rank = report.results[2].rank  # where harbour ¶2 came, if among the 20 citations
    assert comet_rank is None or comet_rank > 5
    assert a.hit_at_5 == pytest.approx(2 / 3, abs=1e-4)
    assert a.hit_at_20 == pytest.approx((2 + (comet_rank is not None)) / 3, abs=1e-4)
    mrr = (2 + (1 / comet_rank if comet_rank is not None and comet_rank <= 10 else 0)) / 3
    assert a.mrr_at_10 == pytest.approx(mrr, abs=1e-4)
    assert a.with_answers == 2
    assert a.sentence_answers == 1.0 and a.sentence_answers_given_hit == 1.0
    assert a.abstained == 0.0
    assert report.unanswerable == 1 and report.unanswerable_abstained == 1.0
    assert [r.rank for r in report.results][:2] == [1, 1] and report.results[3].rank is None

    (failure,) = report.failures
    assert failure.question.text == COMET and failure.question.where == "line 3"
    assert failure.cited[0].article_id == "science.md" and failure.cited[0].title == "Comet seen over Lapland"
    assert "green comet" in failure.cited[0].sentence

    kinds = {k.kind: k for k in report.kinds}
    assert set(kinds) == {"when", "off-topic"}
    assert (kinds["when"].questions, kinds["when"].answerable, kinds["when"].hit_at_1) == (2, 2, 0.5)
    assert kinds["when"].abstained_unanswerable is None
    assert (kinds["off-topic"].answerable, kinds["off-topic"].abstained_unanswerable) == (0, 1.0)
    assert report.unmatched_articles == ()

    data = json.loads(json.dumps(report.to_dict()))
    assert data["answerable"]["hit@1"] == a.hit_at_1 and data["unanswerable"] == {
        "questions": 1,
        "abstained": 1.0,
    }
    assert [f["question"] for f in data["failures"]] == [COMET]
    assert data["failures"][0]["gold"] == {"article": "news/harbour.txt", "paragraph": 2, "answers": []}
    assert data["failures"][0]["cited"][0]["paragraph"] == 1
    assert len(data["results"]) == 4 and data["results"][0]["hit"] is True

    table = report.table(show_failures=5)
    assert "answerable" in table and "unanswerable" in table and "0.667" in table
    assert "failures: 1 of 4" in table
    assert "line 3 [when]: " + COMET in table and "expected news/harbour.txt ¶2" in table
    assert "Comet seen over Lapland (science.md ¶1)" in table
    assert "Comet seen over Lapland" not in report.table(show_failures=0)


@pytest.mark.parametrize(
    "name",
    [
        "news/harbour.txt",  # article_id
        "harbour.txt",  # file name
        "HARBOUR",  # stem, any case
        "news/harbour",
        "harbour bridge reopens",  # title
        "Harbour_bridge_reopens",  # a SQuAD-style title spelling
    ],
)
def test_the_gold_article_can_be_named_many_ways(fake_qa: QA, name: str) -> None:
    question = EvalQuestion(HARBOUR_REOPEN, name, paragraph=1)
    (result,) = evaluate(fake_qa, [question], show_progress=False).results
    assert result.rank == 1


def test_a_jsonl_article_is_named_by_its_record_id(fake_qa: QA) -> None:
    questions = [
        EvalQuestion("How many new hives did beekeepers count in the park?", name)
        for name in ("bees", "feed.jsonl#bees")
    ]
    report = evaluate(fake_qa, questions, show_progress=False)
    assert [r.rank for r in report.results] == [1, 1]


def test_an_unknown_gold_article_is_reported(fake_qa: QA, caplog: pytest.LogCaptureFixture) -> None:
    report = evaluate(fake_qa, [EvalQuestion(HARBOUR_REOPEN, "harbor")], show_progress=False)
    assert report.answerable.hit_at_20 == 0.0 and report.unmatched_articles == ("harbor",)
    assert "harbor" in caplog.text
    assert "never cited, check the name: harbor" in report.table()


def test_rates_deeper_than_top_k_are_not_reported(fake_qa: QA) -> None:
    report = evaluate(fake_qa, [EvalQuestion(HARBOUR_REOPEN, "harbour", 1)], top_k=5, show_progress=False)
    a = report.answerable
    assert (a.hit_at_1, a.hit_at_5, a.hit_at_20, a.mrr_at_10) == (1.0, 1.0, None, None)
    assert all(len(r.cited) <= 3 for r in report.results)


def test_squad_layout(fake_qa: QA, tmp_path: Path) -> None:
    squad = {
        "version": "1.1",
        "data": [
            {
                "title": "Harbour",  # matches the file stem harbour.txt
                "paragraphs": [
                    {
                        "context": "The harbour bridge reopened on Friday ...",
                        "qas": [
                            {
                                "id": "q1",
                                "question": HARBOUR_REOPEN,
                                "answers": [{"text": "Friday", "answer_start": 27}],
                            }
                        ],
                    },
                    {
                        "context": "Engineers replaced the steel cables ...",
                        "qas": [
                            {
                                "id": "q2",
                                "question": HARBOUR_ENGINEERS,
                                "answers": [{"text": "steel cables"}, {"text": "the steel cables"}],
                            }
                        ],
                    },
                ],
            },
            {
                "title": "Comet_seen_over_Lapland",  # matches the title
                "paragraphs": [
                    {
                        "context": "...",
                        "qas": [{"id": "q3", "question": COMET, "answers": [{"text": "a green comet"}]}],
                    }
                ],
            },
        ],
    }
    file = tmp_path / "dev.json"
    file.write_text(json.dumps(squad, indent=2), encoding="utf-8")

    questions = load_questions(file)
    assert [(q.article, q.paragraph, q.answers, q.id) for q in questions] == [
        ("Harbour", 1, ("Friday",), "q1"),
        ("Harbour", 2, ("steel cables", "the steel cables"), "q2"),
        ("Comet seen over Lapland", 1, ("a green comet",), "q3"),
    ]
    assert questions[1].where == "data[0].paragraphs[1].qas[0]"
    assert load_questions(file, limit=2) == questions[:2]

    report = evaluate(fake_qa, questions, show_progress=False)
    assert report.answerable.hit_at_1 == 1.0 and report.answerable.sentence_answers == 1.0
    assert report.unanswerable == 0 and report.unanswerable_abstained is None


GOOD = '{"question": "Why?", "article": "harbour"}'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("\n  \n", "is empty"),
        (GOOD + "\nnot json\n", "line 2 is not valid JSON"),
        ('{"article": "harbour"}', r'line 1: no "question"'),
        ('{"question": 42, "article": "harbour"}', '"question" must be non-empty text'),
        ('{"question": "  ", "article": "harbour"}', '"question" must be non-empty text'),
        ('{"question": "Why?", "article": ""}', '"article" must be the gold article'),
        ('{"question": "Why?", "article": ["a"]}', '"article" must be the gold article'),
        ('{"question": "Why?", "article": "a", "paragraph": 0}', '"paragraph" must be a whole number from 1'),
        ('{"question": "Why?", "article": "a", "paragraph": "3"}', '"paragraph" must be a whole number'),
        ('{"question": "Why?", "article": "a", "paragraph": true}', '"paragraph" must be a whole number'),
        ('{"question": "Why?", "article": null, "paragraph": 2}', '"article" is null; name the article'),
        ('{"question": "Why?", "article": null, "answer": "x"}', '"answer" is given but "article" is null'),
        ('{"question": "Why?", "article": "a", "answer": 42}', '"answer" must be text or a list of texts'),
        ('{"question": "Why?", "article": "a", "answer": ["ok", 3]}', '"answer" must be text or a list'),
        ('{"question": "Why?", "article": "a", "kind": 3}', '"kind" must be text'),
        ('{"question": "Why?", "article": "a", "answers": ["x"]}', "unknown key\\(s\\) 'answers'"),
        (GOOD + "\n[1, 2]\n", "line 2: expected an object"),
        ('[{"question": "Why?"}]', "holds a JSON list; expected JSON Lines"),
        ('{"data": {"title": "x"}}', '"data": must be a list of articles'),
        ('{"data": [{"paragraphs": []}]}', 'data\\[0\\]: an article needs a "title"'),
        (
            '{"data": [{"title": "T", "paragraphs": [{"qas": [{"answers": []}]}]}]}',
            'qas\\[0\\]: needs a non-empty "question"',
        ),
        (
            '{"data": [{"title": "T", "paragraphs": [{"qas": [{"question": "Q", "answers": ["x"]}]}]}]}',
            '"answers" must be a list of',
        ),
        ('{"data": []}', "holds no questions"),
    ],
)
def test_bad_question_files(tmp_path: Path, content: str, message: str) -> None:
    file = tmp_path / "questions.jsonl"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(BadInputError, match=message) as excinfo:
        load_questions(file)
    assert str(file) in str(excinfo.value)


def test_bad_paths_and_limits(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"No questions file at 'missing\.jsonl'"):
        load_questions("missing.jsonl")
    with pytest.raises(BadInputError, match="is a folder"):
        load_questions(tmp_path)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"question": "Café?", "article": null}\n'.encode("latin-1"))
    with pytest.raises(BadInputError, match="is not UTF-8 text"):
        load_questions(latin)
    good = write_jsonl(tmp_path / "good.jsonl", {"question": "Why?", "article": None})
    with pytest.raises(BadInputError, match="limit must be a whole number of at least 1"):
        load_questions(good, limit=0)


def test_bad_top_k_and_empty_question_list(fake_qa: QA) -> None:
    with pytest.raises(BadInputError, match="top_k must be a whole number from 1 to 100"):
        evaluate(fake_qa, [EvalQuestion("Why?", None)], top_k=101)
    with pytest.raises(BadInputError, match="no questions"):
        evaluate(fake_qa, [])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "No questions file at 'missing.jsonl'"),
        (["--top-k", "0"], "--top-k must be from 1 to 100"),
        (["--limit", "0"], "limit must be a whole number of at least 1"),
        (["--show-failures", "-1"], "--show-failures must be 0 or more"),
    ],
)
def test_cli_errors_exit_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    file = "missing.jsonl"
    if extra:
        file = str(write_jsonl(tmp_path / "q.jsonl", {"question": "Why?", "article": None}))
    assert main(["eval", file, "--index", "no-index-needed", *extra]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and message in captured.err
    assert captured.err.count("\n") == 1


def test_cli_bad_file_in_a_subprocess(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"question": "Fine?", "article": null}\n{"question": "Bad", "paragraph": 0, "article": "x"}\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "qa", "eval", str(bad), "--index", "nowhere"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"error: {bad} line 2: ") and '"paragraph"' in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


@pytest.mark.slow
def test_cli_eval_json_with_the_real_model(real_index: Path, tmp_path: Path) -> None:
    seed = SEED.stem
    file = write_jsonl(
        tmp_path / "news.jsonl",
        {
            "question": "How many people lived in Bakhmut before the war?",
            "article": seed,
            "paragraph": 3,
            "answer": "80,000",
            "kind": "number",
        },
        {
            "question": "Which mercenary outfit led the Russian attack on the town?",
            "article": f"news/{SEED.name}",
            "paragraph": 10,
            "answer": "Wagner",
            "kind": "who",
        },
        {
            "question": "How many civilians are still living in the town?",
            "article": SEED.name,
            "paragraph": 14,
            "answer": ["4,000 civilians", "4,000"],
            "kind": "number",
        },
        {
            "question": "What is a good recipe for chocolate chip cookies?",
            "article": None,
            "kind": "off-topic",
        },
    )
    done = subprocess.run(
        [sys.executable, "-m", "qa", "eval", str(file), "--json", "--index", str(real_index)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "QA_INDEX": "elsewhere"},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Asking" in done.stderr  # the progress bar goes to stderr, the JSON alone to stdout
    data = json.loads(done.stdout)
    assert set(data) >= {"answerable", "unanswerable", "kinds", "failures", "results", "top_k", "generation"}
    assert data["questions"] == 4 and data["top_k"] == 20 and len(data["results"]) == 4
    a = data["answerable"]
    assert a["questions"] == 3 and a["with_answers"] == 3
    assert a["hit@1"] >= 2 / 3 and a["hit@20"] == 1.0 and a["sentence_answers"] >= 2 / 3
    assert data["unanswerable"] == {"questions": 1, "abstained": 1.0}
    assert {k["kind"]: k["questions"] for k in data["kinds"]} == {"number": 2, "off-topic": 1, "who": 1}
    assert len(data["failures"]) <= 1 and data["unmatched_articles"] == []
    assert data["results"][0]["cited"][0]["article_id"] == f"news/{SEED.name}"
    # With the reader (the default) every result has its confidence, and the sweep's row at the
    # threshold in use says what the answers did.
    sweep = data["confidence"]
    assert all(0.0 <= r["confidence"] <= 1.0 for r in data["results"])
    now = next(r for r in sweep["rows"] if r["min_confidence"] == sweep["current"])
    assert now["unanswerable_abstained"] == data["unanswerable"]["abstained"]


def _questions(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "q.jsonl",
        {"question": HARBOUR_REOPEN, "article": "harbour", "paragraph": 1},
        {"question": COMET, "article": "science.md", "paragraph": 1},
        {"question": OFF_TOPIC, "article": None},
        {"question": "Who composed the symphony?", "article": None},
    )


def test_eval_with_a_reader_shows_what_each_confidence_threshold_would_do(
    articles: Path, fake_encoder: FakeEncoder, tmp_path: Path
) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    with QA.open("idx", encoder=fake_encoder, reader=WordReader()) as qa:
        assert qa.min_confidence == 0.5
        report = evaluate(qa, _questions(tmp_path), top_k=5, show_progress=False)
    sweep = report.confidence
    assert sweep is not None and sweep.current == 0.5
    high, low = 1 / (1 + math.exp(-3.0)), 1 / (1 + math.exp(3.0))  # 0.95 and 0.05
    assert [r.confidence for r in report.results] == [pytest.approx(high, abs=1e-4)] * 2 + [
        pytest.approx(low, abs=1e-4)
    ] * 2
    rows = {r.min_confidence: r for r in sweep.rows}
    assert set(rows) == {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}
    # The row at the threshold in use is what the answers did.
    assert rows[0.5].answerable_abstained == report.answerable.abstained == 0.0
    assert rows[0.5].unanswerable_abstained == report.unanswerable_abstained == 1.0
    answered_right = sum(r.correct for r in report.results if r.question.answerable) / 2
    assert rows[0.5].answerable_right == answered_right
    assert rows[0.9].answerable_abstained == 0.0 and rows[0.1].unanswerable_abstained == 1.0
    # Every threshold between the two confidences makes no mistake: the middle one is suggested.
    assert sweep.suggested is not None and low < sweep.suggested < high
    assert abs(sweep.suggested - 0.5) <= 0.01
    table = report.table()
    assert f"--min-confidence {sweep.suggested:.2f}" in table and "now 0.5" in table
    assert report.to_dict()["confidence"]["rows"][4]["min_confidence"] == 0.5


def test_min_confidence_sets_the_readers_bar(
    articles: Path, fake_encoder: FakeEncoder, tmp_path: Path
) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    with QA.open("idx", encoder=fake_encoder, reader=WordReader(), min_confidence=0.99) as strict:
        assert strict.min_confidence == 0.99
        answer = strict.ask(HARBOUR_REOPEN)
        assert answer.abstained and answer.confidence == pytest.approx(0.9526, abs=1e-4)
        assert answer.citations[0].article_id == "news/harbour.txt"  # still listed as the closest
    with QA.open("idx", encoder=fake_encoder, reader=WordReader(), min_confidence=0.9) as lenient:
        assert not lenient.ask(HARBOUR_REOPEN).abstained
    with QA.open("idx", encoder=fake_encoder, reader=WordReader(), min_confidence=0.0) as anything:
        # Even a bar of 0 abstains when the scope leaves nothing to cite.
        for scope in ({"sources": ["nosuchsite.example"]}, {"until": "1990-01-01"}):
            empty = anything.ask(HARBOUR_REOPEN, **scope)
            assert empty.abstained and empty.citations == ()
    with QA.open("idx", encoder=fake_encoder, reader=False, abstain_below=FAKE_ABSTAIN) as fast:
        assert fast.min_confidence is None
        assert evaluate(fast, _questions(tmp_path), top_k=5, show_progress=False).confidence is None


def test_min_confidence_per_question_overrides_the_opened_bar(
    articles: Path, fake_encoder: FakeEncoder
) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    with QA.open("idx", encoder=fake_encoder, reader=WordReader(), min_confidence=0.99) as qa:
        assert qa.ask(HARBOUR_REOPEN).abstained
        assert not qa.ask(HARBOUR_REOPEN, min_confidence=0.9).abstained
        assert qa.ask(HARBOUR_REOPEN).abstained  # for that question only
        chat = qa.chat()
        assert not chat.ask(HARBOUR_REOPEN, min_confidence=0.5).abstained
        assert chat.ask(HARBOUR_REOPEN, min_confidence=0.999).abstained
        with pytest.raises(BadInputError, match="from 0 to 1"):
            qa.ask(HARBOUR_REOPEN, min_confidence=7)
    with QA.open("idx", encoder=fake_encoder, reader=WordReader()) as default:
        assert default.ask(HARBOUR_REOPEN, min_confidence=0.99).abstained
        # The fast path has no probability to compare: the bar changes nothing there.
        fast = default.ask(HARBOUR_REOPEN, reader=False, min_confidence=0.99)
        assert fast.confidence is None
        assert fast == default.ask(HARBOUR_REOPEN, reader=False)


def test_a_chat_over_an_asker_without_min_confidence_still_works(
    articles: Path, fake_encoder: FakeEncoder
) -> None:
    """``Chat`` passes ``min_confidence`` on only when set: a wrapper written before it existed
    (the ``Asks`` of earlier releases) keeps working."""
    from qa import Answer, Chat

    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    with QA.open("idx", encoder=fake_encoder, reader=WordReader()) as qa:

        class OlderAsker:
            def ask(self, question: str, top_k: int = 5, **scope: Any) -> Answer:
                assert "min_confidence" not in scope
                return qa.ask(question, top_k, **scope)

        answer = Chat(OlderAsker()).ask(HARBOUR_REOPEN)
        assert not answer.abstained and answer.citations[0].article_id == "news/harbour.txt"


@pytest.mark.parametrize("value", [1.5, -0.1, "0.8", True])
def test_a_bad_min_confidence_is_refused_before_anything_loads(value: object) -> None:
    with pytest.raises(BadInputError, match="from 0 to 1"):
        QA.open("no-index-here", min_confidence=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", [["ask", "Why?"], ["eval", "q.jsonl"]])
def test_cli_min_confidence_out_of_range_is_one_line(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jsonl(tmp_path / "q.jsonl", {"question": "Why?", "article": None})
    assert main([*command, "--min-confidence", "2", "--index", "no-index-needed"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "from 0 to 1" in err and err.count("\n") == 1
