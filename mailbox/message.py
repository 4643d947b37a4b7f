"""Value types for mail crossing the edge: what a fetch yields and what a parse yields.

These are plain frozen dataclasses with no behaviour that touches the network or the
database, so `tickets/` can depend on them freely. Not `slots=True`: a parsed message
crosses the process boundary of the poll's analysis workers, and a slotted dataclass is
pickled and unpickled through Python-level state methods, ~40 % slower (bench/README.md,
issue 13, 2026-12-07).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

_MSGID_RE = re.compile(r"<([^<>\s]+)>")


def normalize_msgid(value: str | None) -> str | None:
    """Return the bare id of a Message-ID header value (no angle brackets), or None.

    Clients are sloppy: some omit the brackets, some add whitespace or comments. The bare
    id is what threading compares; the header form is kept separately for display.
    """
    if not value:
        return None
    found = _MSGID_RE.search(value)
    bare = found.group(1) if found else value.strip().strip("<>").strip()
    if not bare or any(c.isspace() for c in bare) or len(bare) > 998:
        return None
    return bare


def msgid_list(value: str | None) -> tuple[str, ...]:
    """All bare ids in an In-Reply-To or References value, in header order, deduplicated."""
    if not value:
        return ()
    ids = _MSGID_RE.findall(value)
    if not ids:
        one = normalize_msgid(value)
        ids = [one] if one else []
    seen: dict[str, None] = {}
    for i in ids:
        seen.setdefault(i, None)
    return tuple(seen)


@dataclass(frozen=True)
class FetchedMail:
    """One message as read from an IMAP folder, before parsing."""

    folder: str
    uidvalidity: int
    uid: int
    raw: bytes
    internaldate: datetime | None = None  # aware UTC


@dataclass(frozen=True)
class Address:
    name: str
    email: str  # as written; compare with .key

    @property
    def key(self) -> str:
        return self.email.strip().lower()


@dataclass(frozen=True)
class Attachment:
    filename: str  # sanitized: no path separators, no control characters, never empty
    content_type: str
    size: int
    sha256: str
    payload: bytes = field(repr=False)


@dataclass(frozen=True)
class DeliveryReport:
    """What a bounce / DSN says about a message that could not be delivered."""

    recipients: tuple[str, ...]  # Final-Recipient / Original-Recipient addresses
    status: str  # e.g. "5.1.1", "" when unknown
    diagnostic: str  # Diagnostic-Code or the first lines of the human part
    original_message_id: str | None  # bare id of the message that bounced, when found


@dataclass(frozen=True)
class InboundMessage:
    """A parsed incoming message. Built by `mailbox.parse.parse`, never raises on bad mail."""

    raw_sha256: str  # SHA-256 of the exact raw bytes
    size: int
    fingerprint: str  # content identity, stable across folders and trace headers
    message_id: str | None  # header value as it appeared (stripped), None when missing
    msgid: str | None  # bare normalized id, None when missing or unusable
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_addr: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str  # decoded, control characters removed
    date: datetime | None  # aware UTC; Date header, else INTERNALDATE
    date_source: str  # "header" | "internaldate" | "none"
    text: str  # plain text; from HTML when there is no plain part
    text_from_html: bool
    attachments: tuple[Attachment, ...]
    headers: tuple[tuple[str, str], ...]  # (lower-case name, decoded value), in order
    content_type: str  # top-level, lower case, e.g. "multipart/report"
    report: DeliveryReport | None  # set for DSNs and recognisable bounces
    defects: tuple[str, ...]

    def header(self, name: str) -> str | None:
        """First value of a header (case-insensitive), or None."""
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def header_all(self, name: str) -> tuple[str, ...]:
        name = name.lower()
        return tuple(v for k, v in self.headers if k == name)

    @property
    def sender_key(self) -> str | None:
        return self.from_addr.key if self.from_addr and self.from_addr.email else None

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Referenced ids to try when threading, newest first (In-Reply-To, then References reversed)."""
        out: dict[str, None] = {}
        for i in self.in_reply_to:
            out.setdefault(i, None)
        for i in reversed(self.references):
            out.setdefault(i, None)
        return tuple(out)
