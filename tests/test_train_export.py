"""A training stage can start from the shipped reader (runs are not kept between machines; the
package always is): the export read back is the model the query path runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from qa.models.reader import SETTINGS_FILE, WEIGHTS_FILE, WEIGHTS_FOLDER, base_model_folder, packaged_reader
from qa.models.reader_inputs import PairEncoder
from qa.text.spans import split_sentences
from tests.conftest import ROOT

torch = pytest.importorskip("torch", reason="training needs article-qa[train]")
pytest.importorskip("transformers", reason="training needs article-qa[train]")

from train.export import export  # noqa: E402
from train.reader import DEFAULTS, Reader, load_start, next_stage  # noqa: E402


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
    # Independently of the totals: what the last stage read is its steps' batches and its skips.
    batch = training["hyper_parameters"]["batch_questions"]
    assert start["cursor"] - stages[-2]["cursor"] - start["skipped"] == start["step"] * batch
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


@pytest.mark.slow
def test_a_stage_from_the_export_exports_again_with_its_totals_carried_on(tmp_path: Path) -> None:
    """Export -> a new stage -> export: the card counts every stage once, and the weights that
    went in unchanged come out unchanged."""
    start = load_start(WEIGHTS_FOLDER)
    before = json.loads((WEIGHTS_FOLDER / SETTINGS_FILE).read_text(encoding="utf-8"))["training"]
    # What train() would save after 10 steps of 4 questions and 3 questions skipped.
    run = _stage_from_the_export(
        tmp_path / "reader-next", start, {"lr": 3e-5, "reword": 0.6}, step=10, cursor=43, skipped=3
    )
    # A calibration left from other weights that happen to share the coming version's step count.
    (tmp_path / "export").mkdir()
    stale = {"reader_version": f"1.{before['steps'] + 10}", "reader_weights_sha256": "0" * 64}
    (tmp_path / "export" / "calibration.json").write_text(json.dumps(stale), encoding="utf-8")
    export(run, tmp_path / "export", ROOT.parent / "shared")
    assert not (tmp_path / "export" / "calibration.json").exists()  # removed: it would mislead
    after = json.loads((tmp_path / "export" / SETTINGS_FILE).read_text(encoding="utf-8"))
    training = after["training"]
    assert after["version"] == f"1.{before['steps'] + 10}"
    assert training["steps"] == before["steps"] + 10
    assert training["questions_seen"] == before["questions_seen"] + 40
    assert training["questions_skipped_answer_cut_off"] == before["questions_skipped_answer_cut_off"] + 3
    assert training["wall_time_s"] == before["wall_time_s"] + 120
    assert [s["run"] for s in training["stages"]] == [*(s["run"] for s in before["stages"]), "reader-next"]
    assert training["stages"][-1]["reword"] == 0.6
    again = load_start(tmp_path / "export")
    assert again["cursor"] == start["cursor"] + 43 and again["skipped"] == 3 and again["step"] == 10
    assert again["model"].keys() == start["model"].keys()
    assert all(torch.equal(again["model"][k], start["model"][k]) for k in start["model"])


def test_starting_from_a_reader_of_other_word_embeddings_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "reader"
    shutil.copytree(WEIGHTS_FOLDER, folder)
    settings = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
    settings["word_embeddings_sha256_every_97th_row"] = "0" * 64
    (folder / SETTINGS_FILE).write_text(json.dumps(settings), encoding="utf-8")
    with pytest.raises(SystemExit, match="other word embeddings"):
        load_start(folder)


@pytest.mark.parametrize("titles", [True, False])
def test_an_export_says_whether_its_reader_reads_titles(tmp_path: Path, titles: bool) -> None:
    from qa.models.reader import PassageReader

    start = load_start(WEIGHTS_FOLDER)
    run = _stage_from_the_export(tmp_path / "reader-titles", start, {"titles": titles}, step=1, cursor=4)
    export(run, tmp_path / "export", ROOT.parent / "shared")
    settings = json.loads((tmp_path / "export" / SETTINGS_FILE).read_text(encoding="utf-8"))
    assert settings["reads_titles"] is titles
    card = (tmp_path / "export" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert ("[SEP] title. passage [SEP]" in card) is titles
    assert PassageReader(tmp_path / "export").reads_titles is titles


def _stage_from_the_export(
    run: Path, start: dict[str, Any], options: dict[str, Any], step: int, cursor: int, skipped: int = 0
) -> Path:
    """A run's checkpoint as train() saves it after ``step`` steps of a stage continuing the
    shipped weights unchanged, ``cursor`` questions on (``skipped`` of them skipped)."""
    run.mkdir()
    checkpoint = {
        "model": start["model"],
        "config": next_stage({**DEFAULTS, **options}, start, "unused"),
        "step": step,
        "cursor": start["cursor"] + cursor,
        "elapsed": 120.4,
        "skipped": skipped,
        "machine": "test",
    }
    torch.save(checkpoint, run / "checkpoint.pt")
    return run
