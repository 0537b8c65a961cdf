"""Web chat benchmark: start-up, /ask round trip against in-process QA.ask, throughput, RSS.

    python bench/app.py [--index index] [--starts 3] [--questions 100] [--clients 16]
                        [--duration 20 | --load-questions N] [--out bench/results/app-<time>.json]

Runs ``python app.py --index INDEX --port P`` (a free port on 127.0.0.1, offline) as a
subprocess and measures, through ``gradio_client``:

1. start-up, ``--starts`` times (median reported): seconds from process start until ``GET /``
   answers 200 ("page up") and until the first ``/ask`` answer returns ("first answer"; the
   client is created right after page up);
2. round trip on a warm server: ``/ask`` latency over ``--questions`` questions from
   examples/questions/news.jsonl (cycled), and in the same run, taking turns question by
   question, the same endpoint over plain HTTP (Gradio's REST route, no gradio_client) and
   ``QA.open(index).ask(q, top_k=5)`` in this process on the same questions;
3. throughput: ``--clients`` threads, each with its own client, asking for ``--duration``
   seconds (or ``--load-questions`` questions in all); questions/second, latency, errors;
4. the server's peak RSS (VmHWM) after the load.

The index must exist; when INDEX/CURRENT is missing it is built first with
``python -m qa build examples/articles --index INDEX``, outside every timing.
Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
import numpy as np
from common import (  # bench/common.py: the script's folder is on sys.path
    RESULTS,
    ROOT,
    describe_machine,
    free_port,
    write_results,
)
from gradio_client import Client

from qa import QA

# The app's environment, taken before qa.models.embed adds OMP_WAIT_POLICY to this process's own.
APP_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
DEFAULT_QUESTIONS = ROOT / "examples" / "questions" / "news.jsonl"
TOP_K = 5
POLL_S = 0.05
ASK_TIMEOUT_S = 120.0
WARM_UP = 5  # questions asked each way before the round trip is measured

logger = logging.getLogger("bench.app")


class AppExited(RuntimeError):
    """The app process ended (or never answered) while the benchmark needed it."""


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: IO[bytes]  # the app's stdout and stderr, kept for the error message
    started: float  # perf_counter just before the process was spawned

    def output(self) -> str:
        self.log.flush()
        fd = self.log.fileno()  # pread: the app shares this file's offset and may still write
        return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", errors="replace")

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise AppExited(f"app.py exited early with code {code}; its output:\n{self.output()}")


def stop(server: Server) -> None:
    """Stop the app's whole process group: SIGTERM, then SIGKILL if it lingers."""
    with suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()


@contextmanager
def serving(index: Path) -> Iterator[Server]:
    """``python app.py`` on a free loopback port, in its own session; stopped on any exit."""
    port = free_port()
    command = [sys.executable, str(ROOT / "app.py"), "--index", str(index), "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, env=APP_ENV, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        server = Server(process, f"http://127.0.0.1:{port}/", log, started)
        try:
            yield server
        finally:
            stop(server)


def wait_for_page(server: Server, timeout: float) -> float:
    """Seconds from process start until ``GET /`` answers 200."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        server.check_alive()
        try:
            with urllib.request.urlopen(server.url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - server.started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(POLL_S)
    raise AppExited(f"no page at {server.url} after {timeout:.0f} s; app output:\n{server.output()}")


def client_for(url: str) -> Client:
    return Client(url, verbose=False, download_files=False, analytics_enabled=False)


def ask(client: Client, question: str, timeout: float = ASK_TIMEOUT_S) -> dict[str, Any]:
    """``client.predict(question, 5, api_name="/ask")``, with a timeout (predict is submit().result())."""
    result = client.submit(question, TOP_K, api_name="/ask").result(timeout=timeout)
    if not isinstance(result, dict):
        raise TypeError(f"/ask returned {type(result).__name__}, expected a JSON object")
    return result


def first_answer(server: Server, question: str, timeout: float) -> float:
    """Seconds from process start until the first ``/ask`` answer (client made after page up)."""
    client = client_for(server.url)
    try:
        ask(client, question, timeout=timeout)
    except Exception as err:
        server.check_alive()
        raise AppExited(f"first /ask failed ({err!r}); app output:\n{server.output()}") from err
    finally:
        client.close()
    return time.perf_counter() - server.started


def measure_starts(index: Path, question: str, runs: int, timeout: float) -> list[dict[str, float]]:
    starts = []
    for run in range(1, runs + 1):
        with serving(index) as server:
            page = wait_for_page(server, timeout)
            answer = first_answer(server, question, timeout)
        starts.append({"page_up_s": page, "first_answer_s": answer})
        logger.info("start %d/%d: page up %.2f s, first answer %.2f s", run, runs, page, answer)
    return starts


def latency_ms(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    if ms.size == 0:
        return {"p50": float("nan"), "p95": float("nan"), "mean": float("nan"), "max": float("nan")}
    return {
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "mean": float(ms.mean()),
        "max": float(ms.max()),
    }


def ask_http(url: str, question: str, timeout: float = ASK_TIMEOUT_S) -> dict[str, Any]:
    """The same endpoint over plain HTTP (Gradio's REST route): POST the call, read its SSE stream.

    Set next to gradio_client, whose reader polls for messages every 50 ms, this shows how much
    of the added time is the server's and how much the client's.
    """
    body = json.dumps({"data": [question, TOP_K, "", "", "", []]}).encode()  # every input, defaults too
    post = urllib.request.Request(
        f"{url}gradio_api/call/ask", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(post, timeout=timeout) as response:
        event_id = json.load(response)["event_id"]
    event = ""
    with urllib.request.urlopen(f"{url}gradio_api/call/ask/{event_id}", timeout=timeout) as stream:
        for raw in stream:
            line = raw.decode("utf-8").strip()
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = line.partition(":")[2].strip()
                if event == "error":
                    raise RuntimeError(f"/ask over HTTP failed: {data}")
                result = json.loads(data)[0]
                if not isinstance(result, dict):
                    raise TypeError(f"/ask returned {type(result).__name__}, expected a JSON object")
                return result
    raise RuntimeError(f"/ask over HTTP: the stream for event {event_id} ended without a result")


def round_trip(client: Client, url: str, qa: QA, questions: list[str]) -> dict[str, Any]:
    """/ask (gradio_client and plain HTTP) and in-process QA.ask on the same questions.

    The three take turns going first, so none gains from another's warm caches.
    """
    ways: dict[str, Callable[[str], str]] = {
        "ask": lambda q: str(ask(client, q)["answer"]),
        "ask_http": lambda q: str(ask_http(url, q)["answer"]),
        "in_process": lambda q: qa.ask(q, top_k=TOP_K).text,
    }
    for q in questions[:WARM_UP]:
        for way in ways.values():
            way(q)
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    differ = 0
    names = list(ways)
    for turn, q in enumerate(questions):
        answers = set()
        for name in names[turn % 3 :] + names[: turn % 3]:
            started = time.perf_counter()
            answers.add(ways[name](q))
            seconds[name].append(time.perf_counter() - started)
        differ += len(answers) > 1
    ms = {name: latency_ms(values) for name, values in seconds.items()}
    local = ms["in_process"]
    return {
        "questions": len(questions),
        **{f"{name}_ms": values for name, values in ms.items()},
        "added_ms": {"p50": ms["ask"]["p50"] - local["p50"], "p95": ms["ask"]["p95"] - local["p95"]},
        "added_http_ms": {
            "p50": ms["ask_http"]["p50"] - local["p50"],
            "p95": ms["ask_http"]["p95"] - local["p95"],
        },
        "answers_differing": differ,
    }


@dataclass
class LoadTally:
    """What the load threads share; appended to under ``lock``."""

    budget: int | None  # questions left to hand out, when the load is a fixed count
    deadline: float = float("inf")
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        """Whether a thread may ask one more question."""
        with self.lock:
            if time.perf_counter() >= self.deadline:
                return False
            if self.budget is None:
                return True
            if self.budget <= 0:
                return False
            self.budget -= 1
            return True


def asker(
    client: Client, questions: list[str], offset: int, start: threading.Barrier, tally: LoadTally
) -> None:
    start.wait()
    turn = offset
    while tally.take():
        q = questions[turn % len(questions)]
        turn += 1
        started = time.perf_counter()
        try:
            ask(client, q)
        except Exception as err:
            with tally.lock:
                tally.errors.append(repr(err))
            continue
        with tally.lock:
            tally.latencies.append(time.perf_counter() - started)


def load(url: str, questions: list[str], clients: int, duration: float, count: int | None) -> dict[str, Any]:
    """``clients`` threads with a client each; a fixed count, or a fixed duration when count is None."""
    tally = LoadTally(budget=count)
    connected = [client_for(url) for _ in range(clients)]  # outside the clock: each fetches the config
    start = threading.Barrier(clients + 1)
    offsets = [i * len(questions) // clients for i in range(clients)]
    threads = [
        threading.Thread(target=asker, args=(c, questions, o, start, tally), daemon=True)
        for c, o in zip(connected, offsets, strict=True)
    ]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    if count is None:
        tally.deadline = began + duration
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began  # includes the answers in flight at the deadline
    for c in connected:
        c.close()
    if tally.errors:
        logger.warning("%d /ask errors under load; the first: %s", len(tally.errors), tally.errors[0])
    return {
        "clients": clients,
        "mode": "duration" if count is None else "count",
        "requested": duration if count is None else count,
        "seconds": elapsed,
        "answered": len(tally.latencies),
        "errors": len(tally.errors),
        "questions_per_s": len(tally.latencies) / elapsed,
        "latency_ms": latency_ms(tally.latencies),
    }


def memory_mib(pid: int) -> dict[str, Any]:
    """Peak (VmHWM) and current (VmRSS) resident memory of ``pid``.

    psutil when installed; Linux's peak comes from /proc either way, since psutil reports a
    peak only on Windows (``peak_wset``).
    """
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        kib = {}
        for line in status.read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                kib[name] = int(value.split()[0])
        return {"peak_rss_mib": kib["VmHWM"] / 1024, "rss_mib": kib["VmRSS"] / 1024, "source": "/proc"}
    psutil = importlib.import_module("psutil")  # optional: not a dependency of the project
    info = psutil.Process(pid).memory_info()
    peak = getattr(info, "peak_wset", info.rss)
    return {"peak_rss_mib": peak / 2**20, "rss_mib": info.rss / 2**20, "source": "psutil"}


def read_questions(path: Path, count: int) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [str(row["question"]) for row in rows]
    return [texts[i % len(texts)] for i in range(count)]


def ensure_index(index: Path) -> dict[str, Any]:
    """Build the sample index when ``index`` has none; never timed."""
    if (index / "CURRENT").exists():
        return {"built_by_bench": False}
    logger.info("no index at %s: building it from examples/articles (not timed)", index)
    command = [
        sys.executable,
        "-m",
        "qa",
        "build",
        str(ROOT / "examples" / "articles"),
        "--index",
        str(index),
    ]
    subprocess.run(command, cwd=ROOT, env=APP_ENV, check=True)
    return {"built_by_bench": True}


def source_state() -> dict[str, Any]:
    """The commit measured and the files that differ from it (the app runs from the work tree)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "app.py", "qa")
    return {"commit": git("rev-parse", "HEAD"), "uncommitted": [line[3:] for line in changed.splitlines()]}


def threads_setting() -> dict[str, Any]:
    """Torch threads and OMP_WAIT_POLICY: in this process, and what the app inherits."""
    import torch

    return {
        "torch_threads_in_process": torch.get_num_threads(),
        "torch_interop_threads_in_process": torch.get_num_interop_threads(),
        "OMP_WAIT_POLICY_in_process": os.environ.get("OMP_WAIT_POLICY", ""),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", ""),
        "app_env_OMP_WAIT_POLICY": APP_ENV.get("OMP_WAIT_POLICY", "(unset: qa.models.embed sets PASSIVE)"),
        "app_env_OPENBLAS_NUM_THREADS": APP_ENV.get("OPENBLAS_NUM_THREADS", "(unset: questions use 1)"),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--index", default=str(ROOT / "index"), help="index folder (default: index/)")
    parser.add_argument("--starts", type=int, default=3, help="start-ups to time (median reported)")
    parser.add_argument("--questions", type=int, default=100, help="round-trip questions (cycled)")
    parser.add_argument("--question-file", default=str(DEFAULT_QUESTIONS), help="JSONL with 'question'")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients under load")
    load_size = parser.add_mutually_exclusive_group()
    load_size.add_argument("--duration", type=float, default=20.0, help="seconds of load (default 20)")
    load_size.add_argument("--load-questions", type=int, default=None, help="questions of load in all")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for page or answer")
    parser.add_argument(
        "--no-reader",
        dest="reader",
        action="store_false",
        help="the app and the in-process baseline without the reader (QA_NO_READER=1)",
    )
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/app-<time>.json)")
    args = parser.parse_args(argv)
    if args.starts < 1 or args.questions < 1 or args.clients < 1:
        parser.error("--starts, --questions and --clients must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Progress from this script only: httpx logs every request, the app's libraries their loads.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    index = Path(args.index).resolve()
    questions = read_questions(Path(args.question_file), args.questions)
    results: dict[str, Any] = {
        "machine": describe_machine(),
        "index": str(index),
        "source": source_state(),
        "reader": args.reader,
    }
    # The app runs as the in-process baseline does, whatever this shell has set.
    APP_ENV.pop("QA_MIN_CONFIDENCE", None)
    APP_ENV["QA_NO_READER"] = "" if args.reader else "1"
    results["index_setup"] = ensure_index(index)
    results["machine"]["load_before"] = os.getloadavg()  # after any build, which is not measured
    stamp = time.strftime("%Y%m%dT%H%M%S")
    started = time.perf_counter()
    try:
        starts = measure_starts(index, questions[0], args.starts, args.timeout)
        results["startup"] = {
            "runs": starts,
            "page_up_s_median": statistics.median(s["page_up_s"] for s in starts),
            "first_answer_s_median": statistics.median(s["first_answer_s"] for s in starts),
        }
        qa = QA.open(index, reader=args.reader)
        results["threads"] = threads_setting()
        results["query_encoder_in_process"] = type(qa.encoder).__name__  # the app's is the same
        with serving(index) as server:
            wait_for_page(server, args.timeout)
            client = client_for(server.url)
            logger.info("round trip: %d questions, /ask and in-process", len(questions))
            results["round_trip"] = round_trip(client, server.url, qa, questions)
            client.close()
            qa.close()
            logger.info("load: %d clients", args.clients)
            results["load"] = load(server.url, questions, args.clients, args.duration, args.load_questions)
            server.check_alive()
            results["server_memory"] = memory_mib(server.process.pid)
    except AppExited as err:
        logger.error("%s", err)
        return 1
    results["run_seconds"] = time.perf_counter() - started
    out = Path(args.out) if args.out else RESULTS / f"app-{stamp}.json"
    write_results(results, out)
    print(table(results))
    print(f"wrote {out}")
    return 0


def table(r: dict[str, Any]) -> str:
    s, rt, ld = r["startup"], r["round_trip"], r["load"]
    runs = len(s["runs"])
    rows = [
        ("page up (GET / 200)", f"{s['page_up_s_median']:.2f} s", f"median of {runs}; target <= 3 s"),
        ("first answer", f"{s['first_answer_s_median']:.2f} s", f"median of {runs}; target <= 8 s"),
        (
            "/ask via gradio_client, p50/p95",
            f"{rt['ask_ms']['p50']:.1f} / {rt['ask_ms']['p95']:.1f} ms",
            f"{rt['questions']} questions, warm server",
        ),
        (
            "QA.ask in process, p50/p95",
            f"{rt['in_process_ms']['p50']:.1f} / {rt['in_process_ms']['p95']:.1f} ms",
            "same questions, same run",
        ),
        (
            "/ask adds, p50/p95",
            f"{rt['added_ms']['p50']:.1f} / {rt['added_ms']['p95']:.1f} ms",
            f"incl. gradio_client's 50 ms poll; answers differing: {rt['answers_differing']}",
        ),
        (
            "/ask over plain HTTP, p50/p95",
            f"{rt['ask_http_ms']['p50']:.1f} / {rt['ask_http_ms']['p95']:.1f} ms",
            f"adds {rt['added_http_ms']['p50']:.1f} / {rt['added_http_ms']['p95']:.1f} ms; target <= 30 ms at p50",
        ),
        (
            f"load, {ld['clients']} clients",
            f"{ld['questions_per_s']:.1f} questions/s",
            f"{ld['answered']} answered in {ld['seconds']:.1f} s, {ld['errors']} errors",
        ),
        (
            "  latency under load, p50/p95",
            f"{ld['latency_ms']['p50']:.0f} / {ld['latency_ms']['p95']:.0f} ms",
            "",
        ),
        ("server peak RSS (VmHWM)", f"{r['server_memory']['peak_rss_mib']:.0f} MiB", "after the load"),
    ]
    width = max(len(a) for a, _, _ in rows)
    lines = [f"{'measure':<{width}}  {'value':<22}  note", "-" * (width + 40)]
    lines += [f"{a:<{width}}  {b:<22}  {c}" for a, b, c in rows]
    m, t = r["machine"], r["threads"]
    lines.append(
        f"machine: {m['cpus']} cpus, torch threads {t['torch_threads_in_process']}, "
        f"OMP_WAIT_POLICY {t['OMP_WAIT_POLICY_in_process'] or 'unset'}, "
        f"load {m['load_before'][0]:.2f} -> {m['load_after'][0]:.2f}, "
        f"reader {'on (the default)' if r.get('reader', True) else 'off (--no-reader)'}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
