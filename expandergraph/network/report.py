"""Reports on a network graph: reach and mixing depth, path counts, the network certificate.

The library side of ``xnet mixing|paths|certify`` and of ``expandergraph
mixing|paths|certify`` on a network source: :func:`mixing_summary` and
:func:`paths_summary` compute the JSON-ready records, :func:`format_mixing`,
:func:`format_paths` and :func:`format_network` render them for reading, and
:func:`read_network_source` turns a network file or a spec with
``residual``/``concat`` layers into a :class:`~expandergraph.network.NetworkGraph`
(``None`` for a plain chain, which the layered reports keep).

Conventions: tensors are named as in :class:`~expandergraph.network.NetworkGraph`
(``"input"``, spec locations such as ``"layers[1].body[0]"``, ``"output"``);
channel sets are index arrays (:func:`expandergraph.nodesets.parse_node_set`).

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018 §3.

Examples
--------
>>> from expandergraph import BipartiteGraph, LayeredGraph
>>> from expandergraph.network import NetworkGraph
>>> full = BipartiteGraph.from_ell(4, [[0, 1, 2, 3]] * 4)
>>> net = NetworkGraph.from_layered(LayeredGraph([full, full]))
>>> m = mixing_summary(net)
>>> m["mixing_depth"], m["reach_fraction"]["output"]
(1, 1.0)
"""

from __future__ import annotations

from pathlib import Path

from ..report import check_verdict, claim_lines, fmt, verdict_line
from .graph import NetworkGraph

__all__ = [
    "check_tensor",
    "mixing_summary",
    "paths_summary",
    "format_mixing",
    "format_paths",
    "format_network",
    "is_network_file",
    "read_network_source",
]

_NESTED = ("residual", "concat")
_SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def check_tensor(net: NetworkGraph, name: str, option: str) -> str:
    """``name`` if it is a tensor of ``net``; else ``ValueError`` naming ``option``.

    Examples
    --------
    >>> check_tensor(NetworkGraph(4), "input", "--from")
    'input'
    """
    if name not in net.widths:
        shown = ", ".join(list(net.widths)[:6])
        raise ValueError(f"{option}: no tensor {name!r} in the network (tensors: {shown}, ...)")
    return name


def mixing_summary(net: NetworkGraph, start: str = "input") -> dict:
    """Reach fraction of every tensor from ``start``, the mixing depth and its ideal, JSON-ready.

    Keys: ``start``, ``mixing_depth`` (graph layers until a tensor is reached
    fully from every channel of ``start``; ``None`` if never),
    ``mixed_tensor``, ``ideal`` (:func:`~expandergraph.network.ideal_network_depth`),
    ``stop_tensor`` and ``stop_fraction`` (where reach stops when it never
    mixes), ``reach_fraction`` (tensor -> fraction of reached channel pairs)
    and ``fingerprint`` (the network's).

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> eye = BipartiteGraph.from_ell(2, [[0], [1]])
    >>> mixing_summary(NetworkGraph.from_layered(LayeredGraph([eye])))["mixing_depth"] is None
    True
    """
    from .guarantees import ideal_network_depth, mixing_depth, reach_fractions

    start = check_tensor(net, start, "--from")
    fractions = reach_fractions(net, start)
    m = mixing_depth(net, start)
    return {
        "start": start,
        "mixing_depth": m.depth,
        "mixed_tensor": m.tensor,
        "ideal": ideal_network_depth(net, start),
        "stop_tensor": m.stop_tensor,
        "stop_fraction": m.stop_fraction,
        "reach_fraction": fractions,
        "fingerprint": net.fingerprint,
    }


def format_mixing(summary: dict, label: str, fingerprint: str | None = None) -> str:
    """The :func:`mixing_summary` for reading, headed by ``label`` (one tensor a line).

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> full = BipartiteGraph.from_ell(2, [[0, 1], [0, 1]])
    >>> s = mixing_summary(NetworkGraph.from_layered(LayeredGraph([full])))
    >>> print(format_mixing(s, "net").splitlines()[1])
      mixing depth 1 graph layers (at layers[0]; ideal 1)
    """
    fp = summary["fingerprint"] if fingerprint is None else fingerprint
    lines = [f"{label}: network {fp[:16]}, from {summary['start']}"]
    if summary["mixing_depth"] is None:
        lines.append(
            f"  never mixes fully: reach stops at {summary['stop_fraction']} "
            f"at {summary['stop_tensor']}"
        )
    else:
        lines.append(
            f"  mixing depth {summary['mixing_depth']} graph layers "
            f"(at {summary['mixed_tensor']}; ideal {summary['ideal']})"
        )
    lines += [f"  {name:<28} {f:.4f}" for name, f in summary["reach_fraction"].items()]
    return "\n".join(lines)


def paths_summary(net: NetworkGraph, source: str, sources: str, target: str, targets: str) -> dict:
    """Exact path count between two channel sets, the uniform prediction and the deviation.

    ``sources``/``targets`` are channel-set texts (``"0,3,10-19"``, see
    :func:`expandergraph.nodesets.parse_node_set`).  Keys: ``source``,
    ``target``, ``sources`` and ``targets`` (set sizes), ``count`` (exact
    Python integer), ``predicted``
    (:func:`~expandergraph.network.uniform_prediction`) and
    ``relative_deviation`` (``|count/predicted - 1|``; ``None`` when the
    prediction is 0).

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> full = BipartiteGraph.from_ell(2, [[0, 1], [0, 1]])
    >>> net = NetworkGraph.from_layered(LayeredGraph([full, full]))
    >>> r = paths_summary(net, "input", "0", "output", "0-1")
    >>> r["count"], r["predicted"], r["relative_deviation"]
    (4, 4.0, 0.0)
    """
    from ..nodesets import parse_node_set
    from .guarantees import path_count, uniform_prediction

    src = check_tensor(net, source, "--source")
    dst = check_tensor(net, target, "--target")
    s = parse_node_set(sources, net.widths[src], "--sources")
    t = parse_node_set(targets, net.widths[dst], "--targets")
    count = path_count(net, src, s, dst, t)
    pred = uniform_prediction(net, src, s, dst, t)
    dev = None if pred == 0 else abs(float((count - pred) / pred))
    return {
        "source": src,
        "target": dst,
        "sources": int(s.size),
        "targets": int(t.size),
        "count": count,
        "predicted": float(pred),
        "relative_deviation": dev,
    }


def format_paths(summary: dict, label: str) -> str:
    """The :func:`paths_summary` on one line, headed by ``label``.

    Examples
    --------
    >>> r = {"source": "input", "target": "output", "sources": 1, "targets": 2,
    ...      "count": 4, "predicted": 4.0, "relative_deviation": 0.0}
    >>> format_paths(r, "net")
    'net: paths input[1] -> output[2]: exact 4, uniform prediction 4.0, relative deviation 0'
    """
    dev = summary["relative_deviation"]
    return (
        f"{label}: paths {summary['source']}[{summary['sources']}] -> "
        f"{summary['target']}[{summary['targets']}]: exact {summary['count']:,}, "
        f"uniform prediction {summary['predicted']:,.1f}, relative deviation "
        f"{'n/a' if dev is None else f'{dev:.4g}'}"
    )


def format_network(cert) -> str:
    """Readable report of a network certificate: its size, one line per check, the verdict.

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> from expandergraph.network import certify_network
    >>> full = BipartiteGraph.from_ell(4, [[0, 1, 2, 3]] * 4)
    >>> cert = certify_network(NetworkGraph.from_layered(LayeredGraph([full, full])))
    >>> print(format_network(cert).splitlines()[-1])
      verdict: PASS
    """
    s = cert.summary
    lines = [
        f"network certificate for {cert.subject}",
        f"  fingerprint  {cert.fingerprint}",
        f"  tensors      {s.get('tensors')}, graph layers {s.get('graph_layers')}",
    ]
    for c in cert.checks.values():
        verdict = check_verdict(c)
        value = "" if isinstance(c.value, (dict, list)) else fmt(c.value, "null")
        shown = c.bound is not None and verdict != "info"
        bound = f" {c.relation} {fmt(c.bound, 'null')}" if shown else ""
        how = f"  [{c.method}]" if c.method else ""
        lines.append(f"    {verdict:<4} {c.name:<18} {value}{bound}{how}".rstrip())
    lines += claim_lines(cert)
    lines.append(verdict_line(cert))
    return "\n".join(lines)


def is_network_file(path: str | Path) -> bool:
    """Whether ``path`` is a file written by :meth:`NetworkGraph.save` (not checked for damage).

    A network file is a zip archive whose comment, the file's last 64 bytes, is
    a hex sha256; :meth:`NetworkGraph.load` verifies it.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "n.npz")
    >>> net = NetworkGraph(2)
    >>> _ = net.output("input")
    >>> net.save(p)
    >>> is_network_file(p), is_network_file(__file__)
    (True, False)
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(2)
            fh.seek(0, 2)
            if fh.tell() < 64 + 22:
                return False
            fh.seek(-64, 2)
            tail = fh.read(64)
    except OSError:
        return False
    return head == b"PK" and all(c in b"0123456789abcdef" for c in tail)


def read_network_source(source: str | Path) -> NetworkGraph | None:
    """The network graph of a network file or of a spec with ``residual``/``concat`` layers.

    ``None`` for anything else (a plain chain spec, a layered ``.npz``, an
    edge list), which the layered and graph reports handle.  A damaged network
    file raises ``ValueError`` (one line, from :meth:`NetworkGraph.load`); a
    bad spec raises the spec reader's ``ValueError``.  A spec's graph layers
    are built by :func:`expandergraph.spec.layer_graph`, so the fingerprint is
    the one ``xnet`` compiles and certifies.

    Examples
    --------
    >>> import os, tempfile
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> p = os.path.join(tempfile.mkdtemp(), "n.npz")
    >>> full = BipartiteGraph.from_ell(2, [[0, 1], [0, 1]])
    >>> NetworkGraph.from_layered(LayeredGraph([full])).save(p)
    >>> read_network_source(p).widths["output"]
    2
    """
    text = str(source)
    if text.lower().endswith(_SPEC_SUFFIXES):
        from ..spec import iter_layers, layer_graph, load_spec

        spec = load_spec(text)
        if not any(layer.kind in _NESTED for layer in spec.layers):
            return None
        graphs = {layer.where: layer_graph(layer) for layer in iter_layers(spec) if layer.has_graph}
        return NetworkGraph.from_spec(spec, graphs)
    if is_network_file(text):
        return NetworkGraph.load(text)
    return None
