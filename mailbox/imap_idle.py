"""IMAP IDLE (RFC 2177) on one folder: a connection of its own that tells its caller when
new mail has arrived, and nothing else.

The connection is set up by `imap.ImapSource` (the same TLS, login and error mapping as the
poll's); the folder is EXAMINEd (read-only) and IDLE is re-issued at least every `renew`
seconds (RFC 2177: a server may log off a client idle for 30 minutes). The watcher never
fetches: on an EXISTS or RECENT response it calls `on_new()`, and the poll does the rest on
its own connection. It blocks in `idle_check` with a timeout of `check` seconds (so a stop
request is seen within that time) and costs no CPU while the mailbox is quiet.

imapclient's `idle_check` swallows EOF (it returns ``[]`` at once, and again, forever), so
an empty answer well before the timeout is checked by ending the IDLE: on a dead connection
that raises, and the watcher reports ServerUnavailable instead of spinning.
"""
from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Callable

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from .errors import MailServerError, ServerUnavailable
from .imap import ImapSource

log = logging.getLogger(__name__)

# The same failures imap.py maps to ServerUnavailable (its tuple is private to it).
_NET_ERRORS = (OSError, socket.timeout, ssl.SSLError, EOFError, IMAPClientAbortError, IMAPClientError)
NEW_MAIL = (b"EXISTS", b"RECENT")


class IdleUnsupported(MailServerError):
    """The server does not offer IDLE: new mail waits for the regular poll."""


def announces_new_mail(responses) -> bool:
    """True when an IDLE response says the folder grew (`* n EXISTS`, `* n RECENT`)."""
    return any(len(r) >= 2 and isinstance(r[0], int) and r[1] in NEW_MAIL for r in responses)


def _says_bye(responses) -> bytes | None:
    for r in responses:
        if r and r[0] == b"BYE":
            return r[1] if len(r) > 1 and isinstance(r[1], bytes) else b""
    return None


class IdleWatcher:
    """One IDLE session on `folder` over `source` (not yet connected). `run()` returns when
    `should_stop()` turns true; a dropped connection raises ServerUnavailable, a server
    without IDLE IdleUnsupported (after logging out), bad credentials AuthenticationFailed."""

    def __init__(self, source: ImapSource, folder: str, *, renew: float, on_new: Callable[[], None],
                 should_stop: Callable[[], bool], check: float = 1.0,
                 on_ready: Callable[[], None] | None = None) -> None:
        self.source, self.folder = source, folder
        self.renew, self.check = float(renew), float(check)
        self.on_new, self.should_stop = on_new, should_stop
        self.on_ready = on_ready or (lambda: None)
        self.renewals = 0  # IDLE commands issued (tests and the log)

    def run(self) -> None:
        self.source.connect()
        client = self.source.client
        healthy = False
        try:
            try:
                if not client.has_capability("IDLE"):
                    raise IdleUnsupported(f"IMAP {self.source.host}:{self.source.port} does not offer IDLE")
                self.source.examine(self.folder)
            except (IdleUnsupported, MailServerError):
                healthy = True  # the connection itself is fine: log out politely
                raise
            except _NET_ERRORS as exc:
                raise ServerUnavailable(f"IMAP IDLE: {exc}") from exc
            self.on_ready()  # connected and listening: anything that came before is the poll's
            while not self.should_stop():
                self._one_idle(client)
            healthy = True
        finally:
            if healthy:
                self.source.close()
            else:  # a dead connection: LOGOUT could wait for the socket timeout
                with contextlib.suppress(Exception):
                    client.shutdown()
                self.source.client = None

    def _one_idle(self, client) -> None:
        """One IDLE command, ended after `renew` seconds, on a stop request, or to check an
        early empty answer."""
        try:
            client.idle()
            self.renewals += 1
            started = time.monotonic()
            while not self.should_stop():
                left = self.renew - (time.monotonic() - started)
                if left <= 0:
                    break
                wait = min(self.check, left)
                t0 = time.monotonic()
                responses = client.idle_check(timeout=wait)
                if announces_new_mail(responses):
                    self.on_new()
                bye = _says_bye(responses)
                if bye is not None:
                    raise ServerUnavailable(f"IMAP server closed the IDLE connection: {bye.decode(errors='replace')}")
                if not responses and time.monotonic() - t0 < wait / 2:
                    break  # readable but nothing parsed: EOF, or a stray partial line; DONE tells which
            _text, responses = client.idle_done()
        except ServerUnavailable:
            raise
        except _NET_ERRORS as exc:
            raise ServerUnavailable(f"IMAP IDLE connection lost: {exc}") from exc
        if announces_new_mail(responses):
            self.on_new()
