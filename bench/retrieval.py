"""Retrieval benchmark: our pipeline next to its peers, on SQuAD or on a JSONL question file.

    python bench/retrieval.py [--data ../shared/evaldata/squad-dev-v1.1-tune.json] [--limit N]
                              [--out bench/results/retrieval.json]
    python bench/retrieval.py --questions examples/questions/news.jsonl [--articles examples/articles]
                              [--limit N] [--out bench/results/retrieval-news.json]

The txtai peer is optional: ``pip install -e ".[bench]"`` (txtai 9.14 and msgpack; a plain
install of txtai changes none of torch 2.13.0, sentence-transformers, transformers, numpy or
faiss-cpu). Without txtai the benchmark runs the other peers and logs that it skipped txtai.

SQuAD (default): corpus = every paragraph of the 48 articles, one .txt per article; gold = the
question's own paragraph. Question file (``--questions``): one JSON object a line,
``{"question", "article": "news/<file>" or null, "paragraph": int, "answer", "kind"}``; corpus =
the folder ``--articles`` as ``qa.ingest.read_corpus`` reads it, and the searchable paragraphs
are its non-boilerplate ones; gold = (article id, paragraph number); ``article: null`` marks a
question the corpus cannot answer (used only for abstention).

In one process: builds the index with ``qa.build_index`` and scores ``QA.search`` (top 20:
hit@1/5/20, MRR@10) and ``QA.ask`` (top 5: cited sentence holds the answer, abstention); then
the peers (bench/peers.py) on the same paragraphs and answerable questions: bm25s (Lucene BM25,
English stemmer and stopwords, paragraph text only), all-MiniLM-L6-v2 + FAISS IndexFlatIP (the
same loaded model), reciprocal-rank fusion (k=60) of their top-100 lists, and txtai hybrid
search (txtai BM25 + the same MiniLM weights, top 100). Prints a table and writes JSON.
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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from common import (  # bench/common.py: the script's folder is on sys.path
    RESULTS,
    ROOT,
    SQUAD_TUNE,
    describe_machine,
    timed,
    write_results,
)
from peers import RRF_K, bm25_rankings, dense_rankings, rrf, txtai_rankings

from qa import QA, build_index
from qa.ingest import read_corpus
from qa.models.embed import default_encoder

DEFAULT_ARTICLES = ROOT / "examples" / "articles"
SEARCH_K = 20  # what QA.search is asked for: enough for hit@20
MRR_DEPTH = 10
ASK_TOP_K = 5
UNANSWERABLE = "(unanswerable)"  # kind label in per-kind tables for a question without a kind


@dataclass(frozen=True)
class Paragraph:
    file: str  # the article's id (its path under the corpus folder): what QA reports as article_id
    number: int  # 1-based paragraph number, as in citations
    text: str


@dataclass(frozen=True)
class Question:
    """A SQuAD question (bench/fit_weights.py reads these too)."""

    text: str
    gold: int  # index into the paragraph list
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Probe:
    """A question as the benchmark asks it, from SQuAD or from a question file."""

    text: str
    gold: int | None  # index into the paragraph list; None: unanswerable, or gold not searchable
    answers: tuple[str, ...]
    kind: str = "squad"
    answerable: bool = True


@dataclass
class Dataset:
    name: str  # "squad" or the question file's stem
    folder: Path  # the corpus folder the index is built from
    paragraphs: list[Paragraph]  # what every method searches
    questions: list[Probe]
    info: dict[str, Any]


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


def squad_dataset(path: Path, limit: int | None, work: Path) -> Dataset:
    articles, paragraphs, squad = load_squad(path)
    questions = [Probe(q.text, q.gold, q.answers) for q in squad]
    questions = questions[:limit] if limit is not None else questions
    folder = work / "articles"
    write_corpus(articles, folder)
    info = {
        "kind": "squad",
        "path": str(path.resolve()),
        "articles": len(articles),
        "paragraphs": len(paragraphs),
        "questions": len(questions),
        "answerable": len(questions),
        "articles_with_questions": len({paragraphs[q.gold].file for q in questions if q.gold is not None}),
    }
    return Dataset("squad", folder, paragraphs, questions, info)


def questions_dataset(path: Path, folder: Path, limit: int | None) -> Dataset:
    """The question file over the non-boilerplate paragraphs of ``folder`` as read_corpus reads it."""
    corpus = read_corpus(folder)
    paragraphs: list[Paragraph] = []
    all_paragraphs: set[tuple[str, int]] = set()
    for article in corpus.articles:
        for p in article.paragraphs:
            all_paragraphs.add((article.id, p.number))
            if not p.boilerplate:
                paragraphs.append(Paragraph(article.id, p.number, p.text_of(article)))
    where = {(p.file, p.number): i for i, p in enumerate(paragraphs)}
    questions: list[Probe] = []
    unsearchable: list[dict[str, Any]] = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        answer = str(row.get("answer") or "").strip()
        kind = str(row.get("kind") or UNANSWERABLE)
        article = row.get("article")
        if article is None:
            questions.append(Probe(row["question"], None, (), kind, answerable=False))
            continue
        key = (str(article), int(row["paragraph"]))
        if key not in all_paragraphs:
            raise ValueError(f"{path}:{line_number}: no paragraph {key[1]} in article {key[0]!r} of {folder}")
        if key not in where:
            unsearchable.append({"line": line_number, "article": key[0], "paragraph": key[1]})
        questions.append(Probe(row["question"], where.get(key), (answer,) if answer else (), kind))
    questions = questions[:limit] if limit is not None else questions
    answerable = [q for q in questions if q.answerable]
    info = {
        "kind": "questions",
        "path": str(path.resolve()),
        "articles_folder": str(folder.resolve()),
        "articles": len(corpus.articles),
        "paragraphs": len(paragraphs),
        "boilerplate_paragraphs": len(all_paragraphs) - len(paragraphs),
        "skipped_files": len(corpus.skipped),
        "questions": len(questions),
        "answerable": len(answerable),
        "unanswerable": len(questions) - len(answerable),
        "answerable_without_answer_text": sum(1 for q in answerable if not q.answers),
        "kinds": dict(Counter(q.kind for q in questions)),
        "articles_with_questions": len({paragraphs[q.gold].file for q in answerable if q.gold is not None}),
        "gold_in_boilerplate": unsearchable,
    }
    return Dataset(path.stem, folder, paragraphs, questions, info)


def boilerplate(folder: Path, where: dict[tuple[str, int], int]) -> dict[int, str]:
    """Listed paragraphs the build flags as boilerplate (never indexed): {paragraph index: reason}."""
    corpus = read_corpus(folder)
    return {
        where[(a.id, p.number)]: p.boilerplate
        for a in corpus.articles
        for p in a.paragraphs
        if p.boilerplate and (a.id, p.number) in where
    }


def rank_of(gold: int | None, ranking: Sequence[int]) -> int | None:
    """1-based rank of ``gold`` in ``ranking``, or None when it is not there."""
    for rank, index in enumerate(ranking, start=1):
        if index == gold:
            return rank
    return None


def metrics(ranks: Sequence[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {
        "hit@1": sum(1 for r in ranks if r is not None and r <= 1) / n,
        "hit@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "hit@20": sum(1 for r in ranks if r is not None and r <= 20) / n,
        "mrr@10": sum(1 / r for r in ranks if r is not None and r <= MRR_DEPTH) / n,
    }


def ours(
    qa: QA, paragraphs: Sequence[Paragraph], questions: Sequence[Probe], where: dict[tuple[str, int], int]
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


@dataclass(frozen=True)
class Asked:
    """What ``QA.ask`` did with one question."""

    abstained: bool
    gold_cited: bool  # citation 1 is the gold paragraph
    sentence_has_answer: bool  # citation 1's sentence contains an answer text (case-insensitive)


def ask_all(
    qa: QA, questions: Sequence[Probe], where: dict[tuple[str, int], int]
) -> tuple[list[Asked], list[float]]:
    asked: list[Asked] = []
    latency: list[float] = []
    for q in questions:
        answer, seconds = timed(qa.ask, q.text, top_k=ASK_TOP_K)
        latency.append(seconds)
        first = answer.citations[0] if answer.citations else None
        gold_cited = first is not None and where.get((first.article_id, first.paragraph)) == q.gold
        sentence = first.sentence.lower() if first is not None else ""
        has_answer = first is not None and any(a.lower() in sentence for a in q.answers if a)
        asked.append(Asked(bool(answer.abstained), gold_cited and q.gold is not None, has_answer))
    return asked, latency


def answer_layer(
    questions: Sequence[Probe], asked: Sequence[Asked], latency: Sequence[float]
) -> dict[str, Any]:
    """Citation 1 against the gold paragraph and answer texts, and abstention."""
    pairs = [(q, a) for q, a in zip(questions, asked, strict=True) if q.answerable]
    n = len(pairs) or 1
    gold_cited = sum(a.gold_cited for _, a in pairs)
    right = sum(a.gold_cited and a.sentence_has_answer for _, a in pairs)
    unanswerable = [a for q, a in zip(questions, asked, strict=True) if not q.answerable]
    return {
        "questions": len(pairs),
        "top_k": ASK_TOP_K,
        "answer_sentence_accuracy": right / n,
        "citation1_gold": gold_cited / n,
        "sentence_accuracy_given_gold_citation": right / gold_cited if gold_cited else 0.0,
        "citation1_sentence_has_answer": sum(a.sentence_has_answer for _, a in pairs) / n,
        "answered_and_right": sum(
            a.gold_cited and a.sentence_has_answer and not a.abstained for _, a in pairs
        )
        / n,
        "abstention_rate": sum(a.abstained for _, a in pairs) / n,
        "unanswerable_questions": len(unanswerable),
        "unanswerable_abstention_rate": (
            sum(a.abstained for a in unanswerable) / len(unanswerable) if unanswerable else None
        ),
        "ask_p50_ms": 1000 * statistics.median(latency) if latency else 0.0,
    }


def per_kind(
    questions: Sequence[Probe],
    asked: Sequence[Asked],
    our_ranks: dict[int, int | None],
    bm25_ranks: dict[int, int | None],
) -> dict[str, dict[str, Any]]:
    """Per question kind: hit@1 of ours and bm25s (answerable questions), and our abstention rate.

    ``our_ranks`` and ``bm25_ranks`` map a question's index in ``questions`` to its gold rank.
    """
    out: dict[str, dict[str, Any]] = {}
    for kind in sorted({q.kind for q in questions}):
        members = [i for i, q in enumerate(questions) if q.kind == kind]
        ranked = [i for i in members if questions[i].answerable]
        out[kind] = {
            "questions": len(members),
            "answerable": len(ranked),
            "ours_hit@1": (sum(our_ranks[i] == 1 for i in ranked) / len(ranked)) if ranked else None,
            "bm25s_hit@1": (sum(bm25_ranks[i] == 1 for i in ranked) / len(ranked)) if ranked else None,
            "ours_sentence_has_answer": (
                sum(asked[i].sentence_has_answer for i in ranked) / len(ranked) if ranked else None
            ),
            "ours_abstention_rate": sum(asked[i].abstained for i in members) / len(members),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", default=str(SQUAD_TUNE), help="SQuAD v1.1 JSON (when no --questions)")
    parser.add_argument("--questions", default=None, help="JSONL question file over --articles")
    parser.add_argument("--articles", default=str(DEFAULT_ARTICLES), help="corpus folder for --questions")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N questions")
    parser.add_argument("--out", default=None, help="JSON to write (default: bench/results/retrieval*.json)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results: dict[str, Any] = {"machine": describe_machine()}
    work = Path(tempfile.mkdtemp(prefix="qa-bench-retrieval-"))
    try:
        if args.questions is None:
            data = squad_dataset(Path(args.data), args.limit, work)
        else:
            data = questions_dataset(Path(args.questions), Path(args.articles), args.limit)
        run(data, work / "index", results)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results["run_seconds"] = time.perf_counter() - started
    default_name = "retrieval.json" if args.questions is None else f"retrieval-{data.name}.json"
    out = Path(args.out) if args.out else RESULTS / default_name
    write_results(results, out)
    print(table(results))
    print(f"wrote {out}")
    return 0


def run(data: Dataset, index: Path, results: dict[str, Any]) -> None:
    """Ours and every peer on ``data``; fills ``results``."""
    paragraphs, questions = data.paragraphs, data.questions
    where = {(p.file, p.number): i for i, p in enumerate(paragraphs)}
    results["data"] = data.info
    answerable = [i for i, q in enumerate(questions) if q.answerable]
    ranked = [questions[i] for i in answerable]  # what the rankings are scored on

    encoder, load_s = timed(default_encoder)
    import torch

    results["machine"]["torch_threads"] = torch.get_num_threads()
    results["machine"]["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY", "")
    texts = [p.text for p in paragraphs]
    encoder.encode(texts[:32])  # warm-up
    vectors, raw_s = timed(encoder.encode, texts)
    report, build_s = timed(build_index, data.folder, index, show_progress=False)
    results["timing"] = {
        "model_load_seconds": load_s,
        "raw_paragraph_encode_seconds": raw_s,
        "build_seconds": build_s,
        "build_encode_seconds": report.encode_seconds,
        "build_texts_embedded": report.embedded,
    }
    flagged = boilerplate(data.folder, where)
    results["build"] = {
        "passages": report.passages,
        "boilerplate": report.boilerplate,
        "skipped_files": len(report.skipped),
        "boilerplate_paragraphs": [
            {"file": paragraphs[i].file, "paragraph": paragraphs[i].number, "reason": why}
            for i, why in flagged.items()
        ],
        "questions_with_unsearchable_gold": sum(1 for q in ranked if q.gold is None or q.gold in flagged),
    }

    with QA.open(index) as qa:
        assert qa.encoder is encoder, "QA.open should reuse the loaded model"
        for q in questions[:20]:  # warm-up, not measured
            qa.search(q.text, top_k=SEARCH_K)
        our_ranks, our_latency = ours(qa, paragraphs, ranked, where)
        asked, ask_latency = ask_all(qa, questions, where)
    results["answer_layer"] = answer_layer(questions, asked, ask_latency)

    queries = [q.text for q in ranked]
    bm25 = bm25_rankings(texts, queries)
    dense, dense_latency = dense_rankings(encoder, vectors, queries)
    fused = [rrf([b, d]) for b, d in zip(bm25, dense, strict=True)]
    txtai = txtai_rankings(texts, queries, encoder)

    def scored(rankings: Sequence[Sequence[int]]) -> dict[str, float]:
        return metrics([rank_of(q.gold, r) for q, r in zip(ranked, rankings, strict=True)])

    bm25_ranks = [rank_of(q.gold, r) for q, r in zip(ranked, bm25, strict=True)]
    results["methods"] = {
        "ours (QA.search)": metrics(our_ranks),
        "bm25s (Lucene BM25, stemmed, stopwords)": metrics(bm25_ranks),
        "all-MiniLM-L6-v2 + FAISS FlatIP": scored(dense),
        f"RRF of the two (k={RRF_K})": scored(fused),
    }
    results["latency_ms"] = {
        "qa_search_p50": 1000 * statistics.median(our_latency),
        "dense_encode_plus_faiss_p50": 1000 * statistics.median(dense_latency),
        "ratio_p50": statistics.median(our_latency) / statistics.median(dense_latency),
    }
    if txtai is None:
        results["skipped_peers"] = {"txtai": "not installed (pip install -e '.[bench]')"}
    else:
        results["methods"][f"txtai {txtai.version} hybrid (BM25 + MiniLM, 0.5/0.5)"] = scored(txtai.rankings)
        results["latency_ms"]["txtai_search_p50"] = 1000 * statistics.median(txtai.latency)
        results["txtai"] = {
            "version": txtai.version,
            "index_seconds": txtai.build_seconds,
            "model_check_texts": txtai.model_check_texts,
            "model_check_max_1_minus_cosine": txtai.model_check_max_cosine_gap,
        }
    if data.info["kind"] == "questions":
        results["per_kind"] = per_kind(
            questions,
            asked,
            dict(zip(answerable, our_ranks, strict=True)),
            dict(zip(answerable, bm25_ranks, strict=True)),
        )


def table(r: dict[str, Any]) -> str:
    d = r["data"]
    if d["kind"] == "squad":
        heading = (
            f"SQuAD v1.1 dev tune: {d['questions']} questions ({d['articles_with_questions']} articles), "
            f"{d['paragraphs']} paragraphs ({d['articles']} articles)"
        )
    else:
        heading = (
            f"{Path(d['path']).name}: {d['questions']} questions ({d['answerable']} answerable, "
            f"{d['unanswerable']} unanswerable) over {d['articles_folder']}: {d['paragraphs']} searchable "
            f"paragraphs of {d['articles']} articles ({d['boilerplate_paragraphs']} boilerplate left out)"
        )
    lines = [heading, "", f"rankings over the {d['answerable']} answerable questions:"]
    width = max(len(name) for name in r["methods"])
    lines.append(f"{'method':<{width}} | hit@1 | hit@5 | hit@20 | MRR@10")
    lines.append("-" * (width + 36))
    for name, m in r["methods"].items():
        lines.append(
            f"{name:<{width}} | {m['hit@1']:.3f} | {m['hit@5']:.3f} | {m['hit@20']:.3f}  | {m['mrr@10']:.3f}"
        )
    if "skipped_peers" in r:
        lines += [f"(skipped: {name}: {why})" for name, why in r["skipped_peers"].items()]
    a = r["answer_layer"]
    lines += [
        "",
        f"answer layer (QA.ask, top_k={a['top_k']}):",
        f"  answer sentence accuracy (citation 1 = gold paragraph, its sentence has a gold answer): "
        f"{a['answer_sentence_accuracy']:.3f}",
        f"  citation 1 = gold paragraph: {a['citation1_gold']:.3f}; right sentence when it is: "
        f"{a['sentence_accuracy_given_gold_citation']:.3f}",
        f"  citation 1's sentence contains the answer (any paragraph): {a['citation1_sentence_has_answer']:.3f}",
        f"  answered (not abstained) and right: {a['answered_and_right']:.3f}",
        f"  abstention rate on answerable questions: {a['abstention_rate']:.3f}",
    ]
    if a["unanswerable_abstention_rate"] is not None:
        lines.append(
            f"  abstention rate on the {a['unanswerable_questions']} unanswerable questions: "
            f"{a['unanswerable_abstention_rate']:.3f}"
        )
    if "per_kind" in r:
        lines += [
            "",
            "per kind:          n | answerable | ours hit@1 | bm25s hit@1 | ours cited answer | ours abstained",
        ]

        def rate(value: float | None) -> str:
            return "  -  " if value is None else f"{value:.3f}"

        for kind, k in r["per_kind"].items():
            lines.append(
                f"  {kind:<15} {k['questions']:>3} | {k['answerable']:>10} | {rate(k['ours_hit@1']):>10} | "
                f"{rate(k['bm25s_hit@1']):>11} | {rate(k['ours_sentence_has_answer']):>17} | "
                f"{rate(k['ours_abstention_rate']):>14}"
            )
    t, lat, m = r["timing"], r["latency_ms"], r["machine"]
    txtai_latency = f"; txtai search {lat['txtai_search_p50']:.1f} ms" if "txtai_search_p50" in lat else ""
    lines += [
        "",
        f"build {t['build_seconds']:.1f}s ({t['build_encode_seconds']:.1f}s encoding, "
        f"{t['build_texts_embedded']} passages embedded); raw paragraph encode {t['raw_paragraph_encode_seconds']:.1f}s",
        f"latency p50: QA.search {lat['qa_search_p50']:.1f} ms, raw encode + FAISS "
        f"{lat['dense_encode_plus_faiss_p50']:.1f} ms ({lat['ratio_p50']:.2f}x); QA.ask {a['ask_p50_ms']:.1f} ms"
        f"{txtai_latency}",
        f"build: {r['build']['boilerplate']} paragraph(s) flagged boilerplate (not indexed), gold of "
        f"{r['build']['questions_with_unsearchable_gold']} question(s) not searchable",
    ]
    if "txtai" in r:
        x = r["txtai"]
        lines.append(
            f"txtai {x['version']}: indexed in {x['index_seconds']:.1f}s; same model as ours "
            f"(max 1 - cosine {x['model_check_max_1_minus_cosine']:.1e} on {x['model_check_texts']} texts)"
        )
    lines.append(
        f"machine: {m['cpus']} cpus, torch threads {m['torch_threads']}, "
        f"load {m['load_before'][0]:.2f} -> {m['load_after'][0]:.2f}; run {r['run_seconds']:.0f}s"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
