"""Train the reader: a cross-encoder that reads a question with a passage.

    python train/reader.py --run train/runs/reader --minutes 110      # train (resumes if it can)
    python train/reader.py --run train/runs/reader --export qa/models/reader

The model starts from the all-MiniLM-L6-v2 weights the embedding package ships (Apache-2.0) and
adds two heads: one logit for "this passage answers the question" (from the [CLS] token) and one
per token, averaged over each sentence, for "this sentence holds the answer". One pass over a
(question, passage) pair gives both. The word embeddings stay frozen, so the shipped file leaves
them out and the query path takes them from the embedding package.

Loss per question: softmax over its passage and its negatives (ranking), a sigmoid per passage
(an absolute answer probability, for abstention), and a softmax over the positive's sentences.
Checkpoints (model, optimiser, schedule, step) go into --run every few minutes; a run that is
started again continues where the last one stopped, with the same examples in the same order.
Never train on SQuAD dev (../shared/evaldata): it is the validation set.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from qa.models.reader import base_model_folder  # noqa: E402
from qa.models.reader_inputs import PairEncoder  # noqa: E402
from qa.text.terms import question_stopwords  # noqa: E402
from train.corpus import load_corpus  # noqa: E402
from train.export import STAGE_OPTIONS, earlier_stages, load_export, stage_options  # noqa: E402
from train.reader_data import Example, ExampleMaker, Miner, mining_vectors  # noqa: E402
from train.rewrites import Rewording  # noqa: E402

logger = logging.getLogger("train.reader")
# The question and paragraph vectors for --fused-negatives, shared by every run (git-ignored).
MINING_CACHE = ROOT / "train" / "runs" / "cache"

DEFAULTS: dict[str, Any] = {
    "sources": ["squad-train", "new_wiki", "reddit", "amazon"],
    "negatives": 3,
    "batch_questions": 4,
    "max_tokens": 192,
    "lr": 4e-5,
    "warmup": 150,
    "total_steps": 3000,
    "seed": 13,
    "bf16": True,
    "weight_pointwise": 0.5,
    "weight_sentence": 1.0,
    **STAGE_OPTIONS,  # the example options, off
}


class Reader(nn.Module):
    def __init__(self, folder: Path) -> None:
        super().__init__()
        from transformers import BertModel

        self.bert = BertModel.from_pretrained(str(folder), add_pooling_layer=False)
        self.bert.embeddings.word_embeddings.weight.requires_grad = False
        hidden = self.bert.config.hidden_size
        self.passage_head = nn.Linear(hidden, 1)
        self.token_head = nn.Linear(hidden, 1)

    def forward(
        self, ids: torch.Tensor, type_ids: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.bert(input_ids=ids, token_type_ids=type_ids, attention_mask=mask).last_hidden_state
        return self.passage_head(hidden[:, 0]).squeeze(-1), self.token_head(hidden).squeeze(-1)


def collate(examples: list[Example]) -> dict[str, torch.Tensor]:
    sequences = [s for e in examples for s in e.sequences]
    length = max(len(s.ids) for s in sequences)
    ids = torch.zeros((len(sequences), length), dtype=torch.long)
    type_ids = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    owners = torch.full_like(ids, -1)
    for row, s in enumerate(sequences):
        n = len(s.ids)
        ids[row, :n] = torch.tensor(s.ids)
        type_ids[row, :n] = torch.tensor(s.type_ids)
        mask[row, :n] = 1
        owners[row, :n] = torch.tensor(s.sentence_of_token)
    gold = torch.tensor([e.gold_sentence for e in examples])
    return {"ids": ids, "type_ids": type_ids, "mask": mask, "owners": owners, "gold": gold}


def sentence_logits(token_logits: torch.Tensor, owners: torch.Tensor) -> torch.Tensor:
    """(rows, sentences) mean token logit per sentence; -inf where a sentence has no token."""
    count = int(owners.max().item()) + 1
    one_hot = (
        owners.unsqueeze(-1) == torch.arange(count, device=owners.device)
    ).float()  # rows, tokens, sentences
    sums = torch.einsum("rt,rts->rs", token_logits, one_hot)
    sizes = one_hot.sum(dim=1)
    means = sums / sizes.clamp(min=1)
    return means.masked_fill(sizes == 0, float("-inf"))


def losses(
    model: Reader, batch: dict[str, torch.Tensor], group: int, config: dict[str, Any]
) -> dict[str, torch.Tensor]:
    passage, tokens = model(batch["ids"], batch["type_ids"], batch["mask"])
    passage, tokens = passage.float(), tokens.float()
    grouped = passage.view(-1, group)
    target = torch.zeros(grouped.shape[0], dtype=torch.long, device=grouped.device)
    ranking = nn.functional.cross_entropy(grouped, target)
    labels = torch.zeros_like(grouped)
    labels[:, 0] = 1.0
    pointwise = nn.functional.binary_cross_entropy_with_logits(grouped, labels)
    positives = torch.arange(0, passage.shape[0], group, device=passage.device)
    sentences = sentence_logits(tokens[positives], batch["owners"][positives])
    sentence = nn.functional.cross_entropy(sentences, batch["gold"])
    total = ranking + config["weight_pointwise"] * pointwise + config["weight_sentence"] * sentence
    return {"total": total, "ranking": ranking, "pointwise": pointwise, "sentence": sentence}


def schedule(step: int, config: dict[str, Any]) -> float:
    if step < config["warmup"]:
        return (step + 1) / config["warmup"]
    span = max(config["total_steps"] - config["warmup"], 1)
    return max(0.0, 1.0 - (step - config["warmup"]) / span)


def save_checkpoint(run: Path, state: dict[str, Any]) -> None:
    partial = run / "checkpoint.pt.partial"
    torch.save(state, partial)
    os.replace(partial, run / "checkpoint.pt")


def load_start(init_from: Path) -> dict[str, Any]:
    """A run's checkpoint, or an exported reader's weights (qa/models/reader_weights) when that
    is what ``--init-from`` names."""
    if (init_from / "checkpoint.pt").is_file():
        return dict(torch.load(init_from / "checkpoint.pt", weights_only=False, map_location="cpu"))
    return load_export(init_from)


def next_stage(config: dict[str, Any], start: dict[str, Any], name: str) -> dict[str, Any]:
    """``config`` for a stage that continues ``start`` (a run named ``name`` unless ``start``
    names itself): its seed, so the same question order, and its stage list, ``start`` last."""
    return {
        **config,
        "seed": start["config"]["seed"],
        "earlier_stages": [
            *earlier_stages(start["config"]),
            {
                "run": start.get("run", name),
                "steps": start["step"],
                "cursor": start["cursor"],
                "elapsed": round(start["elapsed"]),
                "skipped": start.get("skipped", 0),
                **stage_options(start["config"]),
                "lr": start["config"]["lr"],
            },
        ],
    }


def train(
    run: Path,
    minutes: float,
    config: dict[str, Any],
    shared: Path,
    threads: int,
    init_from: Path | None = None,
) -> None:
    torch.set_num_threads(threads)
    run.mkdir(parents=True, exist_ok=True)
    checkpoint = run / "checkpoint.pt"
    state: dict[str, Any] | None = None
    start: dict[str, Any] | None = None
    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False, map_location="cpu")
        config = state["config"]
        logger.info("Resuming %s at step %d", run, state["step"])
    elif init_from is not None:
        # A second stage: the earlier run's weights, a fresh optimiser and schedule, and the
        # questions after the ones it saw (same seed, so the same order).
        start = load_start(init_from)
        config = next_stage(config, start, init_from.name)
        logger.info("Starting from %s at its step %d", init_from, start["step"])
    torch.manual_seed(config["seed"])
    folder = base_model_folder()
    device = "cuda" if torch.cuda.is_available() else "cpu"  # a GPU when there is one
    model = Reader(folder).to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=config["lr"], weight_decay=0.01)
    step, elapsed, skipped = 0, 0.0, 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        step, elapsed, skipped = state["step"], state["elapsed"], state.get("skipped", 0)
        torch.set_rng_state(state["torch_rng"])  # dropout's draws on the CPU (a GPU's are not kept)
    elif start is not None:
        model.load_state_dict(start["model"])
    corpus = load_corpus(shared / "traindata", config["sources"])
    logger.info("%d paragraphs, %d questions", len(corpus.paragraphs), len(corpus.questions))
    encoder = PairEncoder(folder / "tokenizer.json", config["max_tokens"])
    vectors = None
    if config.get("fused_negatives"):
        from qa.models.embed import default_encoder

        vectors = mining_vectors(corpus, default_encoder(), MINING_CACHE)
    maker = ExampleMaker(
        corpus,
        Miner(corpus, vectors),
        encoder,
        config["negatives"],
        config["seed"],
        config.get("near_miss", 0.0),
        config.get("span_miss", 0.0),
        config.get("name_swap", 0.0),
        config.get("short_passages", 0.0),
        config.get("reword", 0.0),
        Rewording(folder, question_stopwords()) if config.get("reword") else None,
        config.get("fused_negatives", 0.0),
        config.get("contrast_swap", 0.0),
        config.get("vague_miss", 0.0),
        config.get("titles", False),
    )
    order = maker.order()
    stages = earlier_stages(config)
    cursor = state["cursor"] if state is not None else (stages[-1]["cursor"] if stages else 0)
    group = config["negatives"] + 1
    started = time.monotonic()
    last_save = started
    model.train()
    window: list[dict[str, float]] = []
    while step < config["total_steps"] and (time.monotonic() - started) < minutes * 60:
        examples: list[Example] = []
        while len(examples) < config["batch_questions"]:
            made = maker.example(order[cursor % len(order)])
            cursor += 1
            if made is None:
                skipped += 1
                continue
            examples.append(made)
        batch = {k: v.to(device) for k, v in collate(examples).items()}
        for g in optimiser.param_groups:
            g["lr"] = config["lr"] * schedule(step, config)
        # bfloat16 products (AVX-512 BF16 / AMX where the CPU has them; GPUs too): ~1.4x faster here.
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=config["bf16"]):
            parts = losses(model, batch, group, config)
        optimiser.zero_grad()
        parts["total"].backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimiser.step()
        step += 1
        window.append({k: float(v.item()) for k, v in parts.items()})
        if step % 25 == 0:
            now = time.monotonic()
            mean = {k: round(float(np.mean([w[k] for w in window])), 4) for k in window[0]}
            record = {"step": step, "cursor": cursor, "elapsed": round(elapsed + now - started, 1), **mean}
            with open(run / "log.jsonl", "a", encoding="utf-8") as log:
                log.write(json.dumps(record) + "\n")
            logger.info("%s", record)
            window = []
            if now - last_save > 600:
                _save(run, model, optimiser, config, step, elapsed + now - started, cursor, skipped)
                last_save = now
    _save(run, model, optimiser, config, step, elapsed + time.monotonic() - started, cursor, skipped)
    logger.info("Stopped at step %d of %d", step, config["total_steps"])


def _save(
    run: Path,
    model: Reader,
    optimiser: torch.optim.Optimizer,
    config: dict[str, Any],
    step: int,
    elapsed: float,
    cursor: int,
    skipped: int,
) -> None:
    save_checkpoint(
        run,
        {
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "config": config,
            "step": step,
            "elapsed": elapsed,
            "cursor": cursor,
            "skipped": skipped,
            "torch_rng": torch.get_rng_state(),
            "machine": machine(),
        },
    )
    logger.info("Checkpoint at step %d", step)


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", type=Path, default=ROOT / "train" / "runs" / "reader")
    parser.add_argument(
        "--minutes", type=float, default=110.0, help="stop (with a checkpoint) after this long"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--total-steps", type=int, default=None, help="schedule length (new runs only)")
    parser.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="a new run starts from this run's weights (stage 2), or from an exported reader's "
        "(e.g. qa/models/reader_weights)",
    )
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (new runs only)")
    parser.add_argument(
        "--batch-questions",
        type=int,
        default=None,
        help="questions per step (new runs only; 4 on a CPU, 32 or more on a GPU)",
    )
    parser.add_argument(
        "--negatives",
        type=int,
        default=None,
        help="negatives read beside each question's passage (new runs only; 3 by default): more "
        "competitors in the ranking softmax for more compute a step",
    )
    parser.add_argument(
        "--near-miss",
        type=float,
        default=None,
        help="share of questions that also get their own paragraph without the answer as a negative",
    )
    parser.add_argument(
        "--span-miss",
        type=float,
        default=None,
        help="share of questions that also get their own paragraph with the answer cut out as a negative",
    )
    parser.add_argument(
        "--name-swap",
        type=float,
        default=None,
        help="share of questions that also get a negative: the question turned to a name or year "
        "its paragraph does not mention, with that paragraph",
    )
    parser.add_argument(
        "--short-passages",
        type=float,
        default=None,
        help="share of questions whose passages (positive and negatives) are cut to 1-3 sentences, "
        "as long as news paragraphs",
    )
    parser.add_argument(
        "--reword",
        type=float,
        default=None,
        help="share of questions with one or two of the words they share with their paragraph "
        "swapped for a neighbour in the word embeddings (paraphrases, as news readers ask)",
    )
    parser.add_argument(
        "--fused-negatives",
        type=float,
        default=None,
        help="share of questions whose negatives are mined by the product's own retrieval (dense "
        "cosine and BM25 fused) instead of BM25 alone: the candidates the reader meets at query time",
    )
    parser.add_argument(
        "--contrast-swap",
        type=float,
        default=None,
        help="share of questions (of those without a name swap) that also get a negative: the "
        "question turned to another fact of its kind (first -> fifth, rose -> fell) with its paragraph",
    )
    parser.add_argument(
        "--vague-miss",
        type=float,
        default=None,
        help="share of questions that also get their own paragraph as a negative with the answer "
        "replaced by a vague word of its kind (12 people -> several people)",
    )
    parser.add_argument(
        "--titles",
        action="store_true",
        help="read every passage with its article's title before it (new runs only; the exported "
        "reader then asks the product for titles)",
    )
    parser.add_argument("--export", type=Path, default=None, help="write the shipped weights from --run here")
    return parser


def config_from(args: argparse.Namespace) -> dict[str, Any]:
    """The run's settings: the defaults, with what the command line sets (new runs only)."""
    config = dict(DEFAULTS)
    for name in (
        "total_steps",
        "lr",
        "batch_questions",
        "negatives",
        "near_miss",
        "span_miss",
        "name_swap",
        "short_passages",
        "reword",
        "fused_negatives",
        "contrast_swap",
        "vague_miss",
    ):
        if getattr(args, name) is not None:
            config[name] = getattr(args, name)
    if args.titles:
        config["titles"] = True
    return config


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.export is not None:
        from train.export import export

        export(args.run, args.export, args.shared)
        return 0
    config = config_from(args)
    train(args.run, args.minutes, config, args.shared, args.threads, args.init_from)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
