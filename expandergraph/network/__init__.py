"""The network graph: a whole network (skips and concatenations included) as a DAG of channels.

:mod:`expandergraph.network.graph` holds the type (:class:`NetworkGraph`, its
conventions, fingerprints, file format and networkx interop);
:mod:`expandergraph.network.guarantees` the paper's two guarantees on it (reach
fractions, mixing depth, exact path counts, :func:`certify_network`).  The small
contract: ``reach_fraction(graph, source, target)`` and
``path_count(graph, source, S, target, T)``.
"""

from .graph import EDGE_KINDS, FORMAT, Edge, NetworkGraph
from .guarantees import (
    NETWORK_CHECKS,
    NETWORK_REQUIRED,
    certify_network,
    chain_segments,
    ideal_network_depth,
    mixing_depth,
    path_count,
    path_deviation,
    reach_fraction,
    reach_fractions,
    uniform_prediction,
)

__all__ = [
    "Edge",
    "NetworkGraph",
    "EDGE_KINDS",
    "FORMAT",
    "NETWORK_CHECKS",
    "NETWORK_REQUIRED",
    "certify_network",
    "chain_segments",
    "ideal_network_depth",
    "mixing_depth",
    "path_count",
    "path_deviation",
    "reach_fraction",
    "reach_fractions",
    "uniform_prediction",
]
