"""The layered certificate: every layer's checks plus the paper's two guarantees.

:func:`certify_layered` certifies a :class:`LayeredGraph` as a whole.  Its
``parts`` are the per-layer certificates of :func:`expandergraph.certify.certify`
(``degrees`` and ``spectrum`` by default); its own checks are

* ``reach_depth`` (required): the measured depth after which every input node
  reaches every node (:func:`expandergraph.mixing.reachability`); passes when it
  is not ``None``, i.e. when the network mixes completely within its layers;
* ``bound_depth`` (info): Tanner's spectral bound on that depth
  (:func:`expandergraph.mixing.tanner_depth`);
* ``path_mixing`` (required when a bound exists): the worst normalised deviation
  ``|count - predicted| / error_bound`` of exact path counts over random
  ``(S, T)`` pairs (:func:`expandergraph.paths.sampled_mixing`); passes when
  ``<= 1``.

This is the certificate the compiler attaches to models.

References: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018 §3;
R. M. Tanner (1984); Hoory, Linial and Wigderson, Bull. AMS 43 (2006) §2.4, §4.6.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .certificate import Certificate, Check
from .layered import LayeredGraph

__all__ = ["certify_layered", "LAYERED_CHECKS", "LAYER_CHECKS"]

#: checks computed on the whole layered graph
LAYERED_CHECKS = ("reach_depth", "bound_depth", "path_mixing")
#: default per-layer checks (passed to :func:`expandergraph.certify.certify`)
LAYER_CHECKS = ("degrees", "spectrum")


def certify_layered(
    lg: LayeredGraph,
    *,
    checks: Sequence[str] | None = None,
    layer_checks: Sequence[str] | None = None,
    samples: int = 64,
    seed: int = 0,
    subject: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Certificate:
    """Certify every layer of ``lg`` and the two guarantees across layers.

    ``checks`` selects among :data:`LAYERED_CHECKS` (default all);
    ``layer_checks`` are passed to :func:`expandergraph.certify.certify` for each
    layer (default :data:`LAYER_CHECKS`; an empty list skips the parts).
    ``samples`` random ``(S, T)`` pairs (seeded by ``seed``) enter ``path_mixing``.
    ``progress`` is called with a short description of each step.  The result has
    ``kind="layered"``, the layered fingerprint, one part per layer, and a
    ``summary`` with the widths, degrees and layer names.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3 (both guarantees).

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> full = BipartiteGraph.from_ell(4, [[0, 1, 2, 3]] * 4)
    >>> cert = certify_layered(LayeredGraph([full, full]), layer_checks=())
    >>> cert["reach_depth"].value, cert["bound_depth"].value, cert.passed
    (1, 1, True)
    """
    from .mixing import layer_spectrum, reachability, tanner_depth
    from .paths import sampled_mixing

    if not isinstance(lg, LayeredGraph):
        raise ValueError(f"lg: expected a LayeredGraph, got {type(lg).__name__}")
    wanted = tuple(LAYERED_CHECKS if checks is None else checks)
    for name in wanted:
        if name not in LAYERED_CHECKS:
            raise ValueError(
                f"checks: unknown layered check {name!r} (known: {', '.join(LAYERED_CHECKS)})"
            )
    per_layer = tuple(LAYER_CHECKS if layer_checks is None else layer_checks)

    def step(msg: str) -> None:
        if progress is not None:
            progress(msg)

    cert = Certificate(
        subject=subject or f"layered graph {lg.widths}",
        kind="layered",
        fingerprint=lg.fingerprint,
    )
    cert.summary = {
        "layers": len(lg),
        "widths": lg.widths,
        "names": lg.names,
        "degrees": [layer.degree for layer in lg],
        "edges": [layer.num_edges for layer in lg],
        "blocks": [layer.block for layer in lg],
        "fingerprints": lg.fingerprints,
    }
    if per_layer:
        from .certify import certify

        for k, layer in enumerate(lg):
            step(f"certifying {lg.names[k] or f'layers[{k}]'}")
            cert.parts.append(certify(layer, checks=per_layer, progress=progress))
    spectra = None
    if "bound_depth" in wanted or "path_mixing" in wanted:
        spectra = []
        for k, layer in enumerate(lg):
            step(f"singular values of layer {k}")
            spectra.append(layer_spectrum(layer))
    if "reach_depth" in wanted:
        step("reachability (packed bitsets)")
        r = reachability(lg, 0, progress=progress)
        cert.add(
            Check(
                "reach_depth",
                r.reach_depth,
                bound=len(lg),
                relation="<=",
                method="packed-bitset reachability over all (input, node) pairs",
                passed=r.reach_depth is not None,
                required=True,
                exact=True,
                detail={
                    "reach_fraction": r.reach_fraction,
                    "connected_pairs": r.connected_pairs,
                },
            )
        )
    if "bound_depth" in wanted:
        step("Tanner bound on the depth")
        t = tanner_depth(lg, 0, spectra=spectra)
        cert.add(
            Check(
                "bound_depth",
                t["bound_depth"],
                relation="info",
                method=t["method"],
                error=max((s.error for s in spectra), default=0.0),
                exact=False,
                detail={"mu": t["mu"], "closed_form": t["closed_form"]},
            )
        )
    if "path_mixing" in wanted:
        step(f"path counts on {samples} random set pairs")
        res = sampled_mixing(lg, samples, seed=seed, spectra=spectra)
        bounded = res["bounded"] > 0
        cert.add(
            Check(
                "path_mixing",
                res["worst_normalised_deviation"],
                bound=1.0 if bounded else None,
                relation="<=" if bounded else "info",
                method=f"exact integer path counts on {res['samples']} random (S, T) pairs "
                "vs the mixing-lemma bound",
                error=max((s.error for s in spectra), default=0.0),
                passed=(res["violations"] == 0) if bounded else None,
                required=bounded,
                exact=True,
                detail={k: res[k] for k in ("samples", "bounded", "violations", "worst")},
            )
        )
    return cert
