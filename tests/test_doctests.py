"""Every docstring example in ``expandergraph`` and ``compiler`` runs, as part of the tests.

Each module is one test; an example marked ``# doctest: +SKIP`` must say why in a comment
before the directive on the same line (``>>> run()  # a minute  # doctest: +SKIP``).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import compiler
import expandergraph

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> list[str]:
    names = []
    for pkg in (expandergraph, compiler):
        names.append(pkg.__name__)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."):
            if info.name.endswith("__main__"):
                continue
            names.append(info.name)
    return sorted(names)


MODULES = _modules()


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # examples may name shipped files relative to the repository
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures = []
    for test in finder.find(module, name):
        if test.filename and Path(test.filename).resolve() != Path(module.__file__).resolve():
            continue  # re-exported objects are tested in their own module
        result = runner.run(test, out=failures.append, clear_globs=True)
        assert result.failed == 0, "".join(failures)


_SKIP = re.compile(r"#\s*doctest:\s*\+SKIP")
#: a reason: a comment before the directive on the same line
#: (``>>> f()  # needs X  # doctest: +SKIP``)
_REASON = re.compile(r"#\s*(?!doctest:)[^#]*[A-Za-z]{3,}[^#]*#\s*doctest:")


def test_skipped_examples_say_why():
    """A skipped example carries its reason on the same line."""
    unexplained = []
    for name in MODULES:
        path = Path(importlib.import_module(name).__file__)
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if _SKIP.search(line) and not _REASON.search(line):
                unexplained.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert not unexplained, "\n".join(unexplained)


def test_examples_exist():
    """The docstrings carry examples (a finder that found none would pass vacuously)."""
    total = 0
    for name in MODULES:
        module = importlib.import_module(name)
        for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
            total += len(test.examples)
    assert total >= 250, total
