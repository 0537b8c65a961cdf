"""Vector segments: generations share the vectors they have in common instead of copying them."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import QA, build_index, verify_index
from qa.errors import IndexCorruptError, IndexMismatchError
from qa.storage.generations import current_name, generations
from qa.storage.manifest import FORMAT_VERSION, read_manifest
from tests.conftest import FakeEncoder

SEGMENTS = Path("idx/segments")


def _listed() -> dict[str, int]:
    """The live generation's segments and the vectors each holds."""
    manifest = read_manifest(Path("idx") / str(current_name(Path("idx"))))
    return {name: entry.vectors for name, entry in manifest.vector_segments.items()}


def _add_story(articles: Path, name: str, text: str) -> None:
    (articles / f"{name}.txt").write_text(f"{name.title()}\n\n{text}\n", encoding="utf-8")


def test_a_rebuild_writes_only_the_new_vectors_and_shares_the_rest(
    articles: Path, fake_encoder: FakeEncoder
) -> None:
    first = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    (old,) = _listed()
    old_file = SEGMENTS / old
    before = (old_file.stat().st_ino, old_file.stat().st_mtime_ns, old_file.read_bytes())
    _add_story(articles, "ferry", "The ferry now runs hourly between the two islands.")
    second = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert second.embedded == 1
    listed = _listed()
    new = f"{second.generation}.sqlite"
    assert set(listed) == {old, new}
    assert listed[new] == 2  # the new paragraph and its one sentence: nothing else was rewritten
    assert (old_file.stat().st_ino, old_file.stat().st_mtime_ns, old_file.read_bytes()) == before
    assert [g.name for g in generations(Path("idx"))] == [second.generation]
    assert first.generation != second.generation
    with QA.open("idx", encoder=fake_encoder) as qa:
        assert qa.ask("How often does the ferry run?").citations[0].article_id == "ferry.txt"
        # Sentence vectors of the first build's passages come from the first segment.
        assert (
            qa.ask("When did the harbour bridge reopen?")
            .citations[0]
            .sentence.startswith("The harbour bridge reopened")
        )


def test_vectors_of_removed_text_are_dropped_by_compaction(articles: Path, fake_encoder: FakeEncoder) -> None:
    for i in range(3):
        _add_story(articles, f"extra{i}", f"Extra story number {i} about a parade of {i + 2} floats.")
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    for i in range(3):
        (articles / f"extra{i}.txt").unlink()
    _add_story(articles, "ferry", "The ferry now runs hourly between the two islands.")
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert len(_listed()) == 2  # dead vectors do not outweigh the live ones yet: shared as they are
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False, compact=True)
    listed = _listed()
    assert list(listed) == [f"{report.generation}.sqlite"]
    assert report.embedded == 0  # compaction copies, it does not re-embed
    assert sorted(p.name for p in SEGMENTS.iterdir()) == list(listed)  # replaced segments deleted
    manifest = read_manifest(Path("idx") / report.generation)
    assert listed[f"{report.generation}.sqlite"] == manifest.counts.vectors  # only the live vectors
    with QA.open("idx", encoder=fake_encoder) as qa:
        assert qa.ask("How often does the ferry run?").citations[0].article_id == "ferry.txt"


def test_a_build_compacts_on_its_own_once_dead_vectors_outweigh_the_live(
    articles: Path, fake_encoder: FakeEncoder
) -> None:
    for i in range(20):
        paragraphs = [f"Parade {i} had {j + 2} floats and band number {i * 10 + j}." for j in range(6)]
        (articles / f"extra{i}.txt").write_text(f"Extra {i}\n\n" + "\n\n".join(paragraphs), encoding="utf-8")
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    (written,) = _listed().values()
    for i in range(20):
        (articles / f"extra{i}.txt").unlink()
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    live = read_manifest(Path("idx") / report.generation).counts.vectors
    assert written > 2 * live  # the first build's segment is now mostly vectors of removed text
    assert report.embedded == 0
    assert _listed() == {f"{report.generation}.sqlite": live}
    assert sorted(p.name for p in SEGMENTS.iterdir()) == [f"{report.generation}.sqlite"]


def test_a_crashed_build_leaves_its_segment_to_the_next_build_and_the_live_index_intact(
    articles: Path, fake_encoder: FakeEncoder
) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    listed = _listed()

    class Crashing(FakeEncoder):
        def encode(self, texts: object, *, show_progress: bool = False) -> np.ndarray:
            raise KeyboardInterrupt

    _add_story(articles, "ferry", "The ferry now runs hourly between the two islands.")
    with pytest.raises(KeyboardInterrupt):
        build_index(articles, "idx", encoder=Crashing(), show_progress=False)
    assert (SEGMENTS / "gen-000002.sqlite").exists()  # debris
    assert _listed() == listed
    with QA.open("idx", encoder=fake_encoder) as qa:
        assert qa.ask("When did the harbour bridge reopen?").citations
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert report.embedded == 1
    assert sorted(p.name for p in SEGMENTS.iterdir()) == sorted(_listed())


def test_a_failed_build_removes_its_segment_at_once(articles: Path, fake_encoder: FakeEncoder) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)

    class Failing(FakeEncoder):
        def encode(self, texts: object, *, show_progress: bool = False) -> np.ndarray:
            raise RuntimeError("out of memory")

    _add_story(articles, "ferry", "The ferry now runs hourly between the two islands.")
    with pytest.raises(RuntimeError):
        build_index(articles, "idx", encoder=Failing(), show_progress=False)
    assert sorted(p.name for p in SEGMENTS.iterdir()) == sorted(_listed()) == ["gen-000001.sqlite"]


def test_a_damaged_segment_is_caught_at_open_and_by_verify(articles: Path, fake_encoder: FakeEncoder) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    (segment,) = SEGMENTS.iterdir()
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only a checksum can tell
    segment.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="does not match its checksum"):
        verify_index("idx")
    segment.write_bytes(bytes(data[:-4096]))  # truncated: opening sees the size
    with pytest.raises(IndexCorruptError, match=r"has \d+ bytes"):
        QA.open("idx", encoder=fake_encoder)
    segment.unlink()
    with pytest.raises(IndexCorruptError, match="is missing"):
        QA.open("idx", encoder=fake_encoder)
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert report.embedded > 0  # the damaged generation is not trusted as a cache
    with QA.open("idx", encoder=fake_encoder) as qa:
        assert qa.ask("When did the harbour bridge reopen?").citations


def _vector_rows(segment: Path) -> list[tuple[str, bytes]]:
    """A segment's vectors as format 3 and 4 stored them: one float32 row per vector under its
    text key ("<paragraph hash>" or "<paragraph hash>:<start>:<end>")."""
    from qa.storage.vectors.codec import decode_record

    rows = []
    with sqlite3.connect(segment) as connection:
        for digest, record in connection.execute("SELECT digest, record FROM paragraphs"):
            spans, vectors = decode_record(record)
            keys = [bytes(digest).hex(), *(f"{bytes(digest).hex()}:{s}:{e}" for s, e in spans)]
            rows += [(key, vector.astype("<f4").tobytes()) for key, vector in zip(keys, vectors, strict=True)]
    connection.close()
    return rows


@pytest.mark.parametrize("version", [3, 4])
def test_an_index_of_an_earlier_format_lends_its_vectors_to_the_rebuild(
    articles: Path, fake_encoder: FakeEncoder, version: int
) -> None:
    """Format 3 kept vectors inside qa.sqlite, format 4 a segment row per vector: a rebuild
    reuses them instead of re-embedding, copies them into one segment of today's layout, and
    gives the vector index the same bits as a build from scratch."""
    build_index(articles, "fresh", encoder=fake_encoder, show_progress=False)
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    generation = Path("idx") / str(current_name(Path("idx")))
    (segment,) = SEGMENTS.iterdir()
    rows = _vector_rows(segment)
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = version
    if version == 3:
        with sqlite3.connect(generation / "qa.sqlite") as connection:
            connection.executemany("INSERT INTO vectors (key, vector) VALUES (?, ?)", rows)
        connection.close()
        segment.unlink()
        del manifest["vector_segments"]
        size = (generation / "qa.sqlite").stat().st_size
        manifest["files"]["qa.sqlite"] = {"sha256": _sha256(generation / "qa.sqlite"), "size": size}
    else:
        segment.unlink()
        with sqlite3.connect(segment) as connection:
            connection.execute("CREATE TABLE vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            connection.executemany("INSERT INTO vectors (key, vector) VALUES (?, ?)", rows)
        connection.close()
        entry = manifest["vector_segments"][segment.name]
        entry.update(sha256=_sha256(segment), size=segment.stat().st_size)
        entry.pop("fingerprint", None)
    (generation / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match=f"format version {version}.*nothing is embedded again"):
        QA.open("idx", encoder=fake_encoder)
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert report.embedded == 0 and not report.up_to_date
    assert _listed() == {f"{report.generation}.sqlite": len(rows)}
    with QA.open("idx", encoder=fake_encoder) as qa, QA.open("fresh", encoder=fake_encoder) as fresh:
        assert qa.info().format_version == FORMAT_VERSION
        assert qa.ask("When did the harbour bridge reopen?").citations
        ids = qa._generation.store.searchable_passage_ids()
        np.testing.assert_array_equal(ids, fresh._generation.store.searchable_passage_ids())
        np.testing.assert_array_equal(
            qa._generation.vectors.vectors_for(ids), fresh._generation.vectors.vectors_for(ids)
        )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_cli_compact_copies_the_live_vectors_without_loading_the_model(articles: Path) -> None:
    build_index(articles, "idx", show_progress=False)  # the packaged model
    _add_story(articles, "ferry", "The ferry now runs hourly between the two islands.")
    build_index(articles, "idx", show_progress=False)
    (articles / "science.md").unlink()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa",
            "-v",
            "build",
            str(articles),
            "--index",
            "idx",
            "--compact",
            "--json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["embedded"] == 0 and report["removed"] == 1
    assert "Compacted the vectors" in done.stderr
    assert "Loading embedding model" not in done.stderr  # nothing to embed: the model stays unloaded
    live = read_manifest(Path("idx") / report["generation"]).counts.vectors
    assert _listed() == {f"{report['generation']}.sqlite": live}
    with QA.open("idx") as qa:
        assert qa.ask("How often does the ferry run?").citations[0].article_id == "ferry.txt"


def test_a_big_index_keeps_its_sentence_vectors_at_4_bits(
    articles: Path, fake_encoder: FakeEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past NIBBLE_SENTENCES_FROM passages a build writes 4-bit sentence vectors (tag 6); a
    smaller one int8 (tag 5); the ranking reads either."""
    import qa.build.pipeline

    build_index(articles, "small", encoder=fake_encoder, show_progress=False)
    monkeypatch.setattr(qa.build.pipeline, "NIBBLE_SENTENCES_FROM", 0)
    report = build_index(articles, "big", encoder=fake_encoder, show_progress=False)
    tags: dict[str, set[bytes]] = {}
    sizes: dict[str, int] = {}
    for name in ("small", "big"):
        (segment,) = (Path(name) / "segments").iterdir()
        with sqlite3.connect(segment) as connection:
            records = [bytes(r) for (r,) in connection.execute("SELECT record FROM paragraphs")]
        connection.close()
        tags[name], sizes[name] = {r[:1] for r in records}, sum(len(r) for r in records)
    assert tags == {"small": {b"\x05"}, "big": {b"\x06"}}
    assert sizes["big"] < 0.85 * sizes["small"]  # 64-d fake vectors: spans and scales weigh more
    with QA.open("big", encoder=fake_encoder) as big, QA.open("small", encoder=fake_encoder) as small:
        question = "What did the storm close?"
        assert [h.passage_key for h in big.search(question, 3)] == [
            h.passage_key for h in small.search(question, 3)
        ]
        assert big.ask(question).citations
    assert report.passages > 0
