"""Choosing the engine from build options (checked before anything is written)."""

from __future__ import annotations

from qa.build.engines.base import ENGINES, EmbeddingEngine, LocalEngine
from qa.errors import BadInputError
from qa.models.embed import Encoder


def make_engine(
    engine: str | None, encoder: Encoder, ray_address: str | None = None, ray_actors: int | None = None
) -> EmbeddingEngine:
    """The engine named by ``--engine`` (checked before anything is written)."""
    name = (engine or "local").strip().lower() if isinstance(engine, str | None) else engine
    if name not in ENGINES:
        raise BadInputError(f"Unknown engine {engine!r}; use one of {', '.join(ENGINES)}.")
    if name == "local":
        if ray_address is not None or ray_actors is not None:
            raise BadInputError("--ray-address and --ray-actors need --engine ray.")
        return LocalEngine(encoder)
    if ray_actors is not None and (
        isinstance(ray_actors, bool) or not isinstance(ray_actors, int) or ray_actors < 1
    ):
        raise BadInputError(f"ray_actors must be a whole number of at least 1, got {ray_actors!r}.")
    from qa.build.engines.ray_data import RayEngine  # imports nothing of Ray until it embeds

    return RayEngine(encoder, address=ray_address, actors=ray_actors)
