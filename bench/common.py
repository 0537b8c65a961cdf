"""What the bench scripts share: paths, the machine a run was on, timing, a milvus-lite server on
loopback, and writing the results. Imported as ``common`` (a script's folder is on sys.path);
tests/test_milvus.py starts its milvus-lite server with it too."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SQUAD_TUNE = ROOT.parent / "shared" / "evaldata" / "squad-dev-v1.1-tune.json"
HOST = "127.0.0.1"
MILVUS_START_S = 60.0
STOP_S = 10.0

T = TypeVar("T")


def describe_machine() -> dict[str, Any]:
    """CPU count, platform, Python, and the load average before the run starts."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "load_before": os.getloadavg(),
    }


def write_results(results: dict[str, Any], out: Path, *, indent: int = 2) -> None:
    """Note the load average after the run beside the machine's description, then write the
    results as JSON (making the folder)."""
    if "machine" in results:
        results["machine"]["load_after"] = os.getloadavg()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=indent, default=str), encoding="utf-8")


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    """``fn(*args, **kwargs)`` and the seconds it took."""
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def p50_p95_ms(times_ms: list[float], digits: int = 2) -> dict[str, float]:
    """The median and the 95th percentile (nearest rank below) of times in milliseconds."""
    ordered = sorted(times_ms)
    return {
        "p50_ms": round(statistics.median(ordered), digits),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], digits),
    }


def free_port() -> int:
    """A TCP port free on loopback just now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def milvus_lite(folder: Path) -> Iterator[str]:
    """``milvus-lite server`` on a free loopback port, its data in ``folder/db`` and its output in
    ``folder/server.log``; yields its ``milvus://HOST:PORT`` address and always stops it."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "milvus_lite",
                "server",
                "--data-dir",
                str(folder / "db"),
                "--host",
                HOST,
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + MILVUS_START_S
            while True:
                try:
                    socket.create_connection((HOST, port), timeout=1).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        tail = log_path.read_text(errors="replace")[-2000:]
                        raise RuntimeError(f"milvus-lite did not start; its output:\n{tail}") from None
                    time.sleep(0.2)
            yield f"milvus://{HOST}:{port}"
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=STOP_S)
