"""What every POST of the desk does around its domain call: run it, flash the outcome in
Bahasa Indonesia, send the officer back to the page (303, so a reload does not post again).

A domain error is the officer's to read, never a 500: `UserError` (an unknown officer, an
empty answer, a closed ticket) shows as written, a settings problem and a busy database
as the CLI words them (daemon/cli.py ERRORS).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import peewee as pw
from flask import flash, redirect

from kpudesk.mailbox.errors import MailServerError, ServerUnavailable
from kpudesk.tickets.archive import ArchiveWriteError
from kpudesk.tickets.errors import ConfigError, TempFailure, UserError
from kpudesk.tickets.schema import is_locked

from ..lock import LockBusy

log = logging.getLogger(__name__)

BUSY = ("basis data sedang dikunci proses lain (mis. daemon yang sedang mengambil surel); "
        "tindakan ini tidak dilakukan, coba lagi sebentar lagi")


def error_text(exc: BaseException) -> str | None:
    """The officer's message for an expected failure; None for a defect (re-raised)."""
    if isinstance(exc, ConfigError):
        return f"pengaturan salah: {exc} (hubungi administrator)"
    if isinstance(exc, ArchiveWriteError):
        return str(exc)
    if isinstance(exc, LockBusy):
        return f"proses {exc} lain sedang berjalan untuk kotak surat ini; coba lagi nanti"
    if isinstance(exc, (TempFailure, ServerUnavailable, MailServerError)):
        return f"server tidak dapat dihubungi, coba lagi nanti: {exc}"
    if isinstance(exc, UserError):  # NotFound too
        return str(exc)
    if isinstance(exc, pw.OperationalError) and is_locked(exc):
        return BUSY
    if isinstance(exc, OSError):  # e.g. an archived message that cannot be read
        return f"berkas di arsip tidak dapat dibaca: {exc.strerror or exc}"
    return None


def act(back: str, run: Callable[[], str | tuple[str, str]]):
    """Call `run` (the domain operation; returns the confirmation, or the confirmation and
    where to go instead of `back`, e.g. the survivor of a merge) and redirect to `back`
    with the confirmation (role="status") or the error (role="alert") flashed."""
    try:
        done = run()
        if isinstance(done, tuple):
            done, back = done
    except Exception as exc:
        text = error_text(exc)
        if text is None:
            raise
        log.info("web action refused: %s", text)
        flash(text, "error")
    else:
        flash(done, "ok")
    return redirect(back, code=303)
