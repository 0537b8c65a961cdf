"""Logins for the web chat: password hashes, the auth file, the checker and ``qa passwd``."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import qa.web.auth
from qa import BadInputError
from qa.cli import main
from qa.web.auth import (
    hash_password,
    login_checker,
    read_auth_file,
    set_password,
    verify_password,
)
from tests.conftest import ROOT

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def encoded() -> str:
    return hash_password(PASSWORD)


def test_hash_and_verify_round_trip(encoded: str) -> None:
    scheme, n, r, p, salt, digest = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert len(salt) == 24 and len(digest) == 44  # base64 of 16 and 32 bytes
    assert PASSWORD not in encoded
    assert verify_password(PASSWORD, encoded)


@pytest.mark.parametrize("wrong", ["correct horsE", "correct horse ", "", "\ud800 unencodable"])
def test_wrong_password_is_refused(encoded: str, wrong: str) -> None:
    assert not verify_password(wrong, encoded)


def test_two_hashes_of_one_password_differ(encoded: str) -> None:
    again = hash_password(PASSWORD)
    assert again != encoded and again.split("$")[4] != encoded.split("$")[4]
    assert verify_password(PASSWORD, again)


def _swap(encoded: str, index: int, value: str) -> str:
    parts = encoded.split("$")
    parts[index] = value
    return "$".join(parts)


@pytest.mark.parametrize(
    "change",
    [
        lambda e: "",
        lambda e: "scrypt",
        lambda e: PASSWORD,
        lambda e: _swap(e, 0, "bcrypt"),
        lambda e: e + "$extra",
        lambda e: e.rsplit("$", 1)[0],
        lambda e: _swap(e, 1, "16000"),  # not a power of two
        lambda e: _swap(e, 1, str(2**30)),  # would take gigabytes
        lambda e: _swap(e, 1, "-16384"),
        lambda e: _swap(e, 2, "0"),
        lambda e: _swap(e, 4, ""),
        lambda e: _swap(e, 4, "not base64!"),
        lambda e: _swap(e, 5, "c2hvcnQ="),  # a 5-byte hash
        lambda e: e[:-4],
    ],
)
def test_malformed_encoding_returns_false(encoded: str, change: Callable[[str], str]) -> None:
    assert verify_password(PASSWORD, change(encoded)) is False


def test_read_auth_file_skips_comments_and_blank_lines(tmp_path: Path, encoded: str) -> None:
    file = tmp_path / "users.txt"
    file.write_text(f"# logins for the chat\n\nalice:{encoded}\n  # indented comment\nbob:{encoded}\n")
    assert read_auth_file(file) == {"alice": encoded, "bob": encoded}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["# a comment", "alice:{hash}", "", "bob {hash}"], r"line 4: expected USER:HASH"),
        (["alice:{hash}", "bob:scrypt$16384$8$1$$"], r"line 2: the hash for user 'bob' is not"),
        (["alice:{hash}", "al ice:{hash}"], r"line 2: the user name contains ':' or whitespace"),
        (
            ["alice:{hash}", "bob:{hash}", "alice:{hash}"],
            r"line 3: user 'alice' is listed twice \(first on line 1\)",
        ),
        ([], r"lists no users\. Create one with: qa passwd .*users\.txt USER"),
        (["# only a comment", "   "], r"lists no users\. Create one with: qa passwd"),
    ],
)
def test_read_auth_file_errors(tmp_path: Path, encoded: str, lines: list[str], message: str) -> None:
    file = tmp_path / "users.txt"
    file.write_text("".join(line.replace("{hash}", encoded) + "\n" for line in lines))
    with pytest.raises(BadInputError, match=message) as excinfo:
        read_auth_file(file)
    assert encoded not in str(excinfo.value)
    assert "users.txt" in str(excinfo.value)


def test_read_auth_file_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"does not exist\. Create it with: qa passwd .*nope\.txt USER"):
        read_auth_file(tmp_path / "nope.txt")


def test_set_password_creates_the_file_with_mode_600(tmp_path: Path) -> None:
    file = tmp_path / "users.txt"
    set_password(file, "alice", PASSWORD)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    users = read_auth_file(file)
    assert list(users) == ["alice"] and verify_password(PASSWORD, users["alice"])
    assert PASSWORD not in file.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["users.txt"]  # no temp file left behind


def test_set_password_replaces_the_line_and_keeps_the_rest(tmp_path: Path, encoded: str) -> None:
    file = tmp_path / "users.txt"
    file.write_text(f"# team logins\nalice:{encoded}\n\n# the editor\nbob:{encoded}\n")
    file.chmod(0o644)
    set_password(file, "alice", "a new password")
    lines = file.read_text().splitlines()
    assert lines[0] == "# team logins" and lines[2:] == ["", "# the editor", f"bob:{encoded}"]
    assert lines[1].startswith("alice:scrypt$") and lines[1] != f"alice:{encoded}"
    users = read_auth_file(file)
    assert verify_password("a new password", users["alice"]) and not verify_password(PASSWORD, users["alice"])
    assert users["bob"] == encoded
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    set_password(file, "carol", "third password")
    assert list(read_auth_file(file)) == ["alice", "bob", "carol"]


@pytest.mark.parametrize(
    ("user", "password", "message"),
    [
        ("", PASSWORD, "the user name is empty"),
        ("al:ice", PASSWORD, "contains ':' or whitespace"),
        ("al ice", PASSWORD, "contains ':' or whitespace"),
        ("alice\t", PASSWORD, "contains ':' or whitespace"),
        ("a" * 65, PASSWORD, "65 characters, more than 64"),
        ("#alice", PASSWORD, "starts with '#'"),
        ("alice", "short", "The password has 5 characters; use at least 8"),
    ],
)
def test_set_password_refuses_bad_input(tmp_path: Path, user: str, password: str, message: str) -> None:
    file = tmp_path / "users.txt"
    with pytest.raises(BadInputError, match=message) as excinfo:
        set_password(file, user, password)
    assert password not in str(excinfo.value)
    assert not file.exists()


def test_login_checker(encoded: str) -> None:
    check = login_checker({"alice": encoded})
    assert check("alice", PASSWORD) is True
    assert check("alice", "wrong password") is False
    assert check("bob", PASSWORD) is False
    assert check("", "") is False


def test_login_checker_spends_a_hash_on_unknown_users(encoded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    check = login_checker({"alice": encoded})
    checked: list[str] = []

    def spy(password: str, value: str) -> bool:
        checked.append(value)
        return True  # even a "match" must not let an unknown user in

    monkeypatch.setattr(qa.web.auth, "verify_password", spy)
    assert check("mallory", PASSWORD) is False
    assert len(checked) == 1 and checked[0].startswith("scrypt$") and checked[0] != encoded


def _passwd(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa", "passwd", *args, "--password-stdin"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def test_qa_passwd_in_a_subprocess(tmp_path: Path) -> None:
    file = tmp_path / "users.txt"
    done = _passwd(str(file), "alice", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == (
        f"Added user alice in {file}. Start the web chat with: python app.py --auth-file {file}\n"
    )
    users = read_auth_file(file)
    assert verify_password(PASSWORD, users["alice"])
    assert stat.S_IMODE(file.stat().st_mode) == 0o600

    done = _passwd(str(file), "alice", stdin="another password\n")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"Updated user alice in {file}.")
    encoded = read_auth_file(file)["alice"]
    assert verify_password("another password", encoded)
    for output in (done.stdout, done.stderr):
        assert "another password" not in output and encoded not in output


def test_qa_passwd_too_short_password_in_a_subprocess(tmp_path: Path) -> None:
    file = tmp_path / "users.txt"
    done = _passwd(str(file), "alice", stdin="short\n")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == "error: The password has 5 characters; use at least 8.\n"
    assert not file.exists()


class _Lines:
    """A stand-in for ``sys.stdin`` that holds one line."""

    def __init__(self, text: str) -> None:
        self.text = text

    def readline(self) -> str:
        text, self.text = self.text, ""
        return text + "\n" if text else ""


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["passwd", "users.txt", "al ice", "--password-stdin"], PASSWORD, "contains ':' or whitespace"),
        (["passwd", "users.txt", "alice", "--password-stdin"], "", "No password on stdin"),
        (["passwd", "no/such/folder/users.txt", "alice", "--password-stdin"], PASSWORD, "does not exist"),
    ],
)
def test_qa_passwd_errors_exit_1_with_one_line(
    argv: list[str],
    stdin: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "stdin", _Lines(stdin))
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and message in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert not Path("users.txt").exists()


def test_qa_passwd_prompts_twice_and_refuses_a_mismatch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([PASSWORD, PASSWORD + "!"])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert main(["passwd", "users.txt", "alice"]) == 1
    assert prompts == ["Password for alice: ", "Repeat it: "]
    assert "The two passwords differ" in capsys.readouterr().err
    assert not Path("users.txt").exists()

    answers = iter([PASSWORD, PASSWORD])
    assert main(["passwd", "users.txt", "alice"]) == 0
    assert capsys.readouterr().out.startswith("Added user alice in users.txt.")
    assert verify_password(PASSWORD, read_auth_file("users.txt")["alice"])


def test_qa_passwd_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["passwd", "users.txt"])
    assert excinfo.value.code == 2
