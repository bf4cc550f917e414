"""Readable reports of certificates, and a progress line for long steps (library, not CLI).

:func:`format_certificate` renders a graph or layer certificate,
:func:`format_layered` a layered one; :func:`claim_lines` and
:func:`verdict_line` are the shared parts (parameters, the proven claims in
words, and the verdict).  :class:`Progress` reports a step on stderr only once
it has run for more than a second.  The small shared helpers of every report
and command line live here too: :func:`fmt` and :func:`fmt_list` (one value or
a list, for reading), :func:`jsonable` (a JSON-safe copy) and
:func:`first_line` (an exception as one line).  The command-line modules
import these; nothing here imports a command-line module.

Examples
--------
>>> import networkx as nx
>>> from expandergraph import Graph
>>> from expandergraph.certify import certify
>>> print(verdict_line(certify(Graph.from_networkx(nx.petersen_graph()))))
  verdict: PASS
"""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import Any

__all__ = [
    "Progress",
    "fmt",
    "fmt_list",
    "jsonable",
    "first_line",
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


def fmt(x: Any, none: str = "n/a", digits: int = 6) -> str:
    """One value for reading: ``none`` for ``None``, floats to ``digits`` significant digits.

    A mapping is written ``k=v, ...`` (values formatted the same way, a
    ``witness`` entry left out); anything else is ``str(x)``.

    Examples
    --------
    >>> fmt(None), fmt(None, none="null"), fmt(2 / 3), fmt(2 / 3, digits=4)
    ('n/a', 'null', '0.666667', '0.6667')
    >>> fmt({"lower": 0.5, "upper": None, "witness": [1, 2]})
    'lower=0.5, upper=n/a'
    """
    if x is None:
        return none
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    if isinstance(x, dict):
        parts = [f"{k}={fmt(v, none, digits)}" for k, v in x.items() if k != "witness"]
        return ", ".join(parts)
    return str(x)


def fmt_list(xs, none: str = "null", digits: int = 6) -> str:
    """A sequence as ``[a, b, ...]``, each item through :func:`fmt`.

    Examples
    --------
    >>> fmt_list([1, 0.25, None])
    '[1, 0.25, null]'
    """
    return "[" + ", ".join(fmt(x, none, digits) for x in xs) + "]"


def jsonable(x: Any) -> Any:
    """A JSON-safe copy of ``x``: numpy scalars and arrays to Python, non-finite floats to text.

    ``inf``, ``-inf`` and ``nan`` become the strings ``"inf"``, ``"-inf"`` and
    ``"nan"``; mapping keys become strings; tuples become lists.  Python
    integers stay exact (JSON numbers of any size).

    Examples
    --------
    >>> import numpy as np
    >>> jsonable({1: np.float64(0.5), "b": (np.int64(3), float("inf"))})
    {'1': 0.5, 'b': [3, 'inf']}
    """
    import numpy as np

    if isinstance(x, np.generic):
        x = x.item()
    elif isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, float) and not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    return x


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of ``str(exc)`` (the type's name if empty), cut to ``limit`` characters.

    A cut line ends in ``...``; ``limit=None`` keeps the whole first line.

    Examples
    --------
    >>> first_line(ValueError("bad\\nmore")), first_line(KeyError())
    ('bad', 'KeyError')
    >>> first_line(OSError("x" * 9), 6)
    'xxx...'
    """
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    if limit is not None and len(line) > limit:
        return line[: max(limit - 3, 0)] + "..."
    return line


def format_certificate(cert) -> str:
    """Readable multi-line report of a graph certificate."""
    s = cert.summary
    lines = [f"certificate for {cert.subject}", f"  fingerprint  {cert.fingerprint}"]
    for key in ("n", "edges", "left", "right", "degree", "bipartite", "connected"):
        if key in s:
            lines.append(f"  {key:<12} {fmt(s[key])}")
    lines.append("  checks:")
    for c in cert.checks.values():
        verdict = check_verdict(c)
        bound = "" if c.bound is None else f" {c.relation} {fmt(c.bound)}"
        err = "" if c.error is None else f"  (error {c.error:.1e})"
        how = f"  [{c.method}{'' if c.exact else ', bound'}]" if c.method else ""
        lines.append(f"    {verdict:<4} {c.name:<18} {fmt(c.value)}{bound}{err}{how}")
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
        out.append("  parameters: " + ", ".join(f"{k}={fmt(v)}" for k, v in cert.params.items()))
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
            f"{c.name}={fmt(c.value, 'null')}"
            for c in part.checks.values()
            if not isinstance(c.value, dict)
        )
        lines.append(f"    {verdict} {name:<12} {vals}")
    for c in cert.checks.values():
        verdict = check_verdict(c)
        value = str(c.value) if isinstance(c.value, dict) else fmt(c.value, "null")
        bound = "" if c.bound is None else f" {c.relation} {fmt(c.bound, 'null')}"
        lines.append(f"    {verdict:<4} {c.name:<14} {value}{bound}  [{c.method}]")
    lines += claim_lines(cert)
    lines.append(verdict_line(cert))
    return "\n".join(lines)
