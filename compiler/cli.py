"""``xnet``: the compiler's command line.

Subcommands (``argparse`` subparsers, one row of :data:`COMMANDS` each):

``xnet compile SPEC [--summary] [--json] [--backend B] [--input CxHxW]
[--allow-uncertified]``
    Builds, certifies and lowers the spec.  ``--summary`` prints per layer the
    kind and shapes, degree, block and density, parameters and FLOPs
    (multiply-accumulates of non-zero weights, per sample, at the spec's input
    shape) and the certificate verdict, then totals against the dense
    equivalent; ``--json`` prints the same as one JSON document.

``xnet models [--json]``
    Lists the model names of :mod:`compiler.models` (``VARIANT-FAMILY``).

``xnet flops NAME_OR_SPEC [--input CxHxW] [--density D | --compression C |
--groups G] [--num-classes N] [--seed S] [--json]``
    Multiply-accumulates of the non-zero weights, per sample (conv/linear
    MACs only, see :mod:`compiler.counting`), and parameters; ``--json``
    prints ``{"model", "input", "flops", "params", "dense_flops",
    "dense_params"}``.

``xnet certify NAME_OR_SPEC [--json] [--input CxHxW]``
    Every certificate of the compiled model, and the network's verdict.

``xnet mixing NAME_OR_SPEC [--from TENSOR] [--json]`` and
``xnet paths NAME_OR_SPEC --sources S --targets T [--source A] [--target B] [--json]``
    Reach fractions and mixing depth, and exact path counts, on the model's network graph
    (:mod:`expandergraph.network.report`).

``xnet train NAME_OR_SPEC --data DATASET ...``
    :func:`compiler.train.train_main` (model names through
    :func:`compiler.models.build`).

``xnet demo ...``
    :func:`compiler.demo.demo_main`: certify, compile, train on digits, verify fingerprints.

Exit status: 0 on success, 1 when a certificate refuses the spec, 2 for a bad
spec or bad arguments; errors are one line on stderr (``xnet: error: ...``),
never a traceback.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from .functional import BACKENDS
from .summary import fmt_shape, print_summary, ratio, summarize

__all__ = ["main", "build_parser", "COMMANDS", "Command", "summarize", "flops"]


class Command(NamedTuple):
    """One subcommand ``xnet NAME``: ``add_arguments(parser)``, then ``run(args) -> int``.

    ``run`` may raise ``ValueError`` or ``OSError``; :func:`main` prints it on
    one line and exits with status 2.
    """

    name: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    help: str


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, status 2, no usage dump
        sys.stderr.write(f"xnet: error: {message}\n")
        raise SystemExit(2)


def _shape(text: str) -> tuple[int, ...]:
    try:
        parts = tuple(int(p) for p in text.lower().replace(",", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--input: {text!r} must be F or CxHxW") from None
    if len(parts) not in (1, 3) or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"--input: {text!r} must be F or CxHxW (positive)")
    return parts


def _add_compile(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "spec", help="model name (see `xnet models`) or layer-graph spec (.yaml, .yml or .json)"
    )
    p.add_argument("--summary", action="store_true", help="per-layer table and totals")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="backend for layers that do not name one (default: spec's, else gather)",
    )
    p.add_argument("--input", type=_shape, default=None, help="input shape F or CxHxW")
    p.add_argument(
        "--allow-uncertified",
        action="store_true",
        help="compile even if a certificate fails (the override is recorded)",
    )


def _is_spec_path(source: str) -> bool:
    from pathlib import Path

    return source.lower().endswith((".yaml", ".yml", ".json")) or Path(source).is_file()


def build_model(source: str, backend=None, allow_uncertified: bool = False, input_shape=None):
    """A compiled model from a model name (``compiler.models.build``) or a spec file.

    Model names follow ``xnet models``; ``input_shape`` (``C, H, W``) is passed to the
    model builder.  The ``grouped`` baselines are built with their recorded override.
    """
    from .compile import compile

    if _is_spec_path(source):
        return compile(
            source,
            backend=backend,
            allow_uncertified=allow_uncertified,
            input_shape=input_shape,
        )
    from . import models
    from .lowering import check_model_name

    check_model_name(source)
    opts = {} if input_shape is None else {"input_shape": list(input_shape)}
    return models.build(
        source, backend=backend, allow_uncertified=allow_uncertified or None, **opts
    )


def _run_compile(args) -> int:
    model = build_model(args.spec, args.backend, args.allow_uncertified, args.input)
    if args.json:
        json.dump(summarize(model), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.summary:
        print_summary(summarize(model), sys.stdout)
    else:
        n_x = len(model.expander_layers())
        verdict = "certified" if model.certified else "NOT certified (override recorded)"
        sys.stdout.write(
            f"compiled {model.spec.name or args.spec}: {len(model.layers)} layers "
            f"({n_x} expander), {sum(p.numel() for p in model.parameters()):,} parameters, "
            f"{verdict}\n"
        )
    return 0


def _add_certify(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="model name (see `xnet models`) or layer-graph spec")
    p.add_argument("--json", action="store_true", help="all certificates as one JSON object")
    p.add_argument("--input", type=_shape, default=None, help="input shape F or CxHxW")


def _run_certify(args) -> int:
    """Print the model's certificates; exit with the network's (or worst layer's) state."""
    from expandergraph.certificate import EXIT_CODES
    from expandergraph.report import claim_lines, verdict_line

    model = build_model(args.spec, None, True, args.input)
    certs = model.certificates
    net = certs.get("network")
    order = ("failed", "incomplete", "undecided", "passed")
    states = [c.status for c in certs.values()]
    worst = next(s for s in order if s in states) if states else "incomplete"
    if args.json:
        out = {
            "status": worst,
            "override": model.override,
            "certificates": {k: c.to_dict() for k, c in certs.items()},
        }
        sys.stdout.write(json.dumps(out) + "\n")
        return EXIT_CODES[worst]
    layers = [(k, c) for k, c in certs.items() if k != "network"]
    passed = sum(c.passed for _, c in layers)
    sys.stdout.write(f"{args.spec}: {passed}/{len(layers)} layer certificates passed\n")
    for k, c in layers:
        if not c.passed:
            sys.stdout.write(f"  {k}: {c.status}: {', '.join(c.problems())}\n")
    if net is not None:
        sys.stdout.write(f"network certificate ({net.kind}): {net.status}\n")
        for line in claim_lines(net):
            sys.stdout.write(line + "\n")
        sys.stdout.write(verdict_line(net) + "\n")
    else:
        sys.stdout.write("network certificate: none\n")
    sys.stdout.write(f"overall: {worst}\n")
    return EXIT_CODES[worst]


def network_of(source: str, input_shape=None):
    """The network graph of a model name or a spec file (:func:`compiler.network_graph`)."""
    from .lowering import network_graph

    return network_graph(source, input_shape)


def _add_mixing(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="model name (see `xnet models`) or layer-graph spec")
    p.add_argument("--from", dest="start", default="input", help="start tensor (default input)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--input", type=_shape, default=None, help="input shape F or CxHxW")


def _run_mixing(args) -> int:
    """Reach fraction of every tensor from ``--from``, and the mixing depth."""
    from expandergraph.network.report import format_mixing, mixing_summary

    out = mixing_summary(network_of(args.spec, args.input), args.start)
    if args.json:
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        sys.stdout.write(format_mixing(out, args.spec) + "\n")
    return 0


def _add_paths(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="model name (see `xnet models`) or layer-graph spec")
    p.add_argument("--source", default="input", help="source tensor (default input)")
    p.add_argument("--sources", required=True, help="channel set, e.g. 0,3,10-19")
    p.add_argument("--target", default="output", help="target tensor (default output)")
    p.add_argument("--targets", required=True, help="channel set, e.g. 5-9")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--input", type=_shape, default=None, help="input shape F or CxHxW")


def _run_paths(args) -> int:
    """Exact path count between two channel sets, the uniform prediction and the deviation."""
    from expandergraph.network.report import format_paths, paths_summary

    net = network_of(args.spec, args.input)
    out = paths_summary(net, args.source, args.sources, args.target, args.targets)
    if args.json:
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        sys.stdout.write(format_paths(out, args.spec) + "\n")
    return 0


def _add_models(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the names as a JSON list")


def _run_models(args) -> int:
    from . import models

    names = models.names()
    if args.json:
        sys.stdout.write(json.dumps(names) + "\n")
    else:
        sys.stdout.write("\n".join(names) + "\n")
    return 0


def _add_flops(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a model name (xnet models) or a spec file")
    p.add_argument("--input", type=_shape, default=None, help="input shape CxHxW (or F)")
    sparsity = p.add_mutually_exclusive_group()
    sparsity.add_argument("--density", default=None, help="model names: density, e.g. 1/8")
    sparsity.add_argument("--compression", type=float, default=None, help="model names: c")
    sparsity.add_argument("--groups", type=int, default=None, help="model names: g (1/g)")
    p.add_argument("--num-classes", type=int, default=None, help="model names: classes")
    p.add_argument("--seed", type=int, default=0, help="seed of the graphs")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def flops(
    model: str,
    input_shape: Sequence[int] | None = None,
    **options,
) -> dict:
    """MACs of non-zero weights and parameters of a model name or spec file, per sample.

    ``model`` is a name of :func:`compiler.models.names` (``options``: those
    of :func:`compiler.models.spec`, e.g. ``density="1/8"``) or a spec path
    (no options).  The model is compiled (``allow_uncertified=True``: counting
    needs no certificate; the masked backend) and counted by
    :func:`compiler.counting.count` at ``input_shape`` (default: the model's
    own input).  Returns ``{"model", "input", "flops", "params",
    "dense_flops", "dense_params"}``; conventions of
    :mod:`compiler.counting` (conv/linear MACs only).

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018, §5 (FLOP tables).

    Examples
    --------
    >>> r = flops("x-mobilenet-small", [1, 14, 14], density="1/4")
    >>> r["flops"] < r["dense_flops"]
    True
    """
    from . import models
    from .compile import compile as compile_spec
    from .counting import count

    options = {k: v for k, v in options.items() if v is not None}
    shape = list(input_shape) if input_shape is not None else None
    if str(model).lower().endswith((".yaml", ".yml", ".json")):
        extra = sorted(k for k in options if k != "seed")
        if extra:
            raise ValueError(f"{extra[0]}: applies to model names only, not to spec {model}")
        net = compile_spec(model, backend="masked", allow_uncertified=True, input_shape=shape)
    else:
        if shape is not None and len(shape) == 3:
            options["input_shape"] = shape
        elif shape is not None:
            raise ValueError(f"input: model {model!r} needs CxHxW, got {shape}")
        raw = models.spec(model, **options)
        net = compile_spec(raw, backend="masked", allow_uncertified=True)
    c = count(net)
    return {
        "model": str(model),
        "input": list(net.input_shape),
        **{k: c[k] for k in ("flops", "params", "dense_flops", "dense_params")},
    }


def _run_flops(args) -> int:
    opts = {
        "density": args.density,
        "compression": args.compression,
        "groups": args.groups,
        "num_classes": args.num_classes,
        "seed": args.seed,
    }
    r = flops(args.model, args.input, **opts)
    if args.json:
        sys.stdout.write(json.dumps(r) + "\n")
    else:
        sys.stdout.write(
            f"{r['model']}: input {fmt_shape(r['input'])}: {r['flops']:,} MACs "
            f"({r['flops']:.3e}; dense {r['dense_flops']:,}, "
            f"{ratio(r['flops'], r['dense_flops'])}), {r['params']:,} parameters "
            f"(dense {r['dense_params']:,})\n"
        )
    return 0


def _add_train(p: argparse.ArgumentParser) -> None:
    from .train import add_train_arguments

    add_train_arguments(p)


def _run_train(args) -> int:
    from .train import train_main

    return train_main(args)


def _add_demo(p: argparse.ArgumentParser) -> None:
    from .demo import add_demo_arguments

    add_demo_arguments(p)


def _run_demo(args) -> int:
    from .demo import demo_main

    return demo_main(args)


#: The subcommands, in the order ``xnet --help`` lists them.
COMMANDS: tuple[Command, ...] = (
    Command("compile", _add_compile, _run_compile, "compile and certify a model name or a spec"),
    Command("certify", _add_certify, _run_certify, "print the certificates of a model or a spec"),
    Command(
        "mixing", _add_mixing, _run_mixing, "reach fractions and mixing depth of a model's network"
    ),
    Command("paths", _add_paths, _run_paths, "exact path counts between channel sets of a model"),
    Command("models", _add_models, _run_models, "list the model names"),
    Command("flops", _add_flops, _run_flops, "count MACs of non-zero weights and parameters"),
    Command("train", _add_train, _run_train, "train a model (name or spec) on a dataset"),
    Command(
        "demo",
        _add_demo,
        _run_demo,
        "run the main job: certify, compile, train on digits, verify fingerprints",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    """The ``xnet`` argument parser with every subcommand of :data:`COMMANDS`.

    Parse errors print one line (``xnet: error: ...``) and exit with status 2.

    Examples
    --------
    >>> build_parser().parse_args(["compile", "s.yaml", "--summary"]).summary
    True
    """
    parser = _Parser(prog="xnet", description="Compile expander-graph networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for cmd in COMMANDS:
        cmd.add_arguments(sub.add_parser(cmd.name, help=cmd.help, description=cmd.help))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``xnet`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    0 on success, 1 when a certificate refuses the spec, 2 for a bad spec or bad
    arguments (one line on stderr), 1 with one line for an unexpected error
    (the traceback with ``--debug``).

    Examples
    --------
    >>> main(["compile", "no-such-spec.yaml"])
    2
    """
    from .compile import CertificateError

    parser = build_parser()
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an unexpected error"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    run = next(cmd.run for cmd in COMMANDS if cmd.name == args.command)
    try:
        return int(run(args) or 0)
    except CertificateError as exc:
        from expandergraph.certificate import EXIT_CODES

        sys.stderr.write(f"xnet: error: {' '.join(str(exc).split())}\n")
        return EXIT_CODES.get(getattr(exc, "status", "failed"), 1)
    except (ValueError, OSError) as exc:
        if args.debug:
            raise
        sys.stderr.write(f"xnet: error: {' '.join(str(exc).split())[:500]}\n")
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        sys.stderr.write("xnet: interrupted\n")
        return 130
    except Exception as exc:  # unexpected: one line; the traceback with --debug
        if args.debug:
            raise
        text = " ".join(str(exc).split())[:200]
        sys.stderr.write(
            f"xnet: internal error: {type(exc).__name__}: {text} "
            "(rerun with --debug for the traceback)\n"
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
