"""Fit the answer-sentence and passage-ranking weights, and calibrate abstention.

    python bench/fit_weights.py [--data ../shared/evaldata/squad-dev-v1.1-tune.json]
                                [--news examples/questions/news.jsonl] [--workdir /tmp/qa-fit]

What it does, with the real model, in one process:

1. Builds three indexes: the 48 SQuAD tune articles; the 24 of them that have no questions (so
   every tune question is asked of an index that cannot answer it: abstention); the sample
   corpus ``examples/articles`` (news articles with the paraphrased questions of ``--news``).
2. For every question, runs the same retrieval and candidate pool as ``QA.ask`` and records each
   candidate's features (``qa.search.ranking.PASSAGE_FEATURES``) and each sentence's
   (``qa.search.sentences.SENTENCE_FEATURES``).
3. Fits both weight vectors by listwise logistic regression (softmax over the candidates, resp.
   over the gold paragraph's sentences; a sentence is gold when it holds a gold answer), first on
   each half of the SQuAD articles and scored on the other half (the check that the weights
   generalise), then on all SQuAD questions: those are the weights to copy into the library.
   News questions are never fitted on; they are the check on questions in other words.
4. Sweeps the abstention rule (evidence = dense + a * share + b * kind >= threshold) and prints
   false answers and false abstentions for SQuAD and news.

Prints tables and writes JSON (bench/results/fit_weights.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from common import (  # bench/common.py: the script's folder is on sys.path
    RESULTS,
    ROOT,
    SQUAD_TUNE,
    write_results,
)
from retrieval import load_squad, write_corpus  # bench/retrieval.py

from qa import QA, build_index
from qa.models.embed import encode_queries
from qa.search.evidence import Evidence
from qa.search.ranking import PASSAGE_FEATURES, PASSAGE_WEIGHTS
from qa.search.retriever import Query
from qa.search.sentences import SENTENCE_FEATURES, SENTENCE_WEIGHTS, analyse_question
from qa.text.terms import default_analyzer

DEFAULT_NEWS = ROOT / "examples" / "questions" / "news.jsonl"


@dataclass
class Record:
    """One question's candidates, as features."""

    group: str  # which article half (SQuAD) or "news"
    answerable: bool
    kind: bool  # the question asks for a kind of answer
    passage: np.ndarray  # (n, len(PASSAGE_FEATURES))
    sentences: list[np.ndarray]  # per candidate: (m, len(SENTENCE_FEATURES))
    gold: int  # index of the gold candidate, -1 when absent
    gold_sentences: np.ndarray  # bool mask over the gold candidate's sentences
    coverage: float  # share of the question's content words the index knows


def save(records: list[Record], path: Path) -> None:
    """Records as plain arrays (no pickle)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        group=np.array([r.group for r in records]),
        answerable=np.array([r.answerable for r in records]),
        kind=np.array([r.kind for r in records]),
        gold=np.array([r.gold for r in records]),
        passages=np.array([len(r.passage) for r in records]),
        passage=np.concatenate([r.passage for r in records]),
        sentence_counts=np.array([len(s) for r in records for s in r.sentences]),
        sentences=np.concatenate([s for r in records for s in r.sentences]),
        masks=np.array([len(r.gold_sentences) for r in records]),
        mask=np.concatenate([r.gold_sentences for r in records]).astype(bool),
        coverage=np.array([r.coverage for r in records]),
    )


def load(path: Path) -> list[Record]:
    with np.load(path, allow_pickle=False) as archive:
        data = {name: archive[name] for name in archive.files}  # NpzFile re-reads on every access
    records = []
    p = s = m = c = 0
    for i in range(len(data["group"])):
        n = int(data["passages"][i])
        sentences = []
        for count in data["sentence_counts"][c : c + n]:
            sentences.append(data["sentences"][s : s + count])
            s += int(count)
        c += n
        k = int(data["masks"][i])
        records.append(
            Record(
                group=str(data["group"][i]),
                answerable=bool(data["answerable"][i]),
                kind=bool(data["kind"][i]),
                passage=data["passage"][p : p + n],
                sentences=sentences,
                gold=int(data["gold"][i]),
                gold_sentences=data["mask"][m : m + k],
                coverage=float(data["coverage"][i]),
            )
        )
        p += n
        m += k
    return records


def contains(text: str, answers: tuple[str, ...]) -> bool:
    low = " ".join(text.lower().split())
    return any(" ".join(a.lower().split()) in low for a in answers if a)


def collect(
    qa: QA, questions: Sequence[tuple[str, tuple[str, int] | None, tuple[str, ...], str]]
) -> list[Record]:
    """Features of every question: (text, gold (article, paragraph) or None, answers, group)."""
    analyzer = default_analyzer()
    vectors = encode_queries(qa.encoder, [q for q, *_ in questions])
    records = []
    for (text, gold, answers, group), vector in zip(questions, vectors, strict=True):
        question = analyse_question(text, vector, analyzer)
        retrieval = qa._retriever.retrieve(Query(text, vector), pool=50)
        evidence: list[Evidence] = qa._ranker.score(question, qa._ranker.pool(retrieval, 5))
        where = [(e.passage.article_id, e.passage.paragraph) for e in evidence]
        index = where.index(gold) if gold in where else -1
        mask = (
            np.array(
                [
                    contains(
                        evidence[index].passage.text[
                            s.start - evidence[index].passage.start : s.end - evidence[index].passage.start
                        ],
                        answers,
                    )
                    for s in evidence[index].sentences
                ]
            )
            if index >= 0
            else np.zeros(0, dtype=bool)
        )
        records.append(
            Record(
                group=group,
                answerable=gold is not None,
                kind=question.kind is not None,
                passage=np.stack([e.features for e in evidence])
                if evidence
                else np.zeros((0, len(PASSAGE_FEATURES))),
                sentences=[np.stack([s.features for s in e.sentences]) for e in evidence],
                gold=index,
                gold_sentences=mask,
                coverage=retrieval.coverage,
            )
        )
    return records


def softmax_fit(
    groups: list[tuple[np.ndarray, np.ndarray, float]], l2: float = 1e-3, steps: int = 500
) -> np.ndarray:
    """Weights maximising the weighted mean log-probability of each group's positives under a softmax.

    Groups are padded into one (groups, items, features) array so each Adam step is a few
    vectorised operations.
    """
    dim = groups[0][0].shape[1]
    width = max(len(x) for x, _, _ in groups)
    x = np.zeros((len(groups), width, dim))
    valid = np.zeros((len(groups), width), dtype=bool)
    positive = np.zeros((len(groups), width), dtype=bool)
    weight = np.array([g for _, _, g in groups])
    weight = weight / weight.sum()
    for i, (features, pos, _) in enumerate(groups):
        x[i, : len(features)] = features
        valid[i, : len(features)] = True
        positive[i, : len(features)] = pos
    w = np.zeros(dim)
    m, v = np.zeros(dim), np.zeros(dim)
    for step in range(1, steps + 1):
        z = np.where(valid, x @ w, -np.inf)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        q = np.where(positive, p, 0.0)
        q /= q.sum(axis=1, keepdims=True)
        grad = l2 * w + np.einsum("g,gi,gid->d", weight, p - q, x)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w -= 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return w


def best_sentence_index(features: np.ndarray, weights: np.ndarray, kind: bool) -> int:
    """The library's rule: best score; if it lacks the asked-for kind and the next one has it, the next."""
    scores = features @ weights
    best = int(np.argmax(scores))
    kind_column = SENTENCE_FEATURES.index("kind")
    if (
        kind
        and not features[best, kind_column]
        and best + 1 < len(features)
        and features[best + 1, kind_column]
    ):
        return best + 1
    return best


def with_sentence_weights(r: Record, weights: np.ndarray) -> np.ndarray:
    """Passage features with the answering sentence's columns recomputed under other sentence weights."""
    x = r.passage.copy()
    for i, s in enumerate(r.sentences):
        best = s[best_sentence_index(s, weights, r.kind)]
        x[i, PASSAGE_FEATURES.index("sentence")] = float(best @ weights)
        x[i, PASSAGE_FEATURES.index("kind")] = best[SENTENCE_FEATURES.index("kind")]
        x[i, PASSAGE_FEATURES.index("novelty")] = best[SENTENCE_FEATURES.index("novelty")]
    return x


def sentence_accuracy(records: list[Record], weights: np.ndarray) -> float:
    usable = [r for r in records if r.gold >= 0 and r.gold_sentences.any()]
    right = sum(
        bool(r.gold_sentences[best_sentence_index(r.sentences[r.gold], weights, r.kind)]) for r in usable
    )
    return right / max(len(usable), 1)


def hit_at_1(records: list[Record], weights: np.ndarray, sentence_weights: np.ndarray) -> float:
    answerable = [r for r in records if r.answerable]
    right = sum(
        1
        for r in answerable
        if r.gold >= 0 and int(np.argmax(with_sentence_weights(r, sentence_weights) @ weights)) == r.gold
    )
    return right / max(len(answerable), 1)


def fit(records: list[Record], news_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Sentence weights, then passage weights; news questions together weigh ``news_share``."""
    news = sum(1 for r in records if r.group.startswith("news"))
    squad = len(records) - news
    news_weight = news_share / (1 - news_share) * squad / news if news and squad else 1.0

    def weight(r: Record) -> float:
        return news_weight if r.group.startswith("news") else 1.0

    sentence_groups = [
        (r.sentences[r.gold], r.gold_sentences, weight(r))
        for r in records
        if r.gold >= 0 and r.gold_sentences.any() and not r.gold_sentences.all()
    ]
    sentence_w = softmax_fit(sentence_groups)
    passage_groups = [
        (with_sentence_weights(r, sentence_w), np.arange(len(r.passage)) == r.gold, weight(r))
        for r in records
        if r.gold >= 0 and len(r.passage) > 1
    ]
    return sentence_w, softmax_fit(passage_groups)


def strengths(records: list[Record], weights: np.ndarray, sentence_w: np.ndarray) -> np.ndarray:
    """(best dense over the pool, kind of the top answering sentence, coverage) per question."""
    out = []
    for r in records:
        if not len(r.passage):
            out.append((0.0, 0.0, r.coverage))
            continue
        top = int(np.argmax(with_sentence_weights(r, sentence_w) @ weights))
        s = r.sentences[top][best_sentence_index(r.sentences[top], sentence_w, r.kind)]
        out.append(
            (
                float(r.passage[:, PASSAGE_FEATURES.index("dense")].max()),
                float(s[SENTENCE_FEATURES.index("kind")]),
                r.coverage,
            )
        )
    return np.array(out)


def collect_all(args: argparse.Namespace) -> tuple[list[Record], list[Record], list[Record]]:
    """Build the three indexes and collect the features of every question."""
    articles, _, questions = load_squad(args.data)
    data = json.loads(args.data.read_text(encoding="utf-8"))["data"]
    names = list(articles)
    with_questions = {
        name
        for name, article in zip(names, data, strict=True)
        if any(p["qas"] for p in article["paragraphs"])
    }
    full = args.workdir / "squad-articles"
    no_questions = args.workdir / "squad-noq-articles"
    write_corpus(articles, full)
    write_corpus({k: v for k, v in articles.items() if k not in with_questions}, no_questions)
    for folder, index in (
        (full, "squad-index"),
        (no_questions, "squad-noq-index"),
        (ROOT / "examples" / "articles", "sample-index"),
    ):
        build_index(folder, args.workdir / index, show_progress=False)
    _, paragraphs, _ = load_squad(args.data)
    halves = {name: ("A" if i % 2 == 0 else "B") for i, name in enumerate(sorted(with_questions))}
    squad = [
        (
            q.text,
            (paragraphs[q.gold].file, paragraphs[q.gold].number),
            q.answers,
            halves[paragraphs[q.gold].file],
        )
        for q in questions
    ]
    records = collect(QA.open(args.workdir / "squad-index"), squad)
    outside = collect(QA.open(args.workdir / "squad-noq-index"), [(t, None, (), "out") for t, *_ in squad])
    news: list[Record] = []
    if args.news.is_file():  # news halves: by article, alternating in name order
        lines = [
            json.loads(line) for line in args.news.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
        news = collect(
            QA.open(args.workdir / "sample-index"),
            [
                (
                    q["question"],
                    (q["article"], int(q["paragraph"])) if q.get("article") else None,
                    (q["answer"],) if isinstance(q.get("answer"), str) else tuple(q.get("answer") or ()),
                    "news-"
                    + (
                        "A"
                        if sorted({x["article"] for x in lines if x.get("article")}).index(q["article"]) % 2
                        == 0
                        else "B"
                    )
                    if q.get("article")
                    else "news-out",
                )
                for q in lines
            ],
        )
    return records, outside, news


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SQUAD_TUNE)
    parser.add_argument("--news", type=Path, default=DEFAULT_NEWS)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/qa-fit"))
    parser.add_argument("--out", type=Path, default=RESULTS / "fit_weights.json")
    parser.add_argument("--reuse", action="store_true", help="reuse the features saved by the last run")
    parser.add_argument(
        "--news-share", type=float, default=0.3, help="weight of the news questions in the fit (default 0.3)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    cache = args.workdir / "features"
    if args.reuse and all((cache / f"{n}.npz").is_file() for n in ("squad", "outside", "news")):
        records, outside, news = (load(cache / f"{n}.npz") for n in ("squad", "outside", "news"))
    else:
        records, outside, news = collect_all(args)
        for name, part in (("squad", records), ("outside", outside), ("news", news)):
            save(part, cache / f"{name}.npz")
    report: dict[str, Any] = {"features": {"passage": PASSAGE_FEATURES, "sentence": SENTENCE_FEATURES}}
    print(f"{len(records)} SQuAD questions, {len(news)} news questions; {time.perf_counter() - started:.0f}s")
    current = (PASSAGE_WEIGHTS.astype(float), SENTENCE_WEIGHTS.astype(float))
    rows = [("library weights now", "-", current)]
    for share in (0.0, args.news_share):
        for held_out in ("A", "B"):
            train = [r for r in records + news if r.group not in (held_out, f"news-{held_out}", "news-out")]
            fitted = fit(train, share)
            rows.append((f"news {share:.0%}, without half {held_out}", held_out, (fitted[1], fitted[0])))
    sentence_w, passage_w = fit([r for r in records + news if r.group != "news-out"], args.news_share)
    rows.append((f"news {args.news_share:.0%}, all", "-", (passage_w, sentence_w)))
    print(
        f"\n{'weights':<30} {'scored on':<10} {'hit@1':>6} {'sentence':>9} {'news hit@1':>11} {'news sent.':>11}"
    )
    results = []
    for label, half, (pw, sw) in rows:
        scored = [r for r in records if half in ("-", r.group)]
        scored_news = [r for r in news if half == "-" or r.group == f"news-{half}"]
        line = {
            "weights": label,
            "scored_on": "all" if half == "-" else f"half {half}",
            "hit@1": hit_at_1(scored, pw, sw),
            "sentence": sentence_accuracy(scored, sw),
            "news_hit@1": hit_at_1(scored_news, pw, sw) if news else None,
            "news_sentence": sentence_accuracy(scored_news, sw) if news else None,
            "passage_weights": [round(float(x), 4) for x in pw],
            "sentence_weights": [round(float(x), 4) for x in sw],
        }
        results.append(line)
        news_part = f"{line['news_hit@1']:>11.3f} {line['news_sentence']:>11.3f}" if news else ""
        print(
            f"{label:<30} {line['scored_on']:<10} {line['hit@1']:>6.3f} {line['sentence']:>9.3f} {news_part}"
        )
    report["fits"] = results
    print("\npassage weights", dict(zip(PASSAGE_FEATURES, np.round(passage_w, 4), strict=True)))
    print("sentence weights", dict(zip(SENTENCE_FEATURES, np.round(sentence_w, 4), strict=True)))

    # Abstention: the evidence of the top passage under the fitted weights.
    inside = strengths(records, passage_w, sentence_w)
    found = np.array(
        [
            r.gold >= 0 and int(np.argmax(with_sentence_weights(r, sentence_w) @ passage_w)) == r.gold
            for r in records
        ]
    )
    out = strengths(outside, passage_w, sentence_w)
    news_in = (
        strengths([r for r in news if r.answerable], passage_w, sentence_w) if news else np.zeros((0, 3))
    )
    kinds = (
        [json.loads(x).get("kind") for x in args.news.read_text(encoding="utf-8").splitlines() if x.strip()]
        if news
        else []
    )
    unanswerable = [(r, k) for r, k in zip(news, kinds, strict=True) if not r.answerable]
    news_out = strengths([r for r, k in unanswerable if k != "near-miss"], passage_w, sentence_w)
    news_near = strengths([r for r, k in unanswerable if k == "near-miss"], passage_w, sentence_w)
    sweep = []
    for b in (0.0, 0.05, 0.1):
        for g in (0.0, 0.2, 0.3, 0.4):
            for c0 in (0.0, 0.5, 0.7, 0.75, 0.8):
                for threshold in np.arange(0.30, 0.95, 0.01):

                    def rate(
                        x: np.ndarray, b: float = b, g: float = g, c0: float = c0, t: float = threshold
                    ) -> float:
                        if not len(x):
                            return float("nan")
                        return float(np.mean((x[:, 0] + b * x[:, 1] + g * x[:, 2] >= t) & (x[:, 2] >= c0)))

                    sweep.append(
                        {
                            "kind_weight": b,
                            "coverage_weight": g,
                            "min_coverage": c0,
                            "threshold": round(float(threshold), 2),
                            "squad_false_answer": rate(out),
                            "squad_false_abstain_found": 1 - rate(inside[found]),
                            "news_false_abstain": 1 - rate(news_in),
                            "news_offtopic_abstain": 1 - rate(news_out),
                            "news_near_miss_abstain": 1 - rate(news_near),
                        }
                    )
    report["abstention"] = sweep
    ok = [
        s
        for s in sweep
        if not news or (s["news_false_abstain"] <= 0.05 and s["news_offtopic_abstain"] >= 0.9)
    ]
    ok.sort(key=lambda s: s["squad_false_answer"] + s["squad_false_abstain_found"])
    print(f"\nabstention rules meeting the news targets: {len(ok)}; best on SQuAD:")
    for s in ok[:8]:
        print(s)
    if news:
        ranked = sorted(sweep, key=lambda s: s["news_false_abstain"] + (1 - s["news_offtopic_abstain"]))
        print("best on news alone:")
        for s in ranked[:5]:
            print(s)
    write_results(report, args.out, indent=1)
    print(f"\nwrote {args.out} in {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
