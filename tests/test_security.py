"""Security: hostile article text stays inert in a real browser, logins hold over plain HTTP,
nothing reaches outside loopback, and the Gradio floor excludes known-vulnerable releases.

The slow tests share one hostile corpus in every format the readers take (txt with a fetch
sidecar, md front matter, html, jsonl, rss, atom, pdf), one index built by ``qa build`` and
one app, all in child processes under a socket guard (a ``sitecustomize.py``) that records and
refuses every non-loopback destination. Payloads point at a canary HTTP server on 127.0.0.2:
a request reaching it means article text made the browser (or the server) load something.
"""

from __future__ import annotations

import base64
import contextlib
import html
import http.cookiejar
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import pytest
import yaml

from qa.web.auth import set_password
from tests.conftest import ROOT
from tests.servers import running_app

GRADIO_FLOOR = (6, 16)
CANARY_HOST = "127.0.0.2"  # loopback, but not where the app is served: only payloads name it
GUARD_LOG_VAR = "QA_TEST_NET_GUARD_LOG"


# ---- dependency floor (fast) -------------------------------------------------------------------


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_installed_gradio_is_at_least_the_patched_release() -> None:
    """Gradio releases before 6.16 have published security advisories; never run on one."""
    installed = importlib.metadata.version("gradio")
    assert _version_tuple(installed) >= GRADIO_FLOOR, f"gradio {installed} is installed"


def test_pyproject_gradio_floor_excludes_unpatched_releases() -> None:
    """A fresh install resolves to whatever the floor allows: the floor itself must be patched."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floors = [
        match.group(1)
        for requirement in project["dependencies"]
        if (match := re.fullmatch(r"gradio\s*>=\s*([\d.]+)\s*(?:,.*)?", requirement.strip()))
    ]
    assert floors, f"no 'gradio>=' requirement in {project['dependencies']}"
    assert _version_tuple(floors[0]) >= GRADIO_FLOOR, f"pyproject.toml says gradio>={floors[0]}"


# ---- socket guard ------------------------------------------------------------------------------

GUARD = r'''
"""Test guard: record every network destination and refuse those outside loopback."""
import errno
import ipaddress
import json
import os
import socket
import sys

_LOG = os.environ.get("QA_TEST_NET_GUARD_LOG")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _record(kind, target, allowed):
    if not _LOG:
        return
    line = json.dumps({"pid": os.getpid(), "argv": sys.argv[:3], "kind": kind,
                       "target": repr(target), "allowed": allowed})
    with open(_LOG, "a", encoding="utf-8") as out:
        out.write(line + "\n")


def _loopback(host, unspecified_ok=False):
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).split("%")[0].strip("[]")
    if host.lower() in _LOCAL_NAMES or (unspecified_ok and host == ""):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name would go to DNS
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return ip.is_loopback or (unspecified_ok and ip.is_unspecified)


def _inet_host(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        return True, address[0]
    return False, None


def _refuse(kind, target):
    _record(kind, target, False)
    return OSError(errno.ENETUNREACH, f"network guard: {kind} to {target!r} refused (not loopback)")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_sendto = socket.socket.sendto
_getaddrinfo = socket.getaddrinfo
_gethostbyname = socket.gethostbyname
_gethostbyname_ex = socket.gethostbyname_ex
_create_connection = socket.create_connection


def connect(self, address):
    inet, host = _inet_host(self, address)
    if inet and not _loopback(host):
        raise _refuse("connect", address)
    return _connect(self, address)


def connect_ex(self, address):
    inet, host = _inet_host(self, address)
    if inet and not _loopback(host):
        _refuse("connect_ex", address)
        return errno.ENETUNREACH
    return _connect_ex(self, address)


def sendto(self, data, *args):
    inet, host = _inet_host(self, args[-1] if args else None)
    if inet and not _loopback(host):
        raise _refuse("sendto", args[-1])
    return _sendto(self, data, *args)


def getaddrinfo(host, *args, **kwargs):
    if not _loopback(host, unspecified_ok=True):
        raise _refuse("getaddrinfo", host)
    return _getaddrinfo(host, *args, **kwargs)


def gethostbyname(host):
    if not _loopback(host, unspecified_ok=True):
        raise _refuse("gethostbyname", host)
    return _gethostbyname(host)


def gethostbyname_ex(host):
    if not _loopback(host, unspecified_ok=True):
        raise _refuse("gethostbyname_ex", host)
    return _gethostbyname_ex(host)


def create_connection(address, *args, **kwargs):
    if not _loopback(address[0]):
        raise _refuse("create_connection", address)
    return _create_connection(address, *args, **kwargs)


socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.socket.sendto = sendto
socket.getaddrinfo = getaddrinfo
socket.gethostbyname = gethostbyname
socket.gethostbyname_ex = gethostbyname_ex
socket.create_connection = create_connection
_record("loaded", None, True)
'''


@dataclass(frozen=True)
class Guard:
    """A folder holding the guard's ``sitecustomize.py`` and the log its processes append to."""

    folder: Path
    log: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a guarded child: the guard first on PYTHONPATH, then this clone."""
        paths = [str(self.folder), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), GUARD_LOG_VAR: str(self.log), **extra}
        env.pop("QA_INDEX", None)
        return env

    def records(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    def refused(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if not r["allowed"]]

    def loaded_by(self, word: str) -> bool:
        """Whether a process whose command line names ``word`` ran with the guard installed."""
        return any(r["kind"] == "loaded" and any(word in a for a in r["argv"]) for r in self.records())


def make_guard(folder: Path) -> Guard:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    return Guard(folder, folder / "attempts.jsonl")


@contextlib.contextmanager
def guarded_environment(guard: Guard) -> Iterator[None]:
    """os.environ as a guarded child needs it, while ``running_app`` starts its subprocess."""
    saved = dict(os.environ)
    os.environ.update(guard.env())
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_socket_guard_refuses_and_records_outside_addresses(tmp_path: Path) -> None:
    """The offline test below is only as good as its guard: it must see and stop real attempts."""
    guard = make_guard(tmp_path / "guard")
    probe = (
        "import socket, urllib.request\n"
        "for attempt in (lambda: socket.create_connection(('192.0.2.1', 80), timeout=1),\n"
        "                lambda: socket.socket().connect(('198.51.100.7', 443)),\n"
        "                lambda: urllib.request.urlopen('http://example.org/', timeout=1)):\n"
        "    try:\n"
        "        attempt()\n"
        "    except OSError as err:\n"
        "        print('BLOCKED', err)\n"
        "    else:\n"
        "        print('CONNECTED')\n"
        "with socket.socket() as s:\n"
        "    s.bind(('127.0.0.1', 0)); s.listen()\n"
        "    socket.create_connection(s.getsockname(), timeout=1).close()\n"
        "print('loopback ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=guard.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("BLOCKED") == 3 and "CONNECTED" not in done.stdout
    assert "loopback ok" in done.stdout
    targets = " ".join(r["target"] for r in guard.refused())
    for outside in ("192.0.2.1", "198.51.100.7", "example.org"):
        assert outside in targets, guard.records()
    assert "127.0.0.1" not in targets


# ---- the hostile corpus ------------------------------------------------------------------------

# Every script a payload could run says "xss" (alert, and a global the page must never get).
SVG_DATA = base64.b64encode(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(\"xss-svg-data\")'/>")
HTML_DATA = base64.b64encode(b"<script>alert('xss-html-data')</script>")


def payloads(canary: str, where: str) -> list[str]:
    """XSS and tracking payloads for one field; ``where`` names the field in canary paths."""
    js = f"alert('xss-{where}');window.__xss='{where}'"
    url = f"{canary}/{where}"
    return [
        f"<script>{js}</script>",
        f'<img src=x onerror="{js}">',
        f"<img src={url}/img>",
        f'<svg onload="{js}"><script>{js}</script></svg>',
        f'<a href="javascript:{js}">js link</a>',
        f"<a href={url}/a-href>plain link</a>",
        f'<a href="data:text/html;base64,{HTML_DATA.decode()}">data link</a>',
        f'<iframe src="javascript:{js}"></iframe><iframe src={url}/iframe></iframe>',
        f"[md link](javascript:{js})",
        f"![md image]({url}/md-image)",
        f"![data image](data:image/svg+xml;base64,{SVG_DATA.decode()})",
        f"<{url}/autolink> {url}/bare.png",
        f"[ref link][r1]\n[r1]: javascript:{js}",
        f"&lt;img src=x onerror=&quot;{js}&quot;&gt; &#60;script&#62;{js}&#60;/script&#62;",
        f"\"><script>{js}</script><x y=\"' onmouseover='{js}' '",
        f"<div style=\"background:url({url}/css-url)\">css</div><style>@import '{url}/css-import';</style>",
        f'<details open ontoggle="{js}"><summary>s</summary></details><input autofocus onfocus="{js}">',
        f"<base href={url}/base/><link rel=stylesheet href={url}/link.css>",
        f'<meta http-equiv=refresh content="0;url=javascript:{js}">',
        f"$\\href{{javascript:{js}}}{{tex}}$ $$\\href{{{url}/tex}}{{y}}\\includegraphics{{{url}/tex-img}}$$",
    ]


def inline(canary: str, where: str) -> str:
    """A few payloads short enough for a title, byline or URL field."""
    js = f"alert('xss-{where}')"
    return f'<img src=x onerror="{js}"> "><script>{js}</script> [l](javascript:{js}) ![i]({canary}/{where})'


@dataclass(frozen=True)
class Topic:
    """One hostile article: its file, the question that cites it and a word its title keeps."""

    file: str
    question: str
    sentence: str
    title_word: str


TOPICS = [
    Topic("lighthouse.txt", "How many gulls did the lighthouse keeper count?",
          "The lighthouse keeper counted seventeen gulls on the pier at dawn", "Lighthouse"),
    Topic("orchard.md", "How many apples did the orchard grow this autumn?",
          "The orchard grew nine hundred apples this autumn", "Orchard"),
    Topic("glacier.html", "How far did the glacier retreat last summer?",
          "The glacier retreated forty metres last summer", "Glacier"),
    Topic("bees.jsonl", "How many new hives did the beekeepers count?",
          "Beekeepers counted twelve new hives in the city park", "Beekeepers"),
    Topic("trams.rss", "How many riders did the tram line carry on Sunday?",
          "The city tram line carried eighty thousand riders on Sunday", "Trams"),
    Topic("ferries.atom", "How many times did the harbour ferry cross the strait?",
          "The harbour ferry crossed the strait twelve times on Monday", "Ferries"),
    Topic("observatory.pdf", "What did the observatory telescope photograph?",
          "The observatory telescope photographed a faint blue nebula on Tuesday", "Observatory"),
]  # fmt: skip


def _body(topic: Topic, canary: str, tag: str) -> list[str]:
    """The article's paragraphs: the cited sentence carries payloads, then all of them follow."""
    return [
        f"{topic.sentence} {inline(canary, tag + '-sentence')} according to the local paper.",
        f"More about the {topic.title_word.lower()}: " + " ".join(payloads(canary, tag + "-body")),
        f"The {topic.title_word.lower()} story ends here with a quiet sentence about the weather.",
    ]


def write_corpus(folder: Path, canary: str) -> None:
    """Every format the readers take, each with payloads in its title, text, URL and byline."""
    folder.mkdir(parents=True)
    txt, md, page, jsonl, rss, atom, pdf = TOPICS

    # .txt: title is the first line; URL and date come from a qa fetch sidecar.
    (folder / txt.file).write_text(
        "Lighthouse <svg onload=alert('xss-txt-title')> \"><b>log</b>\n\n"
        + "\n\n".join(_body(txt, canary, "txt")),
        encoding="utf-8",
    )
    (folder / f"{txt.file}.fetch.json").write_text(
        json.dumps({"url": f"{canary}/txt-url?q=%22%3E%3Cscript%3Ealert(1)", "published": "2024-01-02"}),
        encoding="utf-8",
    )

    # .md: YAML front matter.
    meta = {
        "title": f"Orchard {inline(canary, 'md-title')}",
        "url": f"{canary}/md-url\"><script>alert('xss-md-url')</script>",
        "byline": f"A. Writer {inline(canary, 'md-byline')}",
        "published": "2024-02-03",
    }
    (folder / md.file).write_text(
        "---\n"
        + yaml.safe_dump(meta, sort_keys=False)
        + "---\n\n# Orchard\n\n"
        + "\n\n".join(_body(md, canary, "md")),
        encoding="utf-8",
    )

    # .html: title, author, canonical URL; payloads both as escaped text and as real markup.
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in _body(page, canary, "html"))
    (folder / page.file).write_text(
        "<!doctype html><html><head>"
        f"<title>Glacier {html.escape(inline(canary, 'html-title'))}</title>"
        f'<meta name="author" content="{html.escape(inline(canary, "html-author"))}">'
        f'<link rel="canonical" href="javascript:alert(\'xss-html-url\')">'
        f"<script>alert('xss-html-head');</script></head><body><article>"
        f"<h1>Glacier {html.escape(inline(canary, 'html-title'))}</h1>{paragraphs}"
        f"<p>Raw markup next to the glacier text: {''.join(payloads(canary, 'html-raw'))} and the end.</p>"
        "</article></body></html>",
        encoding="utf-8",
    )

    # .jsonl: every field, the id too (it becomes part of the article id and passage keys).
    record = {
        "id": "\"><img src=x onerror=alert('xss-jsonl-id')>",
        "title": f"Beekeepers {inline(canary, 'jsonl-title')}",
        "url": "data:text/html;base64," + HTML_DATA.decode(),
        "byline": inline(canary, "jsonl-byline"),
        "published": "2024-03-04",
        "text": "\n\n".join(_body(jsonl, canary, "jsonl")),
    }
    (folder / jsonl.file).write_text(json.dumps(record) + "\n", encoding="utf-8")

    # .rss: escaped markup in the title and author; the description's HTML carries escaped text.
    description = "".join(f"<p>{html.escape(p)}</p>" for p in _body(rss, canary, "rss"))
    description += f"<p>Raw: {''.join(payloads(canary, 'rss-raw'))}</p>"
    (folder / rss.file).write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<title>City {xml_escape(inline(canary, 'rss-feed'))}</title><link>{canary}/rss-channel</link>"
        f"<item><title>Trams {xml_escape(inline(canary, 'rss-title'))}</title>"
        f"<link>javascript:alert('xss-rss-link')</link>"
        f"<author>{xml_escape(inline(canary, 'rss-author'))}</author><guid>tram-1</guid>"
        "<pubDate>Tue, 05 Mar 2024 09:30:00 GMT</pubDate>"
        f"<description>{xml_escape(description)}</description></item></channel></rss>",
        encoding="utf-8",
    )

    # .atom: text title, author name, a data: link, HTML content with escaped payloads.
    content = "".join(f"<p>{html.escape(p)}</p>" for p in _body(atom, canary, "atom"))
    (folder / atom.file).write_text(
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Port news</title><id>urn:port</id><updated>2024-03-06T00:00:00Z</updated>"
        f'<entry><title type="text">Ferries {xml_escape(inline(canary, "atom-title"))}</title>'
        f'<link href="data:text/html;base64,{HTML_DATA.decode()}"/><id>urn:ferry</id>'
        "<updated>2024-03-06T08:00:00Z</updated>"
        f"<author><name>{xml_escape(inline(canary, 'atom-author'))}</name></author>"
        f'<content type="html">{xml_escape(content)}</content></entry></feed>',
        encoding="utf-8",
    )

    # .pdf: document title and author, and the text layer.
    from fpdf import FPDF

    document = FPDF()
    document.set_title("Observatory <img src=x onerror=alert('xss-pdf-title')>")
    document.set_author(inline(canary, "pdf-author"))
    document.add_page()
    document.set_font("helvetica", size=10)
    for paragraph in _body(pdf, canary, "pdf"):
        document.multi_cell(0, 5, paragraph.replace("\n", " "))
        document.ln(6)
    document.output(str(folder / pdf.file))


# ---- shared slow fixtures: canary, guarded build, guarded app ----------------------------------


class Canary:
    """An HTTP server on 127.0.0.2 that records every request; payloads point here."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                hits.append(f"{self.command} {self.path} from {self.client_address[0]}")
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(b"ok")

            do_GET = do_POST = do_HEAD = do_OPTIONS = _record

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((CANARY_HOST, 0), Handler)
        self.url = f"http://{CANARY_HOST}:{self.server.server_address[1]}/canary"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def unexpected(self) -> list[str]:
        """Every request but the test's own control request."""
        return [hit for hit in self.hits if "/canary/control" not in hit]


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    server = Canary()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@dataclass
class Hostile:
    """The hostile corpus, its index built by a guarded ``qa build``, and that build's output."""

    base: Path
    guard: Guard
    articles: Path
    index: Path
    build: subprocess.CompletedProcess[str]


def user_env(guard: Guard) -> dict[str, str]:
    """A user's shell: nothing told the hub to stay offline (the test session's conftest did)."""
    env = guard.env()
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        env.pop(name, None)
    return env


def qa_command(hostile: Hostile, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa", *args, "--index", str(hostile.index)],
        cwd=hostile.base,
        env=user_env(hostile.guard),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, canary: Canary) -> Hostile:
    """The hostile corpus indexed by ``qa build`` in a child process, as a user would (guarded)."""
    base = tmp_path_factory.mktemp("security")
    articles, index, guard = base / "articles", base / "index", make_guard(base / "guard")
    write_corpus(articles, canary.url)
    build = subprocess.run(
        [sys.executable, "-m", "qa", "build", str(articles), "--index", str(index), "--quiet", "--json"],
        cwd=base,
        env=user_env(guard),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    return Hostile(base, guard, articles, index, build)


@pytest.fixture(scope="module")
def hostile_app(hostile: Hostile) -> Iterator[str]:
    """The real app over the hostile index, under the socket guard."""
    with guarded_environment(hostile.guard), running_app(hostile.index, hostile.base / "server") as url:
        yield url


def api_ask(url: str, question: str, opener: urllib.request.OpenerDirector | None = None) -> dict[str, Any]:
    """Ask over Gradio's plain HTTP API (POST the call, then read its event stream)."""
    open_url = (opener or urllib.request.build_opener()).open
    request = urllib.request.Request(
        f"{url}gradio_api/call/ask",
        data=json.dumps({"data": [question, 5, "", "", "", []]}).encode(),  # every parameter: Gradio 6
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with open_url(request, timeout=60) as response:
        event_id = json.loads(response.read())["event_id"]
    with open_url(f"{url}gradio_api/call/ask/{event_id}", timeout=180) as response:
        stream = response.read().decode("utf-8")
    assert "event: complete" in stream, stream[-2000:]
    data = stream.split("event: complete", 1)[1].split("data:", 1)[1].strip().splitlines()[0]
    result: dict[str, Any] = json.loads(data)[0]
    return result


# ---- offline: no process ever reaches outside loopback -----------------------------------------


@pytest.mark.slow
def test_build_ask_and_app_never_leave_loopback(hostile: Hostile, hostile_app: str, canary: Canary) -> None:
    """The product promises offline use: the model ships in a package, nothing is downloaded."""
    report = json.loads(hostile.build.stdout)
    assert (report["articles"], report["skipped"]) == (len(TOPICS), [])

    asked = qa_command(hostile, "ask", TOPICS[0].question, "--json")
    assert asked.returncode == 0, asked.stderr[-3000:]
    assert json.loads(asked.stdout)["citations"][0]["article_id"] == TOPICS[0].file

    answer = api_ask(hostile_app, TOPICS[1].question)  # waits for the app's model to load
    assert answer["citations"][0]["article_id"] == TOPICS[1].file

    guard = hostile.guard
    assert guard.loaded_by("build") and guard.loaded_by("ask") and guard.loaded_by("app.py"), guard.records()
    assert guard.refused() == [], "non-loopback network attempts:\n" + "\n".join(map(str, guard.refused()))
    assert canary.unexpected() == []  # the servers fetched nothing the articles name either


# ---- the hostile corpus in a real browser ------------------------------------------------------

# Every attribute, in the page and any shadow root, that is an event handler or can load or run a
# URL; read after every question, source and article was opened.
DOM_AUDIT = """() => {
  const handlers = [], urls = [], roots = [document];
  const urlAttrs = ["href", "src", "srcset", "action", "formaction", "data", "poster", "background",
                    "xlink:href", "srcdoc", "content"];
  while (roots.length) {
    for (const el of roots.pop().querySelectorAll("*")) {
      if (el.shadowRoot) roots.push(el.shadowRoot);
      for (const a of el.attributes) {
        const where = `<${el.tagName.toLowerCase()} ${a.name}="${a.value.slice(0, 120)}">`;
        if (a.name.toLowerCase().startsWith("on")) handlers.push(where);
        if (urlAttrs.includes(a.name.toLowerCase())) {
          const region = el.closest("#qa-sources, #qa-viewer, #qa-article-list, #qa-examples, #qa-header");
          urls.push([el.tagName.toLowerCase(), a.name, a.value, region ? region.id : ""]);
        }
      }
    }
  }
  // Markup an article could smuggle in: none in the panels that show article text, and none but
  // Gradio's own icons (svg) in the chat.
  const smuggled = "script, img, iframe, frame, object, embed, style, link, meta, base, form, input, " +
                   "details, math, .katex, svg";
  const rendered = [];
  const own = (el) => el.matches("details.qa-details") || (el.parentElement && el.parentElement.closest("svg, button"));
  for (const panel of document.querySelectorAll("#qa-sources, #qa-viewer, #qa-article-list, #qa-examples button"))
    for (const el of panel.querySelectorAll(smuggled))
      if (!own(el)) rendered.push(`${panel.id || "qa-examples"}: ${el.outerHTML.slice(0, 120)}`);
  for (const el of document.querySelectorAll("#qa-chat :is(" + smuggled.replace(", svg", "") + ")"))
    if (!own(el)) rendered.push(`qa-chat: ${el.outerHTML.slice(0, 120)}`);
  return {handlers, urls, rendered, xss: window.__xss ?? null, base: document.baseURI};
}"""


@dataclass
class BrowserSession:
    """What the hostile session saw: dialogs, requests, page errors, texts shown and the DOM audit."""

    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)  # article id -> viewer title as shown
    metas: dict[str, str] = field(default_factory=dict)  # article id -> viewer meta line as shown
    viewer_texts: dict[str, str] = field(default_factory=dict)  # article id -> viewer text
    cited: dict[str, str] = field(default_factory=dict)  # file -> article id of the first card
    chat: str = ""
    sources: str = ""
    audit: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def browser_session(hostile_app: str, canary: Canary) -> Iterator[BrowserSession]:
    """Ask about every hostile article, open each cited source and every article in the viewer."""
    from playwright.sync_api import expect, sync_playwright

    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, ask

    if not CHROMIUM.exists():
        pytest.skip(f"no system Chromium at {CHROMIUM} (apt-get install chromium)")
    seen = BrowserSession()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=WAIT_MS
        )
        context = browser.new_context(viewport={"width": 1500, "height": 1000})
        context.on("request", lambda request: seen.requests.append(request.url))
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)

        def on_dialog(dialog: Any) -> None:
            seen.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: seen.errors.append(str(error)))

        # Control: this browser can reach the canary, so a payload that loads anything is seen.
        # The audit itself finds a handler and a javascript: link when there is one.
        page.set_content(
            f'<img src="{canary.url}/control" onclick="void 0"><a href="javascript:void 0">a</a>'
        )
        expect(page.locator("img")).to_have_js_property("complete", True)
        assert any("/canary/control" in hit for hit in canary.hits), canary.hits
        control = page.evaluate(DOM_AUDIT)
        assert control["handlers"] == ['<img onclick="void 0">']
        assert ["a", "href", "javascript:void 0", ""] in control["urls"]

        page.goto(hostile_app)
        viewer = page.locator("#qa-viewer")
        for turn, topic in enumerate(TOPICS):
            ask(page, topic.question)
            card = page.locator(f"#qa-src-{turn}-1")
            expect(card).to_be_visible()
            opener = card.locator(".qa-open")
            seen.cited[topic.file] = json.loads(opener.get_attribute("data-open") or "{}").get("key", "")
            opener.dispatch_event("click")  # the sidebar may cover the card: no mouse needed
            expect(viewer.locator(".qa-target")).to_have_count(1)
            expect(viewer.locator(".qa-article-title")).to_contain_text(topic.title_word)
        seen.chat = page.locator("#qa-chat").inner_text()
        seen.sources = page.locator("#qa-sources").inner_text()

        # Every article from the corpus panel, each title, byline and URL in the viewer.
        page.locator("#qa-corpus").get_by_text("Corpus").click()
        buttons = page.locator("#qa-article-list .qa-open")
        expect(buttons).to_have_count(len(TOPICS))
        for i in range(len(TOPICS)):
            article_id = json.loads(buttons.nth(i).get_attribute("data-open") or "{}")["article"]
            buttons.nth(i).dispatch_event("click")
            shown = viewer.locator(".qa-article")
            expect(shown).to_have_attribute("data-article", article_id)
            seen.titles[article_id] = viewer.locator(".qa-article-title").inner_text()
            seen.metas[article_id] = viewer.locator(".qa-meta").first.inner_text()
            seen.viewer_texts[article_id] = shown.inner_text()

        # The examples are drawn from the (hostile) titles; one asks when clicked.
        page.locator("#qa-scope").get_by_text("Time and sources").click()
        examples = page.locator("#qa-examples button")
        expect(examples.first).to_contain_text("What is “")
        bots = page.locator("#qa-chat [data-testid='bot']")
        before = bots.count()
        examples.first.click()
        expect(bots).to_have_count(before + 1)

        page.wait_for_timeout(2000)  # time for any injected image, frame or script to fire
        seen.audit = page.evaluate(DOM_AUDIT)
        yield seen
        context.close()
        browser.close()


@pytest.mark.slow
def test_every_format_was_cited_and_opened(browser_session: BrowserSession) -> None:
    """The other browser tests only mean something if each hostile article reached the page."""
    for topic in TOPICS:
        assert browser_session.cited[topic.file].startswith(topic.file), browser_session.cited
    assert len(browser_session.titles) == len(TOPICS)


@pytest.mark.slow
def test_no_script_from_an_article_ran(browser_session: BrowserSession) -> None:
    assert browser_session.dialogs == []
    assert browser_session.audit["xss"] is None
    assert [e for e in browser_session.errors if "xss" in e] == []


@pytest.mark.slow
def test_no_markup_from_an_article_was_rendered(browser_session: BrowserSession) -> None:
    """No tag, image, frame, form, style or maths made from article text: it all stays text."""
    assert browser_session.audit["rendered"] == [], "\n".join(browser_session.audit["rendered"])


@pytest.mark.slow
def test_no_event_handler_attribute_in_the_page(browser_session: BrowserSession) -> None:
    assert browser_session.audit["handlers"] == []


@pytest.mark.slow
def test_no_javascript_or_data_url_in_the_page(browser_session: BrowserSession, hostile_app: str) -> None:
    def scheme(value: str) -> str:
        squeezed = re.sub(r"[\x00-\x20]", "", html.unescape(value)).lower()
        return squeezed.split(":", 1)[0] if ":" in squeezed.split("/", 1)[0] else ""

    def from_payload(value: str) -> bool:
        plain = urllib.parse.unquote(html.unescape(value))
        return any(mark in plain for mark in ("xss", HTML_DATA.decode(), SVG_DATA.decode(), CANARY_HOST))

    # Gradio draws some of its own icons as data:image/svg+xml images: those are allowed outside
    # the panels that show article text, and only when they carry nothing from an article.
    bad = [
        (tag, name, value[:160], region)
        for tag, name, value, region in browser_session.audit["urls"]
        if scheme(value) in ("javascript", "vbscript")
        or (scheme(value) == "data" and (region or from_payload(value) or tag not in ("img", "link")))
        or (tag in ("a", "iframe", "img") and "xss" in value.lower())
    ]
    assert bad == []
    loaders = [  # what the page loads by itself must never point at the canary
        (tag, name, value)
        for tag, name, value, _ in browser_session.audit["urls"]
        if CANARY_HOST in value and not (tag == "a" and name == "href")
    ]
    assert loaders == []
    assert browser_session.audit["base"].startswith(hostile_app)  # no <base> from an article


@pytest.mark.slow
def test_no_request_reached_the_canary(browser_session: BrowserSession, canary: Canary) -> None:
    assert canary.unexpected() == []
    assert [u for u in browser_session.requests if CANARY_HOST in u and "/canary/control" not in u] == []


@pytest.mark.slow
def test_titles_bylines_and_text_read_exactly_as_written(
    browser_session: BrowserSession, hostile: Hostile
) -> None:
    """Inert is not enough: the payloads are shown, character for character, as text."""
    from qa.ingest import read_corpus

    corpus = read_corpus(hostile.articles)
    for article in corpus.articles:
        assert browser_session.titles[article.id].strip() == article.title
        if article.byline:
            assert article.byline in browser_session.metas[article.id]
        shown = " ".join(browser_session.viewer_texts[article.id].split())
        for paragraph in article.paragraphs:  # (a line break inside a paragraph shows as a space)
            assert " ".join(article.text[paragraph.start : paragraph.end].split()) in shown
    for topic in TOPICS[:6]:  # the PDF's lines are wrapped: its sentence is not one line
        assert topic.sentence in browser_session.chat
    assert "<script>alert('xss-txt-sentence')</script>" in browser_session.chat
    assert "<script>alert('xss-pdf-sentence')</script>" in browser_session.sources  # the last answer's


# ---- logins over plain HTTP (tests/test_server.py covers /ask and gradio_client) ---------------

USER, PASSWORD = "alice", "correct horse battery"


@dataclass(frozen=True)
class AuthApp:
    url: str
    export: Path  # a file in the app's allowed exports folder: served to a logged-in user only


@pytest.fixture(scope="module")
def auth_app(hostile: Hostile) -> Iterator[AuthApp]:
    """The app over the hostile index with ``--auth-file``, under the socket guard."""
    users = hostile.base / "users.txt"
    set_password(users, USER, PASSWORD)
    # app.py serves its chat exports from here (allowed_paths); plant one as another session's.
    folder = Path(tempfile.gettempdir()) / "article-qa-exports" / f"test-security-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    export = folder / "chat.md"
    export.write_text("# Chat export\n\nsecret question about the lighthouse\n", encoding="utf-8")
    try:
        with (
            guarded_environment(hostile.guard),
            running_app(
                hostile.index, hostile.base / "auth-server", extra_args=["--auth-file", str(users)]
            ) as url,
        ):
            yield AuthApp(url, export)
    finally:
        export.unlink(missing_ok=True)
        folder.rmdir()


def _refusal(opener: urllib.request.OpenerDirector, request: urllib.request.Request | str) -> tuple[int, str]:
    try:
        with opener.open(request, timeout=30) as response:
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def _login(url: str, password: str) -> tuple[urllib.request.OpenerDirector, int, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = urllib.parse.urlencode({"username": USER, "password": password}).encode()
    status, _ = _refusal(opener, urllib.request.Request(f"{url}login", data=form, method="POST"))
    return opener, status, jar


PROTECTED = [  # (method, path, body): the page's config, the API, the queue, uploads and files
    ("GET", "config", None),
    ("GET", "gradio_api/info", None),
    ("GET", "gradio_api/openapi.json", None),
    ("POST", "gradio_api/queue/join", {"data": ["q"], "fn_index": 0, "session_hash": "s3cur1ty"}),
    ("GET", "gradio_api/queue/data?session_hash=s3cur1ty", None),
    ("POST", "gradio_api/run/predict", {"data": ["q"], "fn_index": 0}),
    ("POST", "gradio_api/upload", {}),
    ("GET", "gradio_api/file={export}", None),
]


def _request(app: AuthApp, method: str, path: str, body: dict[str, Any] | None) -> urllib.request.Request:
    return urllib.request.Request(
        app.url + path.format(export=app.export),
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method=method,
    )


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_login_app_refuses_every_route_without_a_login(
    auth_app: AuthApp, method: str, path: str, body: dict[str, Any] | None
) -> None:
    status, text = _refusal(urllib.request.build_opener(), _request(auth_app, method, path, body))
    assert status == 401, (status, text[:300])
    assert "Not authenticated" in text
    for secret in ("Lighthouse", "Orchard", "secret question", "xss"):
        assert secret not in text


@pytest.mark.slow
def test_login_app_page_is_the_login_form_only(auth_app: AuthApp) -> None:
    status, text = _refusal(urllib.request.build_opener(), auth_app.url)
    assert status == 200 and '"auth_required":true' in text.replace(" ", "")
    for secret in ("Lighthouse", "Orchard", "Answers from", "qa-chat", "/gradio_api/file="):
        assert secret not in text, secret


@pytest.mark.slow
def test_wrong_password_gets_no_session(auth_app: AuthApp) -> None:
    opener, status, jar = _login(auth_app.url, PASSWORD + "!")
    assert status == 400
    assert not [cookie.name for cookie in jar if cookie.name.startswith("access-token")]
    assert _refusal(opener, _request(auth_app, "GET", "config", None))[0] == 401
    assert _refusal(opener, _request(auth_app, "GET", "gradio_api/file={export}", None))[0] == 401


@pytest.mark.slow
def test_right_password_opens_what_was_refused(auth_app: AuthApp) -> None:
    """Control for the refusals above: the same routes answer once logged in."""
    opener, status, _ = _login(auth_app.url, PASSWORD)
    assert status == 200
    config = _refusal(opener, _request(auth_app, "GET", "config", None))
    assert config[0] == 200 and "Lighthouse" in config[1]
    export = _refusal(opener, _request(auth_app, "GET", "gradio_api/file={export}", None))
    assert export == (200, auth_app.export.read_text(encoding="utf-8"))
    answer = api_ask(auth_app.url, TOPICS[0].question, opener)
    assert answer["citations"][0]["article_id"] == TOPICS[0].file


@pytest.mark.slow
def test_no_process_left_loopback_during_these_tests(hostile: Hostile) -> None:
    """Last in the file: the guarded build, CLI and both apps (browser and login) stayed offline."""
    assert hostile.guard.loaded_by("build")
    assert hostile.guard.refused() == []
