"""Every README code sample must work as written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_readme_has_the_two_setup_commands_and_ci_runs_the_test_one() -> None:
    commands = [line for block in _blocks("bash") for line in block.splitlines()]
    assert "pip install torch==2.13.0 && pip install -e . && python app.py" in commands
    assert "bash tests/run.sh" in commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash tests/run.sh" in ci
    run = (ROOT / "tests" / "run.sh").read_text(encoding="utf-8")
    assert run.index("pip install -q torch==2.13.0") < run.index('pip install -q -e ".[test]"')


@pytest.mark.slow
def test_python_sample_runs_as_written(
    real_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = _blocks("python")[0]
    # Run where the README assumes: a checkout with examples/ and an index/ (a copy of the
    # session's real index, so the sample's build_index call finds it up to date).
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    shutil.copytree(real_index, tmp_path / "index")
    exec(compile(sample, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "is up to date" in out
    assert "[1]" in out and "bolster its defenses" in out
    assert "Manning" in out or "Newton" in out  # the follow-up's answering sentence


@pytest.mark.slow
def test_web_api_sample_runs_against_the_app(app_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    (sample,) = [block for block in _blocks("python") if "gradio_client" in block]
    assert "http://127.0.0.1:7860/" in sample  # the app's default address, as the README says
    exec(
        compile(sample.replace("http://127.0.0.1:7860/", app_url), "README.md", "exec"),
        {"__name__": "readme"},
    )
    out = capsys.readouterr().out
    assert "bolster its defenses" in out and out.strip().endswith("4")


@pytest.mark.slow
def test_cli_commands_run_as_written(real_index: Path, tmp_path: Path) -> None:
    import os
    import shlex
    import subprocess
    import sys

    lines = [line for block in _blocks("bash") for line in block.splitlines() if line.startswith("qa ")]
    assert len(lines) >= 5
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    shutil.copytree(real_index, tmp_path / "my-index")  # so the build line finds it up to date
    for line in lines:
        argv = shlex.split(line, comments=True)
        done = subprocess.run(
            [sys.executable, "-m", "qa", *argv[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "QA_INDEX": "elsewhere"},
            check=False,
        )
        assert done.returncode == 0, (line, done.stderr[-2000:])
        assert done.stdout.strip(), line
