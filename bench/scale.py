"""How builds, opens and queries scale with the corpus: a synthetic corpus, a fast fake encoder.

    python bench/scale.py [--sizes 10000 100000] [--baseline REV] [--out bench/results/scale.json]

Only the pipeline is timed: the encoder hashes words into a 384-d vector (no model), so the
numbers are what reading, splitting, storing and indexing cost. For each size (paragraphs):
a full build, ``QA.open``, single-query search latency without the encoder (``QA.search`` on
pre-encoded text through the fake encoder), a no-change rebuild, and a rebuild after adding 1%
more articles (seconds and bytes written). Every step runs in its own process so its peak RSS
(VmHWM) is its own. ``--baseline REV`` runs the same steps on another commit's code (a git
worktree) in the same invocation, so the two can be compared on one machine and load.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PARAGRAPHS_PER_ARTICLE = 10
SETTLE_S = 3.0  # > qa.ingest.RACY_SECONDS
DIM = 384
logger = logging.getLogger("bench.scale")


# ---- the corpus and the encoder ----------------------------------------------------------------


def _vocabulary(size: int = 30_000, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnoprstuvwy"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(size)]


def _paragraph(rng: random.Random, words: list[str], cumulative: list[float]) -> str:
    """Three to six sentences of 10-22 words: about the length of a news paragraph."""
    sentences = []
    for _ in range(rng.randint(3, 6)):
        chosen = rng.choices(words, cum_weights=cumulative, k=rng.randint(10, 22))
        sentences.append(" ".join(chosen).capitalize() + ".")
    return " ".join(sentences)


def write_corpus(folder: Path, paragraphs: int, first_article: int = 0, seed: int = 5) -> int:
    """``paragraphs`` paragraphs in .txt articles of ten; returns the number of articles."""
    words = _vocabulary()
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))  # Zipf
    articles = max(1, paragraphs // PARAGRAPHS_PER_ARTICLE)
    for number in range(first_article, first_article + articles):
        rng = random.Random(seed * 1_000_003 + number)
        body = "\n\n".join(_paragraph(rng, words, cumulative) for _ in range(PARAGRAPHS_PER_ARTICLE))
        path = folder / f"part-{number // 1000:04d}" / f"article-{number:07d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"Article number {number}\n\n{body}\n", encoding="utf-8")
    return articles


class HashingEncoder:
    """Words hashed into signed dimensions, normalised: no model, ~microseconds per text."""

    name = "hashing-384"
    dim = DIM

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest[:2], "little") % DIM] += 1.0 if digest[2] & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


# ---- one step, in a child process ------------------------------------------------------------------


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run_step(step: str, articles: Path, index: Path) -> dict[str, Any]:
    """Do one step in this process; returns its timings and this process's peak RSS."""
    from qa import QA, build_index  # the code under test (this checkout or a baseline worktree)

    encoder = HashingEncoder()
    cpu, wall = time.process_time(), time.perf_counter()
    result: dict[str, Any] = {}
    if step in ("build", "rebuild"):
        report = build_index(articles, index, encoder=encoder, show_progress=False)
        live = (index / "CURRENT").read_text().strip()
        # What this build wrote: its generation folder and, from format 4 on, its own vector
        # segment (older segments are shared, not rewritten). What the index holds: the live
        # generation, the earlier generations whose parts it reads (format 6 on) and every
        # segment it lists (a build deletes the others).
        own_segment = index / "segments" / f"{live}.sqlite"
        written = folder_bytes(index / live) + (own_segment.stat().st_size if own_segment.exists() else 0)
        shared = folder_bytes(index / "segments") if (index / "segments").is_dir() else 0
        parts = json.loads((index / live / "manifest.json").read_text()).get("parts", {})
        result.update(
            embedded=report.embedded,
            up_to_date=report.up_to_date,
            written_bytes=0 if report.up_to_date else written,
            index_bytes=folder_bytes(index / live) + shared + sum(folder_bytes(index / p) for p in parts),
            parts=len(parts) + 1,
        )
    elif step == "open":
        QA.open(index, encoder=encoder).close()
    elif step == "query":
        with QA.open(index, encoder=encoder) as qa:
            rng = random.Random(3)
            words = _vocabulary()
            questions = [" ".join(rng.choices(words[:3000], k=8)) + "?" for _ in range(200)]
            qa.search(questions[0], 10)  # warm the caches once
            times = []
            for question in questions:
                started = time.perf_counter()
                qa.search(question, 10)
                times.append((time.perf_counter() - started) * 1000)
            result["query_p50_ms"] = round(float(np.median(times)), 2)
            result["query_p95_ms"] = round(float(np.percentile(times, 95)), 2)
    result["cpu_s"] = round(time.process_time() - cpu, 2)
    result["wall_s"] = round(time.perf_counter() - wall, 2)
    result["peak_rss_mib"] = round(peak_rss_mib(), 1)
    result["code"] = str(Path(sys.modules["qa"].__file__ or "").parent.parent)
    return result


def child(step: str, articles: Path, index: Path, code: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{HERE}", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", step, str(articles), str(index)],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"step {step} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure(size: int, code: Path, work: Path) -> dict[str, Any]:
    """Every step for one corpus size with the code in ``code``; a fresh corpus copy each time."""
    articles, index = work / "articles", work / "index"
    shutil.rmtree(work, ignore_errors=True)
    articles.mkdir(parents=True)
    count = write_corpus(articles, size)
    # Files changed within the last 2 s are read again by every build (qa.ingest.RACY_SECONDS):
    # let the corpus settle, as a real one has, so the no-change step measures the signature check.
    time.sleep(SETTLE_S)
    steps: dict[str, Any] = {"paragraphs": size, "articles": count}
    steps["build"] = child("build", articles, index, code)
    steps["open"] = child("open", articles, index, code)
    steps["query"] = child("query", articles, index, code)
    steps["no_change_rebuild"] = child("rebuild", articles, index, code)
    write_corpus(articles, max(PARAGRAPHS_PER_ARTICLE, size // 100), first_article=count)
    steps["plus_1pct_rebuild"] = child("rebuild", articles, index, code)
    shutil.rmtree(work, ignore_errors=True)
    return steps


def baseline_checkout(revision: str, into: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(into), revision],
        check=True,
        capture_output=True,
    )
    return into


def table(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| code | paragraphs | build CPU s | build peak RSS MiB | index MB | open s | query p50 ms | no-change rebuild CPU s | +1% rebuild CPU s | +1% written MB | +1% written / index |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        b, o, q, n, p = r["build"], r["open"], r["query"], r["no_change_rebuild"], r["plus_1pct_rebuild"]
        lines.append(
            f"| {r['code']} | {r['paragraphs']:,} | {b['cpu_s']} | {b['peak_rss_mib']:,.0f} | "
            f"{b['index_bytes'] / 1e6:,.0f} | {o['wall_s']} | {q['query_p50_ms']} | {n['cpu_s']} | "
            f"{p['cpu_s']} | {p['written_bytes'] / 1e6:,.0f} | {p['written_bytes'] / p['index_bytes']:.1%} |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, step, articles, index = sys.argv
        print(json.dumps(run_step(step, Path(articles), Path(index))))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--baseline", help="a git revision to measure next to this checkout")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "scale.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from common import describe_machine, write_results  # bench/common.py: the script's folder is on sys.path

    results: dict[str, Any] = {"machine": describe_machine(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="qa-scale-") as temp:
        codes = [("this checkout", ROOT)]
        if args.baseline:
            codes.append(
                (f"baseline {args.baseline}", baseline_checkout(args.baseline, Path(temp) / "baseline"))
            )
        try:
            for size in args.sizes:
                for label, code in codes:
                    logger.info("%s: %d paragraphs", label, size)
                    results["runs"].append({"code": label, **measure(size, code, Path(temp) / "work")})
        finally:
            if args.baseline:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(Path(temp) / "baseline")],
                    check=False,
                )
    write_results(results, args.out)
    print(table(results["runs"]))
    print(f"load {results['machine']['load_before']} -> {results['machine']['load_after']}; wrote {args.out}")


if __name__ == "__main__":
    main()
