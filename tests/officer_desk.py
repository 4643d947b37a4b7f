"""A desk for the officer's command-line tests: no mail server is contacted, so the IMAP
user is a stand-in; tickets come from `tickets new` (walk-ins and mail-channel records)."""
from __future__ import annotations

from types import SimpleNamespace

from kpudesk.daemon.config import load_settings
from kpudesk.daemon.wiring import build_app
from kpudesk.tickets.schema import close_database
from tests.desk import Desk

OFFLINE_IMAP = SimpleNamespace(host="127.0.0.1", port=9, name="helpdesk", password="x")
RINA = "Rina Wulandari"


def offline_desk(root) -> Desk:
    """A desk whose database exists (as after `kpudesk init`)."""
    desk = Desk(root, OFFLINE_IMAP)
    build_app(load_settings(desk.settings_path), create=True)
    close_database()
    return desk


def new_ticket(desk: Desk, *, party: str = "PDI-P", subject: str = "Akun Sipol terkunci",
               message: str = "Akun Sipol kami terkunci setelah salah kata sandi", email: str | None = "lia@pdip.example.org",
               name: str = "Lia Anggraini", evidence: tuple[str, ...] = ()) -> dict:
    args = ["tickets", "new", "--channel", "email" if email else "tatap-muka", "--party", party, "--name", name,
            "--subject", subject, "--message", message, "--as", RINA]
    if email:
        args += ["--email", email]
    if evidence:
        args += ["--evidence", *evidence]
    return desk.json(*args)
