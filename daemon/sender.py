"""One pass over the outbox: deliver due rows over one SMTP connection.

Each accepted mail is marked sent in its own transaction as soon as the server says 250, so
a crash loses at most the mark of the one mail in flight (it is then sent again once, with
the same Message-ID). A mark the locked database refuses does not stop the batch: the mail
is remembered as accepted and marked again before the flush ends and at the next one
(tickets/outbox.py says what window remains). A failure mark (4xx/5xx) the database
refuses leaves the row leased: it is tried again once this process is gone or the lease
ends. Optionally a copy goes to the IMAP Sent folder afterwards.
"""
from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING

import peewee as pw
from jinja2 import TemplateError

from kpudesk.mailbox.compose import compose, from_record
from kpudesk.mailbox.errors import MailServerError, ServerUnavailable
from kpudesk.tickets import outbox
from kpudesk.tickets.schema import is_locked

from .wiring import App

if TYPE_CHECKING:
    from kpudesk.mailbox.smtp import SendResult

log = logging.getLogger(__name__)


def flush(app: App, *, ignore_backoff: bool, progress=lambda: None) -> tuple[outbox.SendStats, bool]:
    """Returns (stats, server_unreachable). `progress` is called per mail handled (the
    daemon's watchdog heartbeat: a long batch is progress, not a hang)."""
    stats = outbox.SendStats()
    outbox.retry_marks()  # what an earlier flush of this process could not mark
    try:
        result = _flush(app, stats, ignore_backoff=ignore_backoff, progress=progress)
    finally:
        # Before this process may end: accepted mail must not be sent again.
        left = outbox.retry_marks(attempts=outbox.MARK_ATTEMPTS) if outbox.unmarked() else 0
    stats.pending = outbox.counts().get("pending", 0)
    if left:
        # The daemon tries again at its next flush; a manual `send` exits 75 and the
        # documented window applies (these are sent again once, same Message-ID).
        log.error("%d mail(s) accepted by the SMTP server are not marked sent yet", left)
        raise pw.OperationalError(f"database is locked: {left} accepted mail(s) not marked sent")
    return result


def _flush(app: App, stats: outbox.SendStats, *, ignore_backoff: bool,
           progress=lambda: None) -> tuple[outbox.SendStats, bool]:
    from kpudesk.mailbox.smtp import Envelope  # not at import: see App.smtp  # noqa: PLC0415 - lazy: aiosmtplib and asyncio only for delivery (see App.smtp)

    items = outbox.due(app.clock.now(), ignore_backoff=ignore_backoff)
    unreachable = False
    sent_data: list[bytes] = []
    if items:
        by_id = {i.id: i for i in items}

        def claim(env: Envelope) -> bool:
            # Reserve each mail right before it goes out: a concurrent sender skips it, and
            # a crash leaves at most this one mail reserved (it is retried when the lease ends).
            return outbox.claim(env.key, app.clock.now())

        def on_result(r: SendResult) -> None:
            progress()
            if not r.attempted:
                return
            now = app.clock.now()
            if r.ok:
                outbox.record_sent(r.key, now, r.message)  # the server has it: counted sent either way
                stats.sent += 1
                sent_data.append(by_id[r.key].data)
                return
            try:
                if r.permanent:
                    outbox.mark_permanent(r.key, now, f"{r.code} {r.message}")
                    stats.failed += 1
                elif outbox.mark_temporary(r.key, now, f"{r.code or ''} {r.message}".strip()):
                    stats.failed += 1
                else:
                    stats.deferred += 1
            except (pw.OperationalError, sqlite3.OperationalError) as exc:
                if not is_locked(exc):
                    raise
                # Not sent, so nothing is lost: the row keeps its lease and is tried again.
                log.warning("outbox item=%s: %s %s not recorded (database locked): %s",
                            r.key, r.code or "", r.message, exc)
                stats.deferred += 1

        envelopes = []
        for i in items:
            try:
                data = outbox.materialize(i, _compose_record, app.replies.render_record)
                envelopes.append(Envelope(i.id, i.sender, tuple(i.recipients), data))
            except (ValueError, TypeError, KeyError, TemplateError) as exc:
                # A row that cannot become a mail (an address no server would take, a
                # template broken since ingest, a damaged record): fail it, send the rest.
                # Database errors are not caught here: they are not the row's fault.
                outbox.mark_permanent(i.id, app.clock.now(), f"tidak dapat disusun: {exc}")
                stats.failed += 1
        try:
            app.smtp().send_batch(envelopes, on_result=on_result, before_send=claim)
        except ServerUnavailable as exc:
            unreachable = True
            log.warning("SMTP unreachable: %s", exc)
            # Nothing was attempted: the connection itself failed.
            for i in items:
                if not outbox.claim(i.id, app.clock.now()):
                    continue  # another sender has it
                if outbox.mark_temporary(i.id, app.clock.now(), str(exc)):
                    stats.failed += 1
                else:
                    stats.deferred += 1
    if sent_data and app.settings.smtp.save_sent:
        _save_sent(app, sent_data)
    return stats, unreachable


def _compose_record(record: dict) -> bytes:
    return compose(from_record(record))


def _save_sent(app: App, blobs: list[bytes]) -> None:
    """Colleagues reading the mailbox see our mail in Sent. Best effort: the mail is out.

    The folder: smtp.sent_folder when the server has it, else the \\Sent special-use one or
    a common name (`Sent Items` ...). Never on Gmail: it files what its SMTP sent itself,
    a copy of ours would be a duplicate."""
    folder = app.settings.smtp.sent_folder
    try:
        with app.imap() as source:
            if source.is_gmail():
                log.debug("Gmail files sent mail itself: no copy to a Sent folder")
                return
            folder = source.resolve_sent(folder)
            if folder is None:
                log.warning("could not copy %d sent mail(s): no Sent folder (configured %r, none flagged \\Sent)",
                            len(blobs), app.settings.smtp.sent_folder)
                return
            for data in blobs:
                source.append(folder, data)
    except MailServerError as exc:
        log.warning("could not copy %d sent mail(s) to %s: %s", len(blobs), folder, exc)
