"""Command line: ``expandergraph build|certify|mixing|paths``.

``certify`` takes a graph (edge-list file or construction string), a chain (a
layer-graph spec, a layered ``.npz``) or a network (a network file, a spec with
``residual``/``concat`` layers; reported as ``xnet certify`` does).  ``mixing``
and ``paths`` are those of :mod:`expandergraph.cli_layered`.  Every failure the
user can cause (bad file, bad construction, bad parameter) ends with a one-line
``expandergraph: error: ...`` on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import cli_layered
from .report import Progress, first_line, format_certificate, jsonable

__all__ = ["main"]

_LAYERED_SUFFIXES = (".yaml", ".yml", ".json", ".npz")
DEFAULT_SOURCE = "random-regular:n=10000,d=8,seed=0"


def load_graph(source: str):
    """A Graph/BipartiteGraph from an edge-list file or a construction string."""
    from .construct import CONSTRUCTIONS, build
    from .edgelist import read_edgelist

    path = Path(source)
    if path.is_file():
        return read_edgelist(path)
    if ":" in source or source.split("/")[0] in CONSTRUCTIONS:
        return build(source)
    raise ValueError(f"{source}: no such file (and not a construction string)")


def claim_params(args) -> dict:
    """The claim parameters given on the command line (``--alpha-max`` ...), by keyword."""
    names = ("alpha_max", "rho", "delta", "kappa", "sigma", "eps_max")
    return {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}


def add_claim_options(parser) -> None:
    """Add ``--alpha-max --rho --delta --kappa --sigma --eps-max`` (README: certificates)."""
    parser.add_argument("--alpha-max", type=float, help="threshold of alpha (default 0.98)")
    parser.add_argument("--rho", type=float, help="set fraction of the Tanner claim (0.5)")
    parser.add_argument("--delta", type=float, help="Lanczos failure probability (1e-6)")
    parser.add_argument("--kappa", type=float, help="reach_depth <= kappa * ideal (2)")
    parser.add_argument("--sigma", type=float, help="set fraction of path uniformity (0.25)")
    parser.add_argument("--eps-max", type=float, help="largest path-count deviation (0.5)")


def _cmd_build(args) -> int:
    from .edgelist import write_edgelist

    g = load_graph(args.construction)
    write_edgelist(g, args.output)
    print(f"wrote {args.output}: {g!r}", file=sys.stderr)
    return 0


def _cmd_certify(args) -> int:
    if args.source.lower().endswith(_LAYERED_SUFFIXES):
        from .network.report import read_network_source

        params = claim_params(args)
        net = read_network_source(args.source)
        if net is not None:
            return cli_layered.certify_network_source(
                net, args.source, args.json, sys.stdout, params
            )
        return cli_layered.certify_layered_source(args.source, args.json, sys.stdout, params)
    from .certificate import EXIT_CODES
    from .certify import certify

    progress = None if args.json else Progress()
    kwargs = {}
    if args.checks:
        kwargs["checks"] = [c.strip() for c in args.checks.split(",") if c.strip()]
    if args.dense_limit is not None:
        kwargs["dense_limit"] = args.dense_limit
    if args.exact_limit is not None:
        kwargs["exact_limit"] = args.exact_limit
    params = claim_params(args)
    extra = sorted(set(params) - {"alpha_max", "rho", "delta"})
    if extra:
        raise ValueError(f"--{extra[0].replace('_', '-')}: applies to layered sources only")
    kwargs.update(params)
    try:
        if progress:
            progress("building graph")
        g = load_graph(args.source)
        cert = certify(g, progress=progress, **kwargs)
    finally:
        if progress:
            progress.finish()
    if args.json:
        out = dict(cert.summary)
        out["passed"] = cert.passed
        out["status"] = cert.status
        out["params"] = cert.params
        out["claims"] = cert.claims
        out["semantics"] = cert.semantics
        out["checks"] = {k: c.to_dict() for k, c in cert.checks.items()}
        print(json.dumps(jsonable(out)))
    else:
        print(format_certificate(cert))
    return EXIT_CODES[cert.status]


def build_parser() -> argparse.ArgumentParser:
    """The ``expandergraph`` argument parser; each subcommand sets ``func(args) -> int``.

    Examples
    --------
    >>> build_parser().parse_args(["certify", "g.yaml", "--json"]).json
    True
    """
    p = argparse.ArgumentParser(
        prog="expandergraph",
        description="Build expander graphs and certify them (spectrum, expansion, diameter, "
        "log-step mixing, path counts).",
    )
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build a construction and write an edge list")
    b.add_argument("construction", help="e.g. random-regular:n=1000,d=8,seed=0")
    b.add_argument("-o", "--output", required=True, help="edge-list file to write")
    b.set_defaults(func=_cmd_build)

    c = sub.add_parser("certify", help="certify a graph, a layer, or a layer-graph spec")
    c.add_argument(
        "source",
        nargs="?",
        default=DEFAULT_SOURCE,
        help=f"edge-list file, construction string, spec (.yaml/.json) or .npz "
        f"(default {DEFAULT_SOURCE})",
    )
    c.add_argument("--checks", help="comma list of degrees,spectrum,expansion,diameter")
    c.add_argument("--json", action="store_true", help="one JSON object on stdout")
    c.add_argument("--dense-limit", type=int, help="largest n for dense eigvalsh")
    c.add_argument("--exact-limit", type=int, help="largest n for exact expansion")
    c.add_argument(
        "--strict",
        action="store_true",
        help="no effect: the exit status always tells the verdict "
        "(0 passed, 1 failed, 3 incomplete, 4 undecided)",
    )
    add_claim_options(c)
    c.set_defaults(func=_cmd_certify)

    cli_layered.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``expandergraph`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    0 passed (or done), 1 failed, 2 bad input (one line on stderr), 3 incomplete,
    4 undecided; an unexpected error is one line and status 1 (the traceback
    with ``--debug``).

    Examples
    --------
    >>> main(["certify", "no-such-file.txt"])
    2
    """
    parser = build_parser()
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an unexpected error"
    )
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError, KeyError) as exc:
        if args.debug:
            raise
        print(f"expandergraph: error: {first_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("expandergraph: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected error: one line, the traceback on --debug
        if args.debug:
            raise
        text = first_line(exc, 200) if str(exc).strip() else ""
        print(
            f"expandergraph: internal error: {type(exc).__name__}: {text} "
            "(rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
