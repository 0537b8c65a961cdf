"""Build and query benchmark on the sample corpus, with the raw model as the baseline.

    python bench/build.py [--articles examples/articles] [--questions 60] [--out bench/results/build.json]

Measures, in one process: raw SentenceTransformer.encode of the corpus paragraphs; a full build;
a no-change rebuild; a rebuild after editing one paragraph; QA.open; question latency next to
raw query encode + FAISS search; peak RSS. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import faiss
import numpy as np
from common import (  # bench/common.py: the script's folder is on sys.path
    RESULTS,
    ROOT,
    describe_machine,
    timed,
    write_results,
)

from qa import QA, build_index
from qa.ingest import read_corpus
from qa.models.embed import default_encoder


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def questions_for(corpus_texts: list[str], count: int) -> list[str]:
    """Questions in the spirit of the corpus: the seed's, then SQuAD-style ones from text."""
    fixed = [
        "What did Ukraine vow to do in Bakhmut?",
        "Which mercenary group led the assault on Bakhmut?",
        "How many civilians remain in Bakhmut?",
        "Who won Super Bowl 50?",
        "What is the Amazon rainforest also known as?",
        "When did the 1973 oil crisis begin?",
        "What is a prime number?",
        "Where is the Rhine's source?",
    ]
    rng = np.random.default_rng(0)
    picks = rng.choice(len(corpus_texts), size=max(0, count - len(fixed)), replace=False)
    made = [" ".join(corpus_texts[i].split()[:12]) + "?" for i in picks]
    return (fixed + made)[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", default=str(ROOT / "examples" / "articles"))
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--out", default=str(RESULTS / "build.json"))
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    articles = work / "articles"
    shutil.copytree(args.articles, articles)
    index = work / "index"
    results: dict[str, Any] = {"machine": describe_machine()}

    corpus = read_corpus(articles)
    paragraphs = [p.text_of(a) for a in corpus.articles for p in a.paragraphs if p.boilerplate is None]
    encoder, load_s = timed(default_encoder)
    import torch

    results["machine"]["torch_threads"] = torch.get_num_threads()
    results["machine"]["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY", "")  # set by qa.models.embed
    model = encoder._model  # the raw SentenceTransformer: the baseline every number is compared to
    model.encode(paragraphs[:32], batch_size=32, normalize_embeddings=True)  # warm-up
    raw_vectors, raw_s = timed(model.encode, paragraphs, batch_size=32, normalize_embeddings=True)
    results["raw_encode"] = {
        "paragraphs": len(paragraphs),
        "seconds": raw_s,
        "per_s": len(paragraphs) / raw_s,
    }

    report, build_s = timed(build_index, articles, index, show_progress=False)
    outside = build_s - report.encode_seconds
    results["full_build"] = {
        "seconds": build_s,
        "paragraphs_per_s": len(paragraphs) / build_s,
        "encode_seconds": report.encode_seconds,
        "texts_embedded": report.embedded,
        "outside_encoder_share": outside / build_s,
    }

    _, nochange_s = timed(build_index, articles, index, show_progress=False)
    results["no_change_rebuild"] = {"seconds": nochange_s}

    edited = articles / "news" / "russia-reaffirms-bakhmut-push.txt"
    text = edited.read_text(encoding="utf-8")
    edited.write_text(text.replace("around 4,000 civilians", "about 4,000 civilians"), encoding="utf-8")
    changed, changed_s = timed(build_index, articles, index, show_progress=False)
    results["one_paragraph_edited"] = {
        "seconds": changed_s,
        "texts_embedded": changed.embedded,
        "articles_changed": changed.changed,
    }

    qa, open_s = timed(QA.open, index, encoder=encoder)
    results["qa_open"] = {"seconds_with_loaded_model": open_s, "model_load_seconds": load_s}

    questions = questions_for(paragraphs, args.questions)
    flat = faiss.IndexFlatIP(raw_vectors.shape[1])
    flat.add(np.ascontiguousarray(raw_vectors, dtype=np.float32))
    baseline: list[float] = []
    ours: list[float] = []

    def raw(q: str) -> None:
        vector = model.encode([q], normalize_embeddings=True)
        flat.search(np.ascontiguousarray(vector, dtype=np.float32), 5)

    for turn, q in enumerate(questions * 2):  # first pass warms caches; both passes measured alike
        # Alternate which goes first so neither gains from the other's warm caches.
        order: list[tuple[Callable[[str], object], list[float]]] = (
            [(raw, baseline), (qa.ask, ours)] if turn % 2 == 0 else [(qa.ask, ours), (raw, baseline)]
        )
        for fn, times in order:
            started = time.perf_counter()
            fn(q)
            times.append(time.perf_counter() - started)
    baseline, ours = baseline[len(questions) :], ours[len(questions) :]
    results["question_latency_ms"] = {
        "questions": len(questions),
        "raw_encode_plus_faiss_p50": 1000 * statistics.median(baseline),
        "raw_encode_plus_faiss_p95": 1000 * percentile(baseline, 95),
        "qa_ask_p50": 1000 * statistics.median(ours),
        "qa_ask_p95": 1000 * percentile(ours, 95),
        "ratio_p50": statistics.median(ours) / statistics.median(baseline),
    }
    results["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    qa.close()
    shutil.rmtree(work, ignore_errors=True)
    write_results(results, Path(args.out))
    print(table(results))
    return 0


def table(r: dict[str, Any]) -> str:
    lat = r["question_latency_ms"]
    rows = [
        (
            "raw SentenceTransformer.encode",
            f"{r['raw_encode']['per_s']:.0f} paragraphs/s",
            f"{r['raw_encode']['paragraphs']} paragraphs in {r['raw_encode']['seconds']:.1f}s",
        ),
        (
            "full build",
            f"{r['full_build']['paragraphs_per_s']:.0f} paragraphs/s",
            f"{r['full_build']['seconds']:.1f}s, {r['full_build']['texts_embedded']} texts embedded",
        ),
        (
            "  outside the encoder",
            f"{100 * r['full_build']['outside_encoder_share']:.1f}% of build",
            "target <= 15%",
        ),
        ("no-change rebuild", f"{r['no_change_rebuild']['seconds']:.2f}s", "target < 2 s"),
        (
            "one paragraph edited",
            f"{r['one_paragraph_edited']['seconds']:.2f}s",
            f"{r['one_paragraph_edited']['texts_embedded']} texts embedded",
        ),
        (
            "QA.open (model loaded)",
            f"{r['qa_open']['seconds_with_loaded_model']:.2f}s",
            f"model load {r['qa_open']['model_load_seconds']:.1f}s",
        ),
        (
            "raw encode + FAISS, p50/p95",
            f"{lat['raw_encode_plus_faiss_p50']:.1f} / {lat['raw_encode_plus_faiss_p95']:.1f} ms",
            "",
        ),
        (
            "qa.ask, p50/p95",
            f"{lat['qa_ask_p50']:.1f} / {lat['qa_ask_p95']:.1f} ms",
            f"{lat['ratio_p50']:.2f}x raw (target <= 1.5x)",
        ),
        ("peak RSS", f"{r['peak_rss_mib']:.0f} MiB", ""),
    ]
    width = max(len(a) for a, _, _ in rows)
    lines = [f"{'measure':<{width}}  {'value':<22}  note", "-" * (width + 40)]
    lines += [f"{a:<{width}}  {b:<22}  {c}" for a, b, c in rows]
    m = r["machine"]
    lines.append(
        f"machine: {m['cpus']} cpus, torch threads {m['torch_threads']}, load {m['load_before'][0]:.2f} -> {m['load_after'][0]:.2f}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
