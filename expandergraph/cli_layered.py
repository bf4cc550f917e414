"""Command line for layered graphs and networks: ``expandergraph mixing|paths|certify SOURCE``.

``SOURCE`` is a layer-graph spec (``.yaml``/``.yml``/``.json``, see
:mod:`expandergraph.spec`), a ``.npz`` written by :meth:`LayeredGraph.save`, or a
network file written by :meth:`expandergraph.network.NetworkGraph.save`.  A chain
(a spec without ``residual``/``concat`` layers, a layered ``.npz``) is read as a
layered graph: levels are numbered ``0 .. layers``; ``--from-layer I`` is a start
level and ``--to-layer J`` an end level.  A network (a network file, or a spec
with ``residual``/``concat`` layers) is read as a network graph: ``--from``,
``--source`` and ``--target`` name tensors, and the reports are those of ``xnet
mixing|paths|certify`` (:mod:`expandergraph.network.report`).  Node sets are
written ``0,3,10-19`` (ranges inclusive).  With ``--json`` one JSON object goes to
stdout.  Bad input raises ``ValueError``; :func:`expandergraph.cli.main` turns it
into one line on stderr and exit status 2.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018 §3.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TextIO

import numpy as np

from .generators.baselines import baseline_like
from .network import NetworkGraph
from .network.report import (
    format_mixing,
    format_network,
    format_paths,
    mixing_summary,
    paths_summary,
    read_network_source,
)
from .nodesets import parse_node_set
from .report import fmt, fmt_list, format_layered, jsonable

__all__ = [
    "add_commands",
    "certify_layered_source",
    "certify_network_source",
    "cmd_mixing",
    "cmd_paths",
]

_SPEC_SUFFIXES = (".yaml", ".yml", ".json")
_MATRIX_LIMIT = 64  # largest side of the heat map of single-node counts


def _load(source: str):
    from .spec import load_layered

    return load_layered(source)


def _level(lg, value: int, option: str, lo: int, hi: int) -> int:
    if not lo <= value <= hi:
        raise ValueError(f"{option}: level {value} out of range {lo}..{hi}")
    return value


def _seed_arg(text: str) -> int:
    """argparse type for ``--seed``: a non-negative integer (the message names ``--seed``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _only(args, kind: str, **options: str) -> None:
    """Refuse any of ``options`` (attribute -> option text) given for a ``kind`` source."""
    other = "network" if kind == "layered" else "layered"
    for attr, option in options.items():
        value = getattr(args, attr, None)
        if value is not None and value is not False:
            raise ValueError(f"{option}: applies to {other} sources only, not to {args.source}")


def _network_mixing(net: NetworkGraph, args) -> int:
    _only(
        args,
        "network",
        from_layer="--from-layer",
        compare="--compare",
        plot="--plot",
        sample="--sample",
    )
    summary = mixing_summary(net, args.start or "input")
    if args.json:
        print(json.dumps(jsonable(summary)))
    else:
        print(format_mixing(summary, args.source))
    return 0


def _network_paths(net: NetworkGraph, args) -> int:
    _only(args, "network", from_layer="--from-layer", to_layer="--to-layer", plot="--plot")
    source, target = args.source_tensor or "input", args.target_tensor or "output"
    summary = paths_summary(net, source, args.sources, target, args.targets)
    if args.json:
        print(json.dumps(jsonable(summary)))
    else:
        print(format_paths(summary, args.source))
    return 0


def cmd_mixing(args) -> int:
    """``expandergraph mixing SOURCE [--from-layer I] [--json] [--plot FILE] [--compare]``.

    A network source takes ``--from TENSOR`` instead of ``--from-layer``.
    """
    from .bounds import tanner_depth
    from .mixing import reachability

    net = read_network_source(args.source)
    if net is not None:
        return _network_mixing(net, args)
    _only(args, "layered", start="--from")
    lg = _load(args.source)
    i = _level(lg, args.from_layer or 0, "--from-layer", 0, len(lg) - 1)
    sources = None
    if args.sample is not None:
        if args.sample < 1:
            raise ValueError(f"--sample: must be positive, got {args.sample}")
        n0 = lg.widths[i]
        if args.sample < n0:
            rng = np.random.default_rng(args.seed)
            sources = np.sort(rng.choice(n0, args.sample, replace=False))
    r = reachability(lg, i, sources=sources)
    t = tanner_depth(lg, i)
    degrees = [layer.degree for layer in list(lg)[i:]]
    d = degrees[0]
    n = lg.widths[i]
    result = {
        "source": args.source,
        "from_layer": i,
        "widths": lg.widths,
        "reach_depth": r.reach_depth,
        "reach_fraction": r.reach_fraction,
        "connected_pairs": r.connected_pairs,
        "sources": r.sources,
        "sampled": r.sampled,
        "bound_depth": t["bound_depth"],
        "closed_form_bound": t["closed_form"],
        "mu": t["mu"],
        "log_D_n": (math.log(n) / math.log(d)) if d and d > 1 and n > 1 else None,
    }
    curves = {"this graph": r}
    if args.compare:
        result["baselines"] = {}
        for kind in ("grouped", "local"):
            base = baseline_like(lg, kind)
            if base is None:
                result["baselines"][kind] = None
                continue
            rb = reachability(base, i, sources=sources)
            result["baselines"][kind] = {
                "reach_depth": rb.reach_depth,
                "reach_fraction": rb.reach_fraction,
            }
            curves[kind] = rb
    if args.plot:
        from .plots import plot_reach_fraction

        plot_reach_fraction(curves, args.plot, title=f"reach from level {i}: {args.source}")
        result["plot"] = args.plot
    if args.json:
        print(json.dumps(jsonable(result)))
    else:
        print(f"mixing of {args.source} from level {i} (widths {lg.widths})")
        print(f"  reach_depth    {fmt(r.reach_depth, 'null')}" + (" (sampled sources)" * r.sampled))
        print(
            f"  bound_depth    {fmt(t['bound_depth'], 'null')}  (Tanner, mu = {fmt_list(t['mu'])})"
        )
        print(f"  log_D(n)       {fmt(result['log_D_n'], 'null')}")
        print(f"  reach_fraction {fmt_list(r.reach_fraction)}")
        for kind, base in result.get("baselines", {}).items():
            if base is None:
                print(f"  {kind:<14} n/a (widths/degrees do not fit)")
            else:
                print(
                    f"  {kind:<14} depth {fmt(base['reach_depth'], 'null')}, "
                    f"fraction {fmt_list(base['reach_fraction'])}"
                )
        if args.plot:
            print(f"  plot           {args.plot}")
    return 0


def cmd_paths(args) -> int:
    """``expandergraph paths SOURCE --from-layer I --sources S --to-layer J --targets T``.

    A network source takes ``--source A --sources S --target B --targets T`` instead.
    """
    from .paths import count_matrix, path_mixing

    net = read_network_source(args.source)
    if net is not None:
        return _network_paths(net, args)
    _only(args, "layered", source_tensor="--source", target_tensor="--target")
    for option in ("from_layer", "to_layer"):
        if getattr(args, option) is None:
            raise ValueError(f"--{option.replace('_', '-')}: required for a layered source")
    lg = _load(args.source)
    i = _level(lg, args.from_layer, "--from-layer", 0, len(lg) - 1)
    if args.to_layer <= i:
        raise ValueError(f"--to-layer: {args.to_layer} must be after --from-layer {i}")
    j = _level(lg, args.to_layer, "--to-layer", i + 1, len(lg))
    s = parse_node_set(args.sources, lg.widths[i], "--sources")
    t = parse_node_set(args.targets, lg.widths[j], "--targets")
    r = path_mixing(lg, s, t, i, j)
    result = {"source": args.source, **r.to_dict()}
    if args.plot:
        from .paths import mixing_prediction
        from .plots import plot_count_ratio

        ss, tt = s[:_MATRIX_LIMIT], t[:_MATRIX_LIMIT]
        mat = count_matrix(lg, ss, tt, i, j)
        single = float(mixing_prediction(lg, 1, 1, i, j))
        if single <= 0:
            raise ValueError("--plot: the prediction is 0 (a layer has no edges)")
        plot_count_ratio(
            mat,
            single,
            args.plot,
            title=f"paths level {i} -> {j}: count / prediction {single:.4g}",
        )
        result["plot"] = args.plot
    if args.json:
        print(json.dumps(jsonable(result)))
    else:
        print(f"paths of {args.source}: level {i} ({r.sources} nodes) -> level {j} ({r.targets})")
        print(f"  count          {r.count}")
        print(f"  predicted      {fmt(r.predicted, 'null')}")
        print(f"  error_bound    {fmt(r.error_bound, 'null')}")
        print(f"  within_bound   {fmt(r.within_bound, 'null')}")
        print(f"  |dev| / bound  {fmt(r.normalised_deviation, 'null')}")
        if args.plot:
            print(f"  plot           {args.plot}")
    return 0


def certify_layered_source(
    path: str, as_json: bool, out: TextIO, params: dict | None = None
) -> int:
    """Certify the layered graph of a spec file or ``.npz``; write the result to ``out``.

    A spec's ``certify`` list selects checks: names in
    :data:`~expandergraph.guarantees.LAYERED_CHECKS` go to the layered checks, the
    others to every layer's :func:`~expandergraph.certify.certify`.  Writes one
    JSON object (``as_json``) or a readable report.  ``params`` (claim
    parameters such as ``kappa``) override those of the spec's ``certify``
    mapping.  Returns the exit status of the verdict
    (:data:`expandergraph.certificate.EXIT_CODES`: 0 passed, 1 failed,
    3 incomplete, 4 undecided).

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3.

    Examples
    --------
    >>> import io, tempfile, os
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> p = os.path.join(tempfile.mkdtemp(), "g.npz")
    >>> LayeredGraph([BipartiteGraph.from_ell(2, [[0, 1], [0, 1]])]).save(p)
    >>> certify_layered_source(p, True, io.StringIO())
    0
    """
    from .certificate import EXIT_CODES
    from .guarantees import LAYERED_CHECKS, certify_layered
    from .spec import load_layered, load_spec

    checks = layer_checks = None
    kw: dict = {}
    source = str(path)
    if source.lower().endswith(_SPEC_SUFFIXES):
        spec = load_spec(source)
        if spec.certify is not None:
            checks = [c for c in spec.certify if c in LAYERED_CHECKS]
            layer_checks = [c for c in spec.certify if c not in LAYERED_CHECKS]
        kw.update(spec.certify_params)
        lg = load_layered(spec)
    else:
        lg = load_layered(source)
    from .report import Progress

    progress = None if as_json else Progress()
    kw.update(params or {})
    kw.pop("rho", None)  # a layer certificate has no Tanner vertex-expansion claim
    cert = certify_layered(
        lg, checks=checks, layer_checks=layer_checks, subject=source, progress=progress, **kw
    )
    if progress is not None:
        progress.finish()
    if as_json:
        out.write(cert.to_json() + "\n")
    else:
        out.write(format_layered(cert) + "\n")
    return EXIT_CODES[cert.status]


def certify_network_source(
    net: NetworkGraph, subject: str, as_json: bool, out: TextIO, params: dict | None = None
) -> int:
    """Certify a network graph (:func:`~expandergraph.network.certify_network`); write the result.

    ``params`` are claim parameters (``alpha_max``, ``kappa``, ``sigma``,
    ``eps_max``, ``delta``; ``rho`` has no network claim and is ignored).
    Writes one JSON object (``as_json``, :meth:`Certificate.to_json`) or the
    report of :func:`expandergraph.network.report.format_network`.  Returns the
    exit status of the verdict (:data:`expandergraph.certificate.EXIT_CODES`:
    0 passed, 1 failed, 3 incomplete, 4 undecided), as ``xnet certify`` does.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3.

    Examples
    --------
    >>> import io
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> full = BipartiteGraph.from_ell(4, [[0, 1, 2, 3]] * 4)
    >>> net = NetworkGraph.from_layered(LayeredGraph([full, full]))
    >>> certify_network_source(net, "net", True, io.StringIO())
    0
    """
    from .certificate import EXIT_CODES
    from .network import certify_network
    from .report import Progress

    kw = dict(params or {})
    kw.pop("rho", None)
    progress = None if as_json else Progress()
    try:
        cert = certify_network(net, subject=subject, progress=progress, **kw)
    finally:
        if progress is not None:
            progress.finish()
    out.write((cert.to_json() if as_json else format_network(cert)) + "\n")
    return EXIT_CODES[cert.status]


def add_commands(subparsers) -> None:
    """Register the ``mixing`` and ``paths`` subcommands on an argparse subparsers object.

    Each sets ``func`` (:func:`cmd_mixing`, :func:`cmd_paths`), which returns the
    exit status and lets ``ValueError`` propagate for bad input.

    Reference: Python's ``argparse`` documentation (sub-commands).

    Examples
    --------
    >>> import argparse
    >>> p = argparse.ArgumentParser(); add_commands(p.add_subparsers(dest="command"))
    >>> p.parse_args(["mixing", "a.yaml", "--from-layer", "1"]).from_layer
    1
    """
    m = subparsers.add_parser(
        "mixing",
        help="measured reach depth and fractions of a layered graph, with Tanner's bound",
        description="Every node of level I reaches every node of level I+t after how many "
        "layers? Measured exactly (packed bitsets) and bounded (Tanner).",
    )
    m.add_argument("source", help="layer-graph spec (.yaml/.yml/.json), layered or network .npz")
    m.add_argument("--from-layer", type=int, default=None, help="start level (default 0)")
    m.add_argument(
        "--from", dest="start", default=None, help="networks: start tensor (default input)"
    )
    m.add_argument("--json", action="store_true", help="one JSON object on stdout")
    m.add_argument("--plot", metavar="FILE", help="save reach fraction against depth")
    m.add_argument(
        "--compare",
        action="store_true",
        help="also measure grouped and local layers of the same widths and degrees",
    )
    m.add_argument(
        "--sample", type=int, metavar="K", help="follow K random start nodes only (huge widths)"
    )
    m.add_argument("--seed", type=_seed_arg, default=0, help="seed for --sample (default 0, >= 0)")
    m.set_defaults(func=cmd_mixing)

    p = subparsers.add_parser(
        "paths",
        help="exact path count between two node sets, with the mixing-lemma prediction",
        description="Exact number of paths from a set at level I to a set at level J, the "
        "expander-mixing-lemma prediction and its error bound.",
    )
    p.add_argument("source", help="layer-graph spec (.yaml/.yml/.json), layered or network .npz")
    p.add_argument("--from-layer", type=int, help="chains: level of the sources (required)")
    p.add_argument("--sources", required=True, help="node set, e.g. 0,3,10-19")
    p.add_argument("--to-layer", type=int, help="chains: level of the targets (> I, required)")
    p.add_argument("--targets", required=True, help="node set, e.g. 5-9")
    p.add_argument("--source", dest="source_tensor", help="networks: source tensor (default input)")
    p.add_argument(
        "--target", dest="target_tensor", help="networks: target tensor (default output)"
    )
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--plot", metavar="FILE", help="save the count/predicted heat map")
    p.set_defaults(func=cmd_paths)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: expandergraph mixing|paths|certify ...")
