"""The `kpudesk` command: parse arguments, call a service, print. Human output is Bahasa
Indonesia; with --json stdout holds only the JSON document and logs go to stderr.

Exit codes (design.md): 0 ok; 1 a failure the user must fix; 2 usage or settings error;
75 a server could not be reached, another poll holds the lock, or the database stayed
locked by another process past its busy timeout — try again later.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from pathlib import Path

import peewee as pw
from jinja2 import TemplateError

from kpudesk.mailbox.errors import AuthenticationFailed, FolderMissing, MailServerError, ServerUnavailable
from kpudesk.tickets.archive import ArchiveWriteError
from kpudesk.tickets.errors import ConfigError, SchemaError, TempFailure, UserError
from kpudesk.tickets.models import close_database, is_locked

from .lock import LockBusy
from .logsetup import configure_logging

log = logging.getLogger("kpudesk")

EX_OK, EX_USER, EX_USAGE, EX_TEMPFAIL = 0, 1, 2, 75


class DatabaseLocked(Exception):
    """Another process (the daemon's poll, a migration) held the database's write lock
    for longer than the busy timeout."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 on usage errors, as we want
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"kpudesk: galat: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from . import commands

    p = _Parser(prog="kpudesk", description="Helpdesk Sipol berbasis email (KPU Kabupaten).")
    p.add_argument("--config", help="berkas settings.toml (bawaan: ./settings.toml atau $KPUDESK_CONFIG)")
    p.add_argument("-v", "--verbose", action="store_true", help="log lebih rinci (DEBUG)")
    sub = p.add_subparsers(dest="command", required=True, metavar="PERINTAH", parser_class=_Parser)
    commands.register(sub)
    return p


def config_path(args: argparse.Namespace) -> Path:
    return Path(args.config or os.environ.get("KPUDESK_CONFIG") or "settings.toml")


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


def emit_json(obj) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
