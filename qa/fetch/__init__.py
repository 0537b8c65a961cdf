"""``qa fetch``: pages and feeds from the network into article files, as a step of its own.

The only part of article-qa that touches the network. It downloads into a folder that ``qa
build`` then reads offline: each page or feed as a file, with a small ``.fetch.json`` sidecar
(URL, fetch time, ETag, Last-Modified) so a refetch asks the server whether anything changed.
"""

from __future__ import annotations

from qa.fetch.fetcher import Fetcher, FetchReport, FetchSettings, fetch, read_url_list
from qa.fetch.guard import AddressPolicy, ForbiddenAddressError

__all__ = [
    "AddressPolicy",
    "FetchReport",
    "FetchSettings",
    "Fetcher",
    "ForbiddenAddressError",
    "fetch",
    "read_url_list",
]
