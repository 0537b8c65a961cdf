"""The REST API under load, beside ``QA.ask`` in the same process, in one run.

    python bench/api.py [--index index] [--requests 60] [--duration 20] [--long 60]
                        [--out bench/results/api.json]

Serves INDEX (built from examples/articles when missing, not timed) with ``qa serve`` on a free
127.0.0.1 port, with a token file (so every request pays for its token check), and measures:

1. **in-process**: ``QA.ask(question, top_k=5)`` in this process, ``--requests`` questions from
   examples/questions/news.jsonl: p50/p95;
2. **one client**: the same questions through ``POST /v1/ask`` one after another, alternating
   with the in-process calls (so both see the same load): p50/p95 and the ratio of p50s;
3. **4 and 16 clients**: that many threads asking for ``--duration`` seconds (16 clients for
   ``--long`` seconds): requests/s, p50/p95/max and errors (any non-200, or a failed request).

Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
from common import HOST, RESULTS, ROOT, describe_machine, free_port, p50_p95_ms, write_results

from app import DEFAULT_QUESTIONS, ensure_index, read_questions  # bench/app.py
from qa import QA
from qa.server.tokens import add_token

logger = logging.getLogger("bench.api")
TOP_K = 5
START_S = 180.0


def start_server(index: Path, token_file: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "qa",
        "serve",
        "--index",
        str(index),
        "--host",
        HOST,
        "--port",
        str(port),
    ]
    command += ["--token-file", str(token_file), "--no-mcp", "--workers", "4", "--queue", "64"]
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"qa serve exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"qa serve did not answer within {START_S:.0f} s")


def one_client(qa: QA, client: httpx.Client, questions: list[str]) -> dict[str, Any]:
    local_ms: list[float] = []
    api_ms: list[float] = []
    for question in questions:
        started = time.perf_counter()
        qa.ask(question, top_k=TOP_K)
        local_ms.append(1000 * (time.perf_counter() - started))
        started = time.perf_counter()
        response = client.post("/v1/ask", json={"question": question, "top_k": TOP_K})
        api_ms.append(1000 * (time.perf_counter() - started))
        response.raise_for_status()
    local, api = p50_p95_ms(local_ms), p50_p95_ms(api_ms)
    return {
        "questions": len(questions),
        "in_process": local,
        "api_one_client": api,
        "p50_ratio": round(api["p50_ms"] / local["p50_ms"], 3),
    }


def concurrent(
    url: str, headers: dict[str, str], questions: list[str], clients: int, seconds: float
) -> dict[str, Any]:
    times_ms: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(offset: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            n = offset
            while time.monotonic() < deadline:
                question = questions[n % len(questions)]
                n += clients
                started = time.perf_counter()
                try:
                    response = client.post("/v1/ask", json={"question": question, "top_k": TOP_K})
                    problem = None if response.status_code == 200 else f"HTTP {response.status_code}"
                except httpx.HTTPError as err:
                    problem = f"{type(err).__name__}: {err}"
                elapsed = 1000 * (time.perf_counter() - started)
                with lock:
                    if problem is None:
                        times_ms.append(elapsed)
                    else:
                        errors.append(problem)

    began = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - began
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "answered": len(times_ms),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "requests_per_s": round(len(times_ms) / wall, 2),
        **p50_p95_ms(times_ms or [0.0]),
        "max_ms": round(max(times_ms or [0.0]), 1),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--index", default=str(ROOT / "index"), help="index folder (default: index/)")
    parser.add_argument("--requests", type=int, default=60, help="questions asked each way at one client")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds at 4 clients")
    parser.add_argument("--long", type=float, default=60.0, help="seconds at 16 clients")
    parser.add_argument("--out", default=str(RESULTS / "api.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    index = Path(args.index).resolve()
    results: dict[str, Any] = {"machine": describe_machine(), "index_setup": ensure_index(index)}
    questions = read_questions(DEFAULT_QUESTIONS, max(args.requests, 200))
    with tempfile.TemporaryDirectory(prefix="bench-api-") as scratch:
        token_file = Path(scratch) / "tokens.txt"
        token = add_token(token_file, "bench")
        headers = {"Authorization": f"Bearer {token}"}
        port = free_port()
        url = f"http://{HOST}:{port}"
        log = Path(scratch) / "serve.log"
        proc = start_server(index, token_file, port, log)
        try:
            wait_healthy(url, proc, log)
            with QA.open(index) as qa, httpx.Client(base_url=url, headers=headers, timeout=120) as client:
                for question in questions[:5]:  # both warm: models loaded, caches filled
                    qa.ask(question, top_k=TOP_K)
                    client.post("/v1/ask", json={"question": question, "top_k": TOP_K}).raise_for_status()
                logger.info("one client: %d questions each way", args.requests)
                results["one_client"] = one_client(qa, client, questions[: args.requests])
            for clients, seconds in ((4, args.duration), (16, args.long)):
                logger.info("%d clients for %.0f s", clients, seconds)
                results[f"clients_{clients}"] = concurrent(url, headers, questions, clients, seconds)
        finally:
            proc.terminate()
            proc.wait(30)
    write_results(results, Path(args.out))
    print(table(results))
    print(f"wrote {args.out}")
    return 0


def table(r: dict[str, Any]) -> str:
    one = r["one_client"]
    rows = [
        (
            "QA.ask in process",
            "1",
            f"{one['in_process']['p50_ms']:.0f}",
            f"{one['in_process']['p95_ms']:.0f}",
            "",
            "0",
        ),
        (
            "POST /v1/ask",
            "1",
            f"{one['api_one_client']['p50_ms']:.0f}",
            f"{one['api_one_client']['p95_ms']:.0f}",
            "",
            "0",
        ),
    ]
    for key in ("clients_4", "clients_16"):
        c = r[key]
        rows.append(
            (
                f"POST /v1/ask, {c['seconds']:.0f} s",
                str(c["clients"]),
                f"{c['p50_ms']:.0f}",
                f"{c['p95_ms']:.0f}",
                f"{c['requests_per_s']:.1f}",
                str(c["errors"]),
            )
        )
    head = ("what", "clients", "p50 ms", "p95 ms", "req/s", "errors")
    lines = [" | ".join(head), " | ".join("---" for _ in head)] + [" | ".join(row) for row in rows]
    return "\n".join(lines) + f"\n/v1/ask p50 at one client / QA.ask p50: {one['p50_ratio']:.2f}x"


if __name__ == "__main__":
    raise SystemExit(main())
