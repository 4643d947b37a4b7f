"""`kpudesk officers passwd EMAIL | list [--json] | logout EMAIL`: the web desk's accounts.

Officers are the `[[officers]]` of the settings; only their passwords (Argon2id hashes) and
session generations live in the database (`tickets.accounts`). `passwd` prompts twice on a
terminal and reads one line of stdin when piped, so scripts can set a password; it never
echoes, prints or logs the password, and ends the officer's existing sessions. `logout` ends
every session of an officer without changing the password (a lost phone).
"""
from __future__ import annotations

import argparse
import getpass
import sys

from kpudesk.tickets import accounts
from kpudesk.tickets.errors import UserError

from .common import app_from_args, emit_json, table


def register(sub) -> None:
    p = sub.add_parser("officers", help="akun petugas untuk meja kerja web")
    osub = p.add_subparsers(dest="officers_command", required=True, metavar="PERINTAH")
    pw = osub.add_parser("passwd", help="atur kata sandi petugas (meminta di terminal, atau satu baris dari stdin)")
    pw.add_argument("email", metavar="EMAIL", help="email petugas seperti di [[officers]]")
    pw.set_defaults(func=cmd_passwd)
    ls = osub.add_parser("list", help="daftar petugas dan apakah kata sandinya sudah diatur")
    ls.add_argument("--json", action="store_true", help="keluaran JSON")
    ls.set_defaults(func=cmd_list)
    lo = osub.add_parser("logout", help="akhiri semua sesi web seorang petugas")
    lo.add_argument("email", metavar="EMAIL", help="email petugas seperti di [[officers]]")
    lo.set_defaults(func=cmd_logout)


def _officer(settings, email: str):
    wanted = email.strip().lower()
    for o in settings.officers:
        if o.email.lower() == wanted:
            return o
    raise UserError(f"{email!r} bukan petugas yang terdaftar di [[officers]] settings.toml")


def cli_actor() -> str:
    """Who is behind a CLI change, for the audit trail: the operating-system user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (containers)
        user = "?"
    return f"via CLI by {user}"


def read_password() -> str:
    """Twice at a terminal (not echoed); otherwise the first line of stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass("Kata sandi baru: ")
        if getpass.getpass("Ulangi kata sandi: ") != first:
            raise UserError("kedua kata sandi tidak sama; tidak ada yang diubah")
        return first
    line = sys.stdin.readline()
    if not line:
        raise UserError("tidak ada kata sandi di stdin (harapkan satu baris)")
    return line.rstrip("\r\n")


def cmd_passwd(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    officer = _officer(app.settings, args.email)
    password = read_password()
    accounts.set_password(officer.email, password, app.clock.now(), actor=cli_actor())
    print(f"kata sandi {officer.name} <{officer.email}> disimpan; sesi web lamanya diakhiri", file=sys.stderr)
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    officer = _officer(app.settings, args.email)
    accounts.end_sessions(officer.email, app.clock.now(), actor=cli_actor())
    print(f"semua sesi web {officer.name} <{officer.email}> diakhiri", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    with_password = accounts.emails_with_password()
    rows = [{"name": o.name, "email": o.email, "role": o.role, "has_password": o.email.lower() in with_password}
            for o in app.settings.officers]
    if args.json:
        emit_json(rows)
        return 0
    if not rows:
        print("belum ada petugas di [[officers]] settings.toml")
        return 0
    print(table(["Nama", "Email", "Peran", "Kata sandi"],
                [[r["name"], r["email"], r["role"], "sudah" if r["has_password"] else "belum"] for r in rows]))
    return 0
