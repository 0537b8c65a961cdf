"""Fault harness: kill builds at every phase, damage every index file, fill the disk, lock the folder.

Shared by ``bench/faults.py`` (many seeded trials, a table, JSON) and ``tests/test_faults.py``
(a bounded run in CI). Everything runs with the fake bag-of-words encoder of ``tests/conftest.py``,
so no model is loaded. Builds that must die or hit a limit run in a child process::

    python -m tests.faults_harness ARGS...     # runs ``qa.cli.main(ARGS)`` with the fake model

The child reads its faults from the environment (``QA_FAULT_*``, see :func:`child_main`): a
trace of every hook event, a SIGKILL at the Nth event, a file-size limit, or dropping to the
``nobody`` user. The hooks wrap functions of ``qa`` from outside (nothing under ``qa/`` is
changed), at the boundaries of every build phase and at every file the build opens for writing.

Verdicts, for every way of looking at a damaged index:

- ``a`` refused clearly: a ``QAError`` (CLI: exit 1, one ``error:`` line, no traceback);
- ``b`` the same answers (or output) as the undamaged index;
- ``c`` SILENT WRONG: no error, different answers or output (a failure);
- ``d`` TRACEBACK: any other exception (a failure);
- ``L`` LOST: a failed build deleted the intact generation or its segments (a failure).
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import functools
import io
import itertools
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
QA_DIR = ROOT / "qa"
ABSTAIN = 0.4  # the fake encoder's cosines run low (tests/conftest.py FAKE_ABSTAIN)
NOBODY = 65534

# ---- the corpus ----------------------------------------------------------------------------------

_TOWNS = (
    "Arden Brisk Calder Dunmore Elwick Fenton Garrow Halden Istow Jarrow Kelby Lorne Marden "
    "Norwick Oxley Penrith Quarry Rowan Selby Tarvin Ulverton Varley Wexford Yarrow Zennor"
).split()
_PLACES = (
    "bridge library ferry school hospital market stadium museum tramway harbour lighthouse theatre".split()
)
_EVENTS = (
    ("reopened", "repairs"),
    ("closed", "flooding"),
    ("expanded", "donations"),
    ("opened", "construction"),
)
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_CREWS = "engineers volunteers carpenters painters surveyors gardeners electricians masons".split()


def article_text(number: int, edited: bool = False) -> str:
    """One generated news article: distinct town, place and figures, so questions single it out."""
    rng = random.Random(number)
    town, place = _TOWNS[number % len(_TOWNS)], _PLACES[number % len(_PLACES)]
    verb, cause = _EVENTS[number % len(_EVENTS)]
    day, crew = rng.choice(_DAYS), rng.choice(_CREWS)
    money, years, workers = rng.randint(2, 90), rng.randint(2, 12), rng.randint(10, 400)
    if edited:
        money += 100
    return (
        f"{town} {place} {verb}\n\n"
        f"The {town} {place} {verb} on {day} after {years} years of {cause} costing {money} million euros.\n\n"
        f"About {workers} {crew} worked on the {place} in {town}, the council said.\n\n"
        f"Residents of {town} gathered near the {place} to celebrate with music and food.\n\n"
        "Subscribe to our newsletter for more local news.\n"
    )


def write_corpus(folder: Path, numbers: Sequence[int], edited: Sequence[int] = ()) -> Path:
    """Write the articles ``numbers`` (``edited`` ones with a changed figure) into a fresh ``folder``."""
    shutil.rmtree(folder, ignore_errors=True)
    for number in numbers:
        path = folder / f"part-{number // 10}" / f"article-{number:03d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article_text(number, number in edited), encoding="utf-8")
    return folder


QUESTIONS = (
    "When did the Arden bridge reopen?",
    "How much did the Calder ferry cost?",
    "How many workers worked on the Halden stadium?",
    "Why did the Jarrow tramway close?",
    "What did residents of Norwick do near the market?",
    "How many years of repairs did the Zennor bridge need?",
)

BASE = range(30)  # the first build of the template index
TEMPLATE = range(36)  # its second build: a second vector segment
TARGETS: dict[str, tuple[Sequence[int], Sequence[int], list[str]]] = {
    # mode: (articles, edited ones, extra CLI options); built over the template unless "first"
    "first": (TEMPLATE, (), []),
    "update": ([n for n in range(42) if n != 5], (3,), []),
    "compact": (range(10, 36), (), ["--compact"]),
    "force": (TEMPLATE, (), ["--force"]),
}
MODES = tuple(TARGETS)


# ---- the fake model, and the child process -------------------------------------------------------


def _fake_encoder_class() -> type:
    from tests.conftest import FakeEncoder

    return FakeEncoder


def fake_encoder() -> Any:
    return _fake_encoder_class()()


@contextlib.contextmanager
def fake_model() -> Iterator[None]:
    """Make the CLI use the fake encoder where it would load the packaged model."""
    cls = _fake_encoder_class()
    with (
        mock.patch("qa.build.pipeline.LazyDefaultEncoder", cls),
        mock.patch("qa.api.query_encoder", lambda path=None: cls()),
    ):
        yield


class _Hooks:
    """Numbered events at phase boundaries and file writes; SIGKILL at event ``kill_at``, or
    OSError(ENOSPC) at event ``full_at`` (the disk filling up just as that file is written)."""

    def __init__(
        self, kill_at: int | None, trace: Path | None, index: Path | None, full_at: int | None = None
    ) -> None:
        self.kill_at = kill_at
        self.full_at = full_at
        self.trace = trace.open("w", encoding="utf-8") if trace else None
        self.index = Path(os.path.abspath(index)) if index else None
        self.count = 0
        self.phase = "lock"  # the first event: opening build.lock
        self.tidied = 0

    def event(self, label: str, phase: str | None = None) -> None:
        if self.trace:
            self.trace.write(f"{self.count}\t{phase or self.phase}\t{label}\n")
            self.trace.flush()
        if self.count == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        self.count += 1
        if self.count - 1 == self.full_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def inside(self, path: object) -> str | None:
        """``path`` relative to the index folder, or None when it is elsewhere."""
        if self.index is None or not isinstance(path, str | os.PathLike):
            return None
        try:
            return Path(os.path.abspath(os.fspath(path))).relative_to(self.index).as_posix()
        except ValueError:
            return None

    def wrap(self, owner: Any, attr: str, phase: str | Callable[[], str], every: bool = True) -> None:
        """Replace ``owner.attr`` by a version with an event before and after each call."""
        original = getattr(owner, attr)

        @functools.wraps(original)
        def hooked(*args: Any, **kwargs: Any) -> Any:
            name = phase() if callable(phase) else phase
            outer, self.phase = self.phase, name
            try:
                self.event(f"{attr}:begin")
                result = original(*args, **kwargs)
                self.event(f"{attr}:end")
            finally:
                self.phase = outer
            return result

        setattr(owner, attr, hooked)


def _file_phase(relative: str, default: str) -> str:
    name = relative.rsplit("/", 1)[-1]
    if name.startswith("CURRENT"):
        return "publish"
    if name == "manifest.json":
        return "manifest"
    if "/bm25/" in f"/{relative}":
        return "bm25"
    return default


def install_hooks(hooks: _Hooks) -> None:
    """Hook every build phase: reading, sqlite, embedding, segments, FAISS, BM25, manifest,
    publish (fsyncs, CURRENT swap) and tidying (the start-of-build clean-up is ``prepare``)."""
    import qa.build.generation
    import qa.build.pipeline
    import qa.storage.generations
    import qa.storage.vectors.segments
    from qa.storage.lexical.bm25_index import Bm25Part
    from qa.storage.store_writer import StoreWriter
    from qa.storage.vectors.faiss_index import FaissIndex
    from qa.storage.vectors.segments import SegmentWriter

    def tidy_phase() -> str:
        hooks.tidied += 1
        return "prepare" if hooks.tidied == 1 else "tidy"

    hooks.wrap(qa.build.pipeline, "tidy_index", tidy_phase)
    hooks.wrap(qa.build.pipeline, "previous_store", "prepare")
    hooks.wrap(qa.build.pipeline, "read_corpus", "read")
    hooks.wrap(qa.build.pipeline, "new_generation", "sqlite")
    hooks.wrap(qa.build.pipeline, "write_articles", "sqlite")
    hooks.wrap(StoreWriter, "add_article", "sqlite")
    hooks.wrap(StoreWriter, "add_files", "sqlite")
    hooks.wrap(StoreWriter, "__exit__", "sqlite")
    hooks.wrap(qa.build.pipeline, "embed_into", "embed")
    hooks.wrap(SegmentWriter, "__init__", "segment")
    hooks.wrap(SegmentWriter, "add", "segment")
    hooks.wrap(SegmentWriter, "close", "segment")
    hooks.wrap(qa.build.pipeline, "describe_segment", "segment")
    hooks.wrap(qa.build.pipeline, "write_vector_index", "faiss")
    hooks.wrap(FaissIndex, "save", "faiss")
    hooks.wrap(Bm25Part, "from_texts", "bm25")
    hooks.wrap(Bm25Part, "save", "bm25")
    hooks.wrap(qa.build.generation, "describe_files", "manifest")
    hooks.wrap(qa.build.pipeline, "publish", "publish")
    hooks.wrap(qa.storage.generations, "_fsync_path", "publish")

    def tidy_part() -> str:  # inside the start-of-build tidy_index, still "prepare"
        return "prepare" if hooks.phase == "prepare" else "tidy"

    hooks.wrap(qa.storage.vectors.segments, "remove_debris", tidy_part)
    hooks.wrap(qa.storage.vectors.segments, "remove_unlisted_segments", tidy_part)
    hooks.wrap(_fake_encoder_class(), "encode", "embed")

    real_open, real_replace, real_rmtree, real_unlink = io.open, os.replace, shutil.rmtree, Path.unlink

    def hooked_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        relative = hooks.inside(file)
        if relative is not None and any(flag in mode for flag in "wax+"):
            hooks.event(f"open:{relative}", _file_phase(relative, hooks.phase))
        return real_open(file, mode, *args, **kwargs)

    def hooked_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        relative = hooks.inside(dst)
        if relative is not None:
            hooks.event(f"replace:{relative}:begin", "publish")
        real_replace(src, dst, *args, **kwargs)
        if relative is not None:
            hooks.event(f"replace:{relative}:end", "publish")

    def hooked_rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        relative = hooks.inside(path)
        if relative is not None:
            hooks.event(f"rmtree:{relative}")
        real_rmtree(path, *args, **kwargs)

    def hooked_unlink(path: Path, missing_ok: bool = False) -> None:
        relative = hooks.inside(path)
        if relative is not None:
            hooks.event(f"unlink:{relative}")
        real_unlink(path, missing_ok=missing_ok)

    builtins.open = io.open = hooked_open  # pathlib opens through io.open
    os.replace = hooked_replace
    shutil.rmtree = hooked_rmtree  # type: ignore[assignment]
    Path.unlink = hooked_unlink  # type: ignore[method-assign,assignment]


def _warm_up() -> None:
    """Import everything a build and a question touch, before the child gives up root's files."""
    from qa import QA, build_index

    with tempfile.TemporaryDirectory() as temp:
        articles = write_corpus(Path(temp) / "a", range(3))
        build_index(articles, Path(temp) / "i", encoder=fake_encoder(), show_progress=False)
        with QA.open(Path(temp) / "i", encoder=fake_encoder()) as qa:
            qa.ask(QUESTIONS[0])


def child_main(argv: Sequence[str]) -> int:
    """Run ``qa.cli.main(argv)`` with the fake model and the faults the environment asks for.

    QA_FAULT_TRACE (file for the event trace), QA_FAULT_KILL_AT (SIGKILL at that event),
    QA_FAULT_FULL_AT (OSError ENOSPC at that event),
    QA_FAULT_INDEX (the index folder whose writes are events), QA_FAULT_FSIZE (RLIMIT_FSIZE in
    bytes, with SIGXFSZ ignored so writes fail with EFBIG as on a full disk), QA_FAULT_NOBODY
    (run as user nobody, after importing everything as root).
    """
    from qa.cli import main

    env = os.environ
    if env.get("QA_FAULT_NOBODY"):
        _warm_up()
        os.setgroups([])
        os.setegid(NOBODY)
        os.seteuid(NOBODY)
    if env.get("QA_FAULT_TRACE") or env.get("QA_FAULT_KILL_AT") or env.get("QA_FAULT_FULL_AT"):
        kill_at, full_at = env.get("QA_FAULT_KILL_AT"), env.get("QA_FAULT_FULL_AT")
        trace, index = env.get("QA_FAULT_TRACE"), env.get("QA_FAULT_INDEX")
        install_hooks(
            _Hooks(
                int(kill_at) if kill_at else None,
                Path(trace) if trace else None,
                Path(index) if index else None,
                int(full_at) if full_at else None,
            )
        )
    if env.get("QA_FAULT_FSIZE"):
        limit = int(env["QA_FAULT_FSIZE"])
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    with fake_model(), parted():
        return main(list(argv))


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str


def run_child(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 120) -> CliRun:
    """``qa ARGV`` in a child Python with the fake model (and any ``QA_FAULT_*`` in ``env``)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.faults_harness", *argv],
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliRun(done.returncode, done.stdout, done.stderr)


def run_inprocess(argv: Sequence[str]) -> CliRun:
    """``qa ARGV`` in this process: what escapes ``qa.cli.main`` is what Python would print."""
    from qa.cli import main

    out, err = io.StringIO(), io.StringIO()
    with fake_model(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException as error:  # the interpreter would print exactly this and exit 1
            err.write("Traceback (most recent call last):\n")
            err.write("".join(traceback.format_exception(error)[1:]))
            code = 1
    return CliRun(code, out.getvalue(), err.getvalue())


# ---- looking at an index -------------------------------------------------------------------------


def answers(index: Path) -> list[dict[str, Any]]:
    """The answers to QUESTIONS through the public API (raises whatever opening raises)."""
    from qa import QA

    with QA.open(index, encoder=fake_encoder()) as qa:
        return [qa.ask(question).to_dict() for question in QUESTIONS]


@contextlib.contextmanager
def parted() -> Iterator[None]:
    """Builds keep earlier parts however small the index (by default only past 20,000
    passages), so the harness's small indexes have parts, deletions and merges."""
    import qa.build.parts

    before = qa.build.parts.MIN_PARTED_PASSAGES
    qa.build.parts.MIN_PARTED_PASSAGES = 0
    try:
        yield
    finally:
        qa.build.parts.MIN_PARTED_PASSAGES = before


def build(articles: Path, index: Path, **options: Any) -> Any:
    from qa import build_index

    with parted():
        return build_index(
            articles, index, encoder=fake_encoder(), show_progress=False, abstain_below=ABSTAIN, **options
        )


def debris(index: Path) -> list[str]:
    """What the design does not keep: anything beside CURRENT, the lock, the live generation,
    the earlier generations whose parts it reads, the segments it lists and the file-signature
    cache; files in the generation its manifest does not list."""
    from qa.storage.generations import current_name
    from qa.storage.manifest import MANIFEST_NAME, SEGMENTS_DIR, read_manifest
    from qa.storage.signatures import SIGNATURES_NAME

    if not index.is_dir():
        return []
    live = current_name(index)
    found = []
    listed: set[str] = set()
    files: set[str] = set()
    parts: set[str] = set()
    if live:
        manifest = read_manifest(index / live)
        listed = set(manifest.vector_segments)
        files = {*manifest.files, MANIFEST_NAME}
        parts = set(manifest.parts)
    for path in sorted(index.iterdir()):
        if path.name in ("CURRENT", "build.lock", SIGNATURES_NAME) or path.name == live or path.name in parts:
            continue
        if path.name == SEGMENTS_DIR and path.is_dir():
            found += [f"{SEGMENTS_DIR}/{p.name}" for p in sorted(path.iterdir()) if p.name not in listed]
            continue
        found.append(path.name)
    if live:
        generation = index / live
        found += [
            f"{live}/{p.relative_to(generation).as_posix()}"
            for p in sorted(generation.rglob("*"))
            if p.is_file() and p.relative_to(generation).as_posix() not in files
        ]
    return found


def qa_frame(error: BaseException) -> str:
    """The innermost frame under qa/ that the exception passed through: where it comes from."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(str(QA_DIR))]
    if not frames:
        return "?"
    f = frames[-1]
    return f"{Path(f.filename).relative_to(ROOT)}:{f.lineno} in {f.name}"


_FRAME = re.compile(r'File "([^"]*?/qa/[^"]+)", line (\d+), in (\S+)')


def describe_traceback(stderr: str) -> str:
    """Last line of a printed traceback, and the innermost qa/ frame in it."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    frames = _FRAME.findall(stderr)
    where = "?"
    if frames:
        path, line, name = frames[-1]
        where = f"{Path(path).relative_to(ROOT) if path.startswith(str(ROOT)) else path}:{line} in {name}"
    return f"{lines[-1] if lines else ''} [{where}]"


@dataclass
class Verdict:
    code: str  # a b c d L (see the module docstring)
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.code in ("c", "d", "L")


def api_verdict(index: Path, expected: list[dict[str, Any]]) -> Verdict:
    """QA.open + the questions: refused clearly, the same answers, different ones, or a raw error."""
    from qa.errors import QAError

    try:
        got = answers(index)
    except QAError as error:
        return Verdict("a", f"{type(error).__name__}: {str(error)[:160]}")
    except Exception as error:
        return Verdict("d", f"{type(error).__name__}: {str(error)[:160]} [{qa_frame(error)}]")
    if got == expected:
        return Verdict("b")
    return Verdict("c", first_difference(expected, got))


def first_difference(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> str:
    for want, have in zip(expected, got, strict=True):
        if want != have:
            cites = [(c["article_id"], c["score"]) for c in have["citations"][:2]]
            wanted = [(c["article_id"], c["score"]) for c in want["citations"][:2]]
            return f"{want['question']!r}: cites {cites}, expected {wanted}"
    return "?"


def cli_verdict(run: CliRun, expected_stdout: str | None) -> Verdict:
    """Exit 1 with one ``error:`` line is a clear refusal; exit 0 must print what the intact index does."""
    if "Traceback" in run.stderr:
        return Verdict("d", describe_traceback(run.stderr))
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    if run.returncode == 1 and len(errors) == 1:
        return Verdict("a", errors[0][:200])
    if run.returncode != 0:
        return Verdict("d", f"exit {run.returncode}: {run.stderr.strip()[-200:]}")
    if expected_stdout is None or run.stdout == expected_stdout:
        return Verdict("b")
    diff = [
        f"{a.strip()!r} -> {b.strip()!r}"
        for a, b in zip(expected_stdout.splitlines(), run.stdout.splitlines(), strict=False)
        if a != b
    ]
    return Verdict("c", "; ".join(diff[:2])[:240] or "output differs")


# ---- the template index --------------------------------------------------------------------------


@dataclass
class Template:
    """An index with two generations' worth of segments, its answers, and target corpora."""

    work: Path
    index: Path
    answers: list[dict[str, Any]]
    targets: dict[str, Path]


def make_template(work: Path) -> Template:
    work.mkdir(parents=True, exist_ok=True)
    source = work / "template-articles"
    index = work / "template-index"
    shutil.rmtree(index, ignore_errors=True)
    build(write_corpus(source, BASE), index)
    build(write_corpus(source, TEMPLATE), index)
    targets = {
        mode: write_corpus(work / f"target-{mode}", numbers, edited)
        for mode, (numbers, edited, _) in TARGETS.items()
    }
    return Template(work, index, answers(index), targets)


def fresh_copy(template: Template, into: Path) -> Path:
    shutil.rmtree(into, ignore_errors=True)
    shutil.copytree(template.index, into)
    return into


# ---- kill trials ---------------------------------------------------------------------------------


@dataclass
class Event:
    number: int
    phase: str
    label: str


@dataclass
class DryRun:
    """A build of a mode run to completion with every hook traced: the events a kill can pick."""

    mode: str
    events: list[Event]
    answers: list[dict[str, Any]]
    seconds: float


def build_argv(template: Template, mode: str, index: Path) -> list[str]:
    return [
        "build",
        str(template.targets[mode]),
        "--index",
        str(index),
        "--quiet",
        "--abstain-below",
        str(ABSTAIN),
        *TARGETS[mode][2],
    ]


def start_state(template: Template, mode: str, index: Path) -> None:
    """The index a mode's build starts from: none for ``first``, else the template's."""
    shutil.rmtree(index, ignore_errors=True)
    if mode != "first":
        fresh_copy(template, index)


def dry_run(template: Template, mode: str, work: Path) -> DryRun:
    index, trace = work / f"dry-{mode}", work / f"dry-{mode}.trace"
    start_state(template, mode, index)
    started = time.perf_counter()
    run = run_child(
        build_argv(template, mode, index), {"QA_FAULT_TRACE": str(trace), "QA_FAULT_INDEX": str(index)}
    )
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise RuntimeError(f"the {mode} build failed without a fault:\n{run.stderr[-3000:]}")
    events = []
    for line in trace.read_text(encoding="utf-8").splitlines():
        number, phase, label = line.split("\t")
        events.append(Event(int(number), phase, label))
    leftover = debris(index)
    if leftover:
        raise RuntimeError(f"the {mode} build left debris without a fault: {leftover}")
    return DryRun(mode, events, answers(index), seconds)


@dataclass
class KillResult:
    mode: str
    phase: str
    event: int
    label: str
    killed: bool
    served: str  # before / after / both (identical) / none (no index yet) / FAILED
    debris_after_kill: list[str]
    recovery: str  # ok, or what went wrong
    debris_after_recovery: list[str]
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def kill_trial(template: Template, dry: DryRun, event: Event, work: Path) -> KillResult:
    """SIGKILL the build at ``event``; the index must answer as before or after, then heal."""
    from qa.errors import IndexNotFoundError
    from qa.storage.generations import current_name

    index = work / "kill-index"
    start_state(template, dry.mode, index)
    before_live = current_name(index) if index.exists() else None
    run = run_child(
        build_argv(template, dry.mode, index),
        {"QA_FAULT_KILL_AT": str(event.number), "QA_FAULT_INDEX": str(index)},
    )
    failures = []
    killed = run.returncode == -signal.SIGKILL
    if not killed:
        failures.append(f"the build was not killed (exit {run.returncode}): {run.stderr.strip()[-200:]}")
    try:
        got = answers(index)
        before = template.answers if dry.mode != "first" else None
        if got == before == dry.answers:
            served = "both"
        elif got == before:
            served = "before"
        elif got == dry.answers:
            served = "after"
        else:
            served = "FAILED"
            failures.append(f"answers match neither side: {first_difference(dry.answers, got)}")
    except IndexNotFoundError as error:
        served = "none" if dry.mode == "first" and before_live is None else "FAILED"
        if served == "FAILED":
            failures.append(f"generation lost: {error}")
    except Exception as error:
        served = "FAILED"
        failures.append(f"open after kill: {type(error).__name__}: {error} [{qa_frame(error)}]")
    if served in ("before", "after", "both"):
        try:
            from qa import verify_index

            verify_index(index)
        except Exception as error:
            failures.append(f"qa verify after kill: {type(error).__name__}: {error}")
    after_kill = debris(index) if served != "FAILED" else []
    recovery = "ok"
    after_recovery: list[str] = []
    try:
        build(template.targets[dry.mode], index)
        if answers(index) != dry.answers:
            recovery = "answers differ from an uninterrupted build"
        after_recovery = debris(index)
        if after_recovery:
            recovery = "debris left"
    except Exception as error:
        recovery = f"{type(error).__name__}: {error} [{qa_frame(error)}]"
    if recovery != "ok":
        failures.append(f"following build: {recovery} {after_recovery or ''}".strip())
    return KillResult(
        dry.mode,
        event.phase,
        event.number,
        event.label,
        killed,
        served,
        after_kill,
        recovery,
        after_recovery,
        failures,
    )


def pick_kills(dries: dict[str, DryRun], trials: int, seed: int) -> list[tuple[DryRun, Event]]:
    """Seeded kill points spread over every (mode, phase): shuffled pairs in turn, a random
    event inside the phase each time (so a phase's many small events don't crowd out the rest)."""
    rng = random.Random(seed)
    by_mode = []
    for mode, dry in dries.items():
        phases = list(dict.fromkeys(e.phase for e in dry.events))
        rng.shuffle(phases)
        by_mode.append([(mode, phase) for phase in phases])
    rng.shuffle(by_mode)
    # Round robin over the modes: the first len(dries) trials cover every mode.
    pairs = [pair for turn in itertools.zip_longest(*by_mode) for pair in turn if pair is not None]
    picks = []
    for i in range(trials):
        mode, phase = pairs[i % len(pairs)]
        picks.append((dries[mode], rng.choice([e for e in dries[mode].events if e.phase == phase])))
    return picks


def kill_trials(
    template: Template, trials: int, seed: int, work: Path
) -> tuple[dict[str, DryRun], list[KillResult]]:
    dries = {mode: dry_run(template, mode, work) for mode in MODES}
    results = [kill_trial(template, dry, event, work) for dry, event in pick_kills(dries, trials, seed)]
    return dries, results


# ---- corruption matrix ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    target: str  # a path relative to the index, with "{gen}" for the live generation
    kind: str

    @property
    def name(self) -> str:
        return f"{self.target}:{self.kind}"


BYTE_KINDS = ("bitflip", "truncate", "empty", "random", "delete")
CURRENT_KINDS = (*BYTE_KINDS, "whitespace", "non_utf8", "missing_generation", "crlf", "half_name")
MANIFEST_KEYS = (
    "format_version",
    "qa_version",
    "created",
    "model",
    "index_type",
    "counts",
    "chunking",
    "corpus_hash",
    "source",
    "files",
    "ef_search",
    "vector_store",
    "vector_segments",
    "model.name",
    "model.dim",
    "model.normalized",
    "model.path",
    "model.abstain_below",
    "counts.articles",
    "counts.searchable",
    "counts.vectors",
)


def corruption_cases(template: Template, manifest_keys: Sequence[str] = MANIFEST_KEYS) -> list[Case]:
    """Every kind of damage for every file of the live generation, each segment, CURRENT and
    the file-signature cache."""
    from qa.storage.generations import current_name
    from qa.storage.manifest import read_manifest
    from qa.storage.signatures import SIGNATURES_NAME

    live = current_name(template.index)
    assert live is not None
    generation = template.index / live
    files = sorted(p.relative_to(generation).as_posix() for p in generation.rglob("*") if p.is_file())
    cases = [Case("CURRENT", kind) for kind in CURRENT_KINDS]
    for name in files:
        cases += [Case(f"{{gen}}/{name}", kind) for kind in BYTE_KINDS]
        if name == "manifest.json":
            cases += [
                Case(f"{{gen}}/{name}", f"{how}:{key}")
                for key in manifest_keys
                for how in ("missing", "type")
            ]
        elif name.endswith(".json"):
            cases += [Case(f"{{gen}}/{name}", f"{how}:*first*") for how in ("missing", "type")]
    for part in sorted(read_manifest(generation).parts):  # earlier generations' parts it reads
        part_files = sorted(p for p in (template.index / part).rglob("*") if p.is_file())
        cases += [
            Case(f"{part}/{p.relative_to(template.index / part).as_posix()}", kind)
            for p in part_files
            if p.name != "manifest.json"
            for kind in BYTE_KINDS
        ]
    for segment in sorted((template.index / "segments").iterdir()):
        cases += [Case(f"segments/{segment.name}", kind) for kind in BYTE_KINDS]
    if (template.index / SIGNATURES_NAME).exists():  # a cache: damage may cost time, never answers
        cases += [Case(SIGNATURES_NAME, kind) for kind in BYTE_KINDS]
        cases += [Case(SIGNATURES_NAME, f"{how}:*first*") for how in ("missing", "type")]
    return cases


def _other_type(value: object) -> object:
    """A JSON value of another type than ``value``."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return 12345
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return {"0": value}
    return ["null"]


def _mutate_json(text: str, how: str, key: str) -> str:
    data = json.loads(text)
    holder = data
    parts = list(data)[:1] if key == "*first*" else key.split(".")
    for part in parts[:-1]:
        holder = holder[part]
    last = parts[-1]
    if how == "missing":
        del holder[last]
    else:
        holder[last] = _other_type(holder[last])
    return json.dumps(data, indent=2)


def corrupt(index: Path, case: Case, seed: int) -> str:
    """Apply ``case`` to the copy at ``index``; returns what was done (byte offsets included)."""
    from qa.storage.generations import current_name

    live = current_name(index)
    path = index / case.target.replace("{gen}", str(live))
    rng = random.Random(f"{seed}:{case.name}")
    data = path.read_bytes()
    kind = case.kind
    if kind == "bitflip":
        offset, bit = rng.randrange(len(data)), rng.randrange(8)
        changed = bytearray(data)
        changed[offset] ^= 1 << bit
        path.write_bytes(bytes(changed))
        return f"byte {offset} bit {bit}: {data[offset : offset + 1]!r} -> {bytes(changed[offset : offset + 1])!r}"
    if kind == "truncate":
        path.write_bytes(data[: len(data) // 2])
        return f"{len(data)} -> {len(data) // 2} bytes"
    if kind == "empty":
        path.write_bytes(b"")
        return "0 bytes"
    if kind == "random":
        path.write_bytes(rng.randbytes(len(data)))
        return f"{len(data)} random bytes"
    if kind == "delete":
        path.unlink()
        return "deleted"
    contents = {
        "whitespace": b" \n\t\n",
        "non_utf8": live.encode()[:-1] + b"\xff\xfe\n",  # type: ignore[union-attr]
        "missing_generation": b"gen-000099\n",
        "crlf": live.encode() + b"\r\n  ",  # type: ignore[union-attr]
        "half_name": live.encode()[:5],  # type: ignore[union-attr]
    }
    if kind in contents:
        path.write_bytes(contents[kind])
        return repr(contents[kind])
    how, key = kind.split(":", 1)
    path.write_text(_mutate_json(data.decode("utf-8"), how, key), encoding="utf-8")
    return f"{how} {key}"


SURFACES = ("api", "info", "verify", "ask", "build", "keep")


@dataclass
class CaseResult:
    case: str
    done: str
    verdicts: dict[str, Verdict]

    @property
    def failures(self) -> dict[str, Verdict]:
        return {surface: v for surface, v in self.verdicts.items() if v.failed}


@dataclass
class Baseline:
    """What the intact template index prints for each CLI command."""

    info: str
    verify: str
    ask: str


def cli_argv(command: str, index: Path) -> list[str]:
    if command == "ask":
        return ["ask", "--json", QUESTIONS[0], "--index", str(index)]
    return [command, "--index", str(index)]


def baseline(template: Template, work: Path, runner: Callable[[Sequence[str]], CliRun]) -> Baseline:
    index = fresh_copy(template, work / "baseline-index")
    outputs = {}
    for command in ("info", "verify", "ask"):
        run = runner(cli_argv(command, index))
        if run.returncode != 0:
            raise RuntimeError(f"qa {command} fails on the intact index: {run.stderr[-2000:]}")
        outputs[command] = run.stdout.replace(str(index), "INDEX")
    return Baseline(**outputs)


def _snapshot(index: Path) -> dict[str, bytes]:
    return {p.relative_to(index).as_posix(): p.read_bytes() for p in index.rglob("*") if p.is_file()}


def run_case(
    template: Template,
    case: Case,
    base: Baseline,
    work: Path,
    runner: Callable[[Sequence[str]], CliRun],
    seed: int,
    surfaces: Sequence[str] = SURFACES,
) -> CaseResult:
    """Damage a copy of the template as ``case`` says and look at it every way ``surfaces`` name."""
    index = work / "case-index"

    def damaged() -> str:
        fresh_copy(template, index)
        return corrupt(index, case, seed)

    done = damaged()
    intact = {k: v for k, v in _snapshot(template.index).items() if k != "CURRENT"}
    verdicts: dict[str, Verdict] = {}
    if "api" in surfaces:
        verdicts["api"] = api_verdict(index, template.answers)
    for command in ("info", "verify", "ask"):
        if command in surfaces:
            run = runner(cli_argv(command, index))
            run.stdout = run.stdout.replace(str(index), "INDEX")
            verdicts[command] = cli_verdict(run, getattr(base, command))
    if "build" in surfaces:
        damaged()
        run = runner(
            [
                *("build", str(template.targets["force"]), "--index", str(index)),
                *("--quiet", "--force", "--abstain-below", str(ABSTAIN)),
            ]
        )
        verdict = cli_verdict(run, None)
        if verdict.code == "b":
            verdict = api_verdict(index, template.answers)
            if verdict.code == "a":
                verdict = Verdict("c", f"built, then: {verdict.detail}")
        verdicts["build"] = verdict
    if "keep" in surfaces:
        # A build that fails (no readable articles) must not take the intact files with it.
        damaged()
        empty = work / "no-articles"
        empty.mkdir(exist_ok=True)
        from qa.errors import QAError

        try:
            build(empty, index)
            verdicts["keep"] = Verdict("d", "a build of an empty folder succeeded")
        except QAError:
            left = _snapshot(index)
            damaged_file = case.target.replace(
                "{gen}", str(template.index.joinpath("CURRENT").read_text().strip())
            )
            gone = sorted(k for k, v in intact.items() if k != damaged_file and left.get(k) != v)
            groups = Counter(name.split("/")[0] for name in gone)
            lost = ", ".join(f"{top} ({n} files)" if n > 1 else top for top, n in groups.items())
            verdicts["keep"] = Verdict("L", f"deleted or changed: {lost}") if gone else Verdict("b")
        except Exception as error:
            verdicts["keep"] = Verdict("d", f"{type(error).__name__}: {error} [{qa_frame(error)}]")
    return CaseResult(case.name, done, verdicts)


# ---- disk full and a read-only folder ------------------------------------------------------------


@dataclass
class LimitResult:
    name: str
    cli: Verdict
    still_live: Verdict
    debris: list[str]
    healed: str

    @property
    def failures(self) -> list[str]:
        out = []
        if self.cli.failed:
            out.append(f"build: {self.cli.code} {self.cli.detail}")
        if self.still_live.code != "b":
            out.append(f"previous generation: {self.still_live.code} {self.still_live.detail}")
        if self.debris:
            out.append(f"debris: {self.debris}")
        if self.healed != "ok":
            out.append(f"following build: {self.healed}")
        return out


def _heal(template: Template, index: Path, dry: DryRun) -> str:
    try:
        build(template.targets[dry.mode], index)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    if answers(index) != dry.answers:
        return "answers differ from an uninterrupted build"
    left = debris(index)
    return f"debris {left}" if left else "ok"


def disk_full_limits(template: Template, dry: DryRun, work: Path) -> list[int]:
    """File-size limits just under each distinct size the update build writes: each file in turn
    is the first to hit the full disk."""
    index = work / "sizes-index"
    start_state(template, dry.mode, index)
    build(template.targets[dry.mode], index)
    from qa.storage.generations import current_name

    live = index / str(current_name(index))
    sizes = {p.stat().st_size for p in live.rglob("*") if p.is_file()}
    sizes |= {p.stat().st_size for p in (index / "segments").iterdir() if p.name.startswith(live.name)}
    return sorted({max(1, size - 1) for size in sizes if size > 1})


def enospc_events(dry: DryRun) -> list[Event]:
    """Where a full disk can stop the build: each file it opens for writing in the new
    generation, CURRENT.tmp, the FAISS save (C++ writes, not seen by the open hook) and the first
    fsync of the publish."""
    chosen = [e for e in dry.events if e.label.startswith("open:gen-") or e.label == "open:CURRENT.tmp"]
    chosen += [e for e in dry.events if e.phase == "faiss" and e.label == "save:begin"]
    chosen += [e for e in dry.events if e.label == "_fsync_path:begin"][:1]
    return sorted(chosen, key=lambda e: e.number)


def disk_full_trial(template: Template, dry: DryRun, fault: int | Event, work: Path) -> LimitResult:
    """An update build over a full disk: writes past ``fault`` bytes fail (RLIMIT_FSIZE: EFBIG,
    as ENOSPC would), or OSError(ENOSPC) is raised at the hook event ``fault``."""
    index = work / "full-index"
    start_state(template, dry.mode, index)
    if isinstance(fault, int):
        name, env = f"file size limit {fault} B", {"QA_FAULT_FSIZE": str(fault)}
    else:
        name = f"ENOSPC at {fault.phase} {fault.label}"
        env = {"QA_FAULT_FULL_AT": str(fault.number), "QA_FAULT_INDEX": str(index)}
    run = run_child(build_argv(template, dry.mode, index), env)
    verdict = cli_verdict(run, None)
    if verdict.code == "b":
        verdict = Verdict("b", "the build fitted")
    still = api_verdict(index, template.answers) if verdict.code != "b" else Verdict("b")
    left = debris(index) if verdict.code != "b" else []
    return LimitResult(name, verdict, still, left, _heal(template, index, dry))


def read_only_trial(template: Template, dry: DryRun, work: Path) -> LimitResult:
    """An update build as user nobody over an index it cannot write; readers must still work."""
    if os.geteuid() != 0:
        return _read_only_unprivileged(template, dry, work)
    shared = Path(tempfile.mkdtemp(prefix="qa-faults-ro-"))
    try:
        shared.chmod(0o755)
        index = fresh_copy(template, shared / "index")
        articles = shutil.copytree(template.targets[dry.mode], shared / "articles")
        for path in [index, *index.rglob("*"), articles, *articles.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        argv = build_argv(template, dry.mode, index)
        argv[1] = str(articles)
        run = run_child(argv, {"QA_FAULT_NOBODY": "1"})
        verdict = cli_verdict(run, None)
        if verdict.code == "b":
            verdict = Verdict("c", "a build into a read-only folder reported success")
        reader = run_child(cli_argv("ask", index), {"QA_FAULT_NOBODY": "1"})
        still = cli_verdict(reader, None)
        if still.code == "b":
            expected = {k: v for k, v in template.answers[0].items()}
            got = json.loads(reader.stdout)
            still = Verdict("b") if got == expected else Verdict("c", "qa ask as nobody answers differently")
        for path in [index, *index.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        left = debris(index)
        return LimitResult("read-only index folder", verdict, still, left, _heal(template, index, dry))
    finally:
        for path in [shared, *shared.rglob("*")]:
            with contextlib.suppress(OSError):
                path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(shared, ignore_errors=True)


def _read_only_unprivileged(template: Template, dry: DryRun, work: Path) -> LimitResult:
    index = fresh_copy(template, work / "ro-index")
    for path in [index, *index.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        verdict = cli_verdict(run_child(build_argv(template, dry.mode, index)), None)
        still = api_verdict(index, template.answers)
    finally:
        for path in [index, *index.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    return LimitResult("read-only index folder", verdict, still, debris(index), _heal(template, index, dry))


# ---- tables --------------------------------------------------------------------------------------


def kill_table(results: Sequence[KillResult]) -> str:
    lines = [
        "| # | mode | phase | event | hook | killed | index served | debris after kill | following build |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(results, 1):
        leftover = ", ".join(r.debris_after_kill) or "-"
        lines.append(
            f"| {i} | {r.mode} | {r.phase} | {r.event} | {r.label} | {'yes' if r.killed else 'NO'} | "
            f"{r.served} | {leftover} | {r.recovery} |"
        )
    return "\n".join(lines)


def case_table(results: Sequence[CaseResult]) -> str:
    surfaces = [s for s in SURFACES if any(s in r.verdicts for r in results)]
    lines = [
        "| target | damage | " + " | ".join(surfaces) + " |",
        "|---|---|" + "---|" * len(surfaces),
    ]
    for r in results:
        target, kind = r.case.split(":", 1)
        cells = [r.verdicts[s].code if s in r.verdicts else "" for s in surfaces]
        cells = [f"**{c}**" if c in ("c", "d", "L") else c for c in cells]
        lines.append(f"| {target} | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def limit_table(results: Sequence[LimitResult]) -> str:
    lines = ["| fault | build | previous generation | debris | following build |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r.name} | {r.cli.code}: {r.cli.detail[:120]} | {r.still_live.code} | "
            f"{', '.join(r.debris) or '-'} | {r.healed} |"
        )
    return "\n".join(lines)


def as_json(value: Any) -> Any:
    """Dataclasses (and lists of them) as plain JSON data."""
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return value


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
