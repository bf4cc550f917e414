"""Checkpoints: atomic writes, a content digest, weights-only loading and the same-model check.

Conventions
-----------
* A checkpoint is a dict of tensors and plain python values only, loadable with
  ``torch.load(weights_only=True)``, tagged with :data:`FORMAT` and a sha256
  :func:`digest` of all of it.
* Every file is written by :func:`atomic_write`: a temporary file
  ``.NAME.PID.HEX.tmp`` in the same directory, fsync, ``os.replace``, fsync of the
  directory; so the path holds either the old or the new content, never a part.
* Loading into a model (:func:`load_checkpoint` with ``model``, or
  :func:`check_same_model`) refuses a checkpoint of another model: parameter names
  and shapes, the per-layer graph fingerprints (:func:`model_fingerprints`) and the
  network fingerprint (:func:`network_fingerprint`) recorded in the checkpoint must
  equal the model's.

Reference: the POSIX ``rename`` atomicity guarantee (IEEE Std 1003.1).

Example
-------
>>> import os, tempfile
>>> p = os.path.join(tempfile.mkdtemp(), "c.pt")
>>> save_checkpoint(p, {"epoch": 3})
>>> load_checkpoint(p)["epoch"]
3
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from .config import first_line

__all__ = [
    "FORMAT",
    "TEMP_RE",
    "digest",
    "atomic_write",
    "save_checkpoint",
    "load_checkpoint",
    "check_same_model",
    "model_fingerprints",
    "network_fingerprint",
    "certificates_json",
    "remove_stale_temps",
]

#: format tag stored in every checkpoint
FORMAT = "xnets.checkpoint/1"
#: the name of a temporary file written by :func:`atomic_write` (group 1: the writer's pid)
TEMP_RE = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$")
_PLAIN = (str, int, float, bool, type(None))


def digest(obj, h=None) -> str:
    """sha256 over a nested structure of dicts, lists, tensors and scalars.

    Dict keys are visited in sorted order, tensors by dtype, shape and bytes, anything
    else by its ``repr``; with ``h`` (a ``hashlib`` object) it only feeds ``h`` and
    returns ``""``.

    Example
    -------
    >>> digest({"b": 1, "a": [torch.ones(2)]}) == digest({"a": [torch.ones(2)], "b": 1})
    True
    """
    top = h is None
    h = hashlib.sha256() if top else h
    if isinstance(obj, dict):
        h.update(b"{")
        for k in sorted(obj, key=lambda k: (type(k).__name__, str(k))):
            h.update(repr(k).encode() + b":")
            digest(obj[k], h)
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"[")
        for v in obj:
            digest(v, h)
        h.update(b"]")
    elif isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    else:
        h.update(repr(obj).encode())
    return h.hexdigest() if top else ""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - not all platforms can open a directory
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write ``path`` atomically: ``write(fh)`` fills a fresh temporary file, then it replaces
    ``path``.

    The temporary file ``.NAME.PID.HEX.tmp`` (:data:`TEMP_RE`) is created with
    ``O_EXCL`` next to ``path``, fsynced and moved over ``path`` with ``os.replace``;
    on any error it is removed and ``path`` is untouched.  ``mode`` is ``"wb"`` or ``"w"``.

    Example
    -------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(p, lambda fh: fh.write("hi"), "w")
    >>> p.read_text()
    'hi'
    """
    path = Path(path)
    tmp = str(path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never follow or reuse an existing name; 0o666 & ~umask like open()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _check_plain(obj, where: str) -> None:
    """Refuse anything that ``torch.load(weights_only=True)`` would not load back."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if type(k) not in _PLAIN:
                raise ValueError(f"checkpoint: {where} has a key of type {type(k).__name__}")
            _check_plain(v, f"{where}[{k!r}]")
    elif isinstance(obj, (list, tuple)) and type(obj) in (list, tuple):
        for i, v in enumerate(obj):
            _check_plain(v, f"{where}[{i}]")
    elif not (type(obj) in _PLAIN or isinstance(obj, torch.Tensor)):
        raise ValueError(
            f"checkpoint: {where} is a {type(obj).__name__}; only tensors, dicts, lists, "
            "str, int, float, bool and None are allowed"
        )


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """Write a checkpoint dict atomically, adding the format tag and a sha256 digest.

    The payload may hold only what ``torch.load(weights_only=True)`` accepts
    (tensors, dicts, lists, str, int, float, bool, None); anything else is a
    ``ValueError`` that names where it sits.  It is written to a
    temporary file in the same directory, fsynced, then moved over ``path``
    with ``os.replace``, so ``path`` always holds either the old or the new
    checkpoint, never a partial one.

    Reference: the POSIX ``rename`` atomicity guarantee (IEEE Std 1003.1).

    Example
    -------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "c.pt")
    >>> save_checkpoint(p, {"epoch": 1, "w": torch.ones(2)})
    >>> load_checkpoint(p)["epoch"]
    1
    """
    body = {k: v for k, v in payload.items() if k != "digest"}
    _check_plain(body, "payload")
    body["format"] = FORMAT
    body["digest"] = digest(body)
    buf = io.BytesIO()
    torch.save(body, buf)
    atomic_write(Path(path), lambda fh: fh.write(buf.getvalue()))


def load_checkpoint(path: str | os.PathLike, model: nn.Module | None = None) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`, safely; optionally load its weights.

    Uses ``torch.load(weights_only=True)``, so no code in the file can run.
    Raises a one-line ``ValueError`` for a missing, truncated or corrupted file
    (the stored sha256 digest must match), a foreign file (no xnets format
    tag), or, when ``model`` is given, a checkpoint of a different model
    (:func:`check_same_model`: parameter names, shapes, graph fingerprints or the
    network fingerprint differ).  With ``model``, its ``state_dict`` is loaded
    (strictly) from the checkpoint.

    Example
    -------
    >>> import tempfile, os
    >>> net = nn.Linear(3, 2)
    >>> p = os.path.join(tempfile.mkdtemp(), "c.pt")
    >>> save_checkpoint(p, {"epoch": 0, "model": net.state_dict()})
    >>> sorted(load_checkpoint(p, nn.Linear(3, 2))["model"])
    ['bias', 'weight']
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"checkpoint: {p} does not exist")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged or unsafe files
        text = str(exc)
        m = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if m:
            raise ValueError(
                f"checkpoint: {p} holds objects that weights-only loading refuses (it "
                f"needs the global {m.group(1)}, which is not allowed); no code in it ran"
            ) from None
        if re.search(r"Unsupported class|Trying to (call|instantiate|set)", text):
            raise ValueError(
                f"checkpoint: {p} holds objects that weights-only loading refuses "
                f"({first_line(exc).split('. ')[0][:120]}); no code in it ran"
            ) from None
        raise ValueError(
            f"checkpoint: {p} is corrupt or not a torch file ({first_line(exc).split('. ')[0]})"
        ) from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise ValueError(f"checkpoint: {p} is not an xnets checkpoint (no format tag {FORMAT!r})")
    body = {k: v for k, v in ck.items() if k != "digest"}
    if ck.get("digest") != digest(body):
        raise ValueError(f"checkpoint: {p} is corrupt (content digest mismatch)")
    if model is not None:
        check_same_model(model, ck, p)
        model.load_state_dict(ck["model"])
    return ck


def check_same_model(model: nn.Module, ck: dict, path: Path) -> None:
    """Refuse, with a one-line ``ValueError``, a checkpoint ``ck`` that is not for ``model``.

    Checked in order: the weights' names and shapes; the per-layer graph
    fingerprints recorded under ``"fingerprints"`` against :func:`model_fingerprints`;
    the network fingerprint recorded under ``"network_fingerprint"`` against
    :func:`network_fingerprint` (the one ``xnet demo`` compares with the network
    certificate).  A record or a model without fingerprints skips that check.

    Example
    -------
    >>> net = nn.Linear(2, 2)
    >>> check_same_model(net, {"model": nn.Linear(3, 2).state_dict()}, Path("c.pt"))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: checkpoint: c.pt is for a different model ('weight' has shape [2, 3] ...
    """
    theirs = ck.get("model")
    if not isinstance(theirs, dict):
        raise ValueError(f"checkpoint: {path} holds no model weights")
    ours = model.state_dict()
    missing = [k for k in ours if k not in theirs]
    extra = [k for k in theirs if k not in ours]
    if missing or extra:
        what = f"lacks {missing[0]!r}" if missing else f"has unexpected {extra[0]!r}"
        raise ValueError(f"checkpoint: {path} is for a different model (it {what})")
    for k, v in ours.items():
        if not isinstance(v, torch.Tensor):  # extra state, checked by the module itself
            continue
        if not isinstance(theirs[k], torch.Tensor) or tuple(theirs[k].shape) != tuple(v.shape):
            raise ValueError(
                f"checkpoint: {path} is for a different model ({k!r} has shape "
                f"{list(getattr(theirs[k], 'shape', []))} there, {list(v.shape)} here)"
            )
    fp_theirs, fp_ours = ck.get("fingerprints") or [], model_fingerprints(model)
    if fp_theirs and fp_ours and list(fp_theirs) != list(fp_ours):
        i = next(
            (i for i, (a, b) in enumerate(zip(fp_theirs, fp_ours)) if a != b),
            min(len(fp_theirs), len(fp_ours)),
        )
        raise ValueError(
            f"checkpoint: {path} is for a different model (graph fingerprint {i} differs)"
        )
    recorded = ck.get("network_fingerprint")
    if recorded is not None:
        actual = network_fingerprint(model)
        if actual is not None and str(recorded) != actual:
            raise ValueError(
                f"checkpoint: {path} is for a different network (network fingerprint "
                f"{str(recorded)[:12]} recorded, {actual[:12]} in the model)"
            )


def _cert_fingerprints(cert) -> list[str]:
    if cert is None:
        return []
    if isinstance(cert, dict):
        # an XNet's {"layers[i]": layer cert, ..., "network": layered cert}: the layers
        layers = [
            c for c in cert.values() if getattr(c, "kind", None) not in ("layered", "network")
        ]
        return [f for c in (layers or cert.values()) for f in _cert_fingerprints(c)]
    if isinstance(cert, (list, tuple)):
        return [f for c in cert for f in _cert_fingerprints(c)]
    parts = getattr(cert, "parts", None)
    if parts:
        return [f for c in parts for f in _cert_fingerprints(c)]
    fp = getattr(cert, "fingerprint", None)
    return [str(fp)] if fp else []


def model_fingerprints(model: nn.Module) -> list[str]:
    """Graph fingerprints of a model's expander layers, in order (``[]`` for a plain model).

    Read from ``model.certificates``: a dict (an ``XNet``'s ``{"layers[i]":
    certificate, ..., "network": layered certificate}``) yields its per-layer
    certificates' fingerprints in order, the layered ones only when it has no
    other; a layered certificate yields one fingerprint per part; a list is
    concatenated in order.

    Example
    -------
    >>> model_fingerprints(nn.Linear(2, 2))
    []
    """
    model = getattr(model, "module", model)
    return _cert_fingerprints(getattr(model, "certificates", None))


def network_fingerprint(model: nn.Module) -> str | None:
    """The fingerprint of the network graph read back out of ``model``, or ``None``.

    It is :func:`compiler.network.extract_graph` ``(model).fingerprint``: rebuilt from
    the model's ELL index buffers, so it equals
    ``model.certificates["network"].fingerprint`` for a model built by
    :func:`compiler.compile`.  ``None`` for a model without expander layers or whose
    layers form no network graph.  A ``DistributedDataParallel`` wrapper is looked through.

    Example
    -------
    >>> network_fingerprint(nn.Linear(2, 2)) is None
    True
    """
    from compiler.network import expander_layers, extract_graph

    model = getattr(model, "module", model)
    if not expander_layers(model):
        return None
    try:
        return str(extract_graph(model).fingerprint)
    except ValueError:  # expander modules that do not form a chain or a spec'd network
        return None


def certificates_json(model: nn.Module) -> str | None:
    """``model.certificates`` as JSON (what a checkpoint records), or ``None`` without any.

    Example
    -------
    >>> certificates_json(nn.Linear(2, 2)) is None
    True
    """
    cert = getattr(getattr(model, "module", model), "certificates", None)
    if cert is None:
        return None

    def conv(c):
        if isinstance(c, dict):
            return {str(k): conv(v) for k, v in c.items()}
        if isinstance(c, (list, tuple)):
            return [conv(v) for v in c]
        return c.to_dict() if hasattr(c, "to_dict") else str(c)

    return json.dumps(conv(cert))


def remove_stale_temps(out: Path) -> list[str]:
    """Delete temporary files that a killed writer left in ``out`` (see :func:`atomic_write`).

    A temp file is named ``.NAME.PID.HEX.tmp``; it is removed unless process
    ``PID`` is this one or still alive.  Returns the names removed.

    Example
    -------
    >>> import tempfile
    >>> remove_stale_temps(Path(tempfile.mkdtemp()))
    []
    """
    removed = []
    for f in out.iterdir():
        m = TEMP_RE.match(f.name)
        if not m or not f.is_file():
            continue
        pid = int(m.group(1))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # alive: may be writing right now
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError, OSError):
            continue
        try:
            f.unlink()
            removed.append(f.name)
        except OSError:  # pragma: no cover - raced with another cleaner
            pass
    return removed
