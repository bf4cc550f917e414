"""The main job: certify a layer-graph spec, compile it, train it, and prove it is the same graph.

``python3 -m compiler.demo`` (and ``xnet demo`` once registered) runs five steps on the
spec shipped as ``compiler/specs/demo_digits.yaml`` (an X-MLP for scikit-learn's 8x8
``digits``, which ships inside the scikit-learn wheel, so nothing is downloaded):

1. **certify**: build every layer graph of the spec and certify it with
   :func:`expandergraph.guarantees.certify_layered`: each layer's degrees and
   spectrum, then the paper's two guarantees across layers (the measured reach depth
   against Tanner's bound, and exact path counts against the mixing lemma);
2. **compile**: lower the spec with :func:`compiler.compile` (which certifies again);
3. **train**: :func:`compiler.train.fit` for a few epochs (model selection on a
   validation split, the test set evaluated once), writing checkpoints, metrics and
   ``curves.png`` into the output directory;
4. **verify**: read the graphs back out of the trained model
   (:func:`compiler.extract_graph`), out of the checkpoint's raw index tables, and out
   of a freshly compiled model loaded from the checkpoint; re-certify the extracted
   graph; every fingerprint must equal the certificate's;
5. **report**: print a summary and write ``reach_fraction.png`` (reach fraction against
   depth, this spec against grouped and local layers of the same widths and degrees),
   ``certificate.json`` and ``demo.json`` next to the training outputs.

Conventions: fingerprints are :attr:`expandergraph.BipartiteGraph.fingerprint` (sha256 of
the sizes and sorted edge list) per graph layer and
:attr:`expandergraph.LayeredGraph.fingerprint` for the chain.  ``seed`` is written into
the spec's top-level ``seed`` (it fixes the graphs) and seeds training, as ``xnet train``
does.  The exit status is 0 when every certificate passes and every fingerprint matches,
1 when a certificate fails (then nothing is compiled or trained) or a fingerprint differs,
and 2 for bad input (a one-line ``xnet demo: error: ...`` on stderr).

The network fingerprint that the checkpoint records is compared too: it is the one
:func:`compiler.train.load_checkpoint` checks whenever it loads weights into a model.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018, §3
(the two guarantees) and §5 (training).

Example
-------
>>> import io, tempfile
>>> r = run_demo(epochs=1, out=tempfile.mkdtemp())  # a minute  # doctest: +SKIP
>>> r["ok"], r["fingerprints_match"]  # tests/test_demo.py runs it  # doctest: +SKIP
(True, True)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from expandergraph.generators.baselines import baseline_like
from expandergraph.report import fmt, fmt_list

from .compile import CertificateError


def fmt4(x) -> str:
    """A value as the report prints it: 4 significant digits, ``null`` for ``None``."""
    return fmt(x, "null", 4)


__all__ = ["DEFAULT_SPEC", "DEFAULT_OUT", "run_demo", "add_demo_arguments", "demo_main", "main"]

#: the layer-graph spec the main job runs by default (shipped as package data)
DEFAULT_SPEC = Path(__file__).resolve().parent / "specs" / "demo_digits.yaml"
#: default output directory (``runs/`` is git-ignored)
DEFAULT_OUT = "runs/demo"

_PREFIX = "xnet demo"


class DemoError(ValueError):
    """Bad input to the main job (a one-line message naming the parameter)."""


def _check_int(name: str, value, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise DemoError(f"{name}: {value!r} must be an integer >= {lo}")
    return value


def _check_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DemoError(f"{name}: {value!r} must be a finite number > 0")
    if value <= 0:
        raise DemoError(f"{name}: {value!r} must be a finite number > 0")
    return float(value)


def _short(fp: str) -> str:
    return fp[:12]


def _index_graphs(state: dict, model) -> list:
    """Graphs rebuilt from a checkpoint's raw ``layers.{i}.index`` tables (no module involved)."""
    from .modules import graph_from_index

    graphs = []
    for i, (name, m) in enumerate(zip(model.names, model.layers)):
        key = f"layers.{i}.index"
        if key in state:
            graphs.append(graph_from_index(state[key], m.in_width, m.block, name))
    return graphs


_Say = Callable[..., None]


@dataclass
class _Certified:
    """What step 1 found: the spec (with the run seed), its chain and its certificate."""

    spec_path: Path
    raw: dict
    name: str
    layer_checks: tuple
    lg: Any
    cert: Any
    reach: Any
    tanner: dict
    log_d_n: float | None
    pm: Any
    base: dict
    cert_fps: list[str]


@dataclass
class _Checked:
    """What step 4 found: every source's fingerprints and whether they all match."""

    sources: dict[str, list[str]]
    layered: dict[str, str]
    recert: Any
    match: bool
    ck_path: Path


def _check_inputs(epochs, batch_size, seed, samples, limit, lr, out, overwrite) -> tuple:
    """Validate :func:`run_demo`'s arguments; return them normalised (``DemoError`` if bad).

    An ``out`` that is a file, or a non-empty directory without ``overwrite``, is refused
    before anything is written.
    """
    epochs = _check_int("epochs", epochs, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    seed = _check_int("seed", seed, 0)
    samples = _check_int("samples", samples, 1)
    if limit is not None:
        limit = _check_int("limit", limit, 20)
    lr = _check_float("lr", lr)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DemoError(f"out: {out} exists and is not a directory")
    if not overwrite and out.is_dir() and any(out.iterdir()):
        raise DemoError(
            f"out: {out} is not empty; nothing was touched (choose an empty or new "
            "directory, or pass --overwrite)"
        )
    return epochs, batch_size, seed, samples, limit, lr, out


def _certify(spec_path: Path, seed: int, samples: int, out: Path, say: _Say) -> _Certified:
    """Step 1: build the spec's layer graphs with ``seed`` and certify the chain.

    The spec is read as a network spec (:func:`compiler.spec.load_spec`); its graph
    layers must chain.  Prints the certificate, the reach fractions against Tanner's
    bound, one exact path count against the mixing lemma, and the reach of grouped and
    local layers of the same widths and degrees.  A spec that cannot be read is a
    ``DemoError``.
    """
    from expandergraph.bounds import tanner_depth
    from expandergraph.guarantees import LAYER_CHECKS, LAYERED_CHECKS, certify_layered
    from expandergraph.mixing import reachability
    from expandergraph.paths import path_mixing
    from expandergraph.report import format_layered
    from expandergraph.spec import build_layered

    from .spec import NETWORK, load_spec

    try:
        parsed = load_spec(spec_path).with_keys(NETWORK, seed=seed)
        lg = build_layered(parsed)
    except ValueError as exc:
        raise DemoError(f"spec: {exc}") from None
    name = parsed.name or spec_path.stem
    layer_checks = tuple(c for c in (parsed.certify or ()) if c not in LAYERED_CHECKS)
    layer_checks = layer_checks or LAYER_CHECKS
    say(f"xnets main job: spec {spec_path} ({name}), seed {seed}, output {out}")
    say("")
    say(f"[1/5] build and certify the layer graphs (widths {lg.widths})")
    cert = certify_layered(
        lg, layer_checks=layer_checks, samples=samples, seed=seed, subject=f"{name} (seed {seed})"
    )
    say(format_layered(cert))
    reach = reachability(lg)
    tanner = tanner_depth(lg)
    d0, n0 = lg[0].degree, max(lg.widths)
    log_d_n = math.log(n0) / math.log(d0) if d0 and d0 > 1 else None
    say("  log-step mixing (every input reaches every node of level t):")
    say(
        f"    reach fraction by depth t=1..{len(lg)}: "
        + ", ".join(fmt4(x) for x in reach.reach_fraction)
    )
    say(
        f"    measured depth {fmt4(reach.reach_depth)}   Tanner's spectral bound "
        f"{fmt4(tanner['bound_depth'])}   log_D(n) = {fmt4(log_d_n)} (D={d0}, n={n0})"
    )
    # one readable path count: the first quarter of the inputs to the first half of
    # the deepest hidden level, exact against the mixing lemma
    j = max(1, len(lg) - 1)
    s_set = list(range(max(1, lg.widths[0] // 4)))
    t_set = list(range(max(1, lg.widths[j] // 2)))
    pm = path_mixing(lg, s_set, t_set, 0, j)
    say(f"  path counts (level 0, |S|={len(s_set)}  ->  level {j}, |T|={len(t_set)}):")
    say(
        f"    exact count {pm.count:,}   predicted (mixing lemma) {pm.predicted:,.1f}   "
        f"error bound {fmt4(pm.error_bound)}   within bound: {pm.within_bound}"
    )
    base = {}
    for kind in ("grouped", "local"):
        b = baseline_like(lg, kind)
        base[kind] = None if b is None else reachability(b)
    say(
        "  same widths and degrees without an expander: "
        + ";  ".join(
            f"{k} depth {fmt4(r.reach_depth)}, fraction {fmt_list(r.reach_fraction, digits=4)}"
            if r is not None
            else f"{k}: n/a"
            for k, r in base.items()
        )
    )
    cert_fps = [p.fingerprint for p in cert.parts] or list(lg.fingerprints)
    return _Certified(
        spec_path,
        dict(parsed.raw),
        name,
        layer_checks,
        lg,
        cert,
        reach,
        tanner,
        log_d_n,
        pm,
        base,
        cert_fps,
    )


def _refused(c: _Certified, started: float, say: _Say) -> dict:
    """The summary of a run whose certificate failed (nothing is compiled or trained)."""
    failures = c.cert.failures()
    say(f"certificate FAILED ({', '.join(failures)}): not compiling an uncertified spec")
    return {
        "ok": False,
        "certified": False,
        "fingerprints_match": None,
        "failures": failures,
        "spec": str(c.spec_path),
        "reach_depth": c.reach.reach_depth,
        "bound_depth": c.tanner["bound_depth"],
        "seconds": round(time.perf_counter() - started, 2),
    }


def _compile(raw: dict, seed: int, say: _Say) -> tuple[Any, dict]:
    """Step 2: lower the spec with :func:`compiler.compile.compile`; return the model and the
    totals of :func:`compiler.summary.summarize` (one line printed per graph layer).

    The random streams are seeded with ``seed`` first
    (:func:`compiler.train.rng.seed_everything`), so the initial weights are fixed too.
    """
    from .compile import compile as xcompile
    from .summary import summarize
    from .train.rng import seed_everything

    say("")
    say("[2/5] compile the spec into PyTorch modules")
    seed_everything(seed)
    model = xcompile(raw)
    info = summarize(model)
    for row in info["layers"]:
        if row["degree"] is None:
            continue
        say(
            f"    {row['name']:<10} {row['kind']:<7} "
            f"{'x'.join(map(str, row['in_shape'] or ()))} -> "
            f"{'x'.join(map(str, row['out_shape'] or ()))}  degree {row['degree']:>3}  "
            f"density {row['density']:.4g}  params {row['params']:>7,}  "
            f"graph {_short(row['fingerprint'])}  backend {row['backend']}"
        )
    t = info["totals"]
    say(
        f"    total params {t['params']:,} (dense equivalent {t['dense_params']:,}); "
        f"MACs/sample {t['flops']:,} (dense {t['dense_flops']:,}); "
        f"certified: {model.certified}"
    )
    return model, t


def _train(model, out: Path, epochs, lr, batch_size, seed, limit, quiet, w, say: _Say) -> dict:
    """Step 3: :func:`compiler.train.fit` on ``digits`` (cosine schedule), writing into ``out``."""
    from .train import TrainConfig, fit

    say("")
    say(f"[3/5] train on digits for {epochs} epochs (SGD + Nesterov, cosine lr {lr})")
    cfg = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        schedule="cosine",
        weight_decay=1e-4,
        seed=seed,
        out=str(out),
        overwrite=True,
        quiet=quiet,
        limit=limit,
    )
    if not quiet:
        w.flush()
    result = fit(model, "digits", cfg)
    say(
        f"    best validation accuracy {result['best_val_acc']:.4f} at epoch "
        f"{result['best_epoch']}; test accuracy {result['test_acc']:.4f} "
        f"({result['test_samples']} images, evaluated once)"
    )
    return result


def _check_fingerprints(
    c: _Certified, model, compiled_fps: list[str], out: Path, seed: int, samples: int, say: _Say
) -> _Checked:
    """Step 4: read the graphs back and compare every fingerprint with the certificate's.

    Sources: the trained model, the checkpoint's raw index tables and its record, a
    fresh compile loaded from the checkpoint, and the re-certified extracted chain;
    the layered and network fingerprints must be identical in all of them too.
    """
    from expandergraph.guarantees import certify_layered

    from .compile import compile as xcompile
    from .network import extract_graph, extract_layered
    from .train import load_checkpoint

    say("")
    say("[4/5] read the graphs back and compare fingerprints with the certificate")
    trained = extract_layered(model)
    trained_net = extract_graph(model)
    ck_path = out / "best.pt"
    ck = load_checkpoint(ck_path)
    from_index = _index_graphs(ck["model"], model)
    fresh = xcompile(c.raw)
    load_checkpoint(ck_path, fresh)
    reloaded = extract_layered(fresh)
    reloaded_net = extract_graph(fresh)
    recert = certify_layered(
        trained, layer_checks=c.layer_checks, samples=samples, seed=seed, subject="extracted"
    )
    cert_fps, cert = c.cert_fps, c.cert
    sources: dict[str, list[str]] = {
        "certificate": cert_fps,
        "compiled model": compiled_fps,
        "trained model": list(trained.fingerprints),
        "checkpoint index tables": [g.fingerprint for g in from_index],
        "checkpoint record": [str(f) for f in ck.get("fingerprints") or []],
        "reloaded model": list(reloaded.fingerprints),
        "re-certified graph": [p.fingerprint for p in recert.parts] or list(trained.fingerprints),
    }
    layered = {
        "certificate": cert.fingerprint,
        "trained model": trained.fingerprint,
        "reloaded model": reloaded.fingerprint,
        "re-certified graph": recert.fingerprint,
    }
    network_fp = model.certificates["network"].fingerprint
    network = {
        "network certificate": network_fp,
        "checkpoint record": ck.get("network_fingerprint"),
        "trained model": trained_net.fingerprint,
        "reloaded model": reloaded_net.fingerprint,
    }
    match = (
        all(fps == cert_fps for fps in sources.values())
        and len(set(layered.values())) == 1
        and len(set(network.values())) == 1
    )
    for src, fps in sources.items():
        ok = fps == cert_fps
        shown = " ".join(_short(f) for f in fps)
        say(f"    {'match' if ok else 'DIFFERS':<8} {src:<24} {shown}")
    say(
        f"    layered fingerprint {_short(cert.fingerprint)}: "
        + ("identical in all sources" if len(set(layered.values())) == 1 else f"DIFFERS {layered}")
    )
    say(
        f"    network fingerprint {_short(network_fp)}: "
        + ("identical in all sources" if len(set(network.values())) == 1 else f"DIFFERS {network}")
    )
    say(
        f"    re-certified: {'PASS' if recert.passed else 'FAIL'}, reach depth "
        f"{fmt4(recert['reach_depth'].value)} (was {fmt4(cert['reach_depth'].value)})"
    )
    return _Checked(sources, layered, recert, bool(match), ck_path)


def _report(
    c: _Certified,
    model,
    totals: dict,
    result: dict,
    checked: _Checked,
    out: Path,
    epochs: int,
    seed: int,
    started: float,
    say: _Say,
) -> dict:
    """Step 5: write ``reach_fraction.png``, ``certificate.json`` and ``demo.json``; print the
    summary and return it."""
    from expandergraph.plots import plot_reach_fraction

    name, lg, cert, reach, tanner, t = c.name, c.lg, c.cert, c.reach, c.tanner, totals
    curves = {f"expander ({name})": reach}
    for kind, r in c.base.items():
        if r is not None:
            curves[kind] = r
    reach_png = plot_reach_fraction(
        curves, out / "reach_fraction.png", title=f"reach fraction against depth: {name}"
    )
    (out / "certificate.json").write_text(cert.to_json(indent=1) + "\n")
    certified = bool(cert.passed and model.certified and checked.recert.passed)
    match = checked.match
    ok = bool(certified and match)
    summary: dict[str, Any] = {
        "ok": ok,
        "certified": certified,
        "fingerprints_match": bool(match),
        "spec": str(c.spec_path),
        "name": name,
        "seed": seed,
        "widths": lg.widths,
        "fingerprints": checked.sources,
        "layered_fingerprints": checked.layered,
        "layered_fingerprint": cert.fingerprint,
        "reach_depth": reach.reach_depth,
        "bound_depth": tanner["bound_depth"],
        "log_D_n": c.log_d_n,
        "reach_fraction": reach.reach_fraction,
        "path_example": c.pm.to_dict(),
        "baselines": {
            k: None
            if r is None
            else {"reach_depth": r.reach_depth, "reach_fraction": r.reach_fraction}
            for k, r in c.base.items()
        },
        "test_acc": result.get("test_acc"),
        "best_val_acc": result["best_val_acc"],
        "best_epoch": result["best_epoch"],
        "epochs": epochs,
        "params": t["params"],
        "dense_params": t["dense_params"],
        "files": {
            "reach_fraction": str(reach_png),
            "curves": str(out / "curves.png"),
            "certificate": str(out / "certificate.json"),
            "checkpoint": str(checked.ck_path),
            "metrics": str(out / "metrics.csv"),
            "summary": str(out / "demo.json"),
        },
        "seconds": round(time.perf_counter() - started, 2),
    }
    (out / "demo.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    say("")
    say("[5/5] summary")
    say(
        f"    {name}: {len(lg)} graph layers, widths {lg.widths}; "
        f"{t['params']:,} parameters "
        f"({100 * t['params'] / max(t['dense_params'], 1):.1f}% of dense)"
    )
    say(
        f"    certificate {'PASS' if cert.passed else 'FAIL'}; reach depth "
        f"{fmt4(reach.reach_depth)} (Tanner bound {fmt4(tanner['bound_depth'])}); "
        f"path mixing worst |count-pred|/bound {fmt4(cert['path_mixing'].value)}"
    )
    say(f"    test accuracy {result['test_acc']:.4f} after {epochs} epochs")
    say(f"    fingerprints: {'all match' if match else 'MISMATCH'}")
    say(f"    plots: {reach_png}, {out / 'curves.png'}")
    say(f"    files: {out / 'demo.json'}, {out / 'certificate.json'}, {checked.ck_path}")
    say(f"    {'OK' if ok else 'FAILED'} in {summary['seconds']:.1f} s")
    return summary


def run_demo(
    spec: str | Path | None = None,
    out: str | Path = DEFAULT_OUT,
    *,
    epochs: int = 20,
    lr: float = 0.05,
    batch_size: int = 64,
    seed: int = 0,
    samples: int = 64,
    limit: int | None = None,
    stream: TextIO | None = None,
    quiet: bool = False,
    overwrite: bool = False,
) -> dict:
    """Run the main job (module docstring) and return its summary as a JSON-ready dict.

    Parameters
    ----------
    spec : path, optional
        A layer-graph spec whose graph layers chain and whose input is ``[1, 8, 8]``
        (or 64 features after a ``flatten``); default :data:`DEFAULT_SPEC`.
    out : path
        Output directory; an earlier run there is overwritten.
    epochs, lr, batch_size : training options (SGD with Nesterov momentum, cosine schedule).
    seed : int
        Written into the spec's ``seed`` (fixes the graphs) and seeds training.
    samples : int
        Random ``(S, T)`` set pairs for the ``path_mixing`` check.
    limit : int, optional
        Train on a fixed stratified subset of this many training images (quick checks);
        default all 1,438 (the validation split is carved from them).
    stream : text stream
        Where the readable report goes (default ``sys.stdout``).
    quiet : bool
        Suppress the per-epoch lines of training.
    overwrite : bool
        Allow a non-empty ``out`` (its files are replaced); otherwise it is refused
        and nothing in it is touched.

    Returns
    -------
    dict
        ``ok`` (every certificate passed and every fingerprint matched),
        ``certified``, ``fingerprints_match``, ``fingerprints`` (``{source: [per-layer
        fingerprints]}``), ``layered_fingerprint``, ``reach_depth``, ``bound_depth``,
        ``reach_fraction``, ``path_example``, ``baselines``, ``test_acc``,
        ``best_val_acc``, ``best_epoch``, ``params``, ``dense_params``, ``files`` and
        ``seconds``.  When the certificate fails the job stops after step 1 and returns
        ``ok: False``, ``certified: False`` and ``failures``.  Bad input raises
        ``ValueError`` (one line, naming the parameter).

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018, §3 and §5.

    Examples
    --------
    >>> import io, tempfile
    >>> r = run_demo(epochs=1, out=tempfile.mkdtemp())  # a minute  # doctest: +SKIP
    >>> r["ok"]  # tests/test_demo.py runs it  # doctest: +SKIP
    True
    """
    started = time.perf_counter()
    w = stream if stream is not None else sys.stdout
    epochs, batch_size, seed, samples, limit, lr, out = _check_inputs(
        epochs, batch_size, seed, samples, limit, lr, out, overwrite
    )
    spec_path = Path(spec) if spec is not None else DEFAULT_SPEC

    def say(text: str = "") -> None:
        w.write(text + "\n")
        w.flush()

    c = _certify(spec_path, seed, samples, out, say)
    if not c.cert.passed:
        return _refused(c, started, say)
    model, totals = _compile(c.raw, seed, say)
    compiled_fps = [m.fingerprint for _, m in model.expander_layers()]
    result = _train(model, out, epochs, lr, batch_size, seed, limit, quiet, w, say)
    checked = _check_fingerprints(c, model, compiled_fps, out, seed, samples, say)
    return _report(c, model, totals, result, checked, out, epochs, seed, started, say)


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    """Add the main job's options to ``p`` (for ``compiler.cli.register_command``).

    Example
    -------
    >>> p = argparse.ArgumentParser()
    >>> add_demo_arguments(p)
    >>> p.parse_args(["--epochs", "3"]).epochs
    3
    """
    p.add_argument(
        "--spec",
        default=None,
        help="layer-graph spec (default: the shipped compiler/specs/demo_digits.yaml)",
    )
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    p.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    p.add_argument("--lr", type=float, default=0.05, help="initial learning rate (default 0.05)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--seed", type=int, default=0, help="fixes the graphs and training (default 0)")
    p.add_argument(
        "--samples", type=int, default=64, help="random set pairs for path_mixing (default 64)"
    )
    p.add_argument("--limit", type=int, default=None, help="train on N images only (quick checks)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-epoch training lines")
    p.add_argument(
        "--overwrite", action="store_true", help="replace the files of a non-empty --out"
    )


def demo_main(args: argparse.Namespace) -> int:
    """Run :func:`run_demo` from parsed arguments; return the exit status.

    0 when everything passed and matched, 1 when a certificate failed or a fingerprint
    differed, 2 for bad input (one line on stderr).

    Example
    -------
    >>> demo_main(argparse.Namespace(spec=None, out="runs/x", epochs=0, lr=0.05,
    ...                              batch_size=64, seed=0, samples=8, json=False, quiet=True))
    2
    """
    import io

    as_json = bool(getattr(args, "json", False))
    try:
        summary = run_demo(
            args.spec,
            args.out,
            epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            seed=args.seed,
            samples=args.samples,
            limit=getattr(args, "limit", None),
            stream=io.StringIO() if as_json else None,
            quiet=bool(args.quiet or as_json),
            overwrite=bool(getattr(args, "overwrite", False)),
        )
    except (ValueError, OSError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{_PREFIX}: error: {text}", file=sys.stderr)
        return 1 if isinstance(exc, CertificateError) else 2
    if as_json:
        print(json.dumps(summary, default=str))
    return 0 if summary["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    """``python3 -m compiler.demo [--out DIR] [--epochs N] ...``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python3 -m compiler.demo", description=__doc__.split("\n")[0]
    )
    add_demo_arguments(parser)
    return demo_main(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
