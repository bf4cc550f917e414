"""Compatibility name for :mod:`expandergraph.network.guarantees` (the guarantees on a network)."""

from .network.guarantees import *  # noqa: F401,F403
