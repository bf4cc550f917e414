"""LayeredGraph: a chain of bipartite layers whose widths match.

Layer ``i`` maps the nodes of level ``i`` (width ``widths[i]``) to the nodes of
level ``i + 1``.  Level 0 is the input.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .graph import BipartiteGraph

__all__ = ["LayeredGraph"]

_NPZ_FORMAT = "xnets.layered/1"


class LayeredGraph:
    """A sequence of :class:`BipartiteGraph` layers with chained widths.

    Examples
    --------
    >>> a = BipartiteGraph.from_edges(2, 2, [0, 1], [1, 0])
    >>> LayeredGraph([a, a]).widths
    [2, 2, 2]
    """

    def __init__(self, layers: Sequence[BipartiteGraph], names: Sequence[str] | None = None):
        layers = list(layers)
        if not layers:
            raise ValueError("layers: a LayeredGraph needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, BipartiteGraph):
                raise ValueError(
                    f"layers[{i}]: expected a BipartiteGraph, got {type(layer).__name__}"
                )
            if i and layer.left != layers[i - 1].right:
                raise ValueError(
                    f"layers[{i}]: input width {layer.left} does not match the previous "
                    f"layer's output width {layers[i - 1].right}"
                )
        self.layers: list[BipartiteGraph] = layers
        self.names: list[str] = list(names) if names is not None else [l.name for l in layers]
        if len(self.names) != len(layers):
            raise ValueError("names: must have one entry per layer")

    @property
    def widths(self) -> list[int]:
        """Widths of levels ``0 .. len(layers)``."""
        return [self.layers[0].left] + [l.right for l in self.layers]

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    @property
    def fingerprints(self) -> list[str]:
        return [l.fingerprint for l in self.layers]

    @property
    def fingerprint(self) -> str:
        """sha256 over the layer fingerprints, in order."""
        return hashlib.sha256("".join(self.fingerprints).encode()).hexdigest()

    def save(self, path: str | Path) -> None:
        """Write all layers to one ``.npz`` file (CSR arrays, block sizes, names)."""
        arrays: dict[str, np.ndarray] = {}
        header = {"format": _NPZ_FORMAT, "layers": []}
        for i, l in enumerate(self.layers):
            arrays[f"indptr_{i}"] = l.indptr
            arrays[f"indices_{i}"] = l.indices
            header["layers"].append(
                {
                    "left": l.left,
                    "right": l.right,
                    "block": l.block,
                    "name": self.names[i],
                    "fingerprint": l.fingerprint,
                }
            )
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> LayeredGraph:
        """Read a file written by :meth:`save`; fingerprints are verified."""
        try:
            z = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise ValueError(f"{path}: cannot read layered graph ({_first_line(exc)})") from None
        if not hasattr(z, "files"):
            raise ValueError(f"{path}: cannot read layered graph (not an .npz archive)")
        with z:
            try:
                header = json.loads(bytes(z["header"]).decode())
                if header.get("format") != _NPZ_FORMAT:
                    raise ValueError("not an xnets layered-graph file")
                specs = header["layers"]
                arrays = [(z[f"indptr_{i}"], z[f"indices_{i}"]) for i in range(len(specs))]
            except (KeyError, ValueError, TypeError, json.JSONDecodeError, OSError) as exc:
                raise ValueError(
                    f"{path}: cannot read layered graph ({_first_line(exc)})"
                ) from None
        layers = []
        for i, (h, (indptr, indices)) in enumerate(zip(specs, arrays)):
            layer = BipartiteGraph.from_csr(
                h["left"], h["right"], indptr, indices, h["block"], h["name"]
            )
            if layer.fingerprint != h["fingerprint"]:
                raise ValueError(f"{path}: layers[{i}] fingerprint mismatch (file corrupt)")
            layers.append(layer)
        return cls(layers, [h["name"] for h in specs])

    def __repr__(self) -> str:
        return f"LayeredGraph(widths={self.widths})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
