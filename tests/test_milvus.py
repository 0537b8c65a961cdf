"""Vectors in Milvus: a real milvus-lite server on 127.0.0.1, started and stopped by the tests.

The Milvus backend must answer exactly as FAISS Flat does on the same corpus, survive
incremental rebuilds (one collection per generation, old ones dropped) and fail clearly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="needs the milvus extra: pip install 'article-qa[milvus]'")

from common import HOST, free_port, milvus_lite  # bench/common.py (on sys.path: tests/conftest.py)

from qa import QA, BadInputError, IndexCorruptError, build_index
from qa.storage.vectors.milvus_index import parse_vector_store
from tests.conftest import EXAMPLES, FakeEncoder

QUESTIONS = Path(__file__).resolve().parent.parent / "examples" / "questions" / "news.jsonl"


@pytest.fixture(scope="module")
def milvus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``milvus-lite server`` on a free loopback port; yields its milvus:// address."""
    with milvus_lite(tmp_path_factory.mktemp("milvus")) as address:
        yield address


def collections(uri: str) -> list[str]:
    from pymilvus import MilvusClient

    return sorted(MilvusClient(uri=parse_vector_store(uri).address).list_collections())


def questions(count: int = 30) -> list[str]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines[:count]]


def test_milvus_answers_exactly_as_faiss_flat(milvus: str, fake_encoder: FakeEncoder) -> None:
    store = f"{milvus}/same"
    build_index(EXAMPLES, "flat", encoder=fake_encoder, show_progress=False, index_type="Flat")
    build_index(EXAMPLES, "remote", encoder=fake_encoder, show_progress=False, vector_store=store)
    assert not list(Path("remote").glob("gen-*/vectors.faiss"))  # the vectors live in Milvus only
    with QA.open("flat", encoder=fake_encoder) as local, QA.open("remote", encoder=fake_encoder) as remote:
        assert remote.info().vector_store == store
        vectors = fake_encoder.encode(questions())
        local_scores, local_ids = local._generation.vectors.search(vectors, 10)
        remote_scores, remote_ids = remote._generation.vectors.search(vectors, 10)
        np.testing.assert_allclose(remote_scores, local_scores, atol=1e-5)
        for row in range(len(vectors)):  # ties may come in either order: compare by score band
            assert set(remote_ids[row]) == set(local_ids[row]) or np.allclose(
                sorted(remote_scores[row]), sorted(local_scores[row]), atol=1e-5
            )
        some = np.array(local_ids[0][:3])
        np.testing.assert_allclose(
            remote._generation.vectors.vectors_for(some),
            local._generation.vectors.vectors_for(some),
            atol=1e-6,
        )
        for question in questions(10):
            assert [h.passage_key for h in remote.search(question, 10)] == [
                h.passage_key for h in local.search(question, 10)
            ]


def test_stored_vectors_are_read_locally_not_from_milvus(
    milvus: str, fake_encoder: FakeEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One round trip per question: the search. Candidates' vectors come from the local segments."""
    from qa.storage.vectors.milvus_index import MilvusIndex

    build_index(EXAMPLES, "remote", encoder=fake_encoder, show_progress=False, vector_store=f"{milvus}/local")

    def no_round_trip(self: MilvusIndex, ids: np.ndarray) -> np.ndarray:
        raise AssertionError("vectors fetched from Milvus")

    monkeypatch.setattr(MilvusIndex, "vectors_for", no_round_trip)
    with QA.open("remote", encoder=fake_encoder) as remote:
        assert remote.ask("What did Ukraine vow to do in Bakhmut?").citations


def test_date_and_source_filters_run_inside_milvus(milvus: str, fake_encoder: FakeEncoder) -> None:
    """as_of, since/until and sources narrow the Milvus search as they narrow FAISS."""
    build_index(EXAMPLES, "flat", encoder=fake_encoder, show_progress=False, index_type="Flat")
    build_index(
        EXAMPLES, "remote", encoder=fake_encoder, show_progress=False, vector_store=f"{milvus}/scoped"
    )
    scopes: list[dict[str, object]] = [
        {"as_of": "2026-03-12"},
        {"since": "2026-03-01", "until": "2026-03-31"},
        {"sources": ["example-news.test"]},
        {"sources": ["wikipedia"], "as_of": "2026-01-01"},
    ]
    with QA.open("flat", encoder=fake_encoder) as local, QA.open("remote", encoder=fake_encoder) as remote:
        for scope in scopes:
            for question in (
                "Who won the mayoral race in Carrow Bay?",
                "How many people died in Storm Oriana?",
            ):
                here = [h.passage_key for h in local.search(question, 10, **scope)]  # type: ignore[arg-type]
                there = [h.passage_key for h in remote.search(question, 10, **scope)]  # type: ignore[arg-type]
                assert here == there, scope
        march = remote.search("Carrow Bay recount", 10, since="2026-03-01", until="2026-03-31")
        assert march and all(h.published and h.published.startswith("2026-03") for h in march)


def test_rebuilds_keep_milvus_and_drop_old_collections(
    milvus: str, articles: Path, fake_encoder: FakeEncoder
) -> None:
    store = f"{milvus}/rebuilt"
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False, vector_store=store)
    assert collections(milvus).count("rebuilt_gen_000001") == 1
    (articles / "news" / "harbour.txt").write_text(
        "Harbour bridge reopens\n\nThe harbour bridge reopened on Monday after three years.\n",
        encoding="utf-8",
    )
    report = build_index(articles, "idx", encoder=fake_encoder, show_progress=False)  # no option: kept
    assert report.generation == "gen-000002" and report.embedded == 1
    assert [c for c in collections(milvus) if c.startswith("rebuilt_")] == ["rebuilt_gen_000002"]
    assert build_index(articles, "idx", encoder=fake_encoder, show_progress=False).up_to_date
    with QA.open("idx", encoder=fake_encoder) as qa:
        assert "Monday" in qa.ask("When did the harbour bridge reopen?").citations[0].sentence
    # Back to FAISS on request: a new generation, and Milvus is left clean.
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False, vector_store="faiss")
    assert not [c for c in collections(milvus) if c.startswith("rebuilt_")]
    with QA.open("idx", encoder=fake_encoder) as qa:
        assert qa.info().vector_store is None


def test_a_missing_collection_is_reported_on_open(
    milvus: str, articles: Path, fake_encoder: FakeEncoder
) -> None:
    from pymilvus import MilvusClient

    store = f"{milvus}/gone"
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False, vector_store=store)
    MilvusClient(uri=parse_vector_store(store).address).drop_collection("gone_gen_000001")
    with pytest.raises(IndexCorruptError, match=r"no collection 'gone_gen_000001'.*--force"):
        QA.open("idx", encoder=fake_encoder)


def test_unreachable_or_malformed_stores_fail_before_publishing(
    articles: Path, fake_encoder: FakeEncoder
) -> None:
    with pytest.raises(BadInputError, match="is not a Milvus address"):
        build_index(articles, "idx", encoder=fake_encoder, show_progress=False, vector_store="http://x:1")
    closed = f"milvus://{HOST}:{free_port()}/nobody"
    with pytest.raises(BadInputError, match="Cannot reach Milvus"):
        build_index(articles, "idx", encoder=fake_encoder, show_progress=False, vector_store=closed)
    assert not (Path("idx") / "CURRENT").exists()  # nothing half-built was published


def test_qa_info_names_the_store(milvus: str, articles: Path, fake_encoder: FakeEncoder) -> None:
    store = f"{milvus}/shown"
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False, vector_store=store)
    env = {**os.environ, "QA_INDEX": "idx"}
    shown = subprocess.run(
        [sys.executable, "-m", "qa", "info"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert f"vectors     in Milvus: {store}" in shown.stdout
