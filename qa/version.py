"""The package version, in a module of its own so that modules inside qa can read it."""

from __future__ import annotations

__version__ = "0.1.0"
