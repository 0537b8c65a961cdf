"""Start and stop the real web app in a subprocess on 127.0.0.1 (used by the slow tests).

``running_app`` starts ``app.py`` on a free loopback port, waits (bounded) until it answers
HTTP, and always stops the whole process group.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from common import HOST, free_port  # bench/common.py (on sys.path: tests/conftest.py)

from tests.conftest import ROOT

# Debian's Chromium, driven by Playwright in the browser tests (no browser download).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 60_000
STARTUP_SECONDS = 120.0
STOP_SECONDS = 10.0


def _log_tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def _answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status) == 200
    except (OSError, urllib.error.URLError):
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL what is left of it; bounded in time.

    The leader is only reaped at the end, so its pid (the group id) cannot be reused by an
    unrelated process while we signal the group.
    """
    if proc.returncode is not None:
        return  # already reaped (it died on its own): its pid may belong to someone else now
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            break
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=STOP_SECONDS)


def _start(command: Sequence[str], workdir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "GRADIO_TEMP_DIR": str(workdir / "gradio-tmp"),
        "PYTHONUNBUFFERED": "1",
    }
    for name in (
        "QA_INDEX",
        "QA_PORT",
        "QA_API_PORT",
        "QA_HOST",
        "QA_AUTH_FILE",
        "QA_TOKEN_FILE",
        "QA_ARTICLES",
        "QA_INSECURE_NO_AUTH",
        "GRADIO_SERVER_NAME",
        "GRADIO_SERVER_PORT",
    ):
        env.pop(name, None)
    with log.open("wb") as out:
        return subprocess.Popen(
            list(command),
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def app_command(index: Path, port: int, extra_args: Sequence[str] = ()) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "app.py"),
        "--index",
        str(index),
        "--port",
        str(port),
        "--host",
        HOST,
        *extra_args,
    ]


def api_command(index: Path, port: int, extra_args: Sequence[str] = ()) -> list[str]:
    return [
        sys.executable,
        "-m",
        "qa",
        "serve",
        "--index",
        str(index),
        "--port",
        str(port),
        "--host",
        HOST,
        *extra_args,
    ]


@contextlib.contextmanager
def running_app(
    index: Path, workdir: Path, *, attempts: int = 3, extra_args: Sequence[str] = ()
) -> Iterator[str]:
    """Run ``app.py --index INDEX`` on 127.0.0.1 and a free port; yield its URL."""
    with _running(lambda port: app_command(index, port, extra_args), "/", workdir, attempts) as url:
        yield url


@contextlib.contextmanager
def running_api(
    index: Path, workdir: Path, *, attempts: int = 3, extra_args: Sequence[str] = ()
) -> Iterator[str]:
    """Run ``qa serve --index INDEX`` on 127.0.0.1 and a free port; yield its base URL."""
    with _running(lambda port: api_command(index, port, extra_args), "/healthz", workdir, attempts) as url:
        yield url.rstrip("/")


@contextlib.contextmanager
def _running(
    command_for: Callable[[int], list[str]], probe: str, workdir: Path, attempts: int
) -> Iterator[str]:
    """Start the server of ``command_for(port)`` on a free port; yield its URL once ``probe`` answers.

    Retries on a new port if the server dies before listening (another process may have taken
    the port between our probe and its bind). Raises with the server's log on failure.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, attempts + 1):
        port = free_port()
        url = f"http://{HOST}:{port}/"
        log = workdir / f"server-{port}.log"
        proc = _start(command_for(port), workdir, log)
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                try:
                    socket.create_connection((HOST, port), timeout=1).close()
                except OSError:
                    time.sleep(0.5)
                    continue
                if _answers_http(url.rstrip("/") + probe):
                    break
                time.sleep(0.5)
            else:
                raise TimeoutError(f"{url} did not answer within {STARTUP_SECONDS:.0f}s:\n{_log_tail(log)}")
            if proc.poll() is not None:
                if attempt < attempts and any(
                    busy in _log_tail(log).lower() for busy in ("address already in use", "is in use")
                ):
                    continue
                raise RuntimeError(f"the server exited with {proc.returncode}:\n{_log_tail(log)}")
            yield url
            return
        finally:
            _stop(proc)
    raise RuntimeError(f"the server could not bind a free port in {attempts} attempts")


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port``, from /proc/net/tcp{,6}."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, _, port_hex = fields[1].partition(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) byte order.
            packed = b"".join(raw[i : i + 4][::-1] for i in range(0, width, 4))
            found.add(str(ipaddress.ip_address(packed)))
    return found


def non_loopback_ipv4() -> list[str]:
    """This machine's IPv4 addresses outside 127.0.0.0/8 (Linux ioctl; no tools needed)."""
    found = []
    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            try:
                request = struct.pack("256s", name.encode()[:15])
                reply = fcntl.ioctl(s.fileno(), siocgifaddr, request)
            except OSError:
                continue  # interface without an IPv4 address
            address = socket.inet_ntoa(reply[20:24])
            if not ipaddress.ip_address(address).is_loopback:
                found.append(address)
    return found
