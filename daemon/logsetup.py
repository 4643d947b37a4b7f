"""Logging to stderr, configured once. Every line carries its time in the helpdesk's time
zone with the offset (`2026-12-05 07:57:25+07:00`): journald and `journalctl` show the
host's zone (often UTC) while officers, reports and the database's readers think in WIB.
Under systemd (JOURNAL_STREAM set) lines also carry a syslog priority prefix."""
from __future__ import annotations

import logging
import os
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
DEFAULT_ZONE = "Asia/Jakarta"  # the helpdesk default (helpdesk.timezone) before settings are read


class _ZonedFormatter(logging.Formatter):
    def __init__(self, fmt: str, zone: str) -> None:
        super().__init__(fmt)
        self.zone = ZoneInfo(zone)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging API
        return datetime.fromtimestamp(record.created, self.zone).isoformat(sep=" ", timespec="seconds")


class _JournalFormatter(_ZonedFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"<{_PRIORITY.get(record.levelno, 6)}>{super().format(record)}"


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record arrives. A handler holding the stream
    of the moment it was made kept a command's redirected (later closed) stderr, and a server
    thread's late line then printed `--- Logging error ---` instead of itself."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)  # StreamHandler's would pin a stream

    @property
    def stream(self):  # noqa: D401 - logging API
        return sys.stderr


def configure_logging(level: str = "INFO", zone: str = DEFAULT_ZONE) -> None:
    handler = _CurrentStderr()
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(asctime)s %(name)s: %(message)s", zone))
    else:
        handler.setFormatter(_ZonedFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", zone))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("imapclient").setLevel(logging.WARNING)
    logging.getLogger("peewee").setLevel(logging.WARNING)
