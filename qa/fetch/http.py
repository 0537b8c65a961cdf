"""One guarded HTTP GET: the address checked before connecting, every redirect re-checked,
the body capped in size and the whole exchange in time. Only http and https."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from qa.errors import QAError
from qa.fetch.guard import Address, AddressPolicy

MAX_REDIRECTS = 5
CHUNK = 64 * 1024


class FetchError(QAError):
    """A URL that could not be fetched (refused, unreachable, too big, too slow, bad status)."""


@dataclass(frozen=True)
class Response:
    url: str  # after redirects
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to an address checked beforehand, never to the host name again."""

    def __init__(self, host: str, port: int, address: Address, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self.address), self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: Address, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((str(self.address), self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def get(
    url: str,
    policy: AddressPolicy,
    *,
    headers: dict[str, str],
    timeout: float,
    max_bytes: int,
) -> Response:
    """GET ``url`` following up to MAX_REDIRECTS redirects; FetchError on any refusal or failure."""
    deadline = time.monotonic() + timeout
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(current)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"{current}: only http and https URLs are fetched")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise FetchError(f"{current}: bad port") from None
        address = policy.resolve(parts.hostname, port)
        kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
        connection = kind(parts.hostname, port, address, timeout=max(0.1, deadline - time.monotonic()))
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request("GET", target, headers={**headers, "Accept-Encoding": "identity"})
            response = connection.getresponse()
            got = {k.lower(): v for k, v in response.getheaders()}
            if response.status in (301, 302, 303, 307, 308) and "location" in got:
                current = urljoin(current, got["location"])
                continue
            body = _read(response, max_bytes, deadline, current)
            return Response(current, response.status, got, body)
        except (OSError, http.client.HTTPException) as err:
            raise FetchError(f"{current}: {type(err).__name__}: {err}") from None
        finally:
            connection.close()
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _read(response: http.client.HTTPResponse, max_bytes: int, deadline: float, url: str) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{url}: {int(declared):,} bytes, over the {max_bytes:,}-byte limit")
    parts: list[bytes] = []
    size = 0
    while chunk := response.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"{url}: over the {max_bytes:,}-byte limit")
        if time.monotonic() > deadline:
            raise FetchError(f"{url}: took longer than the time limit")
        parts.append(chunk)
    return b"".join(parts)
