"""Fit how the reader's verdict is used, and calibrate its abstention.

    python bench/reader_fit.py [--squad-questions 1200] [--workdir /tmp/qa-reader-fit] [--write]
                               [--reader FOLDER]

With the real model and the shipped reader, in one process:

1. Builds four indexes: the 48 SQuAD tune articles; the 24 of them without questions (tune
   questions asked there cannot be answered: abstention); the sample corpus (our news questions,
   examples/questions/news.jsonl, and off-topic questions sharing its names, off-topic.jsonl);
   the seed article alone (its paraphrased and off-topic questions, seed-*.jsonl).
2. For every question: the candidates ranked as ``QA.ask`` ranks them without the reader, the
   first POOL of them read by the reader; each candidate's ranking score, reader logit, and per
   sentence the reader's logit, the ranking's sentence score and whether it holds a gold answer.
3. Fits on half A (SQuAD articles and news articles alternating by name) and reports on half B:
   the reader weight beside the ranking score, the sentence mix, how many candidates to read.
4. Calibrates probability = sigmoid(a * logit + b) of the best passage (answerable vs not) on
   half A, and picks the threshold: the lowest mean error over half A's sets among those that
   keep 90% of the news set's plain off-topic questions abstaining (the product's promise);
   reports abstention on every set, and how well the best passage's logit separates each
   answerable set from its off-topic questions (area under the curve: no threshold involved).

``--write`` stores the calibration beside the reader: qa/models/reader_weights/calibration.json,
or in ``--reader FOLDER`` (an export fitted before it replaces the shipped reader). Prints tables
and writes bench/results/reader_fit.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from common import ROOT, SQUAD_TUNE, describe_machine, write_results
from retrieval import load_squad, write_corpus
from tqdm import tqdm

from qa import QA, build_index
from qa.models.embed import encode_queries
from qa.models.reader import CALIBRATION_FILE, WEIGHTS_FOLDER, PassageReader
from qa.search.retriever import Query
from qa.search.sentences import analyse_question
from qa.text.terms import default_analyzer

POOL = 8  # candidates read per question: the fitted pool is at most this
QUESTIONS = ROOT / "examples" / "questions"
SEED = ROOT.parent / "shared" / "seed" / "000_847ebad0b789be72.txt"
# (text, gold (article, paragraph) or None, gold answers, set name, half, kind of question)
Probe = tuple[str, tuple[str, int] | None, tuple[str, ...], str, str, str]
# The product's promise on plain off-topic questions (the news set's kind "off-topic", held by
# tests/test_news_questions.py): the threshold is the best one that keeps it on half A.
OFF_TOPIC_KIND = "off-topic"
OFF_TOPIC_FLOOR = 0.90


@dataclass
class Candidate:
    score: float
    logit: float
    gold: bool
    holds: list[bool]  # per sentence: holds a gold answer
    reader_sentences: list[float]
    ranking_sentences: list[float]
    # What the fast path knows that does not depend on the index's size, for verdict studies:
    # the passage's cosine with the question; per sentence its cosine, its share of the
    # question's content words and whether it holds the kind of answer asked for.
    dense: float = 0.0
    sentence_cosines: list[float] = field(default_factory=list)
    sentence_shares: list[float] = field(default_factory=list)
    sentence_kinds: list[bool] = field(default_factory=list)


@dataclass
class Record:
    set: str
    half: str  # "A" (fit) or "B" (report)
    answerable: bool
    candidates: list[Candidate] = field(default_factory=list)
    kind: str = ""  # the question set's kind of question, where it has one


def contains(text: str, answers: Sequence[str]) -> bool:
    low = " ".join(text.lower().split())
    return any(" ".join(a.lower().split()) in low for a in answers if a)


def collect(qa: QA, reader: PassageReader, questions: Sequence[Probe]) -> list[Record]:
    """(text, gold (article, paragraph) or None, answers, set, half, kind) -> records."""
    analyzer = default_analyzer()
    ranker = qa._ranker
    vectors = encode_queries(qa.encoder, [q[0] for q in questions])
    out: list[Record] = []
    label = questions[0][3] if questions else ""
    for (text, gold, answers, name, half, kind), vector in tqdm(
        list(zip(questions, vectors, strict=True)), desc=label, mininterval=10
    ):
        question = analyse_question(text, vector, analyzer)
        retrieval = qa._retriever.retrieve(Query(text, vector), pool=50)
        evidence = ranker.score(question, ranker.pool(retrieval, 5))
        evidence.sort(key=lambda e: (-e.score, e.passage.id))
        head = ranker._distinct(evidence)[:POOL]
        readings = reader.read(
            text,
            [
                (e.passage.text, [(s.start - e.passage.start, s.end - e.passage.start) for s in e.sentences])
                for e in head
            ],
            [e.passage.title for e in head],
        )
        record = Record(name, half, gold is not None, kind=kind)
        for e, r in zip(head, readings, strict=True):
            p = e.passage
            record.candidates.append(
                Candidate(
                    score=e.score,
                    logit=r.logit,
                    gold=gold is not None and (p.article_id, p.paragraph) == gold,
                    holds=[
                        contains(p.text[s.start - p.start : s.end - p.start], answers) for s in e.sentences
                    ],
                    reader_sentences=[float(x) for x in r.sentences],
                    ranking_sentences=[s.score for s in e.sentences],
                    dense=e.candidate.dense,
                    sentence_cosines=[s.cosine for s in e.sentences],
                    sentence_shares=[s.share for s in e.sentences],
                    sentence_kinds=[s.holds_kind for s in e.sentences],
                )
            )
        out.append(record)
    return out


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def eval_questions(path: Path, name: str) -> list[Probe]:
    rows = jsonl(path)
    names = sorted({r["article"] for r in rows if r.get("article")})
    out: list[Probe] = []
    for r in rows:
        gold = (r["article"], int(r["paragraph"])) if r.get("article") else None
        answer = r.get("answer")
        answers = (answer,) if isinstance(answer, str) else tuple(answer or ())
        half = "AB"[names.index(r["article"]) % 2] if gold else "AB"[len(out) % 2]
        out.append((r["question"], gold, answers, name if gold else name + "-off", half, r.get("kind", "")))
    return out


def build_indexes(work: Path, data: Path) -> None:
    """The four indexes (made once; a later call finds nothing changed)."""
    articles, paragraphs, questions = load_squad(data)
    with_questions = {paragraphs[q.gold].file for q in questions}
    write_corpus(articles, work / "squad-articles")
    write_corpus({k: v for k, v in articles.items() if k not in with_questions}, work / "squad-noq-articles")
    (work / "seed-articles").mkdir(parents=True, exist_ok=True)
    (work / "seed-articles" / SEED.name).write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    for folder, index in (
        (work / "squad-articles", "squad-index"),
        (work / "squad-noq-articles", "squad-noq-index"),
        (ROOT / "examples" / "articles", "sample-index"),
        (work / "seed-articles", "seed-index"),
    ):
        build_index(folder, work / index, show_progress=False)


def collect_all(args: argparse.Namespace, reader: PassageReader) -> list[Record]:
    work: Path = args.workdir
    build_indexes(work, args.data)
    _, paragraphs, questions = load_squad(args.data)
    with_questions = {paragraphs[q.gold].file for q in questions}
    halves = {name: "AB"[i % 2] for i, name in enumerate(sorted(with_questions))}
    sample = random.Random(7).sample(questions, min(args.squad_questions, len(questions)))
    squad: list[Probe] = [
        (
            q.text,
            (paragraphs[q.gold].file, paragraphs[q.gold].number),
            q.answers,
            "squad",
            halves[paragraphs[q.gold].file],
            "squad",
        )
        for q in sample
    ]
    records = collect(QA.open(work / "squad-index", reader=False), reader, squad)
    outside: list[Probe] = [
        (t, None, (), "squad-off", h, "squad-off") for t, _, _, _, h, _ in squad[: args.squad_questions // 2]
    ]
    records += collect(QA.open(work / "squad-noq-index", reader=False), reader, outside)
    cut = args.other_questions
    sample_qa = QA.open(work / "sample-index", reader=False)
    records += collect(sample_qa, reader, eval_questions(QUESTIONS / "news.jsonl", "news")[:cut])
    records += collect(sample_qa, reader, eval_questions(QUESTIONS / "off-topic.jsonl", "names")[:cut])
    seed_qa = QA.open(work / "seed-index", reader=False)
    records += collect(seed_qa, reader, eval_questions(QUESTIONS / "seed-paraphrases.jsonl", "seed")[:cut])
    records += collect(seed_qa, reader, eval_questions(QUESTIONS / "seed-off-topic.jsonl", "seed")[:cut])
    return records


def order(r: Record, weight: float, pool: int) -> list[int]:
    """Candidate indexes in final order: the first ``pool`` by weight * logit + score, then the rest."""
    read = sorted(
        range(min(pool, len(r.candidates))),
        key=lambda i: -(weight * r.candidates[i].logit + r.candidates[i].score),
    )
    return read + list(range(len(read), len(r.candidates)))


def sentence_of(c: Candidate, mix: float) -> int:
    values = [a + mix * b for a, b in zip(c.reader_sentences, c.ranking_sentences, strict=True)]
    finite = [i for i, v in enumerate(values) if np.isfinite(v)]
    return max(finite, key=lambda i: values[i]) if finite else 0


def metrics(records: list[Record], weight: float, pool: int, mix: float) -> dict[str, float]:
    answerable = [r for r in records if r.answerable]
    if not answerable:
        return {}
    hits, rr, holds = [], [], []
    for r in answerable:
        ranked = order(r, weight, pool)
        gold = [k for k, i in enumerate(ranked) if r.candidates[i].gold]
        hits.append(bool(gold) and gold[0] == 0)
        rr.append(1.0 / (gold[0] + 1) if gold and gold[0] < 10 else 0.0)
        top = r.candidates[ranked[0]] if ranked else None
        holds.append(bool(top and top.holds and top.holds[sentence_of(top, mix)]))
    return {
        "n": len(answerable),
        "hit@1": float(np.mean(hits)),
        "mrr@10": float(np.mean(rr)),
        "sentence_holds": float(np.mean(holds)),
    }


def top_logits(records: list[Record], weight: float, pool: int) -> np.ndarray:
    return np.array(
        [r.candidates[order(r, weight, pool)[0]].logit if r.candidates else -20.0 for r in records]
    )


def platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Logistic regression of labels on logits: the (scale, shift) of the calibration."""
    from scipy.optimize import minimize

    def loss(ab: np.ndarray) -> float:
        z = ab[0] * logits + ab[1]
        # -log sigmoid(z) for positives, -log(1 - sigmoid(z)) for negatives, computed stably
        return float(
            np.mean(np.logaddexp(0.0, -z) * labels + np.logaddexp(0.0, z) * (1 - labels)) + 1e-4 * ab[0] ** 2
        )

    fitted = minimize(
        loss, np.array([1.0, 0.0]), method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9}
    )
    return float(fitted.x[0]), float(fitted.x[1])


def abstention(
    records: list[Record], weight: float, pool: int, a: float, b: float, threshold: float
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    groups = {name: [r for r in records if r.set == name] for name in sorted({r.set for r in records})}
    groups["plain off-topic"] = [r for r in records if r.kind == OFF_TOPIC_KIND]  # within news-off
    for name, part in groups.items():
        if not part:
            continue
        p = 1 / (1 + np.exp(-(a * top_logits(part, weight, pool) + b)))
        out[name] = {"n": len(part), "abstain": float(np.mean(p < threshold))}
    return out


# Answerable sets against the questions they must be told apart from: (name, answerable set,
# off-topic set, kind within it or "" for all of it).
SEPARATIONS = (
    ("news vs near misses", "news", "news-off", "near-miss"),
    ("news vs plain off-topic", "news", "news-off", OFF_TOPIC_KIND),
    ("news vs names-off", "news", "names-off", ""),
    ("squad vs squad-off", "squad", "squad-off", ""),
    ("seed vs seed-off", "seed", "seed-off", ""),
)


def area_under_curve(positive: np.ndarray, negative: np.ndarray) -> float | None:
    """The chance that a positive scores above a negative (ties count half): 0.5 is no better than
    a coin, whatever the threshold. None when either side is empty."""
    if not len(positive) or not len(negative):
        return None
    above = (positive[:, None] > negative[None, :]).mean()
    tied = (positive[:, None] == negative[None, :]).mean()
    return float(above + 0.5 * tied)


def separation(records: list[Record], weight: float, pool: int) -> dict[str, float | None]:
    """Threshold-free: how well the best passage's logit tells each answerable set from its
    off-topic questions (area under the ROC curve, both halves). Two reader versions whose fitted
    thresholds sit at different points of the same curve abstain differently; this says whether
    either one separates better."""
    out: dict[str, float | None] = {}
    for name, answerable, off_topic, kind in SEPARATIONS:
        positive = top_logits([r for r in records if r.set == answerable and r.answerable], weight, pool)
        negative = top_logits(
            [r for r in records if r.set == off_topic and (not kind or r.kind == kind)], weight, pool
        )
        out[name] = area_under_curve(positive, negative)
    return out


def choose_threshold(fit: list[Record], weight: float, pool: int, a: float, b: float) -> tuple[float, bool]:
    """The abstention threshold, and whether it keeps the plain off-topic floor.

    The one with the lowest mean error over the sets of ``fit``, each set counted alike (false
    abstention on an answerable set, false answers on an off-topic one), so 336 SQuAD questions
    do not outvote 15 off-topic ones; among those that abstain on ``OFF_TOPIC_FLOOR`` of the
    plain off-topic questions, when any does.
    """
    sets = {name: [r for r in fit if r.set == name] for name in sorted({r.set for r in fit})}

    def probabilities(rs: list[Record]) -> np.ndarray:
        return np.asarray(1 / (1 + np.exp(-(a * top_logits(rs, weight, pool) + b))))

    probs = {name: probabilities(rs) for name, rs in sets.items()}
    off_topic = probabilities([r for r in fit if r.kind == OFF_TOPIC_KIND])

    def balanced_error(t: float) -> float:
        return float(np.mean([np.mean((probs[name] < t) == rs[0].answerable) for name, rs in sets.items()]))

    def keeps_the_floor(t: float) -> bool:
        return off_topic.size == 0 or float(np.mean(off_topic < t)) >= OFF_TOPIC_FLOOR

    candidates = [float(t) for t in np.linspace(0.01, 0.99, 99)]
    threshold = min([t for t in candidates if keeps_the_floor(t)] or candidates, key=balanced_error)
    return threshold, keeps_the_floor(threshold)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SQUAD_TUNE)
    parser.add_argument("--squad-questions", type=int, default=1200)
    parser.add_argument(
        "--other-questions", type=int, default=None, help="at most this many of each other set (a smoke run)"
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/qa-reader-fit"))
    parser.add_argument("--reuse", action="store_true", help="reuse the records of the last run")
    parser.add_argument(
        "--reader",
        type=Path,
        default=WEIGHTS_FOLDER,
        help="the exported reader to fit (default: the packaged one), e.g. one written by train/reader.py --export",
    )
    parser.add_argument("--write", action="store_true", help="write the calibration beside the reader")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "reader_fit.json")
    args = parser.parse_args(argv)
    reader = PassageReader(args.reader)
    cache = args.workdir / f"records-{reader.version}-{reader.weights_sha256[:12]}.json"
    cached = json.loads(cache.read_text()) if args.reuse and cache.is_file() else []
    # Records from before they carried their question's kind cannot keep the off-topic floor.
    if cached and all("kind" in d for d in cached):
        records = [
            Record(d["set"], d["half"], d["answerable"], [Candidate(**c) for c in d["candidates"]], d["kind"])
            for d in cached
        ]
    else:
        records = collect_all(args, reader)
        args.workdir.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps([asdict(r) for r in records]))
    fit = [r for r in records if r.half == "A"]
    report = [r for r in records if r.half == "B"]
    fit_rank = [r for r in fit if r.set in ("squad", "news")]

    def objective(rs: list[Record], w: float, pool: int, mix: float) -> float:
        squad_m = metrics([r for r in rs if r.set == "squad"], w, pool, mix)
        news_m = metrics([r for r in rs if r.set == "news"], w, pool, mix)
        return 0.7 * squad_m.get("hit@1", 0) + 0.3 * news_m.get("hit@1", 0)

    grid = [(w, pool) for w in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 1e3) for pool in (3, 4, 5, 6)]
    scored = sorted(((objective(fit_rank, w, pool, 0.0), w, pool) for w, pool in grid), reverse=True)
    # Each candidate read costs time: the smallest pool within 0.3 points of the best.
    _, weight, pool = min((s for s in scored if s[0] >= scored[0][0] - 0.003), key=lambda s: (s[2], -s[0]))
    mixes = [0.0, 0.05, 0.1, 0.2, 0.5, 1.0]
    mix = max(
        mixes,
        key=lambda m: (
            metrics([r for r in fit if r.set == "squad"], weight, pool, m).get("sentence_holds", 0.0) * 0.7
            + metrics([r for r in fit if r.set == "news"], weight, pool, m).get("sentence_holds", 0.0) * 0.3
        ),
    )
    labels = np.array([r.answerable for r in fit], dtype=float)
    a, b = platt(top_logits(fit, weight, pool), labels)
    threshold, floor_met = choose_threshold(fit, weight, pool, a, b)
    if not floor_met:
        print(f"no threshold abstains on {OFF_TOPIC_FLOOR:.0%} of the plain off-topic questions of half A")
    results: dict[str, Any] = {
        "machine": describe_machine(),
        "reader_version": reader.version,
        "chosen": {
            "weight": weight,
            "pool": pool,
            "sentence_mix": mix,
            "scale": a,
            "shift": b,
            "abstain_below": threshold,
            "plain_off_topic_floor_met": floor_met,
        },
        "grid_top": [{"objective": o, "weight": w, "pool": p} for o, w, p in scored[:10]],
        "ranking": {},
        "abstention": {
            h: abstention([r for r in records if r.half == h], weight, pool, a, b, threshold) for h in "AB"
        },
        "separation": separation(records, weight, pool),
    }
    print(
        f"reader {reader.version}: weight {weight}, pool {pool}, sentence mix {mix}, calibration a={a:.3f} b={b:.3f}, abstain below {threshold:.3f}"
    )
    print(f"{'set':<10}{'half':<6}{'method':<22}{'n':>6}{'hit@1':>8}{'mrr@10':>8}{'sent':>8}")
    for name in ("squad", "news", "seed"):
        for half, part in (("A", fit), ("B", report)):
            rs = [r for r in part if r.set == name]
            for label, (w, p, m) in {
                "ranking only": (0.0, 1, 0.0),
                "reader alone": (1e3, pool, mix),
                "reader + ranking": (weight, pool, mix),
            }.items():
                m_ = metrics(rs, w, p, m)
                if m_:
                    results["ranking"][f"{name}/{half}/{label}"] = m_
                    print(
                        f"{name:<10}{half:<6}{label:<22}{m_['n']:>6}{m_['hit@1']:>8.3f}{m_['mrr@10']:>8.3f}{m_['sentence_holds']:>8.3f}"
                    )
    for half in "AB":
        for name, v in results["abstention"][half].items():
            print(f"abstain {half} {name:<14} n={v['n']:<5} {v['abstain']:.3f}")
    for name, value in results["separation"].items():
        print(f"area under the curve, {name:<24} {'-' if value is None else f'{value:.3f}'}")
    if args.write:
        (args.reader / CALIBRATION_FILE).write_text(
            json.dumps(
                {
                    "reader_version": reader.version,
                    "reader_weights_sha256": reader.weights_sha256,
                    "scale": round(a, 6),
                    "shift": round(b, 6),
                    "abstain_below": round(threshold, 6),
                    "abstains_on_90_percent_of_plain_off_topic_on_half_a": floor_met,
                    "fitted_by": "bench/reader_fit.py",
                    "fitted_on": "half A of: SQuAD tune questions (answerable; and asked of the 24 articles without questions), "
                    "examples/questions/news.jsonl, off-topic.jsonl, seed-*.jsonl",
                    "ranking": {"reader_weight": weight, "read_pool": pool, "sentence_mix": mix},
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"wrote {args.reader / CALIBRATION_FILE}")
    write_results(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
