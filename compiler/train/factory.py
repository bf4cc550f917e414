"""Building the model to train: from a spec file, a model-zoo name or a ``module:function``.

Conventions: a spec's top-level ``seed`` is set to the run seed (so it fixes the
expander graphs) and the spec is lowered by :func:`compiler.compile.compile`; a factory
or a zoo builder is called with those of ``num_classes``, ``input_shape``, ``seed``,
``backend`` and the user's options that it accepts.  Every refusal is a one-line
``ValueError`` that starts with ``model:``.

Example
-------
>>> net, flat = build_model("torch.nn:Identity")
>>> type(net).__name__, flat
('Identity', False)
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch.nn as nn

from compiler.compile import compile as compile_spec

from ..data import Dataset
from .config import TrainConfig, first_line, is_int

__all__ = ["SPEC_SUFFIXES", "build_model", "resolve_model", "read_spec"]

#: file-name endings that mark a spec file
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
_FACTORY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _call_with_supported(func: Callable, options: dict, *args):
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return func(*args)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return func(*args, **options)
    return func(*args, **{k: v for k, v in options.items() if k in params})


def _spec_flatten(raw: dict, data: Dataset | None, path: str) -> bool:
    """Whether a spec's ``input`` needs the images flattened; error if it cannot match."""
    if data is None or "input" not in raw:
        return False
    inp, shape = raw["input"], data.shape
    if is_int(inp):
        if inp == int(np.prod(shape)):
            return True
        raise ValueError(
            f"model: spec {path} input {inp} does not match {data.name} images of shape "
            f"{'x'.join(map(str, shape))} (flattened: {int(np.prod(shape))})"
        )
    if isinstance(inp, (list, tuple)) and all(is_int(v) for v in inp):
        if tuple(inp) == shape:
            return False
        if len(inp) == 1 and inp[0] == int(np.prod(shape)):
            return True
        raise ValueError(
            f"model: spec {path} input {list(inp)} does not match {data.name} images of shape "
            f"{list(shape)}"
        )
    return False


def build_model(
    name_or_spec: str,
    *,
    seed: int = 0,
    backend: str | None = None,
    data: Dataset | None = None,
    options: dict | None = None,
    allow_uncertified: bool = False,
) -> tuple[nn.Module, bool]:
    """Build the model that ``name_or_spec`` names; return ``(model, flatten_inputs)``.

    ``name_or_spec`` is one of:

    * a ``.yaml``/``.yml``/``.json`` spec file: it is read, its top-level
      ``seed`` is set to ``seed`` (so the run seed fixes the graphs), and it is
      lowered by ``compiler.compile(spec, backend=..., allow_uncertified=...)``.
      When the spec's ``input`` is an int ``F`` and ``data`` holds images
      ``(C, H, W)`` with ``C*H*W == F``, ``flatten_inputs`` is True (the
      trainer flattens every batch); any other mismatch is an error.
    * ``package.module:function``: a model factory, called with those of
      ``num_classes``, ``input_shape``, ``seed``, ``backend`` and ``options``
      that it accepts.
    * a model name for ``compiler.models.build(name, **options)``.

    Example
    -------
    >>> net, flat = build_model("torch.nn:Identity")
    >>> type(net).__name__, flat
    ('Identity', False)
    """
    options = dict(options or {})
    extra: dict[str, Any] = {"seed": seed}
    if backend is not None:
        extra["backend"] = backend
    if data is not None:
        extra.update(num_classes=data.num_classes, input_shape=data.shape)
    text = str(name_or_spec)
    if text.lower().endswith(SPEC_SUFFIXES):
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"model: spec file {text!r} does not exist")
        raw = read_spec(path)
        raw["seed"] = seed
        flatten = _spec_flatten(raw, data, text)
        model = compile_spec(raw, backend=backend, allow_uncertified=allow_uncertified)
        return model, flatten
    if _FACTORY_RE.match(text):
        mod_name, func_name = text.split(":")
        try:
            func = getattr(importlib.import_module(mod_name), func_name)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"model: cannot import {text!r} ({first_line(exc)})") from None
        _check_factory(text, func, mod_name)
        try:
            model = _call_with_supported(func, {**extra, **options})
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(
                f"model: factory {text!r} could not build a model for input shape "
                f"{extra.get('input_shape')} ({first_line(exc)[:160]})"
            ) from None
    else:
        try:
            models = importlib.import_module("compiler.models")
            build = models.build
        except (ImportError, AttributeError):
            raise ValueError(
                f"model: unknown model {text!r} (not a spec file or module:function, and "
                "compiler.models is not available)"
            ) from None
        try:
            model = _call_with_supported(build, {**extra, **options}, text)
        except KeyError:
            raise ValueError(f"model: unknown model {text!r}") from None
        if isinstance(model, dict) or hasattr(model, "raw"):
            model = compile_spec(model, backend=backend, allow_uncertified=allow_uncertified)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model: {text!r} built a {type(model).__name__}, not a torch.nn.Module")
    return model, False


def resolve_model(
    model, cfg: TrainConfig, train: Dataset, options: dict
) -> tuple[nn.Module, bool, str]:
    """The module :func:`compiler.train.fit` trains: ``(module, flatten_inputs, name)``.

    ``model`` is a module (used as is), a name or spec path (:func:`build_model`
    with the run's seed, backend and ``train``'s shape) or a factory (called with
    those of ``num_classes``, ``input_shape``, ``seed`` and ``options`` it accepts).

    Example
    -------
    >>> net, flat, name = resolve_model(nn.Identity(), TrainConfig(), None, {})
    >>> flat, name
    (False, 'Identity')
    """
    if isinstance(model, nn.Module):
        return model, False, type(model).__name__
    if isinstance(model, (str, os.PathLike)):
        net, flat = build_model(
            str(model),
            seed=cfg.seed,
            backend=cfg.backend,
            data=train,
            options=options,
            allow_uncertified=cfg.allow_uncertified,
        )
        return net, flat, str(model)
    if callable(model):
        extra = {"num_classes": train.num_classes, "input_shape": train.shape, "seed": cfg.seed}
        net = _call_with_supported(model, {**extra, **options})
        if not isinstance(net, nn.Module):
            raise ValueError(f"model: the factory returned a {type(net).__name__}, not a Module")
        return net, False, getattr(model, "__name__", type(model).__name__)
    raise ValueError(f"model: expected a Module, a factory or a name, got {type(model).__name__}")


def _check_factory(text: str, func, mod_name: str) -> None:
    """Refuse a ``module:function`` that cannot be a model builder.

    Accepted: a Python function, or a ``torch.nn.Module`` subclass, whose result
    is then checked to be an ``nn.Module``.  Refused before any call: builtins
    (``builtins:exec``), other classes, and non-callables.
    """
    if mod_name == "builtins" or inspect.isbuiltin(func) or not callable(func):
        raise ValueError(
            f"model: {text!r} is not a model builder (a function or nn.Module class that "
            "builds a model for the input shape)"
        )
    if inspect.isclass(func) and not issubclass(func, nn.Module):
        raise ValueError(f"model: {text!r} is a class but not a torch.nn.Module subclass")


def read_spec(path: Path) -> dict:
    """The spec file as a dict, through :func:`expandergraph.specfile.read_spec` (the one spec
    reader: duplicate keys, oversized files and over-deep nesting are refused).

    Errors are one line: ``model: cannot parse spec PATH (...)``.

    Example
    -------
    >>> read_spec(Path("compiler/specs/tiny-mlp.yaml"))["input"]
    64
    """
    from expandergraph.spec import read_spec as read_spec_file

    try:
        raw = read_spec_file(path)
    except ValueError as exc:
        msg = str(exc).removeprefix(f"{path}: ")
        raise type(exc)(f"model: cannot parse spec {path} ({msg})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"model: spec {path} must be a mapping at the top level")
    return dict(raw)
