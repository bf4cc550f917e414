"""Certificates: what was checked, against which bound, by which method, how accurately.

A :class:`Certificate` is a list of :class:`Check` records plus the subject's
fingerprint.  It round-trips through JSON (:meth:`Certificate.to_json`,
:meth:`Certificate.from_json`).  The checks themselves are computed in
:mod:`expandergraph.certify`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Check", "Certificate"]


def _clean(x: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, non-finite floats to strings."""
    try:
        import numpy as np

        if isinstance(x, np.generic):
            x = x.item()
        elif isinstance(x, np.ndarray):
            x = x.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(x, float) and not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


@dataclass
class Check:
    """One verified quantity.

    Attributes
    ----------
    name:     short key, e.g. ``"lambda"`` or ``"vertex_expansion"``.
    value:    the computed value (``None`` when only bounds are known).
    bound:    what it was compared with (a number, or ``[lower, upper]``).
    relation: how ``value`` relates to ``bound`` for a pass: ``"<="``, ``">="``,
              ``"<"``, ``">"``, ``"=="``, ``"in"`` or ``"info"`` (nothing to pass).
    method:   how it was computed (``"dense eigvalsh"``, ``"lanczos"``, ...).
    error:    numerical error estimate (e.g. eigen-solver residual), or ``None``.
    passed:   verdict; ``None`` for purely informative checks.
    required: whether the certificate's overall verdict depends on it.
    exact:    whether ``value`` is exact (as opposed to a bound or estimate).
    detail:   free-form extra data (witness sets, bounds, timings).
    """

    name: str
    value: Any
    bound: Any = None
    relation: str = "info"
    method: str = ""
    error: float | None = None
    passed: bool | None = None
    required: bool = False
    exact: bool = True
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return _clean(asdict(self))


@dataclass
class Certificate:
    """The checks of one graph, layer or layered graph, keyed by check name."""

    subject: str
    kind: str  # "graph", "bipartite" or "layered"
    fingerprint: str
    checks: dict[str, Check] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    parts: list[Certificate] = field(default_factory=list)
    override: str | None = None  # set when a failing certificate was accepted explicitly

    def add(self, check: Check) -> Check:
        self.checks[check.name] = check
        return check

    def __getitem__(self, name: str) -> Check:
        return self.checks[name]

    @property
    def passed(self) -> bool:
        """True when every required check (and every part) passed."""
        own = all(c.passed for c in self.checks.values() if c.required)
        return own and all(p.passed for p in self.parts)

    def failures(self) -> list[str]:
        """Names of the required checks that failed, parts prefixed by their index."""
        out = [c.name for c in self.checks.values() if c.required and not c.passed]
        for i, p in enumerate(self.parts):
            out += [f"layers[{i}].{f}" for f in p.failures()]
        return out

    def to_dict(self) -> dict:
        return {
            "subject": self.subject,
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "passed": self.passed,
            "override": self.override,
            "summary": _clean(self.summary),
            "checks": {k: c.to_dict() for k, c in self.checks.items()},
            "parts": [p.to_dict() for p in self.parts],
        }

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_dict(cls, d: dict) -> Certificate:
        checks = {k: Check(**v) for k, v in d.get("checks", {}).items()}
        return cls(
            subject=d["subject"],
            kind=d["kind"],
            fingerprint=d["fingerprint"],
            checks=checks,
            summary=d.get("summary", {}),
            parts=[cls.from_dict(p) for p in d.get("parts", [])],
            override=d.get("override"),
        )

    @classmethod
    def from_json(cls, text: str) -> Certificate:
        return cls.from_dict(json.loads(text))

    def __eq__(self, other) -> bool:
        return isinstance(other, Certificate) and self.to_dict() == other.to_dict()
