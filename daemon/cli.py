"""The `kpudesk` command: parse arguments, call a service, print. Human output is Bahasa
Indonesia; with --json stdout holds only the JSON document and logs go to stderr.

Exit codes (design.md): 0 ok; 1 a failure the user must fix; 2 usage or settings error;
75 a server could not be reached, another poll holds the lock, or the database stayed
locked by another process past its busy timeout — try again later.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import sqlite3
import sys

import peewee as pw
from jinja2 import TemplateError

from kpudesk.mailbox.errors import AuthenticationFailed, FolderMissing, MailServerError, ServerUnavailable
from kpudesk.tickets.archive import ArchiveWriteError
from kpudesk.tickets.errors import ConfigError, SchemaError, TempFailure, UserError
from kpudesk.tickets.schema import close_database, is_locked

from . import commands
from .lock import LockBusy
from .logsetup import configure_logging

log = logging.getLogger("kpudesk")

EX_OK, EX_USER, EX_USAGE, EX_TEMPFAIL = 0, 1, 2, 75


class DatabaseLocked(Exception):
    """Another process (the daemon's poll, a migration) held the database's write lock
    for longer than the busy timeout."""


# argparse's own English, said in Bahasa Indonesia (Python 3.11's wording); matched in
# order against the messages argparse hands to `error`.
_ARGPARSE_ID: list[tuple[re.Pattern[str], str]] = [(re.compile(a), b) for a, b in [
    (r"^the following arguments are required: (.*)$", r"argumen wajib belum diberikan: \1"),
    (r"^unrecognized arguments: (.*)$", r"argumen tidak dikenal: \1"),
    (r"^one of the arguments (.*) is required$", r"salah satu argumen \1 wajib diberikan"),
    (r"^argument (.*?): not allowed with argument (.*)$", r"argumen \1 tidak boleh dipakai bersama \2"),
    (r"^argument (.*?): expected one argument$", r"argumen \1 memerlukan satu nilai"),
    (r"^argument (.*?): expected at most one argument$", r"argumen \1 menerima paling banyak satu nilai"),
    (r"^argument (.*?): expected at least one argument$", r"argumen \1 memerlukan paling sedikit satu nilai"),
    (r"^argument (.*?): expected (\d+) arguments?$", r"argumen \1 memerlukan \2 nilai"),
    (r"^argument (.*?): invalid int value: (.*)$", r"argumen \1: bukan bilangan bulat: \2"),
    (r"^argument (.*?): invalid float value: (.*)$", r"argumen \1: bukan angka: \2"),
    (r"^argument (.*?): invalid (\S+) value: (.*)$", r"argumen \1: nilai tidak valid: \3"),
    (r"^argument (.*?): ignored explicit argument (.*)$", r"argumen \1: nilai \2 diabaikan"),
    (r"^argument (.*?): (.*)$", r"argumen \1: \2"),
    (r"^ambiguous option: (.*?) could match (.*)$", r"opsi \1 ambigu, bisa berarti: \2"),
]]


def translate_argparse(message: str) -> str:
    """An argparse error message in Bahasa Indonesia (unknown wording is kept)."""
    for pattern, repl in _ARGPARSE_ID:
        if pattern.match(message):
            return pattern.sub(repl, message, count=1)
    return message


class _Formatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "penggunaan: " if prefix is None else prefix)


# Placeholders in usage lines by argument name (argparse would print the English `dest`).
_METAVARS = {
    "id": "ID", "n": "NOMOR", "party": "PARTAI", "assignee": "PETUGAS", "officer": "PETUGAS",
    "file": "BERKAS", "message": "TEKS", "text": "TEKS", "faq": "ID_FAQ", "reason": "ALASAN",
    "name": "NAMA", "phone": "TELEPON", "email": "SUREL", "subject": "PERIHAL", "date": "TANGGAL",
    "limit": "JUMLAH", "output": "BERKAS", "html": "BERKAS", "config": "BERKAS", "evidence": "BERKAS",
    "attach": "BERKAS", "at": "WAKTU", "directory": "FOLDER", "dir": "FOLDER", "search": "KATA",
    "listen": "HOST:PORT", "who": "SIAPA",
}
_HELPS = {"json": "keluaran JSON (untuk skrip)"}


class _Parser(argparse.ArgumentParser):
    """argparse with every word it prints itself in Bahasa Indonesia, without gettext
    catalogues: group titles, the help option, "usage:", placeholders, its error messages."""

    def _add_action(self, action):
        # Every argument passes here, those of mutually exclusive groups too.
        if action.metavar is None and action.nargs != 0 and action.choices is None and action.dest in _METAVARS:
            action.metavar = _METAVARS[action.dest]
        if action.help is None and action.dest in _HELPS:
            action.help = _HELPS[action.dest]
        return super()._add_action(action)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        add_help = kwargs.pop("add_help", True)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "argumen posisi"
        self._optionals.title = "opsi"
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help="tampilkan bantuan ini lalu keluar")

    def _check_value(self, action, value) -> None:
        if action.choices is not None and value not in action.choices:
            choices = ", ".join(map(str, action.choices))
            raise argparse.ArgumentError(action, f"pilihan tidak valid: {value!r} (pilih dari {choices})")

    def error(self, message: str) -> None:  # argparse exits 2 on usage errors, as we want
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"kpudesk: galat: {translate_argparse(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kpudesk", description="Helpdesk Sipol berbasis email (KPU Kabupaten).")
    p.add_argument("--config", help="berkas settings.toml (bawaan: ./settings.toml atau $KPUDESK_CONFIG)")
    p.add_argument("-v", "--verbose", action="store_true", help="log lebih rinci (DEBUG)")
    sub = p.add_subparsers(dest="command", required=True, metavar="PERINTAH", parser_class=_Parser)
    commands.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging("DEBUG" if args.verbose else os.environ.get("KPUDESK_LOG_LEVEL", "WARNING"))
    # Everything kpudesk writes (database, archive, keys, locks) is the service user's
    # alone, whatever umask the caller has; restored after, for callers that embed main().
    umask = os.umask(0o077)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except _KNOWN as exc:
        return _report(exc)
    except (pw.OperationalError, sqlite3.OperationalError) as exc:
        if is_locked(exc):
            log.debug("database locked: %s", exc)
            return _report(DatabaseLocked(str(exc)))
        if isinstance(exc, pw.OperationalError) and not isinstance(exc, sqlite3.OperationalError) \
                and "connect" in str(exc).lower():
            # PostgreSQL down or refusing: the server's words, never the URL (it may hold a password).
            log.debug("database unreachable: %s", exc)
            return _report(TempFailure("basis data tidak dapat dihubungi"))
        raise
    finally:
        close_database()
        os.umask(umask)


# What each failure tells the user, and the exit code scripts rely on; first match wins.
ERRORS: list[tuple[type | tuple[type, ...], str, int]] = [
    (ConfigError, "pengaturan salah: {exc}", EX_USAGE),
    (SchemaError, "basis data: {exc}", EX_USAGE),
    (AuthenticationFailed, "login ditolak server: {exc}", EX_USAGE),
    (FolderMissing, "folder tidak ada di server: {exc}", EX_USAGE),
    (ArchiveWriteError, "{exc}", EX_TEMPFAIL),  # says itself that the disk refused, not a server
    (TemplateError, "templat tidak dapat dirender (periksa helpdesk.templates_dir): {exc}", EX_USAGE),
    ((ServerUnavailable, TempFailure), "server tidak dapat dihubungi, coba lagi nanti: {exc}", EX_TEMPFAIL),
    (MailServerError, "galat server surel: {exc}", EX_TEMPFAIL),
    (LockBusy, "proses {exc} lain sedang berjalan untuk kotak surat ini; coba lagi nanti", EX_TEMPFAIL),
    (DatabaseLocked, "basis data sedang dikunci proses lain (mis. daemon yang sedang mengambil "
                     "surel); perintah ini tidak selesai, coba lagi sebentar lagi", EX_TEMPFAIL),
    (UserError, "{exc}", EX_USER),
]
_KNOWN = tuple(k for kinds, _what, _code in ERRORS for k in (kinds if isinstance(kinds, tuple) else (kinds,)))


def _report(exc: BaseException) -> int:
    for kinds, what, code in ERRORS:
        if isinstance(exc, kinds):
            print(f"kpudesk: {what.format(exc=exc)}", file=sys.stderr)
            return code
    raise exc  # pragma: no cover - _KNOWN is built from ERRORS


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
