"""Readable reports of certificates, and a progress line for long steps (library, not CLI).

:func:`format_certificate` renders a graph or layer certificate,
:func:`format_layered` a layered one; :func:`claim_lines` and
:func:`verdict_line` are the shared parts (parameters, the proven claims in
words, and the verdict).  :class:`Progress` reports a step on stderr only once
it has run for more than a second.  The command-line modules import these;
nothing here imports a command-line module.

Examples
--------
>>> import networkx as nx
>>> from expandergraph import Graph
>>> from expandergraph.certify import certify
>>> print(verdict_line(certify(Graph.from_networkx(nx.petersen_graph()))))
  verdict: PASS
"""

from __future__ import annotations

import sys
import threading
import time

__all__ = [
    "Progress",
    "format_certificate",
    "format_layered",
    "check_verdict",
    "claim_lines",
    "verdict_line",
]


class Progress:
    """Reports a step on stderr only once it has run for more than ``delay`` seconds."""

    def __init__(self, stream=None, delay: float = 1.0):
        self.stream = stream or sys.stderr
        self.delay = delay
        self._timer: threading.Timer | None = None
        self._step: str | None = None
        self._start = 0.0
        self._shown = False

    def _show(self) -> None:
        self._shown = True
        print(f"  ... {self._step}", file=self.stream, flush=True)

    def __call__(self, step: str) -> None:
        self.finish()
        self._step, self._start, self._shown = step, time.perf_counter(), False
        self._timer = threading.Timer(self.delay, self._show)
        self._timer.daemon = True
        self._timer.start()

    def finish(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            if self._shown:
                took = time.perf_counter() - self._start
                print(f"      {self._step}: done in {took:.1f} s", file=self.stream, flush=True)
        self._timer = None


def _fmt(x) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, dict):
        parts = [f"{k}={_fmt(v)}" for k, v in x.items() if k != "witness"]
        return ", ".join(parts)
    return str(x)


def format_certificate(cert) -> str:
    """Readable multi-line report of a graph certificate."""
    s = cert.summary
    lines = [f"certificate for {cert.subject}", f"  fingerprint  {cert.fingerprint}"]
    for key in ("n", "edges", "left", "right", "degree", "bipartite", "connected"):
        if key in s:
            lines.append(f"  {key:<12} {_fmt(s[key])}")
    lines.append("  checks:")
    for c in cert.checks.values():
        verdict = check_verdict(c)
        bound = "" if c.bound is None else f" {c.relation} {_fmt(c.bound)}"
        err = "" if c.error is None else f"  (error {c.error:.1e})"
        how = f"  [{c.method}{'' if c.exact else ', bound'}]" if c.method else ""
        lines.append(f"    {verdict:<4} {c.name:<18} {_fmt(c.value)}{bound}{err}{how}")
    lines += claim_lines(cert)
    lines.append(verdict_line(cert))
    return "\n".join(lines)


def check_verdict(c) -> str:
    """``PASS``, ``FAIL``, ``UNDECIDED`` or ``info`` for one check."""
    return {"passed": "PASS", "failed": "FAIL", "undecided": "UNDECIDED"}.get(c.status, "info")


def claim_lines(cert) -> list[str]:
    """The certificate's parameters and proven claims, one per line."""
    out = []
    if cert.params:
        out.append("  parameters: " + ", ".join(f"{k}={_fmt(v)}" for k, v in cert.params.items()))
    if cert.claims:
        out.append("  claims:")
        out += [f"    - {c}" for c in cert.claims]
    return out


def verdict_line(cert) -> str:
    """``verdict: PASS`` or ``verdict: FAILED|INCOMPLETE|UNDECIDED: <what>``."""
    if cert.passed:
        return "  verdict: PASS"
    return f"  verdict: {cert.status.upper()}: {', '.join(cert.problems())}"


def format_layered(cert) -> str:
    """Readable report of a layered certificate: one line per layer, then the guarantees."""
    s = cert.summary
    lines = [
        f"layered certificate for {cert.subject}",
        f"  fingerprint  {cert.fingerprint}",
        f"  widths       {s.get('widths')}",
    ]
    for k, part in enumerate(cert.parts):
        name = s.get("names", [None] * len(cert.parts))[k] or f"layers[{k}]"
        verdict = "PASS" if part.passed else part.status.upper()
        vals = ", ".join(
            f"{c.name}={_fmt_null(c.value)}"
            for c in part.checks.values()
            if not isinstance(c.value, dict)
        )
        lines.append(f"    {verdict} {name:<12} {vals}")
    for c in cert.checks.values():
        verdict = check_verdict(c)
        bound = "" if c.bound is None else f" {c.relation} {_fmt_null(c.bound)}"
        lines.append(f"    {verdict:<4} {c.name:<14} {_fmt_null(c.value)}{bound}  [{c.method}]")
    lines += claim_lines(cert)
    lines.append(verdict_line(cert))
    return "\n".join(lines)


def _fmt_null(x) -> str:
    if x is None:
        return "null"
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


def _fmt_list(xs) -> str:
    return "[" + ", ".join(_fmt_null(x) for x in xs) + "]"
