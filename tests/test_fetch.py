"""qa fetch: pages, PDFs and feeds from a loopback server into files; the SSRF guard; politeness."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa import QA, build_index
from qa.errors import BadInputError
from qa.fetch import AddressPolicy, FetchSettings, ForbiddenAddressError, fetch
from qa.fetch.http import FetchError, get
from tests.conftest import FakeEncoder

BRIDGE = b"""<html><head><title>Harbour bridge reopens</title>
<meta property="article:published_time" content="2023-03-07T09:30:00+01:00"></head><body><article>
<h1>Harbour bridge reopens</h1>
<p>The harbour bridge reopened on Friday after two years of repairs costing 40 million euros, the city said.</p>
<p>Engineers replaced the steel cables and repainted the towers in the original grey colour scheme.</p>
</article></body></html>"""
FERRY = b"""<html><head><title>Ferry timetable changes</title></head><body><article>
<h1>Ferry timetable changes</h1>
<p>The ferry now runs hourly between the two islands, the operator announced after a busy summer season.</p>
<p>Tickets bought before the change remain valid until the end of the month, a spokesperson said.</p>
</article></body></html>"""


class Site:
    """A small news site on 127.0.0.1: pages, a feed, robots.txt, a redirect, a big file."""

    def __init__(self) -> None:
        self.requests: list[tuple[float, str, dict[str, str]]] = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {
            "/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n"),
            "/news/bridge": (200, {"Content-Type": "text/html", "ETag": '"v1"'}, BRIDGE),
            "/news/ferry": (200, {"Content-Type": "text/html; charset=utf-8"}, FERRY),
            "/private/secret": (200, {"Content-Type": "text/html"}, BRIDGE),
            "/moved": (302, {"Location": "/news/bridge"}, b""),
            "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
            "/big": (200, {"Content-Type": "text/html"}, b"<html>" + b"x" * 300_000),
            "/logo.png": (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\n" + b"0" * 100),
        }
        self.routes["/feed"] = (200, {"Content-Type": "application/rss+xml"}, self._feed())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _feed(self) -> bytes:
        items = [
            ("Bridge reopens", "/news/bridge", "Tue, 07 Mar 2023 09:30:00 +0100"),
            ("Ferry timetable", "/news/ferry", "Wed, 15 Mar 2023 07:00:00 +0000"),
            ("Secret", "/private/secret", "Wed, 15 Mar 2023 08:00:00 +0000"),
        ]
        body = "".join(
            f"<item><title>{t}</title><link>{self.base}{p}</link><pubDate>{d}</pubDate>"
            f"<description>Summary of {t}.</description></item>"
            for t, p, d in items
        )
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Gazette</title>{body}</channel></rss>'.encode()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append((time.monotonic(), self.path, dict(self.headers)))
                status, headers, body = site.routes.get(self.path, (404, {}, b"not found"))
                if headers.get("ETag") and self.headers.get("If-None-Match") == headers["ETag"]:
                    status, body = 304, b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def paths(self) -> list[str]:
        return [p for _, p, _ in self.requests]


@pytest.fixture
def site() -> Iterator[Site]:
    running = Site()
    running.thread.start()
    try:
        yield running
    finally:
        running.server.shutdown()
        running.server.server_close()


LOOPBACK = FetchSettings(allow_private=True, min_interval=0.0, timeout=10)


def test_pages_are_saved_with_a_sidecar_and_build_into_dated_cited_articles(
    site: Site, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    into = tmp_path / "fetched"
    report = fetch(into, [f"{site.base}/news/bridge", f"{site.base}/moved"], settings=LOOPBACK)
    assert len(report.saved) == 2 and not report.skipped
    saved = sorted(Path(p) for p in report.saved)
    assert all(p.parent == into / "127.0.0.1" and p.suffix == ".html" for p in saved)
    meta = json.loads(Path(str(saved[0]) + ".fetch.json").read_text(encoding="utf-8"))
    assert meta["url"] == f"{site.base}/news/bridge" and meta["etag"] == '"v1"'
    assert site.requests[0][2]["User-Agent"].startswith("article-qa/")
    build = build_index(into, "idx", encoder=fake_encoder, show_progress=False)
    assert build.articles == 2  # the redirect saved the same page under the URL asked for
    with QA.open("idx", encoder=fake_encoder) as qa:
        cited = qa.ask("When did the harbour bridge reopen?").citations[0]
        assert (cited.url, cited.published) == (f"{site.base}/news/bridge", "2023-03-07")


def test_a_refetch_asks_whether_the_page_changed(site: Site, tmp_path: Path) -> None:
    fetch(tmp_path, [f"{site.base}/news/bridge"], settings=LOOPBACK)
    again = fetch(tmp_path, [f"{site.base}/news/bridge"], settings=LOOPBACK)
    assert again.saved == [] and len(again.unchanged) == 1
    last = [h for _, p, h in site.requests if p == "/news/bridge"][-1]
    assert last.get("If-None-Match") == '"v1"'


def test_robots_txt_size_limit_and_content_type_are_honoured(site: Site, tmp_path: Path) -> None:
    settings = FetchSettings(allow_private=True, min_interval=0.0, timeout=10, max_bytes=100_000)
    urls = [f"{site.base}/private/secret", f"{site.base}/big", f"{site.base}/logo.png", f"{site.base}/gone"]
    report = fetch(tmp_path, urls, settings=settings)
    reasons = dict(report.skipped)
    assert reasons[urls[0]] == "robots.txt disallows it"
    assert "over the 100,000-byte limit" in reasons[urls[1]]
    assert "unsupported content type 'image/png'" in reasons[urls[2]]
    assert reasons[urls[3]] == "HTTP 404"
    assert "/private/secret" not in site.paths()  # never requested
    assert report.saved == []


def test_requests_to_one_host_are_spaced(site: Site, tmp_path: Path) -> None:
    settings = FetchSettings(allow_private=True, min_interval=0.3, timeout=10)
    fetch(tmp_path, [f"{site.base}/news/bridge", f"{site.base}/news/ferry"], settings=settings)
    times = [t for t, p, _ in site.requests if p.startswith("/news/")]
    assert len(times) == 2 and times[1] - times[0] >= 0.28


def test_a_feed_brings_its_entries_pages_with_the_entry_date_where_the_page_has_none(
    site: Site, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    into = tmp_path / "fetched"
    report = fetch(into, feeds=[f"{site.base}/feed"], settings=LOOPBACK)
    assert len(report.saved) == 3  # the feed document and two pages; robots kept the third out
    assert [u for u, _ in report.skipped] == [f"{site.base}/private/secret"]
    assert any(".feeds" in p for p in report.saved)
    build = build_index(into, "idx", encoder=fake_encoder, show_progress=False)
    assert build.articles == 2 and build.undated == 0  # the feed document itself is not an article
    with QA.open("idx", encoder=fake_encoder) as qa:
        ferry = qa.ask("How often does the ferry run between the islands?").citations[0]
        assert ferry.published == "2023-03-15T07:00:00+00:00"  # from the feed entry: the page had none


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fd00:ec2::254",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
def test_the_guard_refuses_every_non_public_range(address: str) -> None:
    with pytest.raises(ForbiddenAddressError, match="refused to connect"):
        AddressPolicy().check(address)


def test_allow_private_opens_only_private_and_loopback() -> None:
    policy = AddressPolicy(allow_private=True)
    for address in ("127.0.0.1", "10.0.0.8", "192.168.1.1", "172.20.0.1", "fd12::1", "::1"):
        policy.check(address)
    for address in ("169.254.169.254", "224.0.0.1", "0.0.0.0", "::ffff:169.254.169.254", "fe80::1"):
        with pytest.raises(ForbiddenAddressError, match="stays refused"):
            policy.check(address)
    AddressPolicy().check("93.184.216.34")  # public: fine
    AddressPolicy().check("2606:2800:220:1:248:1893:25c8:1946")


def test_a_host_is_refused_if_any_of_its_addresses_is_forbidden() -> None:
    policy = AddressPolicy(resolver=lambda host, port: ["93.184.216.34", "10.0.0.5"])
    with pytest.raises(ForbiddenAddressError, match=r"10\.0\.0\.5"):
        policy.resolve("news.example", 80)
    with pytest.raises(ForbiddenAddressError, match="--allow-private"):
        AddressPolicy(resolver=lambda host, port: ["127.0.0.1"]).resolve("localhost", 80)


def test_the_connection_goes_to_the_checked_address_not_to_a_second_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: a name that answers public once and private next must not get through."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    lookups: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return next(answers)

    connected: list[tuple[str, int]] = []

    def no_network(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connected.append(address)
        raise OSError("no traffic leaves loopback in tests")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(FetchError, match="no traffic"):
        get(
            "http://rebind.example/", AddressPolicy(resolver=rebinding), headers={}, timeout=5, max_bytes=1000
        )
    assert lookups == ["rebind.example"] and connected == [("93.184.216.34", 80)]


def test_redirects_are_checked_hop_by_hop(site: Site, tmp_path: Path) -> None:
    report = fetch(tmp_path, [f"{site.base}/to-metadata"], settings=LOOPBACK)
    ((url, reason),) = report.skipped
    assert url == f"{site.base}/to-metadata" and "169.254.169.254" in reason and "link-local" in reason


def test_without_allow_private_loopback_is_refused(site: Site, tmp_path: Path) -> None:
    report = fetch(tmp_path, [f"{site.base}/news/bridge"], settings=FetchSettings(min_interval=0))
    ((_, reason),) = report.skipped
    assert "loopback" in reason and "--allow-private" in reason
    assert site.requests == []  # nothing reached the server, not even robots.txt


def test_bad_requests_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not an http"):
        fetch(tmp_path, ["file:///etc/passwd"])
    with pytest.raises(BadInputError, match="Nothing to fetch"):
        fetch(tmp_path)
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    with pytest.raises(BadInputError, match="is a file"):
        fetch(tmp_path / "file.txt", ["https://news.example/"])


def test_cli_fetch_then_build(site: Site, tmp_path: Path) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_text(
        f"# today's pages\n{site.base}/news/bridge\n\n{site.base}/news/ferry\n", encoding="utf-8"
    )
    command = [
        sys.executable,
        "-m",
        "qa",
        "fetch",
        "--from-file",
        str(listing),
        "--into",
        str(tmp_path / "a"),
    ]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "pass --allow-private" in refused.stderr
    done = subprocess.run(
        [*command, "--allow-private", "--min-interval", "0", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["saved"]) == 2
