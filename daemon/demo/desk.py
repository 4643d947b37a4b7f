"""The demo's web desk: a login for each kind of officer, then the desk itself until Ctrl+C.

`set_passwords` gives each demo login a fixed, documented password, ``demo-<role>`` (e.g.
``demo-ketua``), through the command an administrator uses, ``kpudesk officers passwd EMAIL``
(the password on stdin), and checks ``kpudesk officers list``. Fixed rather than random: a
newcomer can read it in the README and type it again after a restart, and it protects nothing
worth protecting: a throwaway database of fictitious data, on a desk that `loopback_listen`
keeps to 127.0.0.1 / ::1.

`serve` opens the server ``kpudesk web`` runs (`open_desk` and `serve_until_stopped` of
daemon/commands/webdesk.py) on the demo folder's settings, prints the URL and the logins in
Bahasa Indonesia, and answers until SIGINT or SIGTERM. The demo's IMAP and SMTP servers stay
up meanwhile, so an answer written in the desk can be delivered with ``kpudesk send``.
"""
from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from kpudesk.tickets.errors import ConfigError

from ..commands.webdesk import desk_url, open_desk, serve_until_stopped
from ..config import load_settings, parse_listen
from .content import DESK_OFFICERS, STORY_OFFICERS
from .story import Story, expect

DEFAULT_LISTEN = ("127.0.0.1", 0)  # port 0: a free port, chosen by the system when the desk opens


@dataclass(frozen=True)
class Login:
    name: str
    email: str
    role: str
    label: str  # what the role is, for the newcomer

    @property
    def password(self) -> str:
        return f"demo-{self.role}"


_LABELS = {
    "anggota-helpdesk": "petugas helpdesk: menjawab, mencatat, mengeskalasi, menutup",
    "koordinator-harian": "koordinator harian: juga memindahkan tugas, Spam, karantina, jawaban siap pakai",
    "anggota-kpu": "Anggota KPU: hanya tiket yang dieskalasi kepadanya",
    "ketua": "ketua: membaca semua tiket dan laporan, tidak mengubah",
}
LOGINS = tuple(Login(o["name"], o["email"], o["role"], _LABELS[o["role"]])
               for o in (STORY_OFFICERS[0], *DESK_OFFICERS))


def loopback_listen(value: str | None) -> tuple[str, int]:
    """`kpudesk demo --listen HOST:PORT` → (host, port); only a loopback host, since the demo's
    passwords are public. Without the option: 127.0.0.1 and a free port."""
    if value is None:
        return DEFAULT_LISTEN
    host, port = parse_listen("--listen", value)
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost
        loopback = False
    if not loopback:
        raise ConfigError("--listen", f"demo hanya melayani alamat loopback (127.0.0.1 atau [::1]), bukan {host!r}: "
                                      "kata sandi akun demo tertulis di README")
    return host, port


def set_passwords(story: Story) -> None:
    """Every demo login gets its password, as an administrator sets one (stdin of `officers passwd`)."""
    print("\nAkun meja layanan web: kata sandi demo diatur seperti oleh administrator (satu baris di stdin)",
          file=story.out)
    for login in LOGINS:
        story.cmd(("officers", "passwd", login.email))
        story.run("officers", "passwd", login.email, quiet=True, stdin=login.password + "\n")
    listed = {o["email"]: o["has_password"] for o in story.json("officers", "list", quiet=True)}
    missing = [login.email for login in LOGINS if not listed.get(login.email)]
    expect(not missing, f"`kpudesk officers list`: akun demo tanpa kata sandi: {missing}")


def print_logins(out: TextIO) -> None:
    rows = [("Email", "Kata sandi", "Peran")] + [(x.email, x.password, x.label) for x in LOGINS]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    for email, password, label in rows:
        print(f"  {email:<{widths[0]}}  {password:<{widths[1]}}  {label}", file=out)


def serve(folder: Path, listen: tuple[str, int], out: TextIO) -> int:
    """The demo folder's web desk on `listen` until SIGINT/SIGTERM; 0 when stopped so."""
    settings = load_settings(folder / "settings.toml")
    server = open_desk(settings, *listen)
    url = desk_url(server)
    cfg = shlex.quote(str(folder / "settings.toml"))

    def ready() -> None:
        print(f"\nMeja layanan web (web desk) berjalan: {url}", file=out)
        print("Buka alamat itu di peramban dan masuk dengan salah satu akun demo:", file=out)
        print_logins(out)
        print("Server IMAP dan SMTP demo tetap hidup selama meja web berjalan: jawaban yang ditulis di meja web "
              "menunggu di antrean; kirim dari terminal lain dengan", file=out)
        print(f"  kpudesk --config {cfg} send", file=out)
        print("Tekan Ctrl+C untuk berhenti.", file=out, flush=True)

    code = serve_until_stopped(server, ready)
    print("\nMeja layanan web dan server surel demo dihentikan.", file=out)
    return code
