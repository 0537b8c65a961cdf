"""The reader against the fast path, on every question set, in one run.

    python bench/reader.py [--squad-questions 1500] [--workdir /tmp/qa-reader-fit] [--timing 120]

Indexes as bench/reader_fit.py builds them (reused when present). For each set, ``QA.ask`` with
the reader and without it (the fast path, ``reader=False``), top_k 20, scored by
qa.evaluation: hit@1, MRR@10, citation 1's sentence holds the answer, abstention.

- squad: SQuAD tune questions (a seeded sample) over the 48 tune articles;
- squad-terse: the same questions as typed in a search box (lower case, no question mark);
- squad-off: the same questions asked of the 24 tune articles without questions (abstain);
- news / news-off: examples/questions/news.jsonl over the sample corpus;
- names-off: off-topic questions sharing names with the sample corpus (off-topic.jsonl);
- seed / seed-off: paraphrased and off-topic questions over the seed article alone.

Then ``QA.ask`` latency at top_k 5 with and without the reader, alternating question by
question on the news questions (so both see the same load). Prints a table and writes
bench/results/reader.json.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from common import ROOT, SQUAD_TUNE, describe_machine, p50_p95_ms, write_results
from peers import bm25_rankings
from reader_fit import QUESTIONS, build_indexes
from retrieval import load_squad, metrics, rank_of

from qa import QA
from qa.evaluation import EvalQuestion, evaluate, load_questions
from qa.models.reader import packaged_reader


def squad_questions(data: Path, count: int) -> tuple[list[EvalQuestion], dict[str, Any]]:
    """A seeded sample of the tune questions, and bm25s (the peer) scored on the same ones."""
    _, paragraphs, questions = load_squad(data)
    sample = random.Random(11).sample(questions, min(count, len(questions)))
    texts = [p.text for p in paragraphs]
    peer: dict[str, Any] = {}
    for name, queries in (
        ("squad", [q.text for q in sample]),
        ("squad-terse", [q.text.lower().rstrip(" ?").strip() for q in sample]),
    ):
        rankings = bm25_rankings(texts, queries)
        peer[name] = metrics([rank_of(q.gold, r) for q, r in zip(sample, rankings, strict=True)])
    asked = [
        EvalQuestion(q.text, paragraphs[q.gold].file, paragraphs[q.gold].number, q.answers, where=f"#{i}")
        for i, q in enumerate(sample)
    ]
    return asked, peer


def terse(q: EvalQuestion) -> EvalQuestion:
    return EvalQuestion(q.text.lower().rstrip(" ?").strip(), q.article, q.paragraph, q.answers, where=q.where)


def off(questions: list[EvalQuestion]) -> list[EvalQuestion]:
    return [EvalQuestion(q.text, None, where=q.where) for q in questions]


def split(questions: tuple[EvalQuestion, ...]) -> tuple[list[EvalQuestion], list[EvalQuestion]]:
    return [q for q in questions if q.answerable], [q for q in questions if not q.answerable]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SQUAD_TUNE)
    parser.add_argument("--squad-questions", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/qa-reader-fit"))
    parser.add_argument("--timing", type=int, default=120, help="questions timed with and without the reader")
    parser.add_argument("--timing-only", action="store_true", help="only the latency comparison")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "reader.json")
    args = parser.parse_args(argv)
    work: Path = args.workdir
    build_indexes(work, args.data)
    squad, bm25s = squad_questions(args.data, args.squad_questions)
    news, news_off = split(load_questions(QUESTIONS / "news.jsonl"))
    seed, _ = split(load_questions(QUESTIONS / "seed-paraphrases.jsonl"))
    _, seed_off = split(load_questions(QUESTIONS / "seed-off-topic.jsonl"))
    _, names_off = split(load_questions(QUESTIONS / "off-topic.jsonl"))
    sets = {
        "squad": ("squad-index", squad),
        "squad-terse": ("squad-index", [terse(q) for q in squad]),
        "squad-off": ("squad-noq-index", off(squad[: len(squad) // 2])),
        "news": ("sample-index", news),
        "news-off": ("sample-index", news_off),
        "names-off": ("sample-index", names_off),
        "seed": ("seed-index", seed),
        "seed-off": ("seed-index", seed_off),
    }
    results: dict[str, Any] = {
        "machine": describe_machine(),
        "reader_version": packaged_reader().version,
        "squad_questions": len(squad),
        "bm25s": bm25s,
        "sets": {},
    }
    opened: dict[tuple[str, bool], QA] = {}
    for name, (index, questions) in sets.items():
        if args.timing_only:
            break
        for reader in (False, True):
            key = (index, reader)
            if key not in opened:
                opened[key] = QA.open(work / index, reader=reader)
            report = evaluate(opened[key], questions, top_k=20, show_progress=False)
            m = report.answerable
            row = {
                "questions": len(questions),
                "hit@1": m.hit_at_1,
                "mrr@10": m.mrr_at_10,
                "sentence_holds_answer": m.sentence_answers,
                "abstained": m.abstained if m.questions else report.unanswerable_abstained,
                "seconds": round(report.seconds, 1),
            }
            results["sets"][f"{name}/{'reader' if reader else 'fast'}"] = row
            print(name, "reader" if reader else "fast", row, flush=True)
    timing: dict[bool, list[float]] = {False: [], True: []}
    for reader in (False, True):
        if ("sample-index", reader) not in opened:
            opened[("sample-index", reader)] = QA.open(work / "sample-index", reader=reader)
    for q in news[:10]:  # warm-up, not measured
        for reader in (False, True):
            opened[("sample-index", reader)].ask(q.text, top_k=5)
    for q in (news * 3)[: args.timing]:
        for reader in (False, True):
            qa = opened[("sample-index", reader)]
            started = time.perf_counter()
            qa.ask(q.text, top_k=5)
            timing[reader].append((time.perf_counter() - started) * 1000)
    results["ask_top5"] = {
        "fast": p50_p95_ms(timing[False]),
        "reader": p50_p95_ms(timing[True]),
        "added_p50_ms": round(statistics.median(timing[True]) - statistics.median(timing[False]), 1),
    }
    print(table(results))
    write_results(
        results, args.out.with_name(args.out.stem + "-timing.json") if args.timing_only else args.out
    )
    return 0


def table(results: dict[str, Any]) -> str:
    def rate(v: float | None) -> str:
        return "   -  " if v is None else f"{v:6.3f}"

    lines = [
        f"reader {results['reader_version']}",
        f"{'set':<13}{'n':>6}  {'hit@1 fast/reader':>19}  {'mrr@10 fast/reader':>19}  "
        f"{'sentence fast/reader':>21}  {'abstain fast/reader':>20}",
    ]
    names = dict.fromkeys(k.split("/")[0] for k in results["sets"])  # empty with --timing-only
    for name in names:
        f, r = results["sets"][f"{name}/fast"], results["sets"][f"{name}/reader"]
        lines.append(
            f"{name:<13}{f['questions']:>6}  {rate(f['hit@1'])} / {rate(r['hit@1'])}  "
            f"{rate(f['mrr@10'])} / {rate(r['mrr@10'])}  {rate(f['sentence_holds_answer'])} / "
            f"{rate(r['sentence_holds_answer'])}    {rate(f['abstained'])} / {rate(r['abstained'])}"
        )
    for name, m in results["bm25s"].items():
        lines.append(f"bm25s (peer) {name}: hit@1 {m['hit@1']:.3f}, mrr@10 {m['mrr@10']:.3f}")
    t = results["ask_top5"]
    lines.append(
        f"QA.ask top_k 5 p50/p95: fast {t['fast']['p50_ms']}/{t['fast']['p95_ms']} ms, reader "
        f"{t['reader']['p50_ms']}/{t['reader']['p95_ms']} ms (adds {t['added_p50_ms']} ms at p50)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
