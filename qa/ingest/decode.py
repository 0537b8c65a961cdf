"""Bytes to text, refusing binary and undecodable files with a reason a person can act on.

UTF-8 is the default; a byte-order mark selects UTF-8, UTF-16 or UTF-32 (Windows editors save
"Unicode" text as UTF-16 with a BOM). The BOM is not part of the text, so offsets count from the
first real character.
"""

from __future__ import annotations

import codecs
import logging

from qa.ingest.errors import UnreadableFileError

logger = logging.getLogger(__name__)

# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# A text file may hold a stray NUL byte (a bad copy, a tool's bug); it becomes a space, so every
# other character keeps its offset (SQLite's text functions stop at a NUL). A file where NULs are
# more than this share of the bytes, wherever they are, is binary (or UTF-16 without a BOM).
MAX_NUL_SHARE = 0.01
WIDE_BOMS = tuple(bom for bom, encoding in _BOMS if encoding != "utf-8")


def byte_order_mark(data: bytes) -> tuple[bytes, str] | None:
    """The BOM ``data`` starts with and the encoding it names, if any."""
    return next(((bom, encoding) for bom, encoding in _BOMS if data.startswith(bom)), None)


def decode_text(data: bytes) -> str:
    """The file's text: by its BOM if it has one, else UTF-8."""
    if marked := byte_order_mark(data):
        bom, encoding = marked
        return _decode(data[len(bom) :], encoding)
    if data.count(b"\x00") > MAX_NUL_SHARE * len(data):
        raise UnreadableFileError(
            "binary file (contains NUL bytes); only text articles are read. If it is UTF-16 "
            "text without a byte-order mark, re-save it as UTF-8"
        )
    return _decode(data, "utf-8")


def _decode(data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        name = encoding.upper().removesuffix("-LE").removesuffix("-BE")
        raise UnreadableFileError(
            f"not valid {name} (byte 0x{data[err.start]:02x} at offset {err.start}); {_hint(data)}"
        ) from None
    nuls = text.count("\x00")
    if nuls:
        logger.warning("Replaced %d NUL character(s) with spaces", nuls)
        text = text.replace("\x00", " ")
    return text


def _hint(data: bytes) -> str:
    """How to re-save the file: Windows-1252 (smart quotes in 0x80-0x9F) is the usual culprit."""
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "re-save it as UTF-8, e.g. iconv -f latin1 -t utf-8 FILE > NEW (if it is Latin-1)"
    return "re-save it as UTF-8, e.g. iconv -f cp1252 -t utf-8 FILE > NEW (if it is Windows-1252)"
