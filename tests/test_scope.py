"""As of, since/until, sources and the recency prior: what a news question may cite, and which first."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import QA, BadInputError, build_index
from qa.search.recency import HALF_LIFE_DAYS, RECENCY_WEIGHT, about_the_present, recency_bonus
from qa.search.scope import PublicationIndex, Scope, moment_of
from tests.conftest import FakeEncoder

STORIES = {
    "week1.md": (
        "2026-01-21",
        "Storm hits the coast",
        "Storm Oriana hit the coast on Wednesday. Two people have died so far, officials said.",
    ),
    "week2.md": (
        "2026-01-28",
        "Storm toll rises",
        "Storm Oriana toll: five people have died so far, officials said on Wednesday.",
    ),
    "week5.md": (
        "2026-02-18",
        "Storm rebuilding",
        "Storm Oriana rebuilding: seven people have died so far, officials said, as repairs began.",
    ),
    "undated.txt": (
        None,
        "Harbour notes",
        "The harbour master said the quays at the port will be repaired next spring.",
    ),
}


@pytest.fixture
def dated(tmp_path: Path) -> Path:
    folder = tmp_path / "dated"
    (folder / "wire").mkdir(parents=True)
    for name, (day, title, text) in STORIES.items():
        if name.endswith(".md"):
            body = f"---\ntitle: {title}\npublished: {day}\nurl: https://news.example/{name[:-3]}\n---\n\n{text}\n"
            (folder / "wire" / name).write_text(body, encoding="utf-8")
        else:
            (folder / name).write_text(f"{title}\n\n{text}\n", encoding="utf-8")
    return folder


@pytest.fixture
def qa(dated: Path, fake_encoder: FakeEncoder) -> QA:
    build_index(dated, "idx", encoder=fake_encoder, show_progress=False)
    return QA.open("idx", encoder=fake_encoder)


@pytest.mark.parametrize(
    ("question", "present"),
    [
        ("How many people have died so far?", True),
        ("What is the latest damage estimate?", True),
        ("How many people have died in the storm?", True),  # present perfect: up to now
        ("Who is the mayor of Carrow Bay?", True),
        ("Who won the Stanley Cup?", True),  # the latest edition
        ("What did the minister agree to this week?", True),
        ("How many people died on the first night?", False),
        ("What did the minister say?", False),
        ("Who won the 2023 Stanley Cup?", False),
        ("When was the bridge reopened?", False),
        ("What is photosynthesis?", True),  # the simple present: as things stand
        ("Who leads the Northern Curling League?", True),
        ("Which club holds the record?", True),
        ("What is the 2024 budget?", False),  # names its time
        ("Who was the mayor in 1990?", False),
    ],
)
def test_questions_about_the_present(question: str, present: bool) -> None:
    assert about_the_present(question) is present


def test_the_recency_bonus_halves_every_half_life() -> None:
    newest = moment_of("2026-02-18")
    assert newest is not None
    assert recency_bonus("2026-02-18", newest) == pytest.approx(RECENCY_WEIGHT)
    older = (dt.date(2026, 2, 18) - dt.timedelta(days=HALF_LIFE_DAYS)).isoformat()
    assert recency_bonus(older, newest) == pytest.approx(RECENCY_WEIGHT / 2)
    assert recency_bonus(None, newest) == 0.0


def test_scope_options_are_checked() -> None:
    scope = Scope.make("2026-01-28", since="2026-01-01", until=dt.date(2026, 1, 31), sources=["News.Example"])
    assert scope.as_of == dt.datetime(2026, 1, 28, 23, 59, 59, 999999, tzinfo=dt.UTC)  # the whole day
    assert scope.sources == ("news.example",) and scope.filters
    assert not Scope.make().filters and Scope.make().as_of <= dt.datetime.now(dt.UTC)
    with pytest.raises(BadInputError, match="as_of must be a date"):
        Scope.make("last tuesday")
    with pytest.raises(BadInputError, match="is after until"):
        Scope.make(since="2026-02-01", until="2026-01-01")
    with pytest.raises(BadInputError, match="sources must be"):
        Scope.make(sources=["", "x"])
    with pytest.raises(BadInputError, match="as_of must be"):
        Scope.make(as_of=12)


def test_publication_index_admits_by_time_and_source() -> None:
    index = PublicationIndex.from_rows(
        [
            (3, "2026-01-28", "wire/b.md", "wire/b.md", "https://news.example/b"),
            (1, "2026-01-21T09:00:00+01:00", "wire/a.md", "wire/a.md", None),
            (7, None, "notes.txt", "notes.txt", None),
        ]
    )
    assert index.allowed(Scope.make()) is None  # now, no filters: everything
    np.testing.assert_array_equal(index.allowed(Scope.make("2026-01-22")), [1, 7])  # undated stays
    np.testing.assert_array_equal(index.allowed(Scope.make(since="2026-01-22")), [3])  # undated goes
    np.testing.assert_array_equal(index.allowed(Scope.make(sources="news.example")), [3])
    np.testing.assert_array_equal(index.allowed(Scope.make(sources="wire")), [1, 3])  # a folder
    np.testing.assert_array_equal(index.allowed(Scope.make(sources="notes.txt")), [7])  # a file
    none = index.allowed(Scope.make(until="2020-01-01"))
    assert none is not None and len(none) == 0


def test_nothing_published_after_as_of_is_cited(qa: QA) -> None:
    question = "How many people have died so far in Storm Oriana?"
    assert {c.article_id for c in qa.ask(question, top_k=5, as_of="2026-01-22").citations} <= {
        "wire/week1.md",
        "undated.txt",
    }
    latest = qa.ask(question, top_k=3)
    assert latest.citations[0].article_id == "wire/week5.md"
    assert latest.text.startswith("As of 18 February 2026: ")  # asked months later: say when
    week2 = qa.ask(question, as_of="2026-01-30")
    assert week2.citations[0].article_id == "wire/week2.md" and not week2.text.startswith("As of")


def test_a_question_asked_now_reads_only_the_newest_date(qa: QA, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-passage publication rows (~2 s at 10^6) are read only when a scope can exclude something."""
    store = qa._generation.store
    reads: list[str] = []
    rows = store.publication_rows

    def spying() -> list[tuple[int, str | None, str, str, str | None]]:
        reads.append("rows")
        return rows()

    monkeypatch.setattr(store, "publication_rows", spying)
    assert qa.search("Storm Oriana people died", 10)  # now: nothing was published later
    assert reads == []
    early = qa.search("Storm Oriana people died", 10, as_of="2026-01-22")  # week2 and week5 are later
    assert reads == ["rows"] and {h.article_id for h in early} <= {"wire/week1.md", "undated.txt"}


def test_the_recency_prior_only_for_questions_about_the_present(qa: QA) -> None:
    present = qa.search("How many people have died so far in Storm Oriana?", 3)
    assert [h.article_id for h in present] == ["wire/week5.md", "wire/week2.md", "wire/week1.md"]
    past = qa.search("Storm Oriana hit the coast on Wednesday", 1)
    assert past[0].article_id == "wire/week1.md"  # the words decide, not the date


@pytest.mark.parametrize("reader", [False, True])
def test_a_question_in_the_simple_present_cites_the_latest_story(
    tmp_path: Path, fake_encoder: FakeEncoder, reader: bool
) -> None:
    folder = tmp_path / "curling"
    folder.mkdir()
    for name, day, leader in (
        ("january.md", "2026-01-12", "Anna Berg"),
        ("june.md", "2026-06-20", "Mika Stone"),
    ):
        (folder / name).write_text(
            f"---\ntitle: Curling standings\npublished: {day}\n---\n\n"
            f"{leader} leads the Northern Curling League after the weekend's games.\n",
            encoding="utf-8",
        )
    build_index(folder, "curling-idx", encoder=fake_encoder, show_progress=False)
    with QA.open("curling-idx", encoder=fake_encoder, reader=reader) as qa:
        answer = qa.ask("Who leads the Northern Curling League?", as_of="2026-07-01")
        assert answer.citations[0].article_id == "june.md"
        assert "Mika Stone" in answer.citations[0].sentence
        # Asked as of March, June's story does not exist yet.
        assert (
            qa.ask("Who leads the Northern Curling League?", as_of="2026-03-01").citations[0].article_id
            == "january.md"
        )


def test_date_and_source_filters(qa: QA) -> None:
    hits = qa.search("Storm Oriana people died", 10, since="2026-01-25", until="2026-01-31")
    assert [h.article_id for h in hits] == ["wire/week2.md"]
    assert {h.article_id for h in qa.search("harbour quays repaired", 10, sources=["news.example"])} <= {
        "wire/week1.md",
        "wire/week2.md",
        "wire/week5.md",
    }
    nothing = qa.ask("Storm Oriana", until="2020-01-01")
    assert nothing.abstained and nothing.citations == ()


def test_cli_scope_options(dated: Path) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "Storm?", "--as-of", "yesterday-ish", "--index", "nowhere"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "as_of must be a date" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_cli_as_of_with_the_real_model(dated: Path) -> None:
    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "qa", *args, "--index", "idx"], capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    run("build", str(dated), "--quiet")
    out = run(
        "ask", "How many people have died so far in Storm Oriana?", "--as-of", "2026-01-30", "--top-k", "2"
    )
    assert "five people" in out.splitlines()[0]
    listed = run("search", "storm", "--source", "news.example", "--since", "2026-02-01")
    assert "Storm rebuilding" in listed and "Storm toll rises" not in listed
