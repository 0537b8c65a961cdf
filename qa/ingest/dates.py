"""Publication dates as ISO 8601, from whatever form a source gives them; never invented.

Front matter, JSON fields, HTML metadata, feed entries and PDF metadata write dates in many
ways ("2023-03-07", "Tue, 07 Mar 2023 09:30:00 GMT", "D:20230307093000+01'00'", "7 March 2023",
a YAML date, a feedparser time tuple). Each becomes ``YYYY-MM-DD``, or ``YYYY-MM-DDTHH:MM:SS``
with ``+HH:MM`` when the source names a zone. A value without a day ("2025", "March 2023"),
or one that is not a date at all, is unknown: ``None``. A copyright year is not a publication
date.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
import time

logger = logging.getLogger(__name__)

_PDF_DATE = re.compile(
    r"D:(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})"
    r"(?:(?P<h>\d{2})(?P<mi>\d{2})(?:(?P<s>\d{2}))?)?"
    r"(?P<tz>Z|[+-]\d{2}'?\d{2}'?)?"
)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_FIRST_YEAR, _LAST_YEAR = 1800, 2200
# Two defaults that differ in every field: a field the text does not give comes out differently.
_DEFAULTS = (dt.datetime(2001, 1, 1, 0, 0, 0), dt.datetime(2002, 2, 2, 13, 37, 11))


def parse_published(value: object) -> str | None:
    """``value`` as an ISO 8601 date or date-time, or None when it does not name a day."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return _iso(value, with_time=True)
    if isinstance(value, dt.date):
        return _iso(dt.datetime(value.year, value.month, value.day), with_time=False)
    if isinstance(value, time.struct_time):  # feedparser: always UTC
        return _iso(dt.datetime(*value[:6], tzinfo=dt.UTC), with_time=True)
    if not isinstance(value, str):
        return None
    text = value.strip()
    return _from_pdf(text) if text.startswith("D:") else _from_text(text)


def published_or_warn(value: object, where: str) -> str | None:
    """``parse_published``, logging a value that was given but names no day (left undated)."""
    parsed = parse_published(value)
    if parsed is None and value not in (None, ""):
        logger.warning("%s: cannot read the date %r; the article is left undated", where, str(value)[:80])
    return parsed


def _iso(moment: dt.datetime, *, with_time: bool) -> str | None:
    if not _FIRST_YEAR <= moment.year <= _LAST_YEAR:
        return None
    if not with_time:
        return moment.date().isoformat()
    return moment.isoformat(timespec="seconds")


def _from_pdf(text: str) -> str | None:
    match = _PDF_DATE.match(text)
    if not match:
        return None
    parts = {k: int(v) for k, v in match.groupdict().items() if v and k != "tz"}
    try:
        day = dt.datetime(
            parts["y"], parts["mo"], parts["d"], parts.get("h", 0), parts.get("mi", 0), parts.get("s", 0)
        )
    except ValueError:
        return None
    if "h" not in parts:
        return _iso(day, with_time=False)
    zone = match.group("tz")
    if zone == "Z":
        day = day.replace(tzinfo=dt.UTC)
    elif zone:
        digits = zone.replace("'", "")
        offset = dt.timedelta(hours=int(digits[1:3]), minutes=int(digits[3:5]))
        day = day.replace(tzinfo=dt.timezone(offset if digits[0] == "+" else -offset))
    return _iso(day, with_time=True)


def _from_text(text: str) -> str | None:
    if _ISO_DAY.match(text):
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return _iso(moment, with_time=len(text) > 10)
    try:  # RFC 2822, as in RSS and e-mail
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    else:
        if moment is not None:
            return _iso(moment, with_time=True)
    return _from_words(text)


def _from_words(text: str) -> str | None:
    """ "7 March 2023", "March 7, 2023 9:30 AM EST"... with every part of the day in the text."""
    from dateutil import parser  # only for dates written in words

    if not re.search(r"\d", text) or len(text) > 64:
        return None
    try:
        first, second = (parser.parse(text, default=d, fuzzy=False) for d in _DEFAULTS)
    except (ValueError, OverflowError, parser.ParserError):
        return None
    if (first.year, first.month, first.day) != (second.year, second.month, second.day):
        return None  # the text lacks the year, the month or the day: not a date we can cite
    with_time = (first.hour, first.minute) == (second.hour, second.minute)
    return _iso(first, with_time=with_time)
