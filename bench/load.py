"""Load and concurrency on the real web app: many clients, a burst past the queue, publishes.

    python bench/load.py [--index index] [--clients 50] [--duration 30] [--burst 200]
                         [--publishes 3] [--out bench/results/load-<time>.json]

Serves a copy of INDEX with ``python app.py`` on a free 127.0.0.1 port (offline) and measures:

1. **concurrent**: ``--clients`` threads, each with its own ``gradio_client``, asking
   examples/questions/news.jsonl for ``--duration`` seconds: answered, errors, p50/p95/max
   latency and sustained questions/second;
2. **burst**: ``--burst`` questions sent at once over plain HTTP (Gradio's REST route), more
   than the app's queue holds: how many were answered, how many got the "busy" reply (the
   queue-full message), any other error; then one more question must be answered;
3. **publishes**: 8 clients ask continuously while ``qa build`` publishes ``--publishes`` new
   generations of the same index (each adds one article): errors during the publishes, latency,
   and whether the running app answered from each new generation (it cites the new article).

The index is copied to a temporary folder first, so INDEX itself is never rebuilt; when
INDEX/CURRENT is missing it is built from examples/articles (not timed). Prints a table and
writes JSON.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
from pathlib import Path
from typing import Any

import numpy as np
from common import RESULTS, ROOT, describe_machine, write_results  # bench/common.py

from app import (  # bench/app.py: the script's folder is on sys.path
    APP_ENV,
    DEFAULT_QUESTIONS,
    AppExited,
    ask,
    ask_http,
    client_for,
    ensure_index,
    load,
    memory_mib,
    read_questions,
    serving,
    source_state,
    wait_for_page,
)

logger = logging.getLogger("bench.load")

QUEUE_FULL = "queue is full"  # Gradio's reply when its queue (app.py: max_size) has no room
PUBLISH_CLIENTS = 8


def spread_ms(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    if ms.size == 0:
        return {"p50": float("nan"), "p95": float("nan"), "max": float("nan")}
    return {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)), "max": float(ms.max())}


def burst(url: str, questions: list[str], size: int, timeout: float) -> dict[str, Any]:
    """``size`` questions at once; each ends answered, busy (queue full) or failed."""
    outcomes: list[str] = []
    latencies: list[float] = []
    other: list[str] = []
    busy_replies: set[str] = set()
    lock = threading.Lock()
    start = threading.Barrier(size + 1)

    def one(question: str) -> None:
        start.wait()
        began = time.perf_counter()
        try:
            ask_http(url, question, timeout)
        except urllib.error.HTTPError as err:  # a full queue answers 503 with its message
            body = err.read().decode("utf-8", "replace")
            kind = "busy" if err.code == 503 and QUEUE_FULL in body.lower() else "error"
            with lock:
                outcomes.append(kind)
                if kind == "busy":
                    busy_replies.add(body[:200])
                else:
                    other.append(f"{err.code}: {body[:200]}")
            return
        except (RuntimeError, OSError) as err:
            with lock:
                outcomes.append("error")
                other.append(repr(err))
            return
        with lock:
            outcomes.append("answered")
            latencies.append(time.perf_counter() - began)

    threads = [
        threading.Thread(target=one, args=(questions[i % len(questions)],), daemon=True) for i in range(size)
    ]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    after = time.perf_counter()
    ask_http(url, questions[0], timeout)  # still serving afterwards
    return {
        "sent": size,
        "answered": outcomes.count("answered"),
        "busy": outcomes.count("busy"),
        "errors": outcomes.count("error"),
        "first_errors": other[:3],
        "busy_replies": sorted(busy_replies),
        "seconds": seconds,
        "answered_latency_ms": spread_ms(latencies),
        "answer_after_burst_ms": (time.perf_counter() - after) * 1000,
    }


def publishes(url: str, index: Path, questions: list[str], count: int, timeout: float) -> dict[str, Any]:
    """Ask from PUBLISH_CLIENTS threads while ``count`` builds publish new generations."""
    corpus = Path(tempfile.mkdtemp(prefix="load-corpus-"))
    shutil.copytree(ROOT / "examples" / "articles", corpus, dirs_exist_ok=True)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def asker(offset: int) -> None:
        client = client_for(url)
        turn = offset
        while not stop.is_set():
            began = time.perf_counter()
            try:
                ask(client, questions[turn % len(questions)], timeout)
            except Exception as err:  # counted: the point is that there are none
                with lock:
                    errors.append(repr(err))
            else:
                with lock:
                    latencies.append(time.perf_counter() - began)
            turn += 1
        client.close()

    threads = [threading.Thread(target=asker, args=(i * 7,), daemon=True) for i in range(PUBLISH_CLIENTS)]
    for thread in threads:
        thread.start()
    picked_up = []
    build_seconds = []
    try:
        for n in range(count):
            topic = f"zeppelin{n}"
            (corpus / f"publish-{n}.txt").write_text(
                f"Airship {topic} lands\n\nThe airship {topic} landed safely at Carrow Bay airfield "
                f"on its maiden voyage, carrying {n + 12} passengers and a brass band.\n",
                encoding="utf-8",
            )
            began = time.perf_counter()
            command = [sys.executable, "-m", "qa", "build", str(corpus), "--index", str(index), "--quiet"]
            subprocess.run(command, cwd=ROOT, env=APP_ENV, check=True, capture_output=True)
            build_seconds.append(time.perf_counter() - began)
            probe = client_for(url)
            answer = ask(probe, f"How many passengers did the airship {topic} carry?", timeout)
            probe.close()
            cited = [c.get("article_id") for c in answer.get("citations", [])]
            picked_up.append(f"publish-{n}.txt" in cited)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout)
        shutil.rmtree(corpus, ignore_errors=True)
    return {
        "clients": PUBLISH_CLIENTS,
        "publishes": count,
        "build_seconds": build_seconds,
        "answered": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "latency_ms": spread_ms(latencies),
        "new_generation_answered": picked_up,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--index", default=str(ROOT / "index"), help="index folder to copy (default: index/)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of concurrent load")
    parser.add_argument("--burst", type=int, default=200, help="questions sent at once (default 200)")
    parser.add_argument("--publishes", type=int, default=3, help="generations published under load")
    parser.add_argument("--question-file", default=str(DEFAULT_QUESTIONS), help="JSONL with 'question'")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for one answer")
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/load-<time>.json)")
    args = parser.parse_args(argv)
    if min(args.clients, args.burst) < 1 or args.publishes < 0:
        parser.error("--clients and --burst must be at least 1, --publishes at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    source = Path(args.index).resolve()
    results: dict[str, Any] = {"machine": describe_machine(), "source": source_state()}
    results["index_setup"] = ensure_index(source)
    questions = read_questions(Path(args.question_file), 200)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    with tempfile.TemporaryDirectory(prefix="load-index-") as scratch:
        index = Path(scratch) / "index"
        shutil.copytree(source, index, ignore=shutil.ignore_patterns("build.lock"))
        try:
            with serving(index) as server:
                wait_for_page(server, args.timeout)
                ask(client_for(server.url), questions[0], args.timeout)  # the model is loaded
                results["machine"]["load_before"] = os.getloadavg()
                logger.info("concurrent: %d clients for %.0f s", args.clients, args.duration)
                concurrent = load(server.url, questions, args.clients, args.duration, None)
                results["concurrent"] = concurrent
                logger.info("burst: %d at once", args.burst)
                results["burst"] = burst(server.url, questions, args.burst, args.timeout)
                logger.info("publishes: %d under %d clients", args.publishes, PUBLISH_CLIENTS)
                results["publishes"] = publishes(server.url, index, questions, args.publishes, args.timeout)
                server.check_alive()
                results["server_memory"] = memory_mib(server.process.pid)
        except AppExited as err:
            logger.error("%s", err)
            return 1
    out = Path(args.out) if args.out else RESULTS / f"load-{stamp}.json"
    write_results(results, out)
    print(table(results))
    print(f"wrote {out}")
    return 0


def table(r: dict[str, Any]) -> str:
    c, b, p = r["concurrent"], r["burst"], r["publishes"]
    lat = c["latency_ms"]
    rows = [
        (
            f"{c['clients']} concurrent clients, {c['seconds']:.0f} s",
            f"{c['questions_per_s']:.1f} q/s",
            f"answered {c['answered']}, errors {c['errors']}, p50/p95/max {lat['p50']:.0f}/{lat['p95']:.0f}/"
            f"{lat['max']:.0f} ms",
        ),
        (
            f"burst of {b['sent']} at once",
            f"{b['answered']} answered",
            f"busy {b['busy']}, other errors {b['errors']}, next answer {b['answer_after_burst_ms']:.0f} ms",
        ),
        (
            f"{p['publishes']} publishes under {p['clients']} clients",
            f"{p['errors']} errors",
            f"answered {p['answered']}, p50/p95/max {p['latency_ms']['p50']:.0f}/"
            f"{p['latency_ms']['p95']:.0f}/{p['latency_ms']['max']:.0f} ms, "
            f"new article cited {sum(p['new_generation_answered'])}/{p['publishes']}",
        ),
        ("server peak RSS", f"{r['server_memory']['peak_rss_mib']:.0f} MiB", ""),
    ]
    width = max(len(name) for name, _, _ in rows)
    return "\n".join(f"{name:<{width}}  {value:>14}  {note}" for name, value, note in rows)


if __name__ == "__main__":
    sys.exit(main())
