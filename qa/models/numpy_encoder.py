"""Question vectors without torch: the default model's forward pass in NumPy.

Answering a question needs one forward pass of a 6-layer model over a few dozen tokens, but
importing sentence-transformers (with torch and transformers) takes about 5 s before the first
one: most of the web chat's start-up and of every ``qa ask`` (docs/BENCHMARKS.md). This module
runs the same computation (the BERT encoder, mean pooling over the tokens, L2 normalisation) on
the model's own safetensors weights with NumPy, which the process has loaded anyway; the
tokenizer is the model's own ``tokenizer.json`` through ``tokenizers``.

It only takes models it reproduces exactly: ``modules.json`` lists Transformer, Pooling (mean of
the tokens only) and Normalize, ``config.json`` is a BERT with absolute positions and exact GELU,
the weights are in ``model.safetensors``, no default prompt is set, and ``tokenizer_config.json``
(which transformers rebuilds the normaliser from) agrees with ``tokenizer.json``. For anything else
:func:`load_query_encoder` returns None and the caller loads sentence-transformers. Vectors agree
with sentence-transformers' to about 1e-6 (tests/test_query_encoder.py). Indexes are still built
with sentence-transformers: this encoder has no sentence vectors and no long-text windows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.models.transformer import Array, BertForward

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

MODULES = (
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
)
BATCH_SIZE = 32


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _supported(folder: Path) -> str | None:
    """Why this encoder cannot reproduce the model in ``folder``, or None when it can."""
    try:
        return _difference(folder)
    except (OSError, ValueError, AttributeError, TypeError, KeyError, IndexError) as err:
        return f"its configuration cannot be read ({err})"


def _difference(folder: Path) -> str | None:
    """What sentence-transformers would do differently from this encoder (raises on odd files)."""
    modules = _read_json(folder / "modules.json")
    if tuple(m.get("type") for m in modules) != MODULES or modules[0].get("path", "") != "":
        return f"its modules are {[m.get('type') for m in modules]}"
    config = _read_json(folder / "config.json")
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        return "it is not a BERT with exact GELU"
    if config.get("position_embedding_type", "absolute") != "absolute":
        return "its positions are not absolute"
    if config.get("is_decoder") or config.get("add_cross_attention"):
        return "it is a decoder"
    pooling = _read_json(folder / modules[1]["path"] / "config.json")
    if "pooling_mode" in pooling:  # sentence-transformers 6 writes one mode by name
        mean_only = pooling["pooling_mode"] == "mean"
    else:
        others = [
            v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"
        ]
        mean_only = bool(pooling.get("pooling_mode_mean_tokens")) and not any(others)
    if not mean_only or pooling.get("include_prompt") is False:
        return "its pooling is not the mean of every token"
    st_config = _read_json(folder / "sentence_bert_config.json")
    if set(st_config) - {"max_seq_length", "do_lower_case"} or not isinstance(
        st_config.get("max_seq_length"), int
    ):
        return "its sentence_bert_config.json has settings this encoder does not apply"
    if st_config.get("do_lower_case"):
        return "it lowercases outside the tokenizer"
    prompts = folder / "config_sentence_transformers.json"
    if prompts.is_file() and _read_json(prompts).get("default_prompt_name"):
        return "it sets a default prompt"
    if not (folder / "model.safetensors").is_file() or not (folder / "tokenizer.json").is_file():
        return "it has no model.safetensors or tokenizer.json"
    return _tokenizer_difference(folder)


def _tokenizer_difference(folder: Path) -> str | None:
    """transformers rebuilds a BERT tokenizer's normaliser from tokenizer_config.json: it must agree."""
    normalizer = _read_json(folder / "tokenizer.json").get("normalizer") or {}
    if normalizer.get("type") != "BertNormalizer":
        return "its tokenizer does not normalise text as BERT does"
    settings = folder / "tokenizer_config.json"
    if not settings.is_file():
        return None
    tokenizer = _read_json(settings)
    agreed = (
        tokenizer.get("do_lower_case", normalizer.get("lowercase")) == normalizer.get("lowercase")
        and tokenizer.get("strip_accents") == normalizer.get("strip_accents")
        and tokenizer.get("tokenize_chinese_chars", True) == normalizer.get("handle_chinese_chars", True)
        and tokenizer.get("truncation_side", "right") == "right"
    )
    return None if agreed else "its tokenizer_config.json changes how text is tokenised"


class NumpyQueryEncoder:
    """The encoder part of a sentence-transformers BERT model, for questions, in NumPy."""

    def __init__(self, folder: Path, name: str, path: str | None) -> None:
        from safetensors.numpy import load_file
        from threadpoolctl import ThreadpoolController
        from tokenizers import Tokenizer

        # One BLAS thread: a question's products are tiny, and OpenBLAS's spinning helper
        # threads turned 7.5 ms into 320 ms when other work kept both cores busy.
        self._blas = ThreadpoolController()

        config = _read_json(folder / "config.json")
        self._name = name
        self.path = path
        self._max_tokens = int(_read_json(folder / "sentence_bert_config.json")["max_seq_length"])
        self._max_tokens = min(self._max_tokens, int(config.get("max_position_embeddings", 512)))
        prompts: dict[str, str] = {}
        if (folder / "config_sentence_transformers.json").is_file():
            prompts = _read_json(folder / "config_sentence_transformers.json").get("prompts") or {}
        self.query_prompt = str(prompts.get("query", ""))
        self.document_prompt = str(prompts.get("document", prompts.get("passage", "")))
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self._max_tokens)
        # float32 whatever the file holds: the products are float32, as torch's are.
        weights = {
            _short_name(k): v.astype(np.float32, copy=False)
            for k, v in load_file(str(folder / "model.safetensors")).items()
        }
        self._bert = BertForward(
            weights,
            heads=int(config["num_attention_heads"]),
            layers=int(config["num_hidden_layers"]),
            eps=float(config.get("layer_norm_eps", 1e-12)),
        )
        self._dim = self._bert.dim

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        return self._encode([self.document_prompt + t for t in texts])

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode([self.query_prompt + t for t in texts])

    def _encode(self, texts: list[str]) -> Vectors:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        # One at a time: encode_batch would start tokenizers' thread pool, which then warns
        # in (and is disabled for) any process this one forks.
        encodings = [self._tokenizer.encode(text) for text in texts]
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # little padding
        with self._blas.limit(limits=1, user_api="blas"):
            for start in range(0, len(order), BATCH_SIZE):
                batch = order[start : start + BATCH_SIZE]
                out[batch] = self._forward([encodings[i].ids for i in batch])
        return out

    def _forward(self, token_ids: list[list[int]]) -> Array:
        x, mask = self._bert.hidden(token_ids)
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _short_name(key: str) -> str:
    """Weight names without a wrapper's prefix (``bert.``), as BertModel itself names them."""
    return key.removeprefix("bert.")


def load_query_encoder(folder: Path, name: str, path: str | None) -> NumpyQueryEncoder | None:
    """The NumPy encoder for the model in ``folder``, or None when it cannot reproduce it."""
    reason = _supported(folder)
    if reason is not None:
        logger.info("Questions go through sentence-transformers for %s: %s", folder, reason)
        return None
    try:
        return NumpyQueryEncoder(folder, name, path)
    except Exception as err:  # damaged weights or tokenizer: sentence-transformers says what is wrong
        logger.info("Questions go through sentence-transformers for %s: %s", folder, err)
        return None
