"""What embedding long paragraphs as windows changes, on SQuAD (dense retrieval alone).

    python bench/windows.py [--data ../shared/evaldata/squad-dev-v1.1-tune.json]

Every SQuAD tune paragraph is embedded twice with the packaged MiniLM: truncated at the model's
256-token window (what sentence-transformers does) and as sentence-aligned windows averaged
(what ``qa build`` does). Dense retrieval (exact inner product over all paragraphs) is scored
on every question, and on the questions whose paragraph is longer than the window.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from common import RESULTS, SQUAD_TUNE, write_results  # bench/common.py: the script's folder is on sys.path
from retrieval import load_squad  # bench/retrieval.py

from qa.models.embed import default_encoder, encode_queries
from qa.text.spans import split_sentences


def scores(matrix: np.ndarray, queries: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    ranks = np.argsort(-(queries @ matrix.T), axis=1)[:, :10]
    hit1 = float(np.mean(ranks[:, 0] == gold))
    hit5 = float(np.mean((ranks[:, :5] == gold[:, None]).any(axis=1)))
    mrr = float(
        np.mean([1 / (list(r).index(g) + 1) if g in r else 0.0 for r, g in zip(ranks, gold, strict=True)])
    )
    return {"hit@1": hit1, "hit@5": hit5, "mrr@10": mrr}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SQUAD_TUNE)
    parser.add_argument("--out", type=Path, default=RESULTS / "windows.json")
    args = parser.parse_args(argv)
    _, paragraphs, questions = load_squad(args.data)
    encoder = default_encoder()
    texts = [p.text for p in paragraphs]
    tokenizer = encoder._model.tokenizer
    limit = encoder._model.max_seq_length - 2
    long = np.array(
        [len(tokenizer(t, add_special_tokens=False, verbose=False)["input_ids"]) > limit for t in texts]
    )
    truncated = encoder.encode(texts)
    windowed, _ = encoder.encode_with_spans(texts, [split_sentences(t) for t in texts])
    queries = encode_queries(encoder, [q.text for q in questions])
    gold = np.array([q.gold for q in questions])
    on_long = long[gold]
    result: dict[str, Any] = {
        "paragraphs": len(texts),
        "long_paragraphs": int(long.sum()),
        "questions": len(questions),
        "questions_on_long": int(on_long.sum()),
        "truncated_all": scores(truncated, queries, gold),
        "windows_all": scores(windowed, queries, gold),
        "truncated_long": scores(truncated, queries[on_long], gold[on_long]),
        "windows_long": scores(windowed, queries[on_long], gold[on_long]),
    }
    print(
        f"{result['long_paragraphs']} of {len(texts)} paragraphs exceed {limit} tokens; "
        f"{result['questions_on_long']} of {len(questions)} questions are about them"
    )
    print(f"{'dense vectors':<22}{'questions':<12}{'hit@1':>7}{'hit@5':>7}{'MRR@10':>8}")
    for key in ("truncated_all", "windows_all", "truncated_long", "windows_long"):
        m = result[key]
        name, subset = key.split("_")
        print(f"{name:<22}{subset:<12}{m['hit@1']:>7.3f}{m['hit@5']:>7.3f}{m['mrr@10']:>8.3f}")
    write_results(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
