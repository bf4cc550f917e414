"""The network certificate: :func:`certify_network` and its checks.

Conventions
-----------
* **Network mixing depth** (required ``mixing_depth``): measured from every
  tensor that feeds a graph layer whose ideal depth exists and that either
  mixes fully or has at least ``kappa * ideal`` graph layers after it (a start
  too close to the output to decide the claim is listed, not measured); the
  worst start (largest ``depth / ideal``, never-mixing worst of all) is
  reported.  The claim is ``depth(s) <= kappa * ideal(s)`` for every measured
  start, and it fails when no start is measured.  Depth, ideal depth and reach
  are those of :mod:`expandergraph.network.reach`.
* **Layer certificates** (required ``layer_certificates``): one passed
  :func:`expandergraph.certify.certify` certificate per graph layer (one per
  distinct layer fingerprint is computed).
* **Path uniformity** (required ``path_uniformity``, only when the network is
  one chain): as in :func:`expandergraph.guarantees.certify_layered`.
* **Informative**: ``reach`` (reach fraction of every tensor from ``"input"``),
  ``segment_bounds`` (proven bounds per chain segment of
  :mod:`expandergraph.network.paths`; none across joins) and ``path_deviation``
  (exact path counts on random set pairs).

Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3; R. M. Tanner (1984);
Hoory, Linial and Wigderson, Bull. AMS 43 (2006) §2.4, §4.6.

Examples
--------
>>> from expandergraph import BipartiteGraph, LayeredGraph
>>> full = BipartiteGraph.from_ell(4, [[0, 1, 2, 3]] * 4)
>>> cert = certify_network(NetworkGraph.from_layered(LayeredGraph([full] * 3)), samples=2)
>>> cert.required, cert["reach"].value
(['layer_certificates', 'mixing_depth', 'path_uniformity'], 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np

from ..certificate import Certificate, Check
from .graph import NetworkGraph
from .paths import chain_segments, limbs_total, path_limbs
from .reach import as_network, ideal_network_depth, mixing_depth, reach_fractions, tensor_depths

__all__ = ["certify_network", "NETWORK_REQUIRED", "NETWORK_CHECKS"]

#: required checks of a network certificate (``path_uniformity`` only for a chain)
NETWORK_REQUIRED = ("layer_certificates", "mixing_depth")
#: checks a network certificate can run (``checks=``); the layered names are aliases
NETWORK_CHECKS = ("mixing_depth", "bound_depth", "path_uniformity", "path_mixing")
_ALIASES = {"reach_depth": "mixing_depth"}


def _wanted(checks) -> tuple[str, ...]:
    if checks is None:
        return NETWORK_CHECKS
    out = []
    for name in checks:
        name = _ALIASES.get(name, name)
        if name not in NETWORK_CHECKS:
            raise ValueError(
                f"checks: unknown network check {name!r} (known: {', '.join(NETWORK_CHECKS)})"
            )
        out.append(name)
    return tuple(out)


def certify_network(
    graph: NetworkGraph,
    *,
    alpha_max: float | None = None,
    kappa: float | None = None,
    sigma: float | None = None,
    eps_max: float | None = None,
    delta: float | None = None,
    layer_checks: Sequence[str] = ("degrees", "spectrum"),
    checks: Sequence[str] | None = None,
    layer_certificates: dict[str, Certificate] | None = None,
    samples: int = 16,
    seed: int = 0,
    subject: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Certificate:
    """Certify a network: every graph layer, log-step mixing, path counts (module docstring).

    Required checks: ``layer_certificates`` (one passed certificate per graph
    layer, :func:`expandergraph.certify.certify`), ``mixing_depth``
    (``depth(s) <= kappa * ideal(s)`` from every measured start), and, when the
    network is one chain, ``path_uniformity`` (as in
    :func:`expandergraph.guarantees.certify_layered`).  Informative:
    ``segment_bounds`` (proven ``eps``, ``sigma*`` and Tanner depth per chain
    segment), ``path_deviation`` (exact counts on ``samples`` random set pairs
    from (at most two random) start tensors to ``"output"``) and ``reach`` (reach fraction of every
    tensor from ``"input"``).  Defaults of ``alpha_max``/``delta`` are those of
    :func:`~expandergraph.certify.certify`; ``kappa``/``sigma``/``eps_max`` those
    of :mod:`expandergraph.guarantees`.

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> full = BipartiteGraph.from_ell(4, [[0, 1, 2, 3]] * 4)
    >>> cert = certify_network(NetworkGraph.from_layered(LayeredGraph([full, full])))
    >>> cert.kind, cert["mixing_depth"].value, cert.status
    ('network', 1, 'passed')
    """
    from .. import guarantees as gu
    from ..bounds import sigma_star, tanner_depth, uniformity_epsilon
    from ..certify import ALPHA_MAX, DELTA, certify
    from ..singular import layer_spectra

    net = as_network(graph)
    net.validate()
    alpha_max = ALPHA_MAX if alpha_max is None else alpha_max
    delta = DELTA if delta is None else delta
    params = gu.claim_params(
        gu.KAPPA if kappa is None else kappa,
        gu.SIGMA if sigma is None else sigma,
        gu.EPS_MAX if eps_max is None else eps_max,
    )
    params.update(alpha_max=float(alpha_max), delta=float(delta))
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 0:
        raise ValueError(f"samples: must be a non-negative integer, got {samples!r}")
    kappa, sigma, eps_max = params["kappa"], params["sigma"], params["eps_max"]
    wanted = _wanted(checks)
    spectra_cache: dict = {}  # fingerprint -> LayerSpectrum, for this certificate only

    def step(msg: str) -> None:
        if progress is not None:
            progress(msg)

    try:
        chain = net.to_layered()
    except ValueError:
        chain = None
    required = list(NETWORK_REQUIRED) + (["path_uniformity"] if chain is not None else [])
    cert = Certificate(
        subject=subject or (net.name or repr(net)),
        kind="network",
        fingerprint=net.fingerprint,
        required=required,
        params=params,
    )
    gedges = net.graph_edges
    cert.summary = {
        "tensors": len(net.widths),
        "graph_layers": len(gedges),
        "layers": [e.target for e in gedges],
        "layer_fingerprints": net.layer_fingerprints,
        "output_width": net.widths["output"],
    }
    # per-layer parts (one certificate per distinct graph)
    if layer_certificates is not None:
        for e in gedges:
            part = layer_certificates.get(e.target)
            if part is None or part.fingerprint != e.graph.fingerprint:
                raise ValueError(f"layer_certificates: none for graph layer {e.target}")
            cert.parts.append(part)
    elif layer_checks:
        cache: dict[str, Certificate] = {}
        for e in gedges:
            fp = e.graph.fingerprint
            if fp not in cache:
                step(f"certifying {e.target}")
                cache[fp] = certify(e.graph, checks=layer_checks, alpha_max=alpha_max, delta=delta)
            cert.parts.append(cache[fp])
    if cert.parts:
        gu.layer_certificates_check(cert, len(gedges))
    if "mixing_depth" in wanted:
        # log-step mixing from every start tensor
        starts = list(dict.fromkeys(e.source for e in gedges))
        rows, worst = [], None
        for s in starts:
            step(f"mixing depth from {s}")
            ideal = ideal_network_depth(net, s)
            if ideal is None:
                rows.append({"start": s, "ideal": None, "depth": None, "measured": False})
                continue
            m = mixing_depth(net, s)
            left = max(tensor_depths(net, s).values())
            row = {"start": s, "ideal": ideal, "depth": m.depth, "tensor": m.tensor}
            row.update(stop_tensor=m.stop_tensor, stop_fraction=m.stop_fraction, layers_after=left)
            # a start that has not mixed is decisive only with >= kappa * ideal layers after it
            row["measured"] = m.depth is not None or left >= kappa * ideal
            rows.append(row)
            if not row["measured"]:
                continue
            ratio = math.inf if m.depth is None else m.depth / ideal
            key = (ratio, -1 if m.depth is None else m.depth)
            if worst is None or key > worst[0]:
                worst = (key, row)
        measured = [r for r in rows if r["measured"]]
        if worst is None:
            cert.add(
                Check(
                    "mixing_depth",
                    None,
                    relation="<=",
                    method="no start tensor mixes fully or has kappa * ideal graph layers after it",
                    passed=False,
                    required=True,
                    detail={"starts": rows},
                )
            )
            cert.claims.append(
                "no start tensor can mix fully before the output (degrees too small)"
            )
        else:
            w = worst[1]
            ok = all(r["depth"] is not None and r["depth"] <= kappa * r["ideal"] for r in measured)
            cert.add(
                Check(
                    "mixing_depth",
                    w["depth"],
                    bound=kappa * w["ideal"],
                    relation="<=",
                    method=(
                        "packed-bitset reachability from every start tensor feeding a graph layer; "
                        "claim: depth(s) <= kappa * ideal(s), worst start reported"
                    ),
                    passed=bool(ok),
                    required=True,
                    detail={
                        "start": w["start"],
                        "ideal": w["ideal"],
                        "kappa": kappa,
                        "starts": rows,
                    },
                )
            )
            cert.summary.update(mixing_depth=w["depth"], mixing_start=w["start"], ideal=w["ideal"])
            if w["depth"] is None:
                cert.claims.append(
                    f"from {w['start']} the channels never all reach all channels of any "
                    f"later tensor: reach stops at fraction {w['stop_fraction']:.3g} at "
                    f"{w['stop_tensor']}"
                )
            else:
                cert.claims.append(
                    f"every channel of {w['start']} reaches every channel of {w['tensor']} after "
                    f"{w['depth']} graph layers (ideal {w['ideal']}, kappa = {kappa:g})"
                    + ("" if ok else ": not log-step")
                )
            skipped = len(rows) - len(measured)
            if skipped:
                cert.claims.append(
                    f"{skipped} start tensor(s) with fewer than kappa * ideal graph layers "
                    "after them "
                    "and no full mixing are not measured"
                )
    # reach fractions from the input
    step("reach fractions from input")
    rf = reach_fractions(net, "input")
    cert.add(
        Check(
            "reach",
            rf["output"],
            method="packed-bitset reachability: fraction of (input, output) channel pairs",
            detail={"from": "input", "fractions": rf},
        )
    )
    cert.summary["reach_output"] = rf["output"]
    if "bound_depth" in wanted:
        # proven bounds on chain segments
        step("chain segments")
        seg_rows = []
        for seg in chain_segments(net):
            eps = uniformity_epsilon(seg.layered, sigma)
            star = None if eps is None else sigma_star(seg.layered, eps_max)
            tan = tanner_depth(
                seg.layered, 0, spectra=layer_spectra(seg.layered, cache=spectra_cache)
            )["bound_depth"]
            seg_rows.append(
                {
                    "start": seg.start,
                    "end": seg.end,
                    "layers": len(seg.layered),
                    "epsilon": eps,
                    "sigma_star": star,
                    "tanner_depth": tan,
                }
            )
        bounded = [r for r in seg_rows if r["epsilon"] is not None]
        worst_seg = max(bounded, key=lambda r: r["epsilon"], default=None)
        cert.add(
            Check(
                "segment_bounds",
                None if worst_seg is None else worst_seg["epsilon"],
                bound=eps_max,
                method=(
                    "proven path-uniformity eps (mixing lemma) and Tanner depth on each chain "
                    "segment; "
                    "no bound across sums, concatenations or flattens"
                ),
                exact=False,
                detail={"segments": seg_rows, "sigma": sigma},
            )
        )
        if worst_seg is not None:
            cert.claims.append(
                f"within each of {len(bounded)} chain segments, paths between sets of >= "
                f"{sigma:.0%} of the channels are proven within +-{worst_seg['epsilon']:.3g} of "
                f"proportional (worst {worst_seg['start']} -> {worst_seg['end']}); no bound is "
                "claimed across joins"
            )
        else:
            cert.claims.append("path counts: no proven uniformity bound applies to this network")
    if chain is not None and "path_uniformity" in wanted:
        spectra = layer_spectra(chain, cache=spectra_cache)
        gu.uniformity_check(cert, chain, spectra, sigma, eps_max)
    # measured deviation
    if samples and "path_mixing" in wanted:
        step(f"exact path counts on {samples} random set pairs")
        starts = list(dict.fromkeys(e.source for e in gedges))
        _deviation_check(cert, net, starts, sigma, samples, seed)
    return cert


def _deviation_check(cert, net, starts, sigma, samples, seed) -> None:
    rng = np.random.default_rng(seed)
    n_t = net.widths["output"]
    by_src: dict[str, list] = {}
    pool = list(starts) or ["input"]  # at most two sources: one exact DP each for P
    pool = [pool[int(k)] for k in rng.choice(len(pool), min(2, len(pool)), replace=False)]
    for _ in range(int(samples)):
        s = pool[int(rng.integers(len(pool)))]
        n_s = net.widths[s]
        a = int(rng.integers(max(1, math.ceil(sigma * n_s - 1e-9)), n_s + 1))
        b = int(rng.integers(max(1, math.ceil(sigma * n_t - 1e-9)), n_t + 1))
        by_src.setdefault(s, []).append(
            (np.sort(rng.choice(n_s, a, replace=False)), np.sort(rng.choice(n_t, b, replace=False)))
        )
    worst, where = 0.0, None
    for s, pairs in by_src.items():
        depth = tensor_depths(net, s)
        total_state = path_limbs(net, s, np.arange(net.widths[s]), depth)["output"]
        p_all = limbs_total(total_state, np.arange(n_t))
        n_s = net.widths[s]
        for sset, tset in pairs:
            count = limbs_total(path_limbs(net, s, sset, depth)["output"], tset)
            pred = Fraction(p_all * len(sset) * len(tset), n_s * n_t)
            rel = (0.0 if count == 0 else math.inf) if pred == 0 else abs(float(count / pred - 1))
            if rel >= worst:
                worst, where = rel, {"source": s, "S": len(sset), "T": len(tset)}
    cert.add(
        Check(
            "path_deviation",
            worst,
            method=(
                f"exact integer path counts on {samples} random (S, T) pairs, S of a start "
                "tensor, T of output, both >= sigma: worst |count/prediction - 1|"
            ),
            exact=True,
            detail={"worst": where, "samples": int(samples), "sigma": sigma},
        )
    )
    cert.summary["path_deviation"] = worst
