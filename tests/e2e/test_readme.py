"""Everything the README shows must work.

* Every ```python block runs as it stands, in a fresh interpreter, in a temporary directory.
* Every command in a ```bash block that starts with ``expandergraph``, ``xnet`` or
  ``python3 -m compiler.`` runs from the repository root and exits 0, unless its line carries
  the marker ``# readme-test: skip (reason)`` or it is one of the install commands (which
  chain ``pip install``); output paths under ``runs/`` are redirected into a temporary
  directory so the checkout stays clean.
* The markers are few and each names its reason; the two commands are present.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SKIP = "# readme-test: skip"
CHECKED_PREFIXES = ("expandergraph ", "xnet ", "python3 -m compiler.")


def _blocks(lang: str) -> list[str]:
    return [m.group(1) for m in re.finditer(rf"^ *```{lang}\n(.*?)^ *```", README, re.M | re.S)]


def _commands() -> list[str]:
    out = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


PYTHON_BLOCKS = _blocks("python")
COMMANDS = _commands()
CHECKED = [
    c
    for c in COMMANDS
    if c.startswith(CHECKED_PREFIXES) and SKIP not in c and "pip install" not in c
]


def test_the_two_commands_are_there():
    install = [c for c in COMMANDS if c.startswith("python3 -m pip install")]
    assert len(install) == 2
    assert install[0].endswith(("&& python3 -m compiler.demo", "&& xnet demo"))
    assert install[1].endswith("python3 -m pytest -q -n 2 tests")
    for c in install:
        assert "-c constraints.txt" in c
    # .ci/run runs exactly the README's test command
    assert install[1] in (ROOT / ".ci" / "run").read_text()
    assert "## Conventions" in README


def test_blocks_were_found():
    assert len(PYTHON_BLOCKS) >= 3  # the three jobs of the tour
    assert len(CHECKED) >= 8
    skipped = [c for c in COMMANDS if SKIP in c]
    for c in skipped:  # every skip says why
        assert re.search(r"# readme-test: skip \(.+\)$", c), c


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_python_block_runs(index, tmp_path):
    script = tmp_path / f"block_{index}.py"
    script.write_text(PYTHON_BLOCKS[index])
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"README python block {index} failed:\n{proc.stderr[-3000:]}"
    assert proc.stdout.strip(), "every block prints something"


@pytest.mark.parametrize("command", CHECKED, ids=[c[:60] for c in CHECKED])
def test_command_runs(command, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    argv = [
        a.replace("runs/", f"{runs}/") if a.startswith("runs/") else a for a in shlex.split(command)
    ]
    if argv[:2] == ["python3", "-m"]:
        argv[0] = sys.executable
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f"{command}\n{proc.stderr[-3000:]}"
    assert proc.stdout.strip() or proc.stderr.strip()
    for arg in argv:  # every output path the command names under runs/ now exists
        if arg.startswith(str(runs)):
            assert Path(arg).exists(), arg
