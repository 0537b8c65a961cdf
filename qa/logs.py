"""Logging set-up for the command line and the web app (the library itself only logs)."""

from __future__ import annotations

import logging
import sys


def configure_logging(*, verbose: bool = False) -> None:
    """For the command line and the app: one line per record on stderr.

    The level goes on the handler too, since some libraries (bm25s) set their own loggers to
    DEBUG and their records would otherwise pass the root logger's level.
    """
    level = logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
