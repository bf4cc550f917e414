"""Certificates: what was checked, against which bound, by which method, how accurately.

A :class:`Certificate` is a list of :class:`Check` records plus the subject's
fingerprint, the parameters of its claims (``params``), the names of the
checks its verdict needs (``required``) and the claims in words (``claims``).
It round-trips through JSON (:meth:`Certificate.to_json`,
:meth:`Certificate.from_json`).  The checks themselves are computed in
:mod:`expandergraph.certify` and :mod:`expandergraph.guarantees`.

Verdict semantics (version :data:`SEMANTICS`)
---------------------------------------------
Each required check is a quantitative claim compared with a threshold, with
the value's error interval taken into account: ``passed`` when the whole
interval satisfies the claim, ``failed`` when none of it does, ``undecided``
when the interval straddles the threshold.  A certificate's :attr:`status` is

* ``"failed"`` if a required check (or a part) failed;
* else ``"incomplete"`` if a required check was not run (or a part is incomplete);
* else ``"undecided"`` if a required check (or a part) is undecided;
* else ``"passed"``.

:attr:`Certificate.passed` is ``status == "passed"``.  Certificates written
before these semantics (no ``semantics`` key) load with ``semantics = 1``:
their stored verdicts are kept as they were made (``passed`` then meant "every
required check of that time passed", which did not imply expansion).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .report import jsonable

__all__ = ["Check", "Certificate", "STATUSES", "SEMANTICS", "EXIT_CODES", "decide"]

#: the verdict semantics version written by this code (see the module docstring)
SEMANTICS = 2
#: the states a certificate can be in
STATUSES = ("passed", "failed", "incomplete", "undecided")
#: CLI exit status for each state (2 is reserved for usage and input errors)
EXIT_CODES = {"passed": 0, "failed": 1, "incomplete": 3, "undecided": 4}


def decide(lower: float, upper: float, threshold: float, relation: str = "<=") -> str:
    """Verdict of the claim ``value <relation> threshold`` for ``value`` in ``[lower, upper]``.

    ``relation`` is ``"<="`` or ``">"`` (the two forms the certificates use).
    Returns ``"passed"`` if every value of the interval satisfies the claim,
    ``"failed"`` if none does, else ``"undecided"``.

    Examples
    --------
    >>> decide(0.30, 0.34, 0.9), decide(0.95, 0.96, 0.9), decide(0.89, 0.91, 0.9)
    ('passed', 'failed', 'undecided')
    >>> decide(1.2, 1.5, 1.0, ">"), decide(0.5, 0.9, 1.0, ">")
    ('passed', 'failed')
    """
    if not lower <= upper:
        raise ValueError(f"decide: lower {lower} exceeds upper {upper}")
    if relation == "<=":
        if upper <= threshold:
            return "passed"
        return "failed" if lower > threshold else "undecided"
    if relation == ">":
        if lower > threshold:
            return "passed"
        return "failed" if upper <= threshold else "undecided"
    raise ValueError(f"relation: must be '<=' or '>', got {relation!r}")


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
    passed:   verdict; ``None`` for purely informative checks and undecided ones.
    status:   ``"passed"``, ``"failed"``, ``"undecided"`` or ``"info"``
              (derived from ``passed`` when not given).
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
    status: str = ""

    def __post_init__(self) -> None:
        if not self.status:
            self.status = {True: "passed", False: "failed", None: "info"}[self.passed]
            if self.required and self.passed is None:
                self.status = "undecided"
        elif self.status not in ("passed", "failed", "undecided", "info"):
            raise ValueError(f"status: unknown check status {self.status!r}")

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


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
    required: list[str] = field(default_factory=list)  # checks the verdict needs
    params: dict = field(default_factory=dict)  # parameters of the claims
    claims: list[str] = field(default_factory=list)  # the proven statements, in words
    semantics: int = SEMANTICS
    stored_status: str | None = None  # the verdict as stored (certificates of semantics 1)

    def add(self, check: Check) -> Check:
        self.checks[check.name] = check
        if check.required and check.name not in self.required:
            self.required.append(check.name)
        return check

    def __getitem__(self, name: str) -> Check:
        return self.checks[name]

    def __contains__(self, name: str) -> bool:
        return name in self.checks

    @property
    def required_names(self) -> list[str]:
        """``required`` plus every check flagged ``required`` (a loaded record may lack it)."""
        names = list(self.required)
        names += [n for n, c in self.checks.items() if c.required and n not in names]
        return names

    @property
    def missing(self) -> list[str]:
        """Required checks that were not run."""
        return [n for n in self.required_names if n not in self.checks]

    @property
    def status(self) -> str:
        """``"passed"``, ``"failed"``, ``"incomplete"`` or ``"undecided"`` (module docstring)."""
        if self.semantics < 2 and self.stored_status is not None:
            return self.stored_status
        required = self.required_names
        if not required and not self.parts:
            return "incomplete"  # nothing was claimed: never a vacuous pass
        states = [self.checks[n].status for n in required if n in self.checks]
        states += [p.status for p in self.parts]
        if "failed" in states:
            return "failed"
        if self.missing or "incomplete" in states:
            return "incomplete"
        if "undecided" in states or "info" in states:
            return "undecided"
        return "passed"

    @property
    def passed(self) -> bool:
        """True when :attr:`status` is ``"passed"``: every required check ran, decided, passed."""
        return self.status == "passed"

    def failures(self) -> list[str]:
        """Required checks that did not pass (failed, undecided or not run); parts prefixed."""
        return [p.split(" (")[0] for p in self.problems()]

    def problems(self) -> list[str]:
        """Like :meth:`failures`, each as ``name (state)``: failed, undecided or not run."""
        out = [f"{n} (not run)" for n in self.missing]
        if not self.required_names and not self.parts:
            out.append("nothing (no required check)")
        for n in self.required_names:
            c = self.checks.get(n)
            if c is not None and c.status != "passed":
                out.append(f"{n} ({c.status})")
        for i, p in enumerate(self.parts):
            out += [f"layers[{i}].{f}" for f in p.problems()]
        return out

    def to_dict(self) -> dict:
        return {
            "subject": self.subject,
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "semantics": self.semantics,
            "status": self.status,
            "passed": self.passed,
            "override": self.override,
            "required": list(self.required),
            "params": jsonable(self.params),
            "claims": list(self.claims),
            "summary": jsonable(self.summary),
            "checks": {k: c.to_dict() for k, c in self.checks.items()},
            "parts": [p.to_dict() for p in self.parts],
        }

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_dict(cls, d: dict) -> Certificate:
        """Load a certificate; one written before :data:`SEMANTICS` 2 keeps its stored verdict."""
        if not isinstance(d, dict):
            raise ValueError(f"certificate: expected a mapping, got {type(d).__name__}")
        missing = [k for k in ("subject", "kind", "fingerprint") if k not in d]
        if missing:
            raise ValueError(f"certificate: missing field(s) {', '.join(missing)}")
        try:
            checks = {k: Check(**v) for k, v in d.get("checks", {}).items()}
        except TypeError as exc:
            raise ValueError(f"certificate: malformed check record ({exc})") from None
        try:
            semantics = int(d.get("semantics", 1))
        except (TypeError, ValueError):
            raise ValueError(
                f"certificate: semantics must be an integer, got {d.get('semantics')!r}"
            ) from None
        stored = None
        if semantics < 2:
            stored = "passed" if d.get("passed", False) else "failed"
        return cls(
            subject=d["subject"],
            kind=d["kind"],
            fingerprint=d["fingerprint"],
            checks=checks,
            summary=d.get("summary", {}),
            parts=[cls.from_dict(p) for p in d.get("parts", [])],
            override=d.get("override"),
            required=list(d.get("required", [])),
            params=dict(d.get("params", {})),
            claims=list(d.get("claims", [])),
            semantics=semantics,
            stored_status=stored,
        )

    @classmethod
    def from_json(cls, text: str) -> Certificate:
        return cls.from_dict(json.loads(text))

    def __eq__(self, other) -> bool:
        return isinstance(other, Certificate) and self.to_dict() == other.to_dict()
