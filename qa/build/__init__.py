"""The offline rebuild: plan (diff by content hash) -> embed only what changed -> write parts ->
publish a generation atomically.

``pipeline`` runs it (:func:`build_index`); ``reuse`` finds what the previous generation lends,
``parts`` which of its parts to keep, ``vectors`` embeds and writes the vector index,
``generation`` the store's articles and the manifest, ``errors`` explains write failures, and
``engines/`` is where the embedding runs (this process or Ray Data).
"""

from __future__ import annotations

from qa.build.pipeline import build_index

__all__ = ["build_index"]
