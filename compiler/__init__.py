"""compiler: lower certified expander layer graphs into PyTorch modules.

``compile(spec)`` builds and certifies every layer graph of a layer-graph spec
and returns an :class:`XNet` whose :class:`XLinear`/:class:`XConv2d` layers hold
the very same graphs as ELL index tables; ``extract_graph(model)`` reads them
back.  See DESIGN.md, "compiler".
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
