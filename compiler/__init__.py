"""compiler: lower certified expander layer graphs into PyTorch modules.

``compile(spec)`` reads a network spec (:mod:`compiler.spec`), lowers it to one
network graph, certifies every layer graph and the whole network, and returns an
:class:`XNet` whose :class:`XLinear`/:class:`XConv2d` layers hold the very same
graphs as ELL index tables; ``extract_graph(model)`` reads the network graph back.
"""

from .compile import compile
from .lowering import network_graph
from .modules import XConv2d, XLinear
from .network import XNet, extract_graph, extract_layered

__all__ = [
    "compile",
    "network_graph",
    "extract_graph",
    "extract_layered",
    "XLinear",
    "XConv2d",
    "XNet",
]
