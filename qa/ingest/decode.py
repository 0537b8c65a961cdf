"""Bytes to text, refusing binary and non-UTF-8 files with a reason a person can act on."""

from __future__ import annotations

from qa.ingest.errors import UnreadableFileError


def decode_utf8(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise UnreadableFileError("binary file (contains NUL bytes); only text articles are read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UnreadableFileError(
            f"not valid UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}); "
            "re-save it as UTF-8, e.g. iconv -f latin1 -t utf-8"
        ) from None
