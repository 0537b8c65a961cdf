"""Retrieval benchmark on the SQuAD v1.1 dev tune split: our pipeline next to its peers.

    python bench/retrieval.py [--data ../shared/evaldata/squad-dev-v1.1-tune.json] [--limit N]
                              [--out bench/results/retrieval.json]

Corpus = every paragraph of the 48 articles, one .txt per article; gold = the question's own
paragraph. In one process: builds the index with ``qa.build_index`` and scores ``QA.search``
(hit@1/5/20, MRR@10) and ``QA.ask`` (answer sentence accuracy, abstention) on every question;
then the peers on the same paragraphs and questions: bm25s (Lucene BM25, English stemmer and
stopwords, paragraph text only), all-MiniLM-L6-v2 + FAISS IndexFlatIP (the same loaded model),
and reciprocal-rank fusion (k=60) of their top-100 lists. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import bm25s
import faiss
import numpy as np
import Stemmer
from machine import describe_machine  # bench/machine.py: the script's folder is on sys.path

from qa import QA, build_index
from qa.embed import SentenceTransformerEncoder, default_encoder
from qa.ingest import read_corpus

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "evaldata" / "squad-dev-v1.1-tune.json"
SEARCH_K = 20  # what QA.search is asked for: enough for hit@20
PEER_K = 100  # depth of each peer's list, and of the lists fused by RRF
RRF_K = 60
MRR_DEPTH = 10
ASK_TOP_K = 5

T = TypeVar("T")


@dataclass(frozen=True)
class Paragraph:
    file: str  # the article's file name: what QA reports as article_id
    number: int  # 1-based paragraph number, as in citations
    text: str


@dataclass(frozen=True)
class Question:
    text: str
    gold: int  # index into the paragraph list
    answers: tuple[str, ...]


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def file_name(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower() + ".txt"


def load_squad(path: Path) -> tuple[dict[str, tuple[str, list[str]]], list[Paragraph], list[Question]]:
    """Articles as {file: (title, paragraphs)}, every paragraph in order, and every question.

    Paragraphs are cleaned the way examples/make_sample_corpus.py cleans them.
    """
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    articles: dict[str, tuple[str, list[str]]] = {}
    paragraphs: list[Paragraph] = []
    questions: list[Question] = []
    for article in data:
        title = article["title"].replace("_", " ")
        name = file_name(title)
        texts = [re.sub(r"\n\s*\n", "\n", p["context"].strip()) for p in article["paragraphs"]]
        articles[name] = (title, texts)
        for number, (p, text) in enumerate(zip(article["paragraphs"], texts, strict=True), start=1):
            gold = len(paragraphs)
            paragraphs.append(Paragraph(name, number, text))
            questions.extend(
                Question(q["question"], gold, tuple(a["text"] for a in q["answers"])) for q in p["qas"]
            )
    return articles, paragraphs, questions


def write_corpus(articles: dict[str, tuple[str, list[str]]], folder: Path) -> None:
    """One .txt per article: title line, blank line, paragraphs separated by blank lines."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (title, texts) in articles.items():
        (folder / name).write_text(title + "\n\n" + "\n\n".join(texts) + "\n", encoding="utf-8")


def boilerplate(folder: Path, where: dict[tuple[str, int], int]) -> dict[int, str]:
    """Paragraphs the build flags as boilerplate (never indexed): {paragraph index: reason}."""
    corpus = read_corpus(folder)
    return {
        where[(a.id, p.number)]: p.boilerplate for a in corpus.articles for p in a.paragraphs if p.boilerplate
    }


def rank_of(gold: int, ranking: Sequence[int]) -> int | None:
    """1-based rank of ``gold`` in ``ranking``, or None when it is not there."""
    for rank, index in enumerate(ranking, start=1):
        if index == gold:
            return rank
    return None


def metrics(ranks: Sequence[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {
        "hit@1": sum(1 for r in ranks if r is not None and r <= 1) / n,
        "hit@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "hit@20": sum(1 for r in ranks if r is not None and r <= 20) / n,
        "mrr@10": sum(1 / r for r in ranks if r is not None and r <= MRR_DEPTH) / n,
    }


def ours(
    qa: QA, paragraphs: Sequence[Paragraph], questions: Sequence[Question], where: dict[tuple[str, int], int]
) -> tuple[list[int | None], list[float]]:
    """Gold ranks from ``QA.search`` (top 20) and per-question latency in seconds.

    Each hit's text is checked against the paragraph its (article, paragraph) names.
    """
    ranks: list[int | None] = []
    latency: list[float] = []
    for q in questions:
        hits, seconds = timed(qa.search, q.text, top_k=SEARCH_K)
        latency.append(seconds)
        found = [where[(h.article_id, h.paragraph)] for h in hits]
        if any(paragraphs[i].text != h.text for i, h in zip(found, hits, strict=True)):
            raise RuntimeError("a hit's text differs from the paragraph its citation names")
        ranks.append(rank_of(q.gold, found))
    return ranks, latency


def answer_layer(qa: QA, questions: Sequence[Question], where: dict[tuple[str, int], int]) -> dict[str, Any]:
    """Citation 1 against the gold paragraph and gold answer texts, and abstention."""
    gold_cited = right_sentence = right_and_answered = abstained = 0
    latency: list[float] = []
    for q in questions:
        answer, seconds = timed(qa.ask, q.text, top_k=ASK_TOP_K)
        latency.append(seconds)
        abstained += answer.abstained
        if not answer.citations:
            continue
        first = answer.citations[0]
        if where[(first.article_id, first.paragraph)] != q.gold:
            continue
        gold_cited += 1
        sentence = first.sentence.lower()
        if any(a.lower() in sentence for a in q.answers):
            right_sentence += 1
            right_and_answered += not answer.abstained
    n = len(questions)
    return {
        "questions": n,
        "top_k": ASK_TOP_K,
        "answer_sentence_accuracy": right_sentence / n,
        "citation1_gold": gold_cited / n,
        "sentence_accuracy_given_gold_citation": right_sentence / gold_cited if gold_cited else 0.0,
        "answered_and_right": right_and_answered / n,
        "abstention_rate": abstained / n,
        "ask_p50_ms": 1000 * statistics.median(latency),
    }


def bm25_rankings(paragraphs: Sequence[Paragraph], questions: Sequence[Question]) -> list[list[int]]:
    """bm25s defaults (Lucene BM25), PyStemmer English, stopwords "en"; zero scores dropped."""
    stemmer = Stemmer.Stemmer("english")
    corpus = bm25s.tokenize(
        [p.text for p in paragraphs], stopwords="en", stemmer=stemmer, show_progress=False
    )
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    queries = bm25s.tokenize(
        [q.text for q in questions], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
    )
    rankings: list[list[int]] = [[] for _ in questions]
    asked = [i for i, tokens in enumerate(queries) if tokens]  # a question of stopwords finds nothing
    if asked:
        rows, scores = retriever.retrieve(
            [list(queries[i]) for i in asked], k=PEER_K, show_progress=False, n_threads=1
        )
        for i, row, score in zip(asked, rows, scores, strict=True):
            rankings[i] = [int(r) for r, s in zip(row, score, strict=True) if s > 0]
    return rankings


def dense_rankings(
    encoder: SentenceTransformerEncoder, vectors: np.ndarray, questions: Sequence[Question]
) -> tuple[list[list[int]], list[float]]:
    """FAISS IndexFlatIP over the paragraph vectors; each question encoded and searched alone."""
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    rankings: list[list[int]] = []
    latency: list[float] = []
    for q in questions:
        started = time.perf_counter()
        _, ids = flat.search(encoder.encode([q.text]), PEER_K)
        latency.append(time.perf_counter() - started)
        rankings.append([int(i) for i in ids[0] if i >= 0])
    return rankings, latency


def rrf(lists: Sequence[Sequence[int]], k: int = RRF_K) -> list[int]:
    """Reciprocal-rank fusion: sum of 1/(k + rank) over the lists; ties by paragraph order."""
    scores: dict[int, float] = {}
    for ranking in lists:
        for rank, index in enumerate(ranking, start=1):
            scores[index] = scores.get(index, 0.0) + 1 / (k + rank)
    return sorted(scores, key=lambda i: (-scores[i], i))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--limit", type=int, default=None, help="use only the first N questions")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "retrieval.json"))
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results: dict[str, Any] = {"machine": describe_machine()}
    articles, paragraphs, questions = load_squad(Path(args.data))
    questions = questions[: args.limit] if args.limit is not None else questions
    where = {(p.file, p.number): i for i, p in enumerate(paragraphs)}
    results["data"] = {
        "path": str(Path(args.data).resolve()),
        "articles": len(articles),
        "paragraphs": len(paragraphs),
        "questions": len(questions),
        "articles_with_questions": len({paragraphs[q.gold].file for q in questions}),
    }

    work = Path(tempfile.mkdtemp(prefix="qa-bench-retrieval-"))
    try:
        folder, index = work / "articles", work / "index"
        write_corpus(articles, folder)
        encoder, load_s = timed(default_encoder)
        import torch

        results["machine"]["torch_threads"] = torch.get_num_threads()
        results["machine"]["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY", "")
        encoder.encode([p.text for p in paragraphs[:32]])  # warm-up
        vectors, raw_s = timed(encoder.encode, [p.text for p in paragraphs])
        report, build_s = timed(build_index, folder, index, show_progress=False)
        results["timing"] = {
            "model_load_seconds": load_s,
            "raw_paragraph_encode_seconds": raw_s,
            "build_seconds": build_s,
            "build_encode_seconds": report.encode_seconds,
            "build_texts_embedded": report.embedded,
        }
        flagged = boilerplate(folder, where)
        results["build"] = {
            "passages": report.passages,
            "boilerplate": report.boilerplate,
            "skipped_files": len(report.skipped),
            "boilerplate_paragraphs": [
                {"file": paragraphs[i].file, "paragraph": paragraphs[i].number, "reason": why}
                for i, why in flagged.items()
            ],
            "questions_with_unsearchable_gold": sum(1 for q in questions if q.gold in flagged),
        }

        with QA.open(index) as qa:
            assert qa.encoder is encoder, "QA.open should reuse the loaded model"
            for q in questions[:20]:  # warm-up, not measured
                qa.search(q.text, top_k=SEARCH_K)
            our_ranks, our_latency = ours(qa, paragraphs, questions, where)
            results["answer_layer"] = answer_layer(qa, questions, where)

        bm25 = bm25_rankings(paragraphs, questions)
        dense, dense_latency = dense_rankings(encoder, vectors, questions)
        fused = [rrf([b, d]) for b, d in zip(bm25, dense, strict=True)]
        results["methods"] = {
            "ours (QA.search)": metrics(our_ranks),
            "bm25s (Lucene BM25, stemmed, stopwords)": metrics(
                [rank_of(q.gold, r) for q, r in zip(questions, bm25, strict=True)]
            ),
            "all-MiniLM-L6-v2 + FAISS FlatIP": metrics(
                [rank_of(q.gold, r) for q, r in zip(questions, dense, strict=True)]
            ),
            f"RRF of the two (k={RRF_K})": metrics(
                [rank_of(q.gold, r) for q, r in zip(questions, fused, strict=True)]
            ),
        }
        results["latency_ms"] = {
            "qa_search_p50": 1000 * statistics.median(our_latency),
            "dense_encode_plus_faiss_p50": 1000 * statistics.median(dense_latency),
            "ratio_p50": statistics.median(our_latency) / statistics.median(dense_latency),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results["machine"]["load_after"] = os.getloadavg()
    results["run_seconds"] = time.perf_counter() - started
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(table(results))
    print(f"wrote {out}")
    return 0


def table(r: dict[str, Any]) -> str:
    d = r["data"]
    lines = [
        f"SQuAD v1.1 dev tune: {d['questions']} questions ({d['articles_with_questions']} articles), "
        f"{d['paragraphs']} paragraphs ({d['articles']} articles)",
        "",
    ]
    width = max(len(name) for name in r["methods"])
    lines.append(f"{'method':<{width}} | hit@1 | hit@5 | hit@20 | MRR@10")
    lines.append("-" * (width + 36))
    for name, m in r["methods"].items():
        lines.append(
            f"{name:<{width}} | {m['hit@1']:.3f} | {m['hit@5']:.3f} | {m['hit@20']:.3f}  | {m['mrr@10']:.3f}"
        )
    a = r["answer_layer"]
    lines += [
        "",
        f"answer layer (QA.ask, top_k={a['top_k']}):",
        f"  answer sentence accuracy (citation 1 = gold paragraph, its sentence has a gold answer): "
        f"{a['answer_sentence_accuracy']:.3f}",
        f"  citation 1 = gold paragraph: {a['citation1_gold']:.3f}; right sentence when it is: "
        f"{a['sentence_accuracy_given_gold_citation']:.3f}",
        f"  answered (not abstained) and right: {a['answered_and_right']:.3f}",
        f"  abstention rate on these answerable questions: {a['abstention_rate']:.3f}",
    ]
    t, lat, m = r["timing"], r["latency_ms"], r["machine"]
    lines += [
        "",
        f"build {t['build_seconds']:.1f}s ({t['build_encode_seconds']:.1f}s encoding, "
        f"{t['build_texts_embedded']} passages embedded); raw paragraph encode {t['raw_paragraph_encode_seconds']:.1f}s",
        f"latency p50: QA.search {lat['qa_search_p50']:.1f} ms, raw encode + FAISS "
        f"{lat['dense_encode_plus_faiss_p50']:.1f} ms ({lat['ratio_p50']:.2f}x); QA.ask {a['ask_p50_ms']:.1f} ms",
        f"build: {r['build']['boilerplate']} paragraph(s) flagged boilerplate (not indexed), gold of "
        f"{r['build']['questions_with_unsearchable_gold']} question(s)",
        f"machine: {m['cpus']} cpus, torch threads {m['torch_threads']}, "
        f"load {m['load_before'][0]:.2f} -> {m['load_after'][0]:.2f}; run {r['run_seconds']:.0f}s",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
