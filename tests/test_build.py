from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt
import pytest

from qa import QA, build_index
from qa.errors import (
    BadInputError,
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
)
from qa.storage.generations import build_lock, current_name, generations
from qa.storage.manifest import FORMAT_VERSION, read_manifest
from qa.storage.vectors.faiss_index import HNSW_BUILD_DEPTH, HNSW_EF_SEARCH, FaissIndex, check_index_type
from tests.conftest import FakeEncoder


def test_build_writes_a_generation_with_a_verifiable_manifest(
    articles: Path, fake_encoder: FakeEncoder
) -> None:
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert not report.up_to_date
    assert (report.articles, report.added, report.skipped) == (4, 4, ())
    assert report.generation == current_name(Path("idx")) == "gen-000001"
    manifest = read_manifest(Path("idx/gen-000001"))
    assert manifest.format_version == FORMAT_VERSION
    assert (manifest.model.name, manifest.model.dim, manifest.model.path) == ("fake-bow", 64, None)
    assert manifest.model.abstain_below is None  # not calibrated for a model we do not know
    assert manifest.counts.articles == 4
    assert manifest.counts.boilerplate == report.boilerplate == 9  # 8 seed appeal lines + 1 newsletter
    assert set(manifest.files) == {
        "qa.sqlite",
        "vectors.faiss",
        "bm25/vocabulary.json",
        "bm25/indptr.npy",
        "bm25/posting_rows.npy",
        "bm25/posting_frequencies.npy",
        "bm25/row_lengths.npy",
    }
    assert manifest.parts == {}  # a first build is one part: its own
    roundtrip = json.loads(manifest.to_json())
    assert roundtrip["corpus_hash"] == manifest.corpus_hash


def test_unchanged_corpus_embeds_nothing(articles: Path, fake_encoder: FakeEncoder) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    calls = fake_encoder.texts_encoded
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert report.up_to_date and report.embedded == 0
    assert (report.unchanged, report.added, report.changed, report.removed) == (4, 0, 0, 0)
    assert fake_encoder.texts_encoded == calls
    assert [g.name for g in generations(Path("idx"))] == ["gen-000001"]
    assert "up to date" in report.summary()


def test_one_edited_paragraph_embeds_only_that_paragraph(articles: Path, fake_encoder: FakeEncoder) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    path = articles / "news" / "harbour.txt"
    path.write_text(path.read_text().replace("the original grey", "a bright new blue"), encoding="utf-8")
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert (report.changed, report.unchanged, report.added, report.removed) == (1, 3, 0, 0)
    assert report.embedded == 1  # a one-sentence paragraph: its sentence vector is the same text
    with QA.open("idx", encoder=fake_encoder) as qa:
        hit = qa.search("bright new blue towers", top_k=1)[0]
        assert "bright new blue" in hit.text


def test_deleted_file_disappears_from_results(articles: Path, fake_encoder: FakeEncoder) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    (articles / "science.md").unlink()
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert (report.removed, report.embedded) == (1, 0)
    with QA.open("idx", encoder=fake_encoder) as qa:
        hits = qa.search("green comet Lapland astronomers", top_k=20)
        assert all(h.article_id != "science.md" for h in hits)
    assert [g.name for g in generations(Path("idx"))] == ["gen-000002"]


def test_force_re_embeds_everything(articles: Path, fake_encoder: FakeEncoder) -> None:
    first = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    again = build_index(articles, "idx", encoder=fake_encoder, force=True, show_progress=False)
    assert not again.up_to_date and again.embedded == first.embedded > 0
    assert again.unchanged == 4


def test_crash_debris_is_removed_and_previous_generation_stays_live(
    articles: Path, fake_encoder: FakeEncoder
) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    debris = Path("idx/gen-000002")
    debris.mkdir()
    (debris / "qa.sqlite").write_bytes(b"half written")
    with QA.open("idx", encoder=fake_encoder) as qa:  # a crashed build leaves the old one live
        assert qa.generation == "gen-000001"
    (articles / "science.md").unlink()
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert report.generation == "gen-000002"
    assert [g.name for g in generations(Path("idx"))] == ["gen-000002"]
    assert read_manifest(Path("idx/gen-000002")).counts.articles == 3


def test_second_build_fails_while_the_lock_is_held(articles: Path, fake_encoder: FakeEncoder) -> None:
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with build_lock(Path("idx")):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    try:
        with pytest.raises(IndexLockedError, match="Another build is writing"):
            build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    finally:
        release.set()
        thread.join()


@pytest.mark.parametrize(
    ("damage", "error", "match"),
    [
        (
            lambda g: g.joinpath("vectors.faiss").write_bytes(
                bytes([g.joinpath("vectors.faiss").read_bytes()[0] ^ 1])
                + g.joinpath("vectors.faiss").read_bytes()[1:]
            ),
            IndexCorruptError,
            "does not match its checksum",
        ),
        (
            lambda g: g.joinpath("qa.sqlite").write_bytes(g.joinpath("qa.sqlite").read_bytes()[:100]),
            IndexCorruptError,
            "truncated or replaced",
        ),
        (lambda g: g.joinpath("bm25/vocabulary.json").unlink(), IndexCorruptError, "is missing"),
        (lambda g: g.joinpath("manifest.json").write_text("{not json"), IndexCorruptError, "Cannot read"),
        (
            lambda g: g.joinpath("manifest.json").write_text(json.dumps({"format_version": 99})),
            IndexMismatchError,
            "format version 99",
        ),
        (lambda g: g.parent.joinpath("CURRENT").unlink(), IndexNotFoundError, "CURRENT' is missing"),
        (
            lambda g: g.parent.joinpath("CURRENT").write_text("gen-000042\n"),
            IndexNotFoundError,
            "not a generation",
        ),
    ],
)
def test_damaged_index_fails_to_open_with_a_clear_error(
    articles: Path, fake_encoder: FakeEncoder, damage: object, error: type[Exception], match: str
) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    damage(Path("idx/gen-000001"))  # type: ignore[operator]
    with pytest.raises(error, match=match) as excinfo:
        QA.open("idx", encoder=fake_encoder)
    assert "qa build" in str(excinfo.value)


def test_index_made_with_another_model_is_refused(articles: Path, fake_encoder: FakeEncoder) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)

    class Other(FakeEncoder):
        name = "other-model"

    with pytest.raises(IndexMismatchError, match="built with model 'fake-bow'"):
        QA.open("idx", encoder=Other())


def test_corrupt_previous_generation_is_rebuilt_from_scratch(
    articles: Path, fake_encoder: FakeEncoder
) -> None:
    first = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    Path("idx/gen-000001/qa.sqlite").write_bytes(b"garbage")
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert not report.up_to_date and report.embedded == first.embedded
    with QA.open("idx", encoder=fake_encoder) as qa:
        assert qa.generation == "gen-000002"


def test_folder_with_only_unreadable_files_is_an_error(tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bin.txt").write_bytes(b"\x00\x01\x02")
    with pytest.raises(BadInputError, match=r"all 1 files were skipped .*binary file"):
        build_index(tmp_path / "in", "idx", encoder=fake_encoder, show_progress=False)
    assert current_name(Path("idx")) is None


@pytest.mark.parametrize("index_type", ["Flat", "HNSW32", "HNSW32_SQ8"])
def test_vector_search_matches_brute_force(index_type: str) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(500, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1000, 1500, dtype=np.int64)
    index = FaissIndex.build(ids, vectors, index_type)
    queries = rng.normal(size=(20, 32)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    scores, found = index.search(queries, 10)
    expected = ids[np.argsort(-(queries @ vectors.T), axis=1)[:, :10]]
    agreement = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, expected, strict=True)])
    assert agreement == 1.0 if index_type == "Flat" else agreement >= 0.9
    if index_type == "Flat":
        np.testing.assert_allclose(scores, np.sort(queries @ vectors.T, axis=1)[:, ::-1][:, :10], rtol=1e-5)
    # The stored vectors come back exactly, or from 8-bit codes within a cosine's 1e-2.
    back = index.vectors_for(ids[:50])
    closeness = np.sum(back * vectors[:50], axis=1)
    assert closeness.min() > (0.99 if index_type.endswith("_SQ8") else 1 - 1e-6)


def test_past_the_flat_limit_the_graph_keeps_8_bit_codes(tmp_path: Path) -> None:
    from qa.storage.vectors.faiss_index import FLAT_LIMIT, choose_index_type

    assert choose_index_type(FLAT_LIMIT) == "Flat"
    assert choose_index_type(FLAT_LIMIT + 1) == "HNSW48_SQ8"
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(3000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(3000, dtype=np.int64)
    chunked = FaissIndex.build(ids[:0], vectors[:0], "HNSW32_SQ8", count=len(ids))
    for start in range(0, len(ids), 1000):  # as a build adds them: trained on the first chunk
        chunked.add(ids[start : start + 1000], vectors[start : start + 1000])
    chunked.save(tmp_path / "sq.faiss")
    float_graph = FaissIndex.build(ids, vectors, "HNSW32")
    float_graph.save(tmp_path / "float.faiss")
    # one byte a value instead of four; the links are the same
    saved = (tmp_path / "float.faiss").stat().st_size - (tmp_path / "sq.faiss").stat().st_size
    assert saved >= 0.99 * 3000 * 64 * 3
    reloaded = FaissIndex.load(tmp_path / "sq.faiss", "HNSW32_SQ8")
    assert len(reloaded) == 3000 and reloaded.ef_search == HNSW_EF_SEARCH
    _, found = reloaded.search(vectors[:20], 1)
    assert found[:, 0].tolist() == list(range(20))  # each vector finds itself
    for bad in ("HNSW0_SQ8", "HNSW32_SQ4", "SQ8"):
        with pytest.raises(BadInputError, match="HNSW48_SQ8"):
            check_index_type(bad)


def test_a_file_given_as_the_index_folder(articles: Path, fake_encoder: FakeEncoder) -> None:
    Path("idx").write_text("not a folder")
    with pytest.raises(BadInputError, match="is a file; --index must name a folder"):
        build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    with pytest.raises(IndexNotFoundError, match="is a file, not an index folder"):
        QA.open("idx", encoder=fake_encoder)


def test_index_with_another_schema_is_a_mismatch(articles: Path, fake_encoder: FakeEncoder) -> None:
    import sqlite3

    from qa.storage.manifest import describe_files

    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    generation = Path("idx/gen-000001")
    with sqlite3.connect(generation / "qa.sqlite") as db:
        db.execute("ALTER TABLE sentences RENAME COLUMN start TO first")
    db.close()
    manifest = json.loads((generation / "manifest.json").read_text())
    manifest["files"] = {  # as an older version would have written it
        name: {"sha256": entry.sha256, "size": entry.size}
        for name, entry in describe_files(generation).items()
    }
    (generation / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="written by another version"):
        QA.open("idx", encoder=fake_encoder)


def test_build_that_crashes_mid_embedding_leaves_the_old_index_live(
    articles: Path, fake_encoder: FakeEncoder
) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)

    class Crashing(FakeEncoder):
        def encode(self, texts: object, *, show_progress: bool = False) -> np.ndarray:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C while embedding

    (articles / "new.txt").write_text("New story\n\nA brand new paragraph about llamas.", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        build_index(articles, "idx", encoder=Crashing(), show_progress=False)
    assert current_name(Path("idx")) == "gen-000001"
    assert Path("idx/gen-000002").exists()  # the debris of the interrupted build
    with QA.open("idx", encoder=fake_encoder) as qa:
        assert qa.info().articles == 4
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert (report.generation, report.added) == ("gen-000002", 1)  # debris removed, number reused
    assert [g.name for g in generations(Path("idx"))] == ["gen-000002"]
    assert read_manifest(Path("idx/gen-000002")).counts.articles == 5


def test_unchanged_files_are_not_parsed_again(
    articles: Path, fake_encoder: FakeEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_ingest import HTML_PAGE

    (articles / "storm.html").write_text(HTML_PAGE, encoding="utf-8")
    first = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert first.reused_files == 0

    import qa.ingest

    parsed: list[str] = []

    def counting(reader: Any) -> Any:
        def read(data: bytes, rel: str) -> Any:
            parsed.append(rel)
            return reader(data, rel)

        return read

    for suffix, reader in dict(qa.ingest.READERS).items():
        monkeypatch.setitem(qa.ingest.READERS, suffix, counting(reader))
    (articles / "news" / "harbour.txt").write_text("Harbour closed\n\nThe harbour closed for winter.\n")
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert parsed == ["news/harbour.txt"]  # only the edited file went through a reader
    assert (report.reused_files, report.changed, report.unchanged) == (4, 1, 4)

    # What was reused is exactly what parsing gives: rebuilding from scratch changes nothing.
    with QA.open("idx", encoder=fake_encoder) as qa_index:
        reused_hits = [h.to_dict() for h in qa_index.search("winter storm port Ostend ships", top_k=5)]
    build_index(articles, "fresh", encoder=fake_encoder, force=True, show_progress=False)
    with QA.open("fresh", encoder=fake_encoder) as qa_fresh:
        fresh_hits = [h.to_dict() for h in qa_fresh.search("winter storm port Ostend ships", top_k=5)]
    assert reused_hits == fresh_hits

    parsed.clear()
    monkeypatch.setattr(qa.ingest, "READER_VERSION", 99)  # readers changed: every file is read anew
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert report.reused_files == 0 and len(parsed) == 5


def test_hnsw_searches_at_the_recorded_depth_and_saves_it(
    articles: Path, fake_encoder: FakeEncoder, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(200, dtype=np.int64)
    assert FaissIndex.build(ids, vectors, "Flat").ef_search is None
    index = FaissIndex.build(ids, vectors, "HNSW32")
    assert index.ef_search == HNSW_EF_SEARCH  # never FAISS's default of 16
    index.save(tmp_path / "v.faiss")
    reloaded = FaissIndex.load(tmp_path / "v.faiss", "HNSW32", ef_search=40)
    assert reloaded.ef_search == 40
    # Built deeper than FAISS's default of 40: the graph that depth 768 is measured on.
    for graph in (index, reloaded, FaissIndex.build(ids, vectors, "HNSW48_SQ8")):
        inner: Any = faiss.downcast_index(graph._index.index)  # type: ignore[attr-defined]
        assert inner.hnsw.efConstruction == HNSW_BUILD_DEPTH
    # The build records the depth in the manifest; opening searches at it; qa info shows it.
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False, index_type="HNSW32")
    with QA.open("idx", encoder=fake_encoder) as qa:
        assert qa.info().ef_search == HNSW_EF_SEARCH
        assert qa.ask("When did the harbour bridge reopen?").citations[0].paragraph == 1
    manifest = json.loads(next(Path("idx").glob("gen-*/manifest.json")).read_text(encoding="utf-8"))
    assert manifest["ef_search"] == HNSW_EF_SEARCH and manifest["index_type"] == "HNSW32"


def test_a_single_query_runs_on_one_thread() -> None:
    """One query must not wake an OpenMP team (on a busy box that costs 100s of ms)."""
    seen: list[int] = []

    class Recording:
        ntotal = 3
        d = 4

        def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            seen.append(faiss.omp_get_max_threads())
            return np.zeros((len(query), k), dtype=np.float32), np.zeros((len(query), k), dtype=np.int64)

    index = FaissIndex(Recording(), "Flat")  # type: ignore[arg-type]
    before = faiss.omp_get_max_threads()
    index.search(np.ones((1, 4), dtype=np.float32), 2)
    index.search(np.ones((5, 4), dtype=np.float32), 2)
    assert seen == [1, before]  # one thread for one query; a batch keeps the pool
    assert faiss.omp_get_max_threads() == before  # restored


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_opening_samples_big_files_and_qa_verify_reads_every_byte(
    articles: Path,
    fake_encoder: FakeEncoder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Files past the whole-file limit are fingerprinted by sampled blocks at open; `qa verify`
    (and verify_index) still compares every byte."""
    from qa import verify_index
    from qa.cli import main as cli
    from qa.storage import manifest as manifest_module

    monkeypatch.setattr(manifest_module, "WHOLE_FILE_LIMIT", 4096)  # our test files count as big
    monkeypatch.setattr(manifest_module, "SAMPLE_BLOCK", 512)
    monkeypatch.setattr(manifest_module, "SAMPLE_COUNT", 4)
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    generation = next(Path("idx").glob("gen-*"))
    sqlite = generation / "qa.sqlite"
    size = sqlite.stat().st_size
    assert size > 4 * 512 * 2  # there are unsampled gaps between the blocks
    entry = read_manifest(generation).files["qa.sqlite"]
    assert entry.fingerprint and entry.fingerprint.startswith("sampled:")
    assert verify_index("idx").generation == generation.name
    assert cli(["verify", "--index", "idx"]) == 0
    assert "every file matches its sha256" in capsys.readouterr().out

    gap = (size - 512) // 3 + 600  # inside the gap after the second sampled block
    flip_byte(sqlite, gap)
    QA.open("idx", encoder=fake_encoder).close()  # opening reads only the samples: not noticed
    with pytest.raises(IndexCorruptError, match=r"qa\.sqlite' does not match its checksum"):
        verify_index("idx")
    assert cli(["verify", "--index", "idx"]) == 1
    assert "does not match its checksum" in capsys.readouterr().err

    flip_byte(sqlite, gap)  # repair, then damage a sampled block: opening notices
    flip_byte(sqlite, 10)
    with pytest.raises(IndexCorruptError, match="does not match its checksum"):
        QA.open("idx", encoder=fake_encoder)


def test_vectors_stream_through_the_build_a_chunk_at_a_time(
    articles: Path, fake_encoder: FakeEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build holds one chunk of vectors, not the corpus's: tiny chunks give the same index."""
    import qa.build.vectors as build_module
    from qa.storage.store import Store

    build_index(articles, "whole", encoder=fake_encoder, show_progress=False)
    monkeypatch.setattr(build_module, "STREAM_CHUNK", 2)
    asked: list[int] = []
    real_vectors = Store.vectors

    def counting(self: Store, keys: Any) -> dict[str, np.ndarray]:
        wanted = list(keys)
        asked.append(len(wanted))
        return real_vectors(self, wanted)

    build_index(articles, "chunked", encoder=fake_encoder, show_progress=False)
    (articles / "news" / "extra.txt").write_text(
        "Extra story\n\nThe ferry now runs hourly.\n", encoding="utf-8"
    )
    monkeypatch.setattr(Store, "vectors", counting)
    report = build_index(articles, "chunked", encoder=fake_encoder, show_progress=False)
    assert report.embedded == 1  # the rest came from the previous generation, two passages at a time
    assert asked and max(asked) <= 2 * 12  # two passages' keys (a paragraph and its sentences)
    monkeypatch.setattr(Store, "vectors", real_vectors)
    (articles / "news" / "extra.txt").unlink()
    build_index(articles, "chunked", encoder=fake_encoder, show_progress=False)
    with QA.open("whole", encoder=fake_encoder) as whole, QA.open("chunked", encoder=fake_encoder) as chunked:
        for question in ("When did the harbour bridge reopen?", "What did Ukraine vow to do in Bakhmut?"):
            assert whole.ask(question).to_dict() == chunked.ask(question).to_dict()
        ids = whole._generation.store.searchable_passage_ids()
        np.testing.assert_array_equal(ids, chunked._generation.store.searchable_passage_ids())
        np.testing.assert_array_equal(
            whole._generation.vectors.vectors_for(ids), chunked._generation.vectors.vectors_for(ids)
        )


def test_reused_files_keep_their_own_flags_and_rule_3_is_worked_out_again(
    tmp_path: Path, fake_encoder: FakeEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild does not run the appeal patterns on unchanged files, yet flags what a fresh build would."""
    import qa.ingest.boilerplate as boilerplate

    folder = tmp_path / "site"
    folder.mkdir()
    footer = "Reporting by the regional desk; editing by the evening team."
    appeal = "Please support our journalism: become a member today from just $5 a month."
    for i in range(2):
        (folder / f"story{i}.txt").write_text(
            f"Story {i}\n\nThe ferry to island {i} now runs hourly in summer.\n\n{footer}\n\n{appeal}\n",
            encoding="utf-8",
        )
    build_index(folder, "idx", encoder=fake_encoder, show_progress=False)
    (folder / "story2.txt").write_text(
        f"Story 2\n\nThe tram line {2} reopens on Monday.\n\n{footer}\n\n{appeal}\n", encoding="utf-8"
    )
    calls: list[int] = []
    real = boilerplate.flag_article

    def counting(texts: Sequence[str]) -> list[str | None]:
        calls.append(len(texts))
        return real(texts)

    monkeypatch.setattr(boilerplate, "flag_article", counting)
    build_index(folder, "idx", encoder=fake_encoder, show_progress=False)
    assert len(calls) == 1  # only the new file's paragraphs went through rules 1-2
    build_index(folder, "fresh", encoder=fake_encoder, show_progress=False)
    with QA.open("idx", encoder=fake_encoder) as rebuilt, QA.open("fresh", encoder=fake_encoder) as fresh:
        for article_id in ("story0.txt", "story1.txt", "story2.txt"):
            flags = [(p.boilerplate, p.heading) for p in rebuilt.article(article_id).paragraphs]
            assert flags == [(p.boilerplate, p.heading) for p in fresh.article(article_id).paragraphs]
        footer_flag = rebuilt.article("story0.txt").paragraphs[1].boilerplate
        assert footer_flag == "repeated in 3 articles of this source"  # rule 3 saw the new file
        assert rebuilt.article("story0.txt").paragraphs[2].boilerplate == "appeal to readers"


def test_a_segment_keeps_one_record_per_paragraph_and_faiss_gets_its_vectors(
    articles: Path, fake_encoder: FakeEncoder
) -> None:
    import sqlite3

    from qa.storage.store import Store
    from qa.storage.vectors.codec import as_stored, decode_record, decode_vector, encode_record

    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    generation = next(Path("idx").glob("gen-*"))
    segment = Path("idx/segments") / f"{generation.name}.sqlite"
    with sqlite3.connect(segment) as connection:
        records = {
            bytes(d).hex(): bytes(r) for d, r in connection.execute("SELECT digest, record FROM paragraphs")
        }
    connection.close()
    dim = fake_encoder.dim
    with QA.open("idx", encoder=fake_encoder) as qa:
        store = qa._generation.store
        ids = store.searchable_passage_ids()
        rows = store.passages(ids.tolist())
        sentences = store.sentences(ids.tolist())
        assert set(records) == {row.text_hash for row in rows.values()}  # one record per distinct text
        for pid, row in rows.items():
            record = records[row.text_hash]
            spans, vectors = decode_record(record)
            # tag and count, a span and a scale per sentence, a scale and one byte per value each
            assert len(record) == 3 + 8 * len(spans) + 4 * (len(spans) + 1) + dim * (len(spans) + 1)
            assert [f"{row.text_hash}:{s}:{e}" for s, e in spans] == [s.vector_key for s in sentences[pid]]
            # FAISS holds exactly what the segment gives back
            np.testing.assert_array_equal(vectors[0], qa._generation.vectors.vectors_for(np.array([pid]))[0])
            for vector in vectors:  # int8 with a scale stays within 1e-2 of the unit vector
                assert vector.dtype == np.float32 and abs(float(np.linalg.norm(vector)) - 1) < 1e-2
    read = Store(generation / "qa.sqlite", [segment])
    try:
        some = next(iter(rows.values()))
        keys = [some.text_hash, *(s.vector_key for s in sentences[some.id])]
        assert set(read.vectors(keys)) >= set(keys)
        assert read.vectors(["not-a-hash", "0" * 64]) == {}
    finally:
        read.close()
    # Encoding what was decoded gives the same bytes (a compaction copies vectors bit for bit),
    # and a cosine moves by less than 2e-3.
    unit = np.random.default_rng(1).normal(size=(50, 384)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    stored = as_stored(unit)
    np.testing.assert_array_equal(as_stored(stored), stored)
    assert np.abs((stored * unit).sum(axis=1) - 1).max() < 2e-3
    spans = [(0, 4), (5, 9)]
    assert decode_record(encode_record(spans, unit[:3]))[0] == spans
    np.testing.assert_array_equal(decode_record(encode_record(spans, stored[:3]))[1], stored[:3])
    # 4-bit sentences (big indexes): the paragraph's vector stays int8, re-encoding is the identity
    decoded = decode_record(encode_record(spans, unit[:3], sentence_bits=4))[1]
    np.testing.assert_array_equal(decoded[0], stored[0])
    assert np.abs((decoded[1:] * unit[1:3]).sum(axis=1) - 1).max() < 0.05
    np.testing.assert_array_equal(decode_record(encode_record(spans, decoded, 4))[1], decoded)
    odd = decode_record(encode_record([(0, 1)], unit[:2, :383], 4))[1]  # an odd dimension pads a nibble
    assert odd.shape == (2, 383) and np.abs((odd * unit[:2, :383]).sum(axis=1) - 1).max() < 0.05
    assert decode_record(encode_record([], unit[:1], 4))[0] == []
    assert len(encode_record(spans, unit[:3], 4)) == 5 + 8 * 2 + 4 * 3 + 384 + 192 * 2
    with pytest.raises(ValueError):
        encode_record(spans, unit[:3], sentence_bits=2)
    assert not as_stored(np.zeros((2, 384), dtype=np.float32)).any()
    with pytest.raises(ValueError):
        encode_record(spans, unit[:2])
    # Rows of format-4 segments (plain float32; float16 behind tag 1; int8 behind tag 2) read back.
    legacy = np.arange(4, dtype="<f4")
    np.testing.assert_array_equal(decode_vector(legacy.tobytes()), legacy)
    np.testing.assert_array_equal(decode_vector(b"\x01" + legacy.astype("<f2").tobytes()), legacy)
    int8 = b"\x02" + np.float32(0.5).tobytes() + np.array([2, -4, 0, 6], dtype=np.int8).tobytes()
    np.testing.assert_array_equal(decode_vector(int8), [1.0, -2.0, 0.0, 3.0])


def test_the_vector_index_is_memory_mapped(articles: Path, fake_encoder: FakeEncoder) -> None:
    """Opening maps vectors.faiss instead of reading it into each process's own memory."""
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    with QA.open("idx", encoder=fake_encoder) as qa:
        mapped = Path("/proc/self/maps").read_text(encoding="utf-8")
        assert str((qa._generation.path / "vectors.faiss").resolve()) in mapped
        assert qa.ask("When did the harbour bridge reopen?").citations


def _files_read(articles: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the article files read from now on (the list fills as they are read)."""
    read: list[str] = []
    original = Path.read_bytes

    def spying(self: Path) -> bytes:
        if self.resolve().is_relative_to(articles.resolve()):
            read.append(self.name)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", spying)
    return read


def test_a_no_change_rebuild_reads_no_file_when_every_signature_matches(
    articles: Path, fake_encoder: FakeEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.ingest

    # Files this test wrote a moment ago count as settled (see test_a_file_changed_within...).
    monkeypatch.setattr(qa.ingest, "RACY_SECONDS", 0.0)
    (articles / "broken.txt").write_bytes(b"Title\n\n\x80\x81 not UTF-8")
    first = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert [s.path for s in first.skipped] == ["broken.txt"]

    read = _files_read(articles, monkeypatch)
    again = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert read == []  # neither articles nor the skipped file were read: stat alone
    assert again.up_to_date and again.generation == first.generation
    same = ("articles", "passages", "boilerplate", "skipped", "undated", "syndicated")
    assert [getattr(again, f) for f in same] == [getattr(first, f) for f in same]
    assert again.unchanged == first.articles and again.reused_files == 4

    # An edit changes the signature: that file (only) is read and the index rebuilt.
    (articles / "news" / "harbour.txt").write_text("Harbour closed\n\nThe harbour closed for winter.\n")
    edited = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert read == ["harbour.txt"] and edited.changed == 1 and not edited.up_to_date
    read.clear()
    assert build_index(articles, "idx", encoder=fake_encoder, show_progress=False).up_to_date
    assert read == []

    # A removed or added file is noticed without reading the others.
    (articles / "broken.txt").unlink()
    assert build_index(articles, "idx", encoder=fake_encoder, show_progress=False).removed == 0
    assert not build_index(articles, "idx", encoder=fake_encoder, show_progress=False).skipped


def test_a_file_changed_within_the_last_seconds_is_read_again(
    articles: Path, fake_encoder: FakeEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file edited in the same timestamp tick as the build could keep its size and mtime:
    its signature is not trusted until it has been still for a while (git's racy case)."""
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)  # files just written
    read = _files_read(articles, monkeypatch)
    assert build_index(articles, "idx", encoder=fake_encoder, show_progress=False).up_to_date
    assert len(read) == 4  # fresh files are read (and reused by content key)


def test_removing_a_file_read_with_problems_is_noticed_by_a_no_change_rebuild(
    articles: Path, fake_encoder: FakeEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file with one bad JSON line keeps its good articles but gets no trusted signature, so
    a rebuild after removing it must not be decided from signatures alone."""
    import qa.ingest

    monkeypatch.setattr(qa.ingest, "RACY_SECONDS", 0.0)
    (articles / "wire.jsonl").write_text(
        '{"title": "Ferry strike", "text": "Ferry crews walked out on Monday over pay."}\nnot json\n'
    )
    first = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert first.articles == 5
    (articles / "wire.jsonl").unlink()
    after = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    assert not after.up_to_date and after.removed == 1 and after.articles == 4


def test_graph_keeps_the_exact_top_10_at_its_recorded_depth() -> None:
    """The graph's build and search depths hold recall@10 >= 0.95 vs exact search on vectors
    shaped like text embeddings (384 numbers spanned by a few dozen directions, plus noise),
    added a chunk at a time as a build adds them; FAISS's own search depth (16) loses a tenth
    of the top 10 or more."""
    rng = np.random.default_rng(11)
    directions = rng.normal(size=(32, 384)).astype(np.float32)

    def sample(count: int) -> npt.NDArray[np.float32]:
        points = rng.normal(size=(count, 32)).astype(np.float32) @ directions
        points += 0.2 * np.sqrt(32) * rng.normal(size=points.shape).astype(np.float32)
        return points / np.linalg.norm(points, axis=1, keepdims=True)

    vectors, queries = sample(20_000), sample(200)
    ids = np.arange(len(vectors), dtype=np.int64)
    exact = FaissIndex.build(ids, vectors, "Flat").search(queries, 10)[1]

    def recall(index: FaissIndex) -> float:
        found = np.vstack([index.search(q[None, :], 10)[1] for q in queries])  # one at a time
        return (
            sum(len(set(f) & set(e)) for f, e in zip(found.tolist(), exact.tolist(), strict=True))
            / exact.size
        )

    graph = FaissIndex.build(ids[:0], vectors[:0], "HNSW48_SQ8", count=len(ids))
    for first in range(0, len(ids), 8192):
        graph.add(ids[first : first + 8192], vectors[first : first + 8192])
    assert graph.ef_search == HNSW_EF_SEARCH and recall(graph) >= 0.95
    assert recall(FaissIndex(graph._index, "HNSW48_SQ8", ef_search=16)) < 0.9
