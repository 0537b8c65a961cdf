"""The embedding step on Ray Data: ``map_batches`` over a pool of actors, each loading the model
once (on its GPU when the worker has one). The build's process sends passage texts and writes
the vectors that stream back; nothing else of the build moves."""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from qa.build.engines.base import ENCODE_CHUNK, EmbeddedBatch
from qa.build.engines.passages import Passage, encode_texts
from qa.errors import BadInputError, QAError
from qa.models.embed import Encoder, LazyDefaultEncoder, SentenceTransformerEncoder

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
CPUS_PER_ACTOR = 2  # torch threads per CPU actor: one actor per two cores, as the local engine uses


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise BadInputError(
            "--engine ray needs Ray, which is not installed. Install it with: pip install 'article-qa[ray]'"
        ) from None
    return ray


def _reason(err: BaseException) -> str:
    """What went wrong, in a line: the actor's own exception, not Ray's wrapper and advice."""
    seen = 0
    while isinstance(getattr(err, "cause", None), BaseException) and seen < 5:
        err, seen = err.cause, seen + 1  # type: ignore[attr-defined]
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0] if lines else 'no message'}"


def _check_reachable(address: str) -> None:
    """Fail in seconds on a cluster that does not answer (Ray itself retries for minutes)."""
    host_port = address.removeprefix("ray://").rstrip("/")
    if address == "auto" or ":" not in host_port:
        return  # Ray finds the cluster itself, or says the address is malformed
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except (OSError, ValueError) as err:
        raise BadInputError(
            f"Cannot start or reach the Ray cluster at {address}: {err}. Check --ray-address "
            "(the head's HOST:PORT, ray://HOST:10001, or auto), or leave it out for a local Ray."
        ) from None


def _same(encoder: Encoder) -> Encoder:
    return encoder


def portable_encoder(encoder: Encoder) -> Callable[[], Encoder]:
    """A picklable recipe that makes ``encoder`` again inside an actor.

    The packaged model and local model folders are loaded there, on the actor's GPU if it has
    one (so the model's weights never travel); any other encoder travels pickled.
    """
    if isinstance(encoder, LazyDefaultEncoder):
        return functools.partial(SentenceTransformerEncoder)
    if isinstance(encoder, SentenceTransformerEncoder):
        return functools.partial(SentenceTransformerEncoder, encoder.path, None, encoder.requested_device)
    return functools.partial(_same, encoder)


class EncodeActor:
    """One Ray actor: loads the model once, then encodes the batches it is given."""

    def __init__(self, recipe: Callable[[], Encoder]) -> None:
        self.encoder = recipe()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        texts = [str(t) for t in batch["text"]]
        spans = [
            [(int(s), int(e)) for s, e in np.asarray(row, dtype=np.int64).reshape(-1, 2)]
            for row in batch["spans"]
        ]
        started = time.perf_counter()
        vectors = encode_texts(self.encoder, texts, spans)
        seconds = time.perf_counter() - started
        out = np.empty(len(vectors), dtype=object)  # ragged: one row per sentence, plus the passage's
        out[:] = vectors
        # The batch's encode time, spread over its rows (rows may come back in other batches).
        share = np.full(len(vectors), seconds / max(len(vectors), 1))
        return {"row": np.asarray(batch["row"]), "vectors": out, "seconds": share}


class RayEngine:
    """Embeds on the Ray cluster at ``address`` (None: a local Ray started for this build)."""

    name = "ray"

    def __init__(self, encoder: Encoder, address: str | None = None, actors: int | None = None) -> None:
        if importlib.util.find_spec("ray") is None:
            _ray()  # says how to install it
        if address is not None:
            _check_reachable(address)  # before the build writes anything
        self.recipe = portable_encoder(encoder)
        self.address = address
        self.actors = actors
        self.dim = encoder.dim

    def embed(self, passages: Sequence[Passage]) -> Iterator[EmbeddedBatch]:
        if not passages:
            return
        ray = _ray()
        started_here = not ray.is_initialized()
        if started_here:
            self._connect(ray)
        try:
            yield from self._embed(ray, passages)
        except QAError:
            raise
        except Exception as err:  # a worker died, the model failed to load in an actor, ...
            raise QAError(
                f"Embedding on Ray failed: {_reason(err)}. "
                "Nothing was published; the live index is unchanged. Fix the cause (see the Ray "
                "logs) and build again, or build with --engine local."
            ) from None
        finally:
            if started_here:
                ray.shutdown()

    def _connect(self, ray: Any) -> None:
        if not logger.isEnabledFor(
            logging.DEBUG
        ):  # Ray's notices (token created, progress bars off...), unless -v
            for name in ("ray", "ray.data"):
                logging.getLogger(name).setLevel(logging.ERROR)
        try:
            if self.address is None:
                # A local Ray waits 30 s for its GCS server; a busy laptop can need longer.
                os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "180")
                ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            else:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
        except Exception as err:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
            raise BadInputError(
                f"Cannot start or reach {where}: {_reason(err)}. Check --ray-address (the head's "
                "HOST:PORT, ray://HOST:10001, or auto), or leave it out for a local Ray."
            ) from None

    def _plan(self, ray: Any) -> tuple[int, float, float]:
        """How many actors, and the CPUs and GPUs each takes: one per GPU, else one per two CPUs."""
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        cpus = float(resources.get("CPU", 1))
        if gpus:
            return self.actors or gpus, 1.0, 1.0
        per_actor = min(float(CPUS_PER_ACTOR), cpus)
        return self.actors or max(1, int(cpus // per_actor)), per_actor, 0.0

    def _embed(self, ray: Any, passages: Sequence[Passage]) -> Iterator[EmbeddedBatch]:
        actors, cpus, gpus = self._plan(ray)
        logger.info("Embedding %d passages on Ray with %d actor(s)", len(passages), actors)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the build shows its own bar
        context.print_on_execution_start = False
        context.raise_original_map_exception = True  # say what failed in the actor, not "a task failed"
        items = [
            {"row": i, "text": p.text, "spans": [offset for span in p.relative_sentences for offset in span]}
            for i, p in enumerate(passages)
        ]
        dataset = ray.data.from_items(items).map_batches(
            EncodeActor,
            fn_constructor_args=(self.recipe,),
            batch_size=ENCODE_CHUNK,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=cpus,
            num_gpus=gpus,
        )
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            vectors: dict[str, np.ndarray] = {}
            for row, stacked in zip(batch["row"], batch["vectors"], strict=True):
                passage = passages[int(row)]
                stacked = np.asarray(stacked, dtype=np.float32).reshape(-1, self.dim)
                vectors.update(zip(passage.vector_keys, stacked, strict=True))
            yield EmbeddedBatch(len(batch["row"]), vectors, float(np.sum(batch["seconds"])))
