"""The packaged model, loaded for real: long paragraphs are embedded as windows, not cut off."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from qa import QA, BadInputError, build_index, index_info
from qa.models.embed import SentenceTransformerEncoder, default_encoder
from qa.storage.manifest import read_manifest
from qa.text.spans import split_sentences

pytestmark = pytest.mark.slow

SHORT = "The harbour bridge reopened on Friday. Repairs cost 40 million euros."
FILLER = (
    "The committee reviewed the budget line by line and asked the ministry for further detail on "
    "spending in every region of the country. "
)
TAIL = "In the end the mayor of Ostrava announced that the tram line would open in June."


@pytest.fixture(scope="module")
def encoder() -> SentenceTransformerEncoder:
    return default_encoder()


def test_a_text_that_fits_gets_exactly_the_model_vector(encoder: SentenceTransformerEncoder) -> None:
    spans = split_sentences(SHORT)
    vectors, sentence_vectors = encoder.encode_with_spans([SHORT], [spans])
    assert np.allclose(vectors[0], encoder.encode([SHORT])[0], atol=1e-5)
    assert sentence_vectors[0].shape == (2, encoder.dim)
    assert np.allclose(np.linalg.norm(sentence_vectors[0], axis=1), 1.0, atol=1e-5)


def test_a_long_paragraph_is_embedded_in_windows_that_each_fit(encoder: SentenceTransformerEncoder) -> None:
    text = FILLER * 14 + TAIL  # ~450 tokens: past MiniLM's 256
    spans = split_sentences(text)
    windows = encoder._windows(text, spans)
    assert len(windows) >= 2
    assert windows[0][0] == 0 and windows[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))  # contiguous
    for start, end in windows:
        tokens = encoder._model.tokenizer(text[start:end], add_special_tokens=False, verbose=False)[
            "input_ids"
        ]
        assert len(tokens) <= encoder._model.max_seq_length - 2
    vectors, sentence_vectors = encoder.encode_with_spans([text], [spans])
    truncated = encoder.encode([text])[0]
    query = encoder.encode_queries(["When will the Ostrava tram line open?"])[0]
    # The last sentence, past the window a truncating encoder sees, now counts in the vector.
    assert float(vectors[0] @ query) > float(truncated @ query)
    tail_vector = sentence_vectors[0][-1]
    assert float(tail_vector @ query) > 0.5
    assert float(tail_vector @ query) == pytest.approx(float(np.max(sentence_vectors[0] @ query)))


def test_an_index_built_with_a_local_model_folder_reopens_with_it(
    encoder: SentenceTransformerEncoder, tmp_path: Path
) -> None:
    folder = tmp_path / "my-minilm"
    encoder._model.save(str(folder))  # any sentence-transformers folder on disk
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "bridge.txt").write_text(
        f"Bridge reopens\n\n{SHORT}\n\nThe mayor cut the ribbon.\n", encoding="utf-8"
    )
    report = build_index(articles, tmp_path / "idx", model=folder, abstain_below=0.5, show_progress=False)
    assert report.embedded == 2
    manifest = read_manifest(tmp_path / "idx" / report.generation)
    assert (manifest.model.name, manifest.model.path, manifest.model.abstain_below) == (
        "my-minilm",
        str(folder.resolve()),
        0.5,
    )
    with QA.open(tmp_path / "idx") as qa:  # loads the recorded model, not the packaged one
        assert qa.encoder.name == "my-minilm" and qa.abstain_below == 0.5
        assert (
            qa.ask("How much did the repairs cost?").citations[0].sentence == "Repairs cost 40 million euros."
        )
    assert index_info(tmp_path / "idx").model_path == str(folder.resolve())


def test_the_device_follows_torch_and_a_missing_gpu_is_one_clear_error(
    articles: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from qa.cli import main as cli
    from qa.models.embed import resolve_device

    assert resolve_device("cpu") == "cpu"
    assert resolve_device(None) == resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert default_encoder().device == resolve_device("auto")
    with pytest.raises(BadInputError, match="Unknown device 'tpu'"):
        resolve_device("tpu")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the no-GPU error cannot be shown here")
    assert cli(["build", str(articles), "--index", "idx", "--device", "cuda", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "torch sees no CUDA GPU" in err and "--device cpu" in err and "Traceback" not in err
    assert not Path("idx", "CURRENT").exists()
    assert cli(["build", str(articles), "--index", "idx", "--device", "cpu", "--quiet"]) == 0
    assert (
        read_manifest(Path("idx") / Path("idx", "CURRENT").read_text().strip()).model.name
        == "all-MiniLM-L6-v2"
    )
