"""A training stage can start from the shipped reader (runs are not kept between machines; the
package always is): the export read back is the model the query path runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa.models.reader import SETTINGS_FILE, WEIGHTS_FILE, WEIGHTS_FOLDER, base_model_folder, packaged_reader
from qa.models.reader_inputs import PairEncoder
from qa.text.spans import split_sentences

torch = pytest.importorskip("torch", reason="training needs article-qa[train]")
pytest.importorskip("transformers", reason="training needs article-qa[train]")

from train.reader import Reader, load_start  # noqa: E402


@pytest.mark.slow
def test_a_stage_started_from_the_export_reads_as_the_shipped_reader() -> None:
    start = load_start(WEIGHTS_FOLDER)
    model = Reader(base_model_folder())
    model.load_state_dict(start["model"], strict=True)  # every weight named, none left over
    model.eval()
    settings = json.loads((WEIGHTS_FOLDER / SETTINGS_FILE).read_text(encoding="utf-8"))
    question = "how far is chasiv yar from the front line"
    text = "Chasiv Yar lies 10 kilometers west of the front line. Soldiers there expect Bakhmut to fall."
    spans = split_sentences(text)
    pair = PairEncoder(base_model_folder() / "tokenizer.json", settings["max_tokens"]).encode(
        question, text, spans
    )
    with torch.no_grad():
        passage, _ = model(
            torch.tensor([pair.ids]),
            torch.tensor([pair.type_ids]),
            torch.ones(1, len(pair.ids), dtype=torch.long),
        )
    shipped = packaged_reader().read(question, [(text, spans)])[0]
    assert float(passage[0]) == pytest.approx(shipped.logit, abs=1e-3)


def test_a_stage_from_the_export_continues_its_question_order_and_stage_list() -> None:
    start = load_start(WEIGHTS_FOLDER)
    training = json.loads((WEIGHTS_FOLDER / SETTINGS_FILE).read_text(encoding="utf-8"))["training"]
    stages = training["stages"]
    # The next stage takes the questions after the last one seen, skipped ones included.
    assert start["cursor"] == training["questions_seen"] + training["questions_skipped_answer_cut_off"]
    assert start["cursor"] > stages[-2]["cursor"]
    assert (
        start["skipped"] + sum(s["skipped"] for s in stages[:-1])
        == training["questions_skipped_answer_cut_off"]
    )
    assert start["config"]["earlier_stages"] == stages[:-1]
    assert (start["run"], start["step"]) == (stages[-1]["run"], stages[-1]["steps"])
    assert start["config"]["seed"] == training["hyper_parameters"]["seed"]
    assert start["config"]["sources"] == ["squad-train", "new_wiki", "reddit", "amazon"]


def test_starting_from_a_folder_without_a_reader_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="holds no exported reader"):
        load_start(tmp_path)


def test_starting_from_damaged_weights_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "reader"
    shutil.copytree(WEIGHTS_FOLDER, folder)
    weights = folder / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(SystemExit, match="does not match the sha256"):
        load_start(folder)
