"""LayeredGraph: a chain of bipartite layers whose widths match.

Layer ``i`` maps the nodes of level ``i`` (width ``widths[i]``) to the nodes of
level ``i + 1``.  Level 0 is the input.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .graph import BipartiteGraph
from .limits import check_bytes
from .report import first_line

__all__ = ["LayeredGraph"]

_NPZ_FORMAT = "xnets.layered/2"
_OLD_FORMATS = ("xnets.layered/1",)  # no digest; still read, with every other check
_FIELDS = {"left": int, "right": int, "block": int, "name": str, "fingerprint": str}


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
        """Write all layers to one ``.npz`` file (CSR arrays, block sizes, names).

        The header records a sha256 ``digest`` over the rest of the header and
        every array (name, dtype, shape, bytes), checked by :meth:`load`.
        """
        arrays: dict[str, np.ndarray] = {}
        header: dict = {"format": _NPZ_FORMAT, "layers": []}
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
        header["digest"] = _digest(header, arrays)
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> LayeredGraph:
        """Read a file written by :meth:`save`, checking the whole file.

        The archive must hold exactly the header and two arrays per header layer;
        the digest (files of format ``xnets.layered/2``), every header field and
        every layer fingerprint are verified.  Any defect is one ``ValueError``
        naming ``path``.
        """
        try:
            z = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise ValueError(
                f"{path}: cannot read layered graph ({first_line(exc, 160)})"
            ) from None
        if not hasattr(z, "files"):
            raise ValueError(f"{path}: cannot read layered graph (not an .npz archive)")
        try:
            with z:
                specs, arrays = _read_archive(z)
        except (
            KeyError,
            ValueError,
            TypeError,
            OSError,
            EOFError,
            MemoryError,
            zipfile.BadZipFile,
            zlib.error,
            RecursionError,
        ) as exc:
            raise ValueError(
                f"{path}: cannot read layered graph ({first_line(exc, 160)})"
            ) from None
        layers = []
        for i, h in enumerate(specs):
            indptr, indices = arrays[f"indptr_{i}"], arrays[f"indices_{i}"]
            try:
                layer = BipartiteGraph.from_csr(
                    h["left"], h["right"], indptr, indices, h["block"], h["name"]
                )
            except ValueError as exc:
                raise ValueError(f"{path}: layers[{i}]: {first_line(exc, 160)}") from None
            if layer.fingerprint != h["fingerprint"]:
                raise ValueError(f"{path}: layers[{i}] fingerprint mismatch (file corrupt)")
            layers.append(layer)
        return cls(layers, [h["name"] for h in specs])

    def __repr__(self) -> str:
        return f"LayeredGraph(widths={self.widths})"


def _digest(header: dict, arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the header (without ``digest``) and every array, in name order."""
    h = hashlib.sha256()
    rest = {k: v for k, v in header.items() if k != "digest"}
    h.update(json.dumps(rest, sort_keys=True).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _read_archive(z) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Checked ``(layer headers, arrays)`` of an open ``.npz``; raises on any defect."""
    if "header" not in z.files:
        raise ValueError("no header (not an xnets layered-graph file)")
    raw = z["header"]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError("header is not a byte string")
    try:
        header = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("header is not valid JSON") from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    fmt = header.get("format")
    if fmt != _NPZ_FORMAT and fmt not in _OLD_FORMATS:
        raise ValueError(f"format {fmt!r} is not an xnets layered-graph file")
    specs = header.get("layers")
    if not isinstance(specs, list) or not specs:
        raise ValueError("header 'layers' must be a non-empty list of layer records")
    for i, h in enumerate(specs):
        if not isinstance(h, dict):
            raise ValueError(f"header layers[{i}] is not a record")
        for key, typ in _FIELDS.items():
            if key not in h:
                raise ValueError(f"header layers[{i}] is missing the field {key!r}")
            val = h[key]
            if not isinstance(val, typ) or (typ is int and (isinstance(val, bool) or val < 1)):
                what = "a positive integer" if typ is int else "a string"
                raise ValueError(f"header layers[{i}].{key}={val!r} must be {what}")
        check_bytes("layered graph", f"layers[{i}] right={h['right']}", 8 * (h["right"] + 1))
    expected = {"header"} | {f"{k}_{i}" for i in range(len(specs)) for k in ("indptr", "indices")}
    found = set(z.files)
    if found != expected:
        extra, missing = sorted(found - expected), sorted(expected - found)
        raise ValueError(
            f"header lists {len(specs)} layers but the archive "
            + (f"also holds {', '.join(extra[:3])}" if extra else "")
            + (" and " if extra and missing else "")
            + (f"lacks {', '.join(missing[:3])}" if missing else "")
        )
    arrays = {}
    for name in sorted(expected - {"header"}):
        a = z[name]
        if a.ndim != 1 or a.dtype.kind not in "iu":
            raise ValueError(f"array {name} must be a 1-d integer array")
        arrays[name] = a
    if fmt == _NPZ_FORMAT and header.get("digest") != _digest(header, arrays):
        raise ValueError("digest mismatch: header or arrays altered (file corrupt)")
    return specs, arrays
