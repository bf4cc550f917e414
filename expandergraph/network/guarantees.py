"""The paper's two guarantees on a :class:`~expandergraph.network.NetworkGraph`, in one namespace.

Re-exports, with each definition and its conventions in its own module:
reachability, mixing depth and ideal depth in :mod:`expandergraph.network.reach`;
exact path counts, the uniform prediction and chain segments in
:mod:`expandergraph.network.paths`; the network certificate
(:func:`certify_network`, :data:`NETWORK_CHECKS`, :data:`NETWORK_REQUIRED`) in
:mod:`expandergraph.network.certify`.

Examples
--------
>>> from expandergraph.network.guarantees import reach_fraction
>>> from expandergraph.network.reach import reach_fraction as r
>>> reach_fraction is r
True
"""

from __future__ import annotations

from .certify import NETWORK_CHECKS, NETWORK_REQUIRED, certify_network
from .paths import Segment as Segment  # result type of chain_segments
from .paths import chain_segments, path_count, path_deviation, uniform_prediction
from .reach import Mixing as Mixing  # result type of mixing_depth
from .reach import ideal_network_depth, mixing_depth, reach_fraction, reach_fractions

__all__ = [
    "reach_fraction",
    "reach_fractions",
    "mixing_depth",
    "ideal_network_depth",
    "path_count",
    "uniform_prediction",
    "path_deviation",
    "chain_segments",
    "certify_network",
    "NETWORK_REQUIRED",
    "NETWORK_CHECKS",
]
