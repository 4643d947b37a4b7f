"""The package layout promise: `import mailbox` is always the standard library's."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STDLIB_MAILBOX = "import mailbox, sys; print(mailbox.__file__); print(hasattr(mailbox, 'Maildir'))"


def run_py(code: str, cwd: Path) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_import_mailbox_from_the_repo_root_is_the_standard_library():
    path, has_maildir = run_py(STDLIB_MAILBOX, ROOT)
    assert has_maildir == "True"
    assert not path.startswith(str(ROOT))


def test_import_mailbox_when_installed_is_the_standard_library(tmp_path):
    path, has_maildir = run_py(STDLIB_MAILBOX, tmp_path)
    assert has_maildir == "True" and not path.startswith(str(ROOT))


def test_our_mailbox_is_a_namespace_portion_without_init():
    assert not (ROOT / "mailbox" / "__init__.py").exists()
    out = run_py("import kpudesk.mailbox.imap as m, aiosmtpd.handlers; print(m.__name__)", ROOT)
    assert out == ["kpudesk.mailbox.imap"]


def test_tickets_never_imports_daemon_or_network_libraries():
    offenders = []
    for py in (ROOT / "tickets").rglob("*.py"):
        text = py.read_text(encoding="utf-8")
        for bad in ("kpudesk.daemon", "from ..daemon", "import imapclient", "import aiosmtplib",
                    "kpudesk.mailbox.imap", "kpudesk.mailbox.smtp", "import socket"):
            if bad in text:
                offenders.append(f"{py.name}: {bad}")
    for py in (ROOT / "mailbox").rglob("*.py"):
        text = py.read_text(encoding="utf-8")
        for bad in ("kpudesk.tickets", "kpudesk.daemon", "import peewee"):
            if bad in text:
                offenders.append(f"{py.name}: {bad}")
    assert offenders == []


def test_repo_settings_example_is_the_one_init_writes():
    shipped = (ROOT / "daemon" / "settings.example.toml").read_text(encoding="utf-8")
    assert (ROOT / "settings.toml").read_text(encoding="utf-8") == shipped
