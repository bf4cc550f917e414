"""Reading spec files: one reader for YAML and JSON, duplicate keys and size caps refused.

Every error is one ``ValueError`` (a :class:`~expandergraph.limits.SizeLimitError`
for an oversized file) naming the path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .limits import SizeLimitError

__all__ = ["read_spec", "SPEC_SUFFIXES", "MAX_SPEC_BYTES"]

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
MAX_SPEC_BYTES = 16 << 20  # a spec file larger than 16 MiB is refused unread


def _yaml_loader():
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return loader.construct_mapping(node, deep)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return UniqueKeyLoader


def read_spec(path: str | Path) -> Any:
    """The parsed content of a spec file: the one reader every command uses.

    ``.yaml``/``.yml`` (any letter case) are read with a ``yaml.SafeLoader``
    subclass that refuses duplicate keys; ``.json`` with a duplicate-refusing
    ``json`` hook.  Files over :data:`MAX_SPEC_BYTES` and nesting too deep for
    the parser are refused.  Every error is one ``ValueError`` naming ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "S.YAML"
    >>> _ = p.write_text("input: 4\\nlayers: [{out: 4, degree: 2}]\\n")
    >>> read_spec(p)["input"]
    4
    >>> _ = p.write_text("input: 4\\ninput: 8\\n")
    >>> try:
    ...     read_spec(p)
    ... except ValueError as e:
    ...     print(str(e).split(": ", 1)[1])
    malformed YAML (line 2: duplicate key 'input')
    """
    path = Path(path)
    if path.suffix.lower() not in SPEC_SUFFIXES:
        raise ValueError(f"{path}: a spec file must end in .yaml, .yml or .json")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from None
    if size > MAX_SPEC_BYTES:
        raise SizeLimitError(
            f"{path}: spec file of {size} bytes exceeds the {MAX_SPEC_BYTES >> 20} MiB limit "
            f"(parsing it would need several times that in memory)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from None
    try:
        return _parse_text(path, text)
    except RecursionError:
        raise ValueError(f"{path}: nesting too deep to parse") from None


def _parse_text(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":

        def pairs(items):
            out = {}
            for k, v in items:
                if k in out:
                    raise ValueError(f"{path}: malformed JSON (duplicate key {k!r})")
                out[k] = v
            return out

        try:
            return json.loads(text, object_pairs_hook=pairs)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: malformed JSON (line {exc.lineno}: {exc.msg})") from None
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            if str(exc).startswith(f"{path}:"):  # a duplicate key, already located
                raise
            raise ValueError(f"{path}: malformed JSON ({exc})") from None
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ValueError(f"{path}: malformed YAML ({where}{problem})") from None
    except (TypeError, ValueError) as exc:  # e.g. an unhashable key such as {[1]: 2}
        raise ValueError(f"{path}: malformed YAML ({exc})") from None
