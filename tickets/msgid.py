"""Our own Message-IDs: they name the ticket and carry a keyed hash, so they cannot be forged.

Form: `<kpd.T{ticket}.{nonce}.{mac}@{domain}>` where mac = HMAC-SHA256(secret,
"T{ticket}.{nonce}@{domain}") truncated to 20 hex digits. A reply that quotes one of these
in In-Reply-To/References threads to that ticket even when the subject tag was dropped; a
stranger cannot make one up for someone else's ticket without the secret.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets as _secrets

_RE = re.compile(r"^kpd\.T(\d{1,12})\.([0-9a-z]{8,40})\.([0-9a-f]{20})@(.+)$")


def _mac(secret: bytes, ticket_id: int, nonce: str, domain: str) -> str:
    return hmac.new(secret, f"T{ticket_id}.{nonce}@{domain}".encode(), hashlib.sha256).hexdigest()[:20]


def make_msgid(ticket_id: int | None, secret: bytes, domain: str, nonce: str | None = None) -> str:
    """A bare Message-ID (no brackets). ticket_id None (reports) gives an unsigned id."""
    nonce = nonce or _secrets.token_hex(8)
    if ticket_id is None:
        return f"kpd.R.{nonce}@{domain}"
    return f"kpd.T{ticket_id}.{nonce}.{_mac(secret, ticket_id, nonce, domain)}@{domain}"


def ticket_of(bare_id: str, secret: bytes, domain: str) -> int | None:
    """The ticket a Message-ID of ours names, or None when it is not ours or the MAC fails."""
    m = _RE.match(bare_id)
    if not m or m.group(4).lower() != domain.lower():
        return None
    ticket_id, nonce, mac = int(m.group(1)), m.group(2), m.group(3)
    if not hmac.compare_digest(mac, _mac(secret, ticket_id, nonce, m.group(4))):
        return None
    return ticket_id


def is_ours(bare_id: str | None, domain: str) -> bool:
    return bool(bare_id) and bare_id.startswith("kpd.") and bare_id.lower().endswith("@" + domain.lower())
