"""The network graph: a whole network (skips and concatenations included) as a DAG of channels.

:mod:`expandergraph.network.graph` holds the type (:class:`NetworkGraph`, its
conventions, fingerprints, file format and networkx interop); the paper's two
guarantees on it are :mod:`expandergraph.network.reach` (reach fractions, mixing
and ideal depth), :mod:`expandergraph.network.paths` (exact path counts, chain
segments) and :mod:`expandergraph.network.certify` (:func:`certify_network`);
:mod:`expandergraph.network.guarantees` re-exports all three.  The small
contract: ``reach_fraction(graph, source, target)`` and
``path_count(graph, source, S, target, T)``.
"""

from .certify import NETWORK_CHECKS, NETWORK_REQUIRED, certify_network
from .graph import EDGE_KINDS, FORMAT, Edge, NetworkGraph
from .paths import chain_segments, path_count, path_deviation, uniform_prediction
from .reach import ideal_network_depth, mixing_depth, reach_fraction, reach_fractions

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
