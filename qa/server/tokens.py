"""API tokens for ``qa serve``: random bearer tokens, of which the server keeps only hashes.

A token file holds one ``name:sha256-hex`` line per client (``#`` comments allowed), made with
``qa token add FILE NAME``. Tokens are 256 random bits, so a plain SHA-256 is enough to store them
(a slow password hash guards guessable secrets; these are not guessable). A presented token is
hashed and compared with every stored hash in constant time, so neither its validity nor which
client it belongs to shows in the timing.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qa import BadInputError

TOKEN_PREFIX = "qa_"  # makes a leaked token easy to recognise (and to grep for)
TOKEN_BYTES = 32
FILE_MODE = 0o600
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise BadInputError(
            f"Cannot name a token {name!r}: use 1 to 64 letters, digits or . _ @ - "
            "(starting with a letter or digit), e.g. the client's name: cms, notebook, slack-bot."
        )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInputError(
            f"Token file '{path}' does not exist. Create it with: qa token add {path} NAME"
        ) from None
    except UnicodeDecodeError:
        raise BadInputError(
            f"Token file '{path}' is not UTF-8 text. Make it with: qa token add {path} NAME"
        ) from None
    except OSError as err:
        raise BadInputError(
            f"Cannot read token file '{path}': {err.strerror or err}. Check the path and its permissions."
        ) from None


def read_token_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``name -> sha256 hex`` pairs of a token file; a clear error for anything malformed."""
    path = Path(path)
    tokens: dict[str, str] = {}
    for number, raw in enumerate(_read_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, digest = line.partition(":")
        where = f"Token file '{path}' line {number}"
        if not colon or not _NAME.match(name) or not _HASH.match(digest):
            raise BadInputError(
                f"{where}: expected NAME:SHA256 as written by qa token add. Fix or delete the line."
            )
        if name in tokens:
            raise BadInputError(f"{where}: token {name!r} is listed twice. Delete one of the lines.")
        tokens[name] = digest
    if not tokens:
        raise BadInputError(f"Token file '{path}' lists no tokens. Add one with: qa token add {path} NAME")
    return tokens


def add_token(path: str | os.PathLike[str], name: str) -> str:
    """Make a new token for ``name`` in the file at ``path`` (made if missing) and return it.

    Only its hash is written; the token itself is shown once and cannot be read back. A name
    already in the file gets a new token (the old one stops working). The file is replaced
    atomically and left readable by its owner only.
    """
    check_name(name)
    path = Path(path)
    if not path.parent.is_dir():
        raise BadInputError(f"Folder '{path.parent}' for the token file does not exist. Create it first.")
    lines = _read_text(path).splitlines() if path.exists() else []
    if any(line.strip() and not line.lstrip().startswith("#") for line in lines):
        read_token_file(path)  # never add to a damaged file: say what is wrong with it first
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    kept = [line for line in lines if line.strip().partition(":")[0] != name]
    kept.append(f"{name}:{token_hash(token)}")
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(kept) + "\n")
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return token


@dataclass(frozen=True)
class TokenChecker:
    """Which client, if any, a presented bearer token belongs to."""

    hashes: dict[str, str]

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TokenChecker:
        return cls(read_token_file(path))

    def client(self, token: str) -> str | None:
        presented = token_hash(token).encode("ascii")
        found: str | None = None
        for name, digest in self.hashes.items():  # every entry, always: the time does not tell
            if hmac.compare_digest(presented, digest.encode("ascii")):
                found = name
        return found
