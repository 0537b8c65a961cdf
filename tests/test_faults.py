"""Fault harness in CI: builds SIGKILLed at seeded points, every kind of damage to the index, a
full disk and a read-only folder (tests/faults_harness.py; bench/faults.py runs many more trials).

Each test names its case, so a failure says which fault the index does not survive. A failing
test here is a real hole in qa/ (a traceback, a silently wrong answer, a lost generation), kept
failing on purpose until it is fixed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import faults_harness as h

SEED = 7
KILLS = 4
PHASES = {
    "lock",
    "prepare",
    "read",
    "sqlite",
    "embed",
    "segment",
    "faiss",
    "bm25",
    "manifest",
    "publish",
    "tidy",
}

# The bounded matrix: every kind for CURRENT and for the manifest; the other files (all checked by
# the same checksum code) with a few kinds each. bench/faults.py runs every kind on every file.
CASES = [
    *(h.Case("CURRENT", kind) for kind in h.CURRENT_KINDS),
    *(h.Case("{gen}/manifest.json", kind) for kind in h.BYTE_KINDS),
    *(
        h.Case("{gen}/manifest.json", kind)
        for kind in ("missing:vector_segments", "type:files", "missing:format_version", "type:model.dim")
    ),
    *(h.Case("{gen}/qa.sqlite", kind) for kind in h.BYTE_KINDS),
    *(h.Case("{gen}/vectors.faiss", kind) for kind in ("bitflip", "truncate")),
    *(h.Case("{gen}/bm25/vocabulary.json", kind) for kind in ("random", "type:*first*")),
    *(h.Case("{gen}/bm25/posting_frequencies.npy", kind) for kind in ("bitflip", "delete")),
    # The template's first generation is a part its second reads: damage there counts the same.
    *(h.Case("gen-000001/qa.sqlite", kind) for kind in ("bitflip", "truncate")),
    h.Case("gen-000001/vectors.faiss", "delete"),
    h.Case("gen-000001/bm25/posting_rows.npy", "bitflip"),
    *(h.Case("segments/gen-000001.sqlite", kind) for kind in ("bitflip", "delete")),
    h.Case("segments/gen-000002.sqlite", "truncate"),
    h.Case("file-signatures.json", "random"),
    h.Case("file-signatures.json", "type:*first*"),
]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def template(work: Path) -> h.Template:
    return h.make_template(work)


@pytest.fixture(scope="module")
def dries(template: h.Template, work: Path) -> dict[str, h.DryRun]:
    return {mode: h.dry_run(template, mode, work) for mode in h.MODES}


@pytest.fixture(scope="module")
def base(template: h.Template, work: Path) -> h.Baseline:
    return h.baseline(template, work, h.run_inprocess)


def test_the_hooks_reach_every_build_phase(dries: dict[str, h.DryRun]) -> None:
    for mode, dry in dries.items():
        assert {e.phase for e in dry.events} == PHASES, mode
    labels = [e.label for e in dries["update"].events]
    last_tidy = len(labels) - 1 - labels[::-1].index("tidy_index:begin")
    assert labels.index("open:CURRENT.tmp") < labels.index("replace:CURRENT:begin") < last_tidy


def test_the_template_answers_from_the_right_articles(template: h.Template) -> None:
    first = template.answers[0]
    assert not first["abstained"]
    assert first["citations"][0]["article_id"] == "part-0/article-000.txt"  # the Arden bridge


@pytest.mark.parametrize("trial", range(KILLS))
def test_a_build_killed_at_a_seeded_point_leaves_a_live_index_that_heals(
    template: h.Template, dries: dict[str, h.DryRun], work: Path, trial: int
) -> None:
    dry, event = h.pick_kills(dries, KILLS, SEED)[trial]
    result = h.kill_trial(template, dry, event, work)
    assert result.killed
    assert result.ok, (dry.mode, event, result.failures)
    assert result.served in (("none", "after") if dry.mode == "first" else ("before", "after", "both"))


@pytest.mark.parametrize(
    ("mode", "label", "served"),
    [
        ("update", "replace:CURRENT:begin", "before"),
        ("update", "replace:CURRENT:end", "after"),
        ("compact", "replace:CURRENT:end", "after"),
    ],
)
def test_the_current_swap_is_the_moment_the_new_generation_goes_live(
    template: h.Template, dries: dict[str, h.DryRun], work: Path, mode: str, label: str, served: str
) -> None:
    dry = dries[mode]
    (event,) = [e for e in dry.events if e.label == label]
    result = h.kill_trial(template, dry, event, work)
    assert result.ok, result.failures
    assert result.served == served
    if served == "before":
        assert "gen-000003" in result.debris_after_kill  # the unpublished generation, removed later
    elif mode == "compact":  # one new part: the superseded generations are left, not yet tidied
        assert {"gen-000001", "gen-000002"} <= set(result.debris_after_kill)
    else:  # an update keeps the earlier generations as its parts: nothing is superseded
        assert result.debris_after_kill == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name.replace("{gen}/", ""))
def test_damage_is_refused_clearly_or_harmless(
    template: h.Template, base: h.Baseline, work: Path, case: h.Case
) -> None:
    result = h.run_case(template, case, base, work, h.run_inprocess, SEED)
    assert set(result.verdicts) == set(h.SURFACES)
    failures = {surface: f"{v.code}: {v.detail}" for surface, v in result.failures.items()}
    assert not failures, f"{case.name} ({result.done}): {failures}"


def test_a_harmless_current_reads_the_same_everywhere(
    template: h.Template, base: h.Baseline, work: Path
) -> None:
    result = h.run_case(template, h.Case("CURRENT", "crlf"), base, work, h.run_inprocess, SEED)
    assert {v.code for v in result.verdicts.values()} == {"b"}


def test_a_real_cli_process_reports_damage_on_one_line(
    template: h.Template, base: h.Baseline, work: Path
) -> None:
    """The in-process CLI runs stand for real processes: the same output, intact or damaged."""
    index = h.fresh_copy(template, work / "cli-index")
    intact = h.run_child(h.cli_argv("info", index))
    assert intact.stdout.replace(str(index), "INDEX") == base.info
    h.corrupt(index, h.Case("{gen}/qa.sqlite", "truncate"), SEED)
    damaged = h.run_child(h.cli_argv("verify", index))
    assert h.cli_verdict(damaged, None).code == "a", damaged.stderr
    h.corrupt(index, h.Case("CURRENT", "non_utf8"), SEED)
    garbled = h.run_child(h.cli_argv("info", index))
    verdict = h.cli_verdict(garbled, None)
    assert verdict.code == "a", verdict.detail


@pytest.fixture(scope="module")
def limits(template: h.Template, dries: dict[str, h.DryRun], work: Path) -> list[int]:
    sizes = h.disk_full_limits(template, dries["update"], work)
    return [sizes[0], sizes[-1]]  # the first sqlite page; the last page of the biggest file


@pytest.mark.parametrize("where", ["smallest", "largest", "save:begin", "bm25", "open:CURRENT.tmp"])
def test_a_full_disk_fails_the_build_clearly_and_keeps_the_live_generation(
    template: h.Template, dries: dict[str, h.DryRun], work: Path, limits: list[int], where: str
) -> None:
    dry = dries["update"]
    fault: int | h.Event
    if where in ("smallest", "largest"):
        fault = limits[where == "largest"]
    else:
        fault = next(e for e in h.enospc_events(dry) if where in (e.label, e.phase))
    result = h.disk_full_trial(template, dry, fault, work)
    assert result.still_live.code == "b" and not result.debris and result.healed == "ok"
    assert not result.failures, (result.name, result.failures)
    assert result.cli.code == "a"


def test_a_read_only_index_refuses_the_build_clearly_and_still_answers(
    template: h.Template, dries: dict[str, h.DryRun], work: Path
) -> None:
    result = h.read_only_trial(template, dries["update"], work)
    assert result.still_live.code == "b" and not result.debris and result.healed == "ok"
    assert not result.failures, result.failures
    assert result.cli.code == "a"
