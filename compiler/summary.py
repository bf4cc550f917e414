"""``summarize``: a compiled model's per-layer table (shapes, degrees, FLOPs, certificates).

The library side of ``xnet compile --summary|--json``: :func:`summarize` builds the record,
:func:`print_summary` writes it as a table; :func:`fmt_shape` and :func:`ratio` are the
formatters the command line shares with it.  The CLI and the main job import it.
"""

from __future__ import annotations

__all__ = ["summarize", "print_summary", "fmt_shape", "ratio"]


def fmt_shape(shape) -> str:
    """A shape as ``CxHxW`` (or ``F``).

    Examples
    --------
    >>> fmt_shape([3, 32, 32]), fmt_shape([10])
    ('3x32x32', '10')
    """
    return "x".join(str(v) for v in shape)


_COUNT_KEYS = ("params", "flops", "dense_params", "dense_flops")


def summarize(model) -> dict:
    """The ``--summary`` data of a compiled :class:`~compiler.network.XNet`, JSON-ready.

    ``{"name", "input", "layers": [...], "totals": {...}, "certificates": {...},
    "override"}``; per layer: ``index``, ``name``, ``kind``, ``in_shape``,
    ``out_shape``, ``degree``, ``block``, ``density``, ``params``, ``flops``,
    ``dense_params``, ``dense_flops``, ``backend``, ``fingerprint`` and
    ``certificate`` (``{"passed", "failures", "override"}`` or ``None``);
    a ``residual``/``concat`` row sums its nested layers (whose certificates
    are listed under their own locations in ``model.certificates``).
    Parameters and FLOPs come from :func:`compiler.counting.count` (MACs of
    non-zero weights, per sample).

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018 (FLOPs of X-layers).

    Examples
    --------
    >>> from compiler import compile
    >>> spec = {"input": 8, "layers": [{"out": 8, "degree": 4}]}
    >>> s = summarize(compile(spec, allow_uncertified=True))  # one layer cannot mix
    >>> s["layers"][0]["flops"], s["totals"]["dense_flops"]
    (32, 64)
    """
    from .counting import count
    from .modules import XConv2d, XLinear
    from .network import extract_graph

    total = count(model)
    counts = {c["name"]: c for c in total["layers"]}
    spec = model.spec
    layers = []
    for i, (name, m) in enumerate(zip(model.names, model.layers)):
        c = counts.get(name, {})
        if not c and spec is not None and spec.layers[i].is_nested:
            # residual/concat: the sum over the nested layers, the spec's shapes
            inner = [v for k, v in counts.items() if k.startswith(name + ".")]
            c = {k: sum(v[k] for v in inner) for k in _COUNT_KEYS}
            c.update(
                in_shape=list(spec.layers[i].in_shape), out_shape=list(spec.layers[i].out_shape)
            )
        row = {
            "index": i,
            "name": name,
            "kind": spec.layers[i].kind if spec is not None else c.get("kind"),
            "in_shape": c.get("in_shape"),
            "out_shape": c.get("out_shape"),
            "degree": None,
            "block": None,
            "density": None,
            "params": c.get("params", 0),
            "flops": c.get("flops", 0),
            "dense_params": c.get("dense_params", 0),
            "dense_flops": c.get("dense_flops", 0),
            "backend": None,
            "fingerprint": None,
            "certificate": None,
        }
        if isinstance(m, (XLinear, XConv2d)):
            row.update(degree=m.degree, block=m.block, density=m.density, backend=m.backend)
            row["fingerprint"] = m.fingerprint
            cert = model.certificates.get(name)
            if cert is not None:
                row["certificate"] = {
                    "passed": cert.passed,
                    "failures": cert.failures(),
                    "override": cert.override,
                }
        layers.append(row)
    net = model.certificates.get("network")
    note = None
    if net is None:
        try:
            extract_graph(model)
            note = "no layered checks requested"
        except ValueError:
            note = "the graph layers do not chain"
    return {
        "name": spec.name if spec is not None else None,
        "input": list(model.input_shape or ()),
        "layers": layers,
        "totals": {k: total[k] for k in ("params", "flops", "dense_params", "dense_flops")},
        "certificates": {
            "layers_passed": all(c.passed for n, c in model.certificates.items() if n != "network"),
            "network": None
            if net is None
            else {
                "passed": net.passed,
                "failures": net.failures(),
                "override": net.override,
                "values": {k: c.value for k, c in net.checks.items()},
            },
            "network_note": note,
        },
        "override": model.override,
    }


def ratio(a: int, b: int) -> str:
    """``a`` as a percentage of ``b`` (two decimals), ``-`` when ``b`` is 0.

    Examples
    --------
    >>> ratio(1, 8), ratio(1, 0)
    ('12.50%', '-')
    """
    return f"{100.0 * a / b:.2f}%" if b else "-"


def print_summary(s: dict, out) -> None:
    """Write a :func:`summarize` record to the text stream ``out``: one row a layer, then totals.

    Columns: index, kind, shapes, degree, block, density, parameters, FLOPs and
    the layer certificate's verdict; then totals against the dense equivalent,
    the network certificate and any override.

    Examples
    --------
    >>> import io
    >>> from compiler import compile
    >>> spec = {"input": 8, "layers": [{"out": 8, "degree": 4}]}
    >>> buf = io.StringIO()
    >>> print_summary(summarize(compile(spec, allow_uncertified=True)), buf)
    >>> buf.getvalue().splitlines()[0]
    'spec: input 8'
    """
    title = s["name"] or "spec"
    out.write(f"{title}: input {fmt_shape(s['input'])}\n")
    head = (
        f"{'#':>3}  {'kind':<10} {'shape in -> out':<26} {'degree':>6} {'block':>5} "
        f"{'density':>8} {'params':>12} {'FLOPs':>14}  certificate"
    )
    out.write(head + "\n")
    for r in s["layers"]:
        shapes = f"{fmt_shape(r['in_shape'] or ())} -> {fmt_shape(r['out_shape'] or ())}"
        deg = "" if r["degree"] is None else str(r["degree"])
        blk = "" if r["block"] is None else str(r["block"])
        dens = "" if r["density"] is None else f"{r['density']:.4g}"
        cert = r["certificate"]
        if cert is None:
            verdict = ""
        elif cert["passed"]:
            verdict = "pass"
        else:
            verdict = "FAIL: " + ", ".join(cert["failures"])
            if cert["override"]:
                verdict += " (overridden)"
        out.write(
            f"{r['index']:>3}  {r['kind']:<10} {shapes:<26} {deg:>6} {blk:>5} {dens:>8} "
            f"{r['params']:>12,} {r['flops']:>14,}  {verdict}\n"
        )
    t = s["totals"]
    out.write(
        f"total: params {t['params']:,} (dense {t['dense_params']:,}, "
        f"{ratio(t['params'], t['dense_params'])}); FLOPs {t['flops']:,} "
        f"(dense {t['dense_flops']:,}, {ratio(t['flops'], t['dense_flops'])})\n"
    )
    net = s["certificates"]["network"]
    if net is None:
        out.write(f"network certificate: none ({s['certificates']['network_note']})\n")
    else:
        verdict = "pass" if net["passed"] else "FAIL: " + ", ".join(net["failures"])
        values = ", ".join(f"{k} {v}" for k, v in net["values"].items())
        out.write(f"network certificate: {verdict}" + (f" ({values})" if values else "") + "\n")
    if s["override"]:
        out.write(f"override: {s['override']}\n")
