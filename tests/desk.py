"""Test helper: a kpudesk installation in a temporary folder, pointed at test servers."""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from kpudesk.daemon.cli import main
from kpudesk.daemon.config import load_settings
from kpudesk.daemon.settings_write import HELPDESK_ADDRESS, loopback_sections, settings_toml
from kpudesk.daemon.wiring import build_app

HELPDESK = HELPDESK_ADDRESS


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


OFFICERS = [
    {"name": "Rina Wulandari", "email": "rina@kpu-mesuji.example.org", "role": "anggota-helpdesk"},
    {"name": "Ahmad Fauzi", "email": "ahmad@kpu-mesuji.example.org", "role": "anggota-kpu"},
]


def settings_text(imap_user, *, smtp=None, imap_port: int | None = None, batch_size: int = 50,
                  password_env: str = "KPUDESK_TEST_IMAP_PASSWORD", officers: bool = True) -> str:
    """The settings of a test installation (SQLite and archive under ./state) pointed at
    the given IMAP user and SMTP server (none: port 9, nothing listens). Also the bench's."""
    sections = loopback_sections(imap_host=imap_user.host, imap_port=imap_port or imap_user.port,
                                 username=imap_user.name, password_env=password_env,
                                 smtp_host=smtp.host if smtp is not None else "127.0.0.1",
                                 smtp_port=smtp.port if smtp is not None else 9,
                                 imap={"batch_size": batch_size})
    return "\n" + settings_toml(**sections, **({"officers": OFFICERS} if officers else {}))


SQLITE_LINE = 'url = "sqlite:///state/kpudesk.db"'  # what settings_write writes for a Desk


class Desk:
    """Writes settings.toml for the given IMAP user (and SMTP server) and runs the CLI."""

    def __init__(self, root: Path, imap_user, smtp=None, extra: str = "", officers: bool = True,
                 imap_port: int | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.imap_user = imap_user
        self.env = {"KPUDESK_TEST_IMAP_PASSWORD": imap_user.password, "KPUDESK_TEST_SMTP_PASSWORD": "x"}
        os.environ.update(self.env)
        text = settings_text(imap_user, smtp=smtp, imap_port=imap_port, officers=officers)
        self.settings_path = self.root / "settings.toml"
        self.settings_path.write_text(text + extra, encoding="utf-8")

    def use_database(self, url: str) -> Desk:
        """Point the settings at another database (a PostgreSQL URL) instead of the SQLite
        file every Desk starts with."""
        text = self.settings_path.read_text(encoding="utf-8")
        assert text.count(SQLITE_LINE) == 1
        self.settings_path.write_text(text.replace(SQLITE_LINE, f'url = "{url}"'), encoding="utf-8")
        return self

    def run(self, *args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(["--config", str(self.settings_path), *args])
            except SystemExit as exc:  # argparse usage errors
                code = int(exc.code or 0)
        return Result(code, out.getvalue(), err.getvalue())

    def json(self, *args: str):
        r = self.run(*args, "--json")
        assert r.code == 0, f"kpudesk {' '.join(args)} exited {r.code}: {r.err}"
        return r.json()

    def spawn(self, *args: str, **kwargs) -> subprocess.Popen:
        """The CLI as a separate process (crash and concurrency tests)."""
        kwargs.setdefault("env", {**os.environ, **self.env})
        return subprocess.Popen(
            [sys.executable, "-m", "kpudesk.daemon", "--config", str(self.settings_path), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs,
        )

    def app(self, clock=None):
        return build_app(load_settings(self.settings_path), clock=clock)
