"""Which passages a question may cite: published by ``as_of``, inside ``since``..``until``,
from the ``sources`` asked for.

News questions are about time. An article published after the moment a question is asked "as
of" is never cited; date filters keep only dated articles in their range; source filters keep
articles whose site (URL host), folder or file matches. Dates are the ISO 8601 strings the
readers wrote (qa.ingest.dates); a date without a time counts from the start of its day (UTC).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

from qa.errors import BadInputError

Ids = npt.NDArray[np.int64]
_HTTP = re.compile(r"(?i)^https?://")
MAX_SOURCES = 50
MAX_SOURCE_MASKS = 32  # source selections remembered per generation


def source_site(article_id: str, url: str | None) -> str | None:
    """Where an article comes from: its web site (an http(s) URL's host), else its folder."""
    if url and _HTTP.match(url):
        host = urlsplit(url).hostname or ""
        return host.removeprefix("www.") or None
    folder, _, _ = article_id.rpartition("/")
    return folder or None


def moment_of(published: str | None) -> float | None:
    """Seconds since the epoch of an ISO 8601 publication date (UTC when no zone is given)."""
    if not published:
        return None
    try:
        moment = dt.datetime.fromisoformat(published)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _instant(value: object, name: str, end_of_day: bool = False) -> dt.datetime:
    """A date, date-time or ISO 8601 text as an aware date-time; a bare date is its start (or end)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = (
                dt.datetime.fromisoformat(text) if "T" in text or " " in text else dt.date.fromisoformat(text)
            )
        except ValueError:
            raise BadInputError(
                f"{name} must be a date like 2023-03-07 or 2023-03-07T09:30:00+01:00, got {text!r}."
            ) from None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
        return moment + dt.timedelta(days=1, microseconds=-1) if end_of_day else moment
    raise BadInputError(f"{name} must be a date, a date-time or ISO 8601 text, got {value!r}.")


@dataclass(frozen=True)
class Scope:
    """When a question is asked and what it may cite."""

    as_of: dt.datetime
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    sources: tuple[str, ...] = ()

    @classmethod
    def make(
        cls,
        as_of: object = None,
        since: object = None,
        until: object = None,
        sources: Iterable[str] | str | None = None,
    ) -> Scope:
        """Checked options; ``as_of`` defaults to now. Bad values raise BadInputError."""
        moment = dt.datetime.now(dt.UTC) if as_of is None else _instant(as_of, "as_of", end_of_day=True)
        start = None if since is None else _instant(since, "since")
        end = None if until is None else _instant(until, "until", end_of_day=True)
        if start and end and start > end:
            raise BadInputError(f"since ({start.date()}) is after until ({end.date()}).")
        if isinstance(sources, str):
            sources = [sources]
        names = tuple(
            dict.fromkeys(s.strip().lower() for s in sources or () if isinstance(s, str) and s.strip())
        )
        if sources is not None and len(names) != len(list(sources)):
            raise BadInputError("sources must be non-empty site, folder or file names, e.g. ['example.com'].")
        if len(names) > MAX_SOURCES:
            raise BadInputError(f"At most {MAX_SOURCES} sources at once, got {len(names)}.")
        return cls(moment, start, end, names)

    @property
    def filters(self) -> bool:
        """Whether since, until or sources narrow the articles (as_of alone keeps undated ones)."""
        return bool(self.since or self.until or self.sources)

    def matches_source(self, article_id: str, source_path: str, url: str | None) -> bool:
        if not self.sources:
            return True
        site = (source_site(article_id, url) or "").lower()
        where = source_path.lower()
        return any(
            site == s or site.endswith("." + s) or where == s or where.startswith(s.rstrip("/") + "/")
            for s in self.sources
        )


@dataclass(frozen=True)
class PublicationIndex:  # not slotted: `latest` is cached on the instance
    """Publication time and source of every searchable passage, to filter by scope quickly."""

    passage_ids: Ids  # ascending
    moments: npt.NDArray[np.float64]  # seconds since the epoch; NaN when undated
    articles: tuple[str, ...]
    source_paths: tuple[str, ...]
    urls: tuple[str | None, ...]
    _source_masks: dict[tuple[str, ...], npt.NDArray[np.bool_]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[int, str | None, str, str, str | None]]) -> PublicationIndex:
        """Rows of (passage id, published, article id, source path, url)."""
        ordered = sorted(rows)
        return cls(
            np.array([r[0] for r in ordered], dtype=np.int64),
            np.array([math.nan if (m := moment_of(r[1])) is None else m for r in ordered], dtype=np.float64),
            tuple(r[2] for r in ordered),
            tuple(r[3] for r in ordered),
            tuple(r[4] for r in ordered),
        )

    def allowed(self, scope: Scope) -> Ids | None:
        """Ids of the passages the scope admits, or None when it admits them all."""
        if not scope.filters and not self.latest > scope.as_of.timestamp():
            return None  # the usual question: asked now, nothing published later, no filters
        moments = self.moments
        dated = ~np.isnan(moments)
        keep = ~dated | (np.nan_to_num(moments, nan=0.0) <= scope.as_of.timestamp())
        if scope.since is not None:
            keep &= dated & (np.nan_to_num(moments, nan=-math.inf) >= scope.since.timestamp())
        if scope.until is not None:
            keep &= dated & (np.nan_to_num(moments, nan=math.inf) <= scope.until.timestamp())
        if scope.sources:
            keep &= self._source_mask(scope)
        if keep.all():
            return None
        return self.passage_ids[keep]

    def _source_mask(self, scope: Scope) -> npt.NDArray[np.bool_]:
        """Which passages come from the scope's sources; worked out once per set of sources (a
        chat asks many questions with the same picker), not per question."""
        mask = self._source_masks.get(scope.sources)
        if mask is None:
            mask = np.array(
                [
                    scope.matches_source(a, s, u)
                    for a, s, u in zip(self.articles, self.source_paths, self.urls, strict=True)
                ],
                dtype=bool,
            )
            if len(self._source_masks) >= MAX_SOURCE_MASKS:
                self._source_masks.clear()
            self._source_masks[scope.sources] = mask
        return mask

    @functools.cached_property
    def latest(self) -> float:
        """The newest publication moment (NaN when nothing is dated)."""
        dated = self.moments[~np.isnan(self.moments)]
        return float(dated.max()) if len(dated) else math.nan


def newest_moment(published: Iterable[str | None]) -> float:
    """The newest of some ISO 8601 publication dates, in seconds since the epoch (NaN: none)."""
    moments = [m for p in published if (m := moment_of(p)) is not None]
    return max(moments) if moments else math.nan
