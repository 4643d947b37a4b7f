"""The IMAP and SMTP adapters a `Settings` asks for: by password, or by OAuth2 access
tokens from a `TokenSource` (daemon/oauth2.py) kept by the caller, so one process renews a
token once an hour, not once a login. Used by wiring.App and by `kpudesk auth`, which
checks a new token before the database is open."""
from __future__ import annotations

from typing import TYPE_CHECKING

from kpudesk.mailbox.imap import ImapSource
from kpudesk.tickets.clock import Clock

from .oauth2 import TokenSource
from .settings import Settings

if TYPE_CHECKING:
    from kpudesk.mailbox.smtp import SmtpSender


def token_source(settings: Settings, section: str, clock: Clock) -> TokenSource | None:
    cfg = settings.imap.oauth2 if section == "imap" else settings.smtp.oauth2
    return TokenSource(cfg, clock) if cfg is not None else None


def imap_source(settings: Settings, tokens: TokenSource | None) -> ImapSource:
    s = settings.imap
    password = None if tokens is not None else s.password.read()
    return ImapSource(s.host, s.port, s.security, s.username, password, s.ca_file, s.timeout, oauth2=tokens)


def smtp_sender(settings: Settings, tokens: TokenSource | None) -> SmtpSender:
    # Imported here: aiosmtplib and asyncio are a tenth of a poll process's start-up,
    # and only `send` and the daemon deliver mail.
    from kpudesk.mailbox.smtp import SmtpSender  # noqa: PLC0415 - lazy: aiosmtplib and asyncio cost a tenth of a poll's start-up

    s = settings.smtp
    password = s.password.read() if s.username and tokens is None else None
    return SmtpSender(s.host, s.port, s.security, s.username, password, s.ca_file, s.timeout,
                      local_hostname=settings.helpdesk.msgid_domain, oauth2=tokens)
