"""Where a server may listen, decided before anything loads: shared by ``qa serve`` and app.py."""

from __future__ import annotations

import errno
import ipaddress
import socket

from qa import BadInputError

LOOPBACK_NAMES = frozenset({"localhost"})


class StartError(BadInputError):
    """A server that cannot start as asked (the options or the machine), said in one line."""


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere


def port_number(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise StartError(f"--port must be a number from 1 to 65535, got {text!r}.")
    return int(text)


def check_port(host: str, port: int, also: str = "") -> None:
    """Fail early, in one line, when the port is taken (the server would print a traceback).

    ``also`` names another way to set the port, e.g. " (or QA_PORT=N)".
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the server itself will: a closed server's lingering TIME_WAIT sockets are no conflict.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise StartError(
                    f"port {port} on {host} is in use (another app?). Start with --port N{also} "
                    "to use another port."
                ) from None
            raise StartError(
                f"cannot listen on {host}:{port}: {err.strerror}. Check --host and --port."
            ) from None
