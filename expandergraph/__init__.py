"""expandergraph: build expander graphs and certify them (no torch needed)."""

from .certificate import Certificate, Check
from .construct import build
from .graph import BipartiteGraph, Graph
from .layered import LayeredGraph
from .spec import load_layered, load_spec

__all__ = [
    "Graph",
    "BipartiteGraph",
    "LayeredGraph",
    "Certificate",
    "Check",
    "build",
    "load_layered",
    "load_spec",
]
__version__ = "0.1.0"
