"""Time-aware answers on dated news, syndicated-copy grouping, and PDF/feed reading speed.

    python bench/news.py [--out bench/results/news.json]

1. **The right week's story.** Ten running stories with four weekly updates each and 60 questions,
   each asked "as of" a date (bench/news_weeks.py). The right answer is the latest update
   published by then. Three runs of the same pipeline, packaged model: dates ignored (the same
   articles without dates), ``as_of`` as a filter only (recency prior switched off), and the
   library as is (filter + recency prior for questions about the present).
2. **Syndicated copies.** Every article plus an edited copy of it (a few words changed, a line
   added or dropped): those 40 pairs must group; every other pair (weekly updates of one story,
   which share names and a background paragraph; other stories) must not.
3. **Reading speed.** A 40-page PDF made with fpdf2, and a feed of 1,000 entries.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import news_weeks  # bench/news_weeks.py: the script's folder is on sys.path
from common import RESULTS, describe_machine, write_results  # bench/common.py

import qa.search.recency as recency
from qa import QA, build_index
from qa.ingest import read_corpus
from qa.ingest.feed import read_feed
from qa.ingest.pdf import read_pdf
from qa.ingest.syndication import find_copies

EDITS = {
    " said ": " stated ",
    " on Monday": "",
    " percent": "%",
    " after ": " following ",
    " began ": " started ",
    " the ": " this ",
}


def edited_copy(article: news_weeks.Article, rng: random.Random) -> news_weeks.Article:
    """What a regional paper does to a wire story: a few words changed, a line added or dropped."""
    text = "\n\n".join(article.paragraphs)
    for old, new in rng.sample(sorted(EDITS.items()), 2):
        text = text.replace(old, new, 1)
    paragraphs = text.split("\n\n")
    if rng.random() < 0.5:
        paragraphs.append("Local reaction was mixed, our correspondent reports.")
    else:
        paragraphs = [*paragraphs[:-1], paragraphs[-1].split(", ")[0] + "."]
    return news_weeks.Article(f"copy-{article.name}", article.title, article.published, tuple(paragraphs))


def right_week(qa: QA, questions: list[news_weeks.Question], use_as_of: bool) -> dict[str, Any]:
    first = sentence = 0
    misses = []
    for q in questions:
        answer = qa.ask(q.text, top_k=5, as_of=q.as_of.isoformat() if use_as_of else None)
        top = answer.citations[0] if answer.citations else None
        ok = top is not None and top.article_id == q.article
        first += ok
        sentence += bool(ok and top is not None and q.answer in top.sentence)
        if not ok:
            misses.append(
                {
                    "question": q.text,
                    "as_of": q.as_of.isoformat(),
                    "wanted": q.article,
                    "cited": top.article_id if top else None,
                }
            )
    return {
        "right_week_first": first / len(questions),
        "sentence_has_figure": sentence / len(questions),
        "misses": misses,
    }


def sweep(qa: QA, questions: list[news_weeks.Question]) -> list[dict[str, Any]]:
    """The recency prior's weight and half-life on each half of the stories, to fit on one half
    and check on the other."""
    halves = {
        half: [q for q in questions if (news_weeks.story_index(q.article) < 5) == (half == "A")]
        for half in "AB"
    }
    rows = []
    saved = recency.RECENCY_WEIGHT, recency.HALF_LIFE_DAYS
    try:
        for weight, half_life in itertools.product((0.5, 1.0, 2.0, 3.0, 4.0), (3.5, 7.0, 14.0)):
            recency.RECENCY_WEIGHT, recency.HALF_LIFE_DAYS = weight, half_life
            row: dict[str, Any] = {"weight": weight, "half_life_days": half_life}
            for half, subset in halves.items():
                row[half] = right_week(qa, subset, use_as_of=True)["right_week_first"]
            rows.append(row)
            print(f"weight {weight:<4} half-life {half_life:<5} A {row['A']:.3f} B {row['B']:.3f}")
    finally:
        recency.RECENCY_WEIGHT, recency.HALF_LIFE_DAYS = saved
    return rows


def grouping(work: Path) -> dict[str, Any]:
    rng = random.Random(3)
    folder = work / "copies"
    folder.mkdir()
    originals = news_weeks.articles()
    for article in originals:
        (folder / article.name).write_text(news_weeks.markdown(article), encoding="utf-8")
        copy = edited_copy(article, rng)
        (folder / copy.name).write_text(news_weeks.markdown(copy), encoding="utf-8")
    copies = find_copies(read_corpus(folder).articles).original_of
    groups: dict[str, set[str]] = {}
    for member, original in copies.items():
        groups.setdefault(original, {original}).add(member)
    predicted = {frozenset(p) for g in groups.values() for p in itertools.combinations(sorted(g), 2)}
    truth = {frozenset((a.name, f"copy-{a.name}")) for a in originals}
    found = len(predicted & truth)
    return {
        "pairs_true": len(truth),
        "pairs_predicted": len(predicted),
        "precision": found / len(predicted) if predicted else 1.0,
        "recall": found / len(truth),
        "wrong": sorted(sorted(p) for p in predicted - truth)[:10],
    }


def timed(action: Callable[[], Any], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def reading_speed() -> dict[str, float]:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    story = news_weeks.articles()
    for page in range(40):
        pdf.add_page()
        for article in story[page % len(story) : page % len(story) + 4]:
            for paragraph in article.paragraphs:
                pdf.multi_cell(0, 6, paragraph)
                pdf.ln(3)
    data = bytes(pdf.output())
    pdf_seconds = timed(lambda: read_pdf(data, "speed.pdf"))
    items = "".join(
        f"<item><title>{a.title}</title><link>https://example.test/{i}</link>"
        f"<pubDate>Mon, 02 Feb 2026 09:00:00 +0000</pubDate>"
        f"<description><![CDATA[{''.join(f'<p>{p}</p>' for p in a.paragraphs)}]]></description></item>"
        for i, a in enumerate(story * 25)
    )
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Speed</title>{items}</channel></rss>'.encode()
    feed_seconds = timed(lambda: read_feed(feed, "speed.rss"))
    return {"pdf_pages_per_s": 40 / pdf_seconds, "feed_entries_per_s": 1000 / feed_seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "news.json")
    parser.add_argument(
        "--sweep", action="store_true", help="also sweep the recency prior on each half of the stories"
    )
    args = parser.parse_args(argv)
    machine = describe_machine()
    questions = news_weeks.questions()
    report: dict[str, Any] = {
        "machine": machine,
        "articles": len(news_weeks.articles()),
        "questions": len(questions),
    }
    with tempfile.TemporaryDirectory(prefix="qa-news-") as temp:
        work = Path(temp)
        for dated in (True, False):
            folder = work / ("dated" if dated else "undated")
            folder.mkdir()
            for article in news_weeks.articles():
                (folder / article.name).write_text(news_weeks.markdown(article, dated), encoding="utf-8")
            build_index(folder, work / f"index-{folder.name}", show_progress=False)
        runs: dict[str, Any] = {}
        with QA.open(work / "index-undated") as undated:
            runs["dates ignored"] = right_week(undated, questions, use_as_of=False)
        with QA.open(work / "index-dated") as dated_qa:
            weight = recency.RECENCY_WEIGHT
            recency.RECENCY_WEIGHT = 0.0
            try:
                runs["as_of filter, no recency prior"] = right_week(dated_qa, questions, use_as_of=True)
            finally:
                recency.RECENCY_WEIGHT = weight
            runs["as_of + recency prior (library)"] = right_week(dated_qa, questions, use_as_of=True)
            if args.sweep:
                report["sweep"] = sweep(dated_qa, questions)
        report["right_week"] = runs
        report["syndication"] = grouping(work)
    report["reading"] = reading_speed()
    print(
        f"{report['questions']} questions over {report['articles']} dated articles; load {machine['load_before']}"
    )
    print(f"{'run':<34} {'right week first':>17} {'sentence has the figure':>24}")
    for name, run in runs.items():
        print(f"{name:<34} {run['right_week_first']:>17.3f} {run['sentence_has_figure']:>24.3f}")
    s = report["syndication"]
    print(
        f"syndicated copies: precision {s['precision']:.3f}, recall {s['recall']:.3f} ({s['pairs_predicted']} pairs predicted, {s['pairs_true']} true)"
    )
    r = report["reading"]
    print(f"reading: PDF {r['pdf_pages_per_s']:.1f} pages/s, feed {r['feed_entries_per_s']:.0f} entries/s")
    write_results(report, args.out, indent=1)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
