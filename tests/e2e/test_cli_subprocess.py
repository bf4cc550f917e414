"""Both command lines, run as real subprocesses: a bad input gives one line and no traceback."""

import subprocess
import sys


def test_subprocess_no_traceback(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("0 a\n")
    r = subprocess.run(
        [sys.executable, "-m", "expandergraph", "certify", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "'a' is not a non-negative integer" in r.stderr


def test_no_traceback_in_a_subprocess(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("input: 8\nlayers:\n  - out: 8\n    degree: 99\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "expandergraph",
            "paths",
            str(path),
            "--from-layer",
            "0",
            "--sources",
            "0",
            "--to-layer",
            "1",
            "--targets",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        "expandergraph: error: layers[0].degree: 99 exceeds the layer's input width 8"
    )


def test_module_entry_point_prints_no_traceback(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("input: 16\nlayers:\n  - out: 8\n    density: 2\n")
    proc = subprocess.run(
        [sys.executable, "-m", "compiler.cli", "compile", str(p), "--summary"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "xnet: error: layers[0].density: must be in (0, 1], got 2.0"
