"""expandergraph: build expander graphs and certify them (no torch needed)."""

from .certificate import Certificate, Check
from .construct import build
from .graph import BipartiteGraph, Graph
from .layered import LayeredGraph

__all__ = ["Graph", "BipartiteGraph", "LayeredGraph", "Certificate", "Check", "build"]
__version__ = "0.1.0"
