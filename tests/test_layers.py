"""The import rules of design.md, checked by import-linter (contracts in pyproject.toml).

An editable install maps kpudesk.* onto the three top-level folders through a path hook
that import-linter's file walker cannot follow, so the check runs on a copy laid out as an
installed package would be.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> Path:
    """A console script of the test extras: beside this interpreter (a venv, pyenv), or on
    PATH (a venv made with --system-site-packages finds the packages of the base one)."""
    beside = Path(sys.executable).with_name(name)
    found = beside if beside.exists() else shutil.which(name)
    assert found, f"{name} is missing: run `bash tests/setup.sh` (it installs the test extras)"
    return Path(found)


def test_import_contracts_hold(tmp_path):
    pkg = tmp_path / "kpudesk"
    pkg.mkdir()
    for part in ("daemon", "mailbox", "tickets"):
        shutil.copytree(ROOT / part, pkg / part, ignore=shutil.ignore_patterns("__pycache__"))
    assert not (pkg / "mailbox" / "__init__.py").exists()  # never shadows the stdlib's mailbox
    lint = _tool("lint-imports")
    r = subprocess.run([str(lint), str(ROOT / "pyproject.toml")], cwd=tmp_path, capture_output=True, text=True,
                       env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def test_ruff_finds_no_errors_and_no_unexplained_import_inside_a_function():
    """pyproject.toml [tool.ruff.lint]: pyflakes errors, and PLC0415 — an import inside a
    function only with a `# noqa: PLC0415 - lazy: why` comment (no cycle hidden that way)."""
    ruff = _tool("ruff")
    r = subprocess.run([str(ruff), "check", "--no-cache", "daemon", "mailbox", "tickets"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    for line in subprocess.run(["grep", "-rn", "noqa: PLC0415", "daemon", "mailbox", "tickets"], cwd=ROOT,
                               capture_output=True, text=True).stdout.splitlines():
        assert "lazy:" in line, f"an in-function import without its reason: {line}"
