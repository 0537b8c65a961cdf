"""Vectors in Milvus (``qa build --vector-store milvus://HOST:PORT[/COLLECTION]``).

Implements :class:`qa.search.protocols.VectorIndex` with ``pymilvus.MilvusClient``: an exact
(FLAT) inner-product index over the passages' unit vectors, passage ids as primary keys and the
passage key and article id stored beside each vector. Each generation writes its own collection,
``<COLLECTION>_<generation>``, so a build never touches the collection the live generation
serves, and publishing stays the atomic switch of ``CURRENT``; collections of generations that
are gone are dropped after a publish. ``pymilvus`` is an optional extra: ``article-qa[milvus]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.errors import BadInputError, IndexCorruptError
from qa.models.embed import Vectors

logger = logging.getLogger(__name__)

DEFAULT_COLLECTION = "article_qa"
INSERT_BATCH = 1_000
_URI = re.compile(
    r"milvus://(?P<host>[A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})(?:/(?P<name>[A-Za-z_][A-Za-z0-9_]{0,200}))?/?"
)
_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class MilvusLocation:
    """Where a generation's vectors live: a Milvus server and a collection name prefix."""

    host: str
    port: int
    base: str

    @property
    def uri(self) -> str:
        return f"milvus://{self.host}:{self.port}/{self.base}"

    @property
    def address(self) -> str:
        return f"http://{self.host}:{self.port}"

    def collection(self, generation: str) -> str:
        return f"{self.base}_{generation.replace('-', '_')}"


def parse_vector_store(uri: str) -> MilvusLocation:
    """``milvus://HOST:PORT[/COLLECTION]`` -> a location; anything else is a BadInputError."""
    match = _URI.fullmatch(uri.strip()) if isinstance(uri, str) else None
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise BadInputError(
            f"--vector-store {uri!r} is not a Milvus address. Use milvus://HOST:PORT or "
            "milvus://HOST:PORT/COLLECTION (letters, digits and _), e.g. milvus://127.0.0.1:19530/news."
        )
    return MilvusLocation(match["host"], int(match["port"]), match["name"] or DEFAULT_COLLECTION)


def _client(location: MilvusLocation) -> Any:
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise BadInputError(
            "Milvus support is not installed. Install it with: pip install 'article-qa[milvus]'"
        ) from None
    try:
        return MilvusClient(uri=location.address, timeout=_TIMEOUT_S)
    except Exception as err:  # pymilvus raises its own MilvusException or grpc errors
        raise BadInputError(
            f"Cannot reach Milvus at {location.address} ({_first_line(err)}). Start it, or check "
            "the address given to --vector-store."
        ) from None


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]


class MilvusIndex:
    """One generation's collection in Milvus."""

    def __init__(self, client: Any, collection: str, dim: int, count: int) -> None:
        self._client = client
        self.collection = collection
        self._dim = dim
        self._count = count

    @classmethod
    def build(
        cls,
        location: MilvusLocation,
        generation: str,
        ids: npt.NDArray[np.int64],
        vectors: Vectors,
        keys: Sequence[str],
        article_ids: Sequence[str],
    ) -> MilvusIndex:
        """Write a new collection for ``generation`` (replacing a crashed build's leftover)."""
        client = _client(location)  # first: says how to install pymilvus when it is missing
        from pymilvus import DataType, MilvusClient

        name = location.collection(generation)
        dim = int(vectors.shape[1])
        try:
            if client.has_collection(name):
                client.drop_collection(name)
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            schema.add_field("passage_key", DataType.VARCHAR, max_length=512)
            schema.add_field("article_id", DataType.VARCHAR, max_length=4096)
            index_params = client.prepare_index_params()
            index_params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
            client.create_collection(name, schema=schema, index_params=index_params)
            for start in range(0, len(ids), INSERT_BATCH):
                stop = start + INSERT_BATCH
                client.insert(
                    name,
                    [
                        {"id": int(i), "vector": v.tolist(), "passage_key": k, "article_id": a}
                        for i, v, k, a in zip(
                            ids[start:stop],
                            vectors[start:stop],
                            keys[start:stop],
                            article_ids[start:stop],
                            strict=True,
                        )
                    ],
                )
            client.flush(name)
            client.load_collection(name)
        except BadInputError:
            raise
        except Exception as err:
            raise BadInputError(
                f"Writing the vectors to Milvus at {location.address} failed ({_first_line(err)}). "
                "Check the server, then build again: the live index is unchanged."
            ) from None
        logger.info("Wrote %d vectors to Milvus collection %s", len(ids), name)
        return cls(client, name, dim, len(ids))

    @classmethod
    def connect(cls, location: MilvusLocation, generation: str, dim: int, count: int) -> MilvusIndex:
        """Open the collection a published generation wrote; checks that it is all there."""
        client = _client(location)
        name = location.collection(generation)
        try:
            if not client.has_collection(name):
                raise IndexCorruptError(
                    f"Milvus at {location.address} has no collection {name!r} for index generation "
                    f"{generation}. Rebuild with: qa build ARTICLES --vector-store {location.uri} --force"
                )
            client.load_collection(name)
            stored = int(client.get_collection_stats(name).get("row_count", -1))
        except IndexCorruptError:
            raise
        except Exception as err:
            raise BadInputError(
                f"Cannot open Milvus collection {name!r} at {location.address} ({_first_line(err)})."
            ) from None
        if stored != count:
            raise IndexCorruptError(
                f"Milvus collection {name!r} holds {stored} vectors; the index has {count} passages. "
                f"Rebuild with: qa build ARTICLES --vector-store {location.uri} --force"
            )
        return cls(client, name, dim, count)

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return self._count

    def search(
        self, query: Vectors, k: int, allowed: npt.NDArray[np.int64] | None = None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Top ``k`` (scores, passage ids) per query row; missing slots have id -1. ``allowed``
        becomes a Milvus filter on the id field."""
        k = max(1, min(k, max(self._count, 1)))
        scores = np.zeros((len(query), k), dtype=np.float32)
        ids = np.full((len(query), k), -1, dtype=np.int64)
        if self._count == 0 or (allowed is not None and len(allowed) == 0):
            return scores, ids
        try:
            found = self._client.search(
                self.collection,
                data=[row.tolist() for row in np.asarray(query, dtype=np.float32)],
                limit=k,
                search_params={"metric_type": "IP"},
                filter="" if allowed is None else f"id in {[int(i) for i in allowed]}",
            )
        except Exception as err:
            raise IndexCorruptError(
                f"Milvus search in {self.collection!r} failed ({_first_line(err)})."
            ) from None
        for row, hits in enumerate(found):
            for col, hit in enumerate(hits[:k]):
                ids[row, col] = int(hit["id"])
                scores[row, col] = float(hit["distance"])
        return scores, ids

    def vectors_for(self, ids: npt.NDArray[np.int64]) -> Vectors:
        out = np.zeros((len(ids), self._dim), dtype=np.float32)
        if not len(ids):
            return out
        rows = self._client.get(self.collection, ids=[int(i) for i in ids], output_fields=["vector"])
        by_id = {int(r["id"]): r["vector"] for r in rows}
        for row, passage_id in enumerate(ids):
            if int(passage_id) in by_id:
                out[row] = np.asarray(by_id[int(passage_id)], dtype=np.float32)
        return out


def drop_stale_collections(location: MilvusLocation, keep: set[str]) -> int:
    """Drop this index's collections whose generation is not in ``keep``; returns how many."""
    client = _client(location)
    wanted = {location.collection(g) for g in keep}
    prefix = f"{location.base}_gen_"
    dropped = 0
    for name in client.list_collections():
        if name.startswith(prefix) and name not in wanted:
            logger.info("Dropping Milvus collection %s of a removed generation", name)
            client.drop_collection(name)
            dropped += 1
    return dropped
