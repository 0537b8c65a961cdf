"""Logins for the web chat: scrypt password hashes in a plain ``user:hash`` file.

Standard library only, so ``qa passwd`` and the tests never import gradio. The file is made and
changed with ``qa passwd FILE USER`` and read by ``python app.py --auth-file FILE``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

from qa.errors import BadInputError

SCHEME = "scrypt"
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD_CHARS = 8
MAX_USER_CHARS = 64
FILE_MODE = 0o600
# Refuse parameters that would let an edited file make one login cost minutes or gigabytes.
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16
_MAX_MEM = 256 * 2**20


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=_MAX_MEM)


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    """``(n, r, p, salt, hash)`` from ``scrypt$n$r$p$salt$hash``, or None when malformed."""
    if not isinstance(encoded, str):
        return None
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return None
    if not all(x.isascii() and x.isdigit() and len(x) <= 8 for x in parts[1:4]):
        return None
    n, r, p = (int(x) for x in parts[1:4])
    try:
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except binascii.Error:
        return None
    n_ok = 2 <= n <= _MAX_N and n & (n - 1) == 0
    sizes_ok = len(salt) == SALT_BYTES and len(digest) == HASH_BYTES  # a cut-short hash still matches
    if not (n_ok and sizes_ok and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
        return None
    return n, r, p, salt, digest


def hash_password(password: str) -> str:
    """Hash ``password`` with scrypt and a fresh random salt: ``scrypt$n$r$p$salt-b64$hash-b64``."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches ``encoded``; False (never an exception) when it is malformed."""
    parsed = _parse(encoded)
    if parsed is None or not isinstance(password, str):
        return False
    n, r, p, salt, digest = parsed
    try:
        candidate = _scrypt(password, salt, n, r, p, len(digest))
    except (ValueError, MemoryError):  # unencodable text (lone surrogates), or too much memory
        return False
    return hmac.compare_digest(candidate, digest)


def user_problem(user: str) -> str | None:
    """Why ``user`` cannot be a login name, or None when it can."""
    if not user:
        return "the user name is empty"
    if len(user) > MAX_USER_CHARS:
        return f"the user name has {len(user)} characters, more than {MAX_USER_CHARS}"
    if ":" in user or any(c.isspace() for c in user):
        return "the user name contains ':' or whitespace"
    if not user.isprintable():
        return "the user name contains control characters"
    if user.startswith("#"):
        return "the user name starts with '#' (that line would read as a comment)"
    return None


def check_user(user: str) -> None:
    """Raise ``BadInputError`` unless ``user`` can be a login name."""
    problem = user_problem(user)
    if problem is not None:
        raise BadInputError(
            f"Cannot use {user!r} as a user: {problem}. "
            f"Pick a name of 1 to {MAX_USER_CHARS} characters without ':' or spaces."
        )


def check_password(password: str) -> None:
    """Raise ``BadInputError`` unless ``password`` is long enough."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise BadInputError(
            f"The password has {len(password)} characters; use at least {MIN_PASSWORD_CHARS}."
        )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # a BOM from a Windows editor is fine
    except FileNotFoundError:
        raise BadInputError(
            f"Auth file '{path}' does not exist. Create it with: qa passwd {path} USER"
        ) from None
    except UnicodeDecodeError:
        raise BadInputError(
            f"Auth file '{path}' is not valid UTF-8. Write it with: qa passwd {path} USER"
        ) from None
    except OSError as err:
        raise BadInputError(
            f"Cannot read auth file '{path}': {err.strerror or err}. Check the path and its permissions."
        ) from None


def read_auth_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``user -> encoded hash`` pairs of an auth file (``user:hash`` lines, ``#`` comments)."""
    path = Path(path)
    users: dict[str, str] = {}
    first_line: dict[str, int] = {}
    fix = f"Set the password again with: qa passwd {path} USER"
    for number, raw in enumerate(_read_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, colon, encoded = line.partition(":")
        where = f"Auth file '{path}' line {number}"
        if not colon:
            raise BadInputError(f"{where}: expected USER:HASH (no ':' found). Fix or delete the line.")
        problem = user_problem(user)
        if problem is not None:
            raise BadInputError(f"{where}: {problem}. Fix or delete the line.")
        if _parse(encoded) is None:
            raise BadInputError(f"{where}: the hash for user {user!r} is not a valid scrypt hash. {fix}")
        if user in users:
            raise BadInputError(
                f"{where}: user {user!r} is listed twice (first on line {first_line[user]}). "
                "Delete one of the two lines."
            )
        users[user] = encoded
        first_line[user] = number
    if not users:
        raise BadInputError(f"Auth file '{path}' lists no users. Create one with: qa passwd {path} USER")
    return users


def login_checker(users: dict[str, str]) -> Callable[[str, str], bool]:
    """A ``(user, password) -> bool`` check for Gradio's ``launch(auth=...)``.

    An unknown user is checked against a dummy hash, so the answer takes about as long as for a
    known one and user names cannot be probed by timing.
    """
    known = dict(users)
    dummy = hash_password(secrets.token_urlsafe(16))

    def check(user: str, password: str) -> bool:
        encoded = known.get(user) if isinstance(user, str) else None
        ok = verify_password(password, encoded if encoded is not None else dummy)
        return ok and encoded is not None

    return check


def set_password(path: str | os.PathLike[str], user: str, password: str) -> None:
    """Add ``user`` to the auth file at ``path`` (made if missing), or replace their password.

    Other lines and comments are kept. The file is replaced atomically and left readable by its
    owner only (mode 0o600).
    """
    check_user(user)
    check_password(password)
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise BadInputError(f"Folder '{folder}' for the auth file does not exist. Create it first.")
    lines = _read_text(path).splitlines() if path.exists() else []
    new_line = f"{user}:{hash_password(password)}"
    kept: list[str] = []
    replaced = False
    for line in lines:
        name, colon, _ = line.strip().partition(":")
        if colon and name == user:
            if not replaced:  # replace the first line of this user, drop any repeats
                kept.append(new_line)
                replaced = True
            continue
        kept.append(line)
    if not replaced:
        kept.append(new_line)
    _write_atomically(path, "\n".join(kept) + "\n")


def _write_atomically(path: Path, text: str) -> None:
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise BadInputError(
            f"Cannot write in '{path.parent}': {err.strerror or err}. Check the folder's permissions."
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), FILE_MODE)
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise BadInputError(
            f"Cannot write auth file '{path}': {err.strerror or err}. Check the path and its permissions."
        ) from None
