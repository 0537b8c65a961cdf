"""A generation as parts: an update writes a part for what changed and lists the earlier ones."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qa.build.parts
from qa import QA, build_index
from qa.errors import BadInputError, IndexCorruptError
from qa.storage.generations import current_name, generations
from qa.storage.manifest import read_manifest
from tests import faults_harness as h
from tests.conftest import FakeEncoder


@pytest.fixture(autouse=True)
def _parts_at_any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qa.build.parts, "MIN_PARTED_PASSAGES", 0)


def _build(articles: Path, index: Path, **options: Any) -> Any:
    return build_index(articles, index, encoder=FakeEncoder(), show_progress=False, **options)


def _answers(index: Path) -> list[list[tuple[str, float, str]]]:
    """Every question's cited passages: (key, score rounded, text)."""
    with QA.open(index, encoder=FakeEncoder()) as qa_:
        result = []
        for question in h.QUESTIONS:
            hits = qa_.search(question, top_k=8)
            result.append([(hit.passage_key, round(hit.score, 4), hit.text) for hit in hits])
        return result


def _found(opened: QA, key: str) -> bool:
    try:
        opened.passage(key)
    except BadInputError:
        return False
    return True


def _articles_in(generation: Path) -> list[str]:
    with sqlite3.connect(generation / "qa.sqlite") as connection:
        return [r[0] for r in connection.execute("SELECT article_id FROM articles ORDER BY row")]


def test_an_update_writes_only_the_new_articles_and_answers_as_a_full_build(tmp_path: Path) -> None:
    articles, index, fresh = tmp_path / "a", tmp_path / "idx", tmp_path / "fresh"
    _build(h.write_corpus(articles, range(30)), index)
    report = _build(h.write_corpus(articles, range(36)), index)
    live = index / report.generation
    manifest = read_manifest(live)
    assert list(manifest.parts) == ["gen-000001"]  # the first build's part, listed, not copied
    assert [Path(a).name for a in _articles_in(live)] == [f"article-{n:03d}.txt" for n in range(30, 36)]
    assert report.embedded == 6 * 3  # only the new articles' three searchable paragraphs
    assert manifest.counts.articles == 36
    assert sorted(g.name for g in generations(index)) == ["gen-000001", "gen-000002"]
    # Pure additions: the same passages, scores and order as one part built from scratch (BM25
    # sums its statistics over the parts).
    _build(articles, fresh)
    assert _answers(index) == _answers(fresh)
    with QA.open(index, encoder=FakeEncoder()) as opened:
        info = opened.info()
        assert (info.articles, info.parts, len(opened.articles())) == (36, 2, 36)
        listed = [*live.rglob("*"), *(index / "gen-000001").rglob("*"), *(index / "segments").iterdir()]
        files = [f for f in listed if f.is_file() and f.name != "manifest.json"]
        assert info.size_bytes == sum(f.stat().st_size for f in files)  # the parts' files count too


def test_changed_and_removed_articles_are_deleted_from_the_earlier_part(tmp_path: Path) -> None:
    articles, index = tmp_path / "a", tmp_path / "idx"
    _build(h.write_corpus(articles, range(30)), index)
    with QA.open(index, encoder=FakeEncoder()) as before:
        old_keys = {
            p.passage_key
            for a in ("part-0/article-003.txt", "part-0/article-005.txt")
            for p in before.article(a).paragraphs
        }
    report = _build(h.write_corpus(articles, [n for n in range(32) if n != 5], edited=[3]), index)
    assert (report.added, report.changed, report.removed) == (2, 1, 1)
    live = index / report.generation
    assert list(read_manifest(live).parts) == ["gen-000001"]
    assert sorted(_articles_in(live)) == [
        "part-0/article-003.txt",
        "part-3/article-030.txt",
        "part-3/article-031.txt",
    ]
    with QA.open(index, encoder=FakeEncoder()) as opened:
        listed = {a.article_id for a in opened.articles()}
        assert "part-0/article-005.txt" not in listed and len(listed) == 31
        with pytest.raises(BadInputError, match="No article"):
            opened.article("part-0/article-005.txt")
        edited = opened.article("part-0/article-003.txt")
        assert "costing 1" in edited.text
        cited: set[str] = set()
        for question in (*h.QUESTIONS, "How much did it cost?", "Which bridge reopened after repairs?"):
            cited |= {hit.passage_key for hit in opened.search(question, top_k=50)}
        stale = {k for k in old_keys if not _found(opened, k)}
        assert stale and not (cited & stale)  # the old text is never found, nor cited
        generation = opened._generation
        deleted = generation.store.deleted_passage_ids()
        assert len(deleted) == 6  # two articles' three searchable paragraphs
        vector = np.ones((1, generation.vectors.dim), dtype=np.float32) / np.sqrt(generation.vectors.dim)
        _, found = generation.vectors.search(vector, 10_000)
        assert not set(found[0].tolist()) & set(deleted.tolist())
        assert len(generation.vectors) == len(generation.lexical) == generation.manifest.counts.searchable


def test_parts_are_merged_past_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qa.build.parts, "MAX_PARTS", 3)
    articles, index, fresh = tmp_path / "a", tmp_path / "idx", tmp_path / "fresh"
    _build(h.write_corpus(articles, range(30)), index)
    counts = []
    for last in range(31, 36):
        report = _build(h.write_corpus(articles, range(last)), index)
        counts.append(len(read_manifest(index / report.generation).parts) + 1)
    assert max(counts) == 3 and counts[-1] < 3  # bounded: the small parts were merged into one
    assert "gen-000001" in read_manifest(index / str(current_name(index))).parts  # the big one stays
    _build(articles, fresh)
    assert _answers(index) == _answers(fresh)


@pytest.mark.parametrize("option", ["compact", "force"])
def test_compact_and_force_write_one_part(tmp_path: Path, option: str) -> None:
    articles, index = tmp_path / "a", tmp_path / "idx"
    _build(h.write_corpus(articles, range(30)), index)
    _build(h.write_corpus(articles, range(33)), index)
    report = _build(articles, index, **{option: True})
    assert read_manifest(index / report.generation).parts == {}
    assert [g.name for g in generations(index)] == [report.generation]  # the parts were tidied
    assert len(_articles_in(index / report.generation)) == 33


def test_a_damaged_earlier_part_is_refused_at_open_and_rebuilt(tmp_path: Path) -> None:
    articles, index = tmp_path / "a", tmp_path / "idx"
    _build(h.write_corpus(articles, range(30)), index)
    _build(h.write_corpus(articles, range(33)), index)
    part = index / "gen-000001" / "bm25" / "posting_frequencies.npy"
    data = bytearray(part.read_bytes())
    data[-1] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="gen-000001"):
        QA.open(index, encoder=FakeEncoder())
    report = _build(articles, index)  # the damaged part is not reused: one part from scratch
    assert read_manifest(index / report.generation).parts == {}
    assert len(_answers(index)) == len(h.QUESTIONS)


# Each step: the articles present (numbers 0-39, at least 30 so the earlier parts stay mostly
# live) and which of them are edited.
_STEPS = st.lists(
    st.tuples(
        st.sets(st.integers(0, 39), min_size=30, max_size=40),
        st.sets(st.integers(0, 39), max_size=4),
    ),
    min_size=1,
    max_size=4,
)


@settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=8,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=_STEPS)
def test_any_sequence_of_updates_holds_what_a_fresh_build_holds(
    steps: list[tuple[set[int], set[int]]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Whatever the builds added, edited or removed, and however the parts were kept or merged,
    the index holds exactly the articles and passages of one built from scratch, and no search
    returns a passage that one lacks."""
    work = tmp_path_factory.mktemp("sequence")
    articles, index = work / "a", work / "idx"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(qa.build.parts, "MAX_PARTS", 3)
        _build(h.write_corpus(articles, range(30)), index)
        for number, (present, edited) in enumerate(steps):
            h.write_corpus(articles, sorted(present), sorted(edited & present))
            _build(articles, index)
            fresh = work / f"fresh-{number}"
            _build(articles, fresh)
            with (
                QA.open(index, encoder=FakeEncoder()) as parted,
                QA.open(fresh, encoder=FakeEncoder()) as whole,
            ):
                listed = sorted(a.article_id for a in parted.articles())
                assert listed == sorted(a.article_id for a in whole.articles())
                for article_id in listed:
                    assert parted.article(article_id).paragraphs == whole.article(article_id).paragraphs
                keys = {p.passage_key for a in listed for p in whole.article(a).paragraphs}
                for question in h.QUESTIONS:
                    found = parted.search(question, top_k=20)
                    assert found and {hit.passage_key for hit in found} <= keys
                generation = parted._generation
                assert len(generation.vectors) == len(generation.lexical) == whole.info().searchable
                assert len(read_manifest(index / str(current_name(index))).parts) < 3


def test_an_open_generation_keeps_answering_after_its_parts_are_tidied_away(tmp_path: Path) -> None:
    """A compaction deletes the generations whose parts it rewrote; one a reader still has open
    keeps working from its open files (SQLite handles, mapped FAISS and BM25 arrays) until the
    reader switches to the new generation at its next question."""
    articles, index = tmp_path / "a", tmp_path / "idx"
    _build(h.write_corpus(articles, range(30)), index)
    _build(h.write_corpus(articles, range(33)), index)
    with QA.open(index, encoder=FakeEncoder()) as opened:
        old = opened._generation
        assert opened.generation == "gen-000002" and list(old.manifest.parts) == ["gen-000001"]
        before = [hit.passage_key for hit in opened.search(h.QUESTIONS[0], top_k=5)]
        _build(articles, index, compact=True)
        assert not (index / "gen-000001").exists() and not (index / "gen-000002").exists()
        ids = old.store.searchable_passage_ids()
        vector = old.vectors.vectors_for(ids[:1])
        _, found = old.vectors.search(vector, 5)
        assert found[0][0] == ids[0]
        assert old.lexical.match(h.QUESTIONS[0]).best > 0
        both_parts = [*ids[:3].tolist(), *ids[-3:].tolist()]  # the earlier part's first, its own last
        assert set(old.store.passages(both_parts)) == set(both_parts)
        assert [hit.passage_key for hit in opened.search(h.QUESTIONS[0], top_k=5)] == before
        assert opened.generation == "gen-000003"


def test_small_exact_parts_are_merged_into_a_graph_past_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every part is searched on every question: small parts are exact (Flat) searches, so once
    they hold more than PART_FLAT_LIMIT passages together the next build merges them into its
    own part, which is big enough for a graph; the biggest part is left alone."""
    import qa.storage.vectors.faiss_index

    for module in (qa.build.parts, qa.storage.vectors.faiss_index):
        monkeypatch.setattr(module, "PART_FLAT_LIMIT", 10)
    articles, index = tmp_path / "a", tmp_path / "idx"
    _build(h.write_corpus(articles, range(30)), index)
    kinds = []
    for last in (32, 34, 36):  # two new articles (six searchable passages) a build
        report = _build(h.write_corpus(articles, range(last)), index)
        manifest = read_manifest(index / report.generation)
        kinds.append(([p.index_type for _, p in sorted(manifest.parts.items())], manifest.index_type))
    assert kinds[0] == (["Flat"], "Flat")  # the first part (30 articles: a Flat index of its own)
    assert kinds[1] == (["Flat", "Flat"], "Flat")  # 6 small passages: under the limit
    assert kinds[2] == (["Flat"], "HNSW48_SQ8")  # 12 > 10: merged with the new ones, a graph
    assert [p for p in read_manifest(index / str(current_name(index))).parts] == ["gen-000001"]
    with QA.open(index, encoder=FakeEncoder()) as opened:
        assert len(opened.articles()) == 36
        hits = opened.search("Residents of the town gathered near the place", top_k=50)
        assert {hit.article_id for hit in hits} >= {"part-3/article-034.txt", "part-3/article-035.txt"}
