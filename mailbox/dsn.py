"""Delivery reports: RFC 3464 delivery-status parts read into a `DeliveryReport`, and the
heuristics that recognise a bounce without one (daemon senders, SMTP replies, quoted
original Message-ID).
"""
from __future__ import annotations

import itertools
import re
from email.parser import HeaderParser
from email.policy import compat32

from .headers import header_text
from .message import (
    Address,
    DeliveryReport,
    normalize_msgid,
)
from .mime_walk import Walker

MAX_REPORT_RECIPIENTS = 200


# --------------------------------------------------------------------------------------
# delivery reports
# --------------------------------------------------------------------------------------

_STATUS_RE = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_SMTP_REPLY_RE = re.compile(r"\b[45]\d\d[ -]")
_QUOTED_MSGID_RE = re.compile(r"(?im)^[ \t>]*Message-ID[ \t]*:[ \t]*(<[^<>\s]+>)")
DAEMON_LOCALS = {"mailer-daemon", "postmaster", "mailerdaemon", "mail-daemon"}
_ORIGINAL_MARKER_RE = re.compile(
    r"(?im)^(?:[ \t]*-{2,}.*(?:original message|copy of the message|undelivered message|"
    r"below this line|returned message|message headers)|"
    r"[ \t>]*(?:Return-Path|Received|Message-ID|X-Original-To|Delivered-To)[ \t]*:)")
_LINE_ADDR_RE = re.compile(
    r"(?im)^[ \t]*<?([^\s<>()\"',;:@]+@[A-Za-z0-9][A-Za-z0-9.\-]*[A-Za-z0-9])>?[ \t]*(?::|\(|$)")
_PHRASE_ADDR_RE = re.compile(
    r"(?i)(?:delivered to|delivery to the following recipients?(?: failed[ a-z]*)?:?|"
    r"recipient address:?|failed recipients?:?|could not be delivered to:?|"
    r"tidak dapat (?:dikirim|terkirim) ke:?)\s*<?([^\s<>()\"',;:@]+@[A-Za-z0-9][A-Za-z0-9.\-]*[A-Za-z0-9])")


def _recipient_value(value: str) -> str:
    value = value.split(";", 1)[1] if ";" in value else value
    return value.strip().strip("<>").strip()


def dsn_report(walker: Walker, text: str, defects: list[str]) -> DeliveryReport:
    recipients: list[str] = []
    seen: set[str] = set()
    status = ""
    diagnostic = ""
    original: str | None = None
    for block in walker.delivery_status[:MAX_REPORT_RECIPIENTS + 1]:
        final = block.get("final-recipient")
        orig = block.get("original-recipient")
        for value in (final, orig):
            if value is not None:
                addr = _recipient_value(header_text(value))
                if addr and addr.lower() not in seen:
                    seen.add(addr.lower())
                    recipients.append(addr)
        st = block.get("status")
        if st is not None:
            m = _STATUS_RE.search(header_text(st))
            if m and (not status or (status[0] == "2" and m.group(1)[0] != "2")):
                status = m.group(1)
        dc = block.get("diagnostic-code")
        if dc is not None and not diagnostic:
            diag = header_text(dc)
            kind, sep, rest = diag.partition(";")
            # "smtp; 550 ...", "X-Postfix; ..." -> the text after the diagnostic type
            diagnostic = rest.strip() if sep and (kind.strip().lower() == "smtp" or kind.lower().startswith("x-")) else diag
        xo = block.get("x-original-message-id")
        if xo is not None and original is None:
            original = normalize_msgid(header_text(xo, decode=False))
    original = _original_msgid(walker, text) or original
    if not recipients or not status:
        # malformed or missing delivery-status part: read the human part like a plain bounce
        guess = bounce_report(walker, text, None)
        if guess is not None:
            recipients = recipients or list(guess.recipients)
            status = status or guess.status
    if not diagnostic:
        diagnostic = _first_lines(text)
    if not recipients:
        defects.append("delivery report without Final-Recipient/Original-Recipient")
    return DeliveryReport(tuple(recipients[:MAX_REPORT_RECIPIENTS]), status, diagnostic[:1000], original)


def _original_msgid(walker: Walker, text: str) -> str | None:
    for headers in walker.rfc822_headers:
        try:
            h = HeaderParser(policy=compat32).parsestr(headers)
            v = h.get("message-id")
        except Exception:  # noqa: BLE001
            v = None
        if v is not None:
            found = normalize_msgid(header_text(v, decode=False))
            if found:
                return found
        m = _QUOTED_MSGID_RE.search(headers)
        if m:
            return normalize_msgid(m.group(1))
    for fwd in walker.forwarded:
        v = fwd.get("message-id")
        if v is not None:
            found = normalize_msgid(header_text(v, decode=False))
            if found:
                return found
    m = _QUOTED_MSGID_RE.search(text)
    return normalize_msgid(m.group(1)) if m else None


def _first_lines(text: str, n: int = 4) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines[:40]:
        if _SMTP_REPLY_RE.search(ln) or _STATUS_RE.search(ln):
            return ln[:500]
    return " ".join(lines[:n])[:500]


def bounce_report(walker: Walker, text: str, from_addr: Address | None) -> DeliveryReport | None:
    """Best effort for bounces that are not RFC 3464 DSNs (qmail, old Exim, webmail)."""
    original = _original_msgid(walker, text)
    cut = _ORIGINAL_MARKER_RE.search(text)
    human = text[:cut.start()] if cut else text
    sender = from_addr.key if from_addr else ""
    recipients: list[str] = []
    seen: set[str] = {sender}
    for m in itertools.chain(_PHRASE_ADDR_RE.finditer(human), _LINE_ADDR_RE.finditer(human)):
        addr = m.group(1).rstrip(".")
        key = addr.lower()
        if key in seen or key.split("@", 1)[0] in DAEMON_LOCALS:
            continue
        seen.add(key)
        recipients.append(addr)
        if len(recipients) >= MAX_REPORT_RECIPIENTS:
            break
    has_original = bool(original or walker.forwarded or walker.rfc822_headers or cut)
    if not has_original and not recipients:
        return None
    sm = _STATUS_RE.search(human)
    return DeliveryReport(tuple(recipients), sm.group(1) if sm else "", _first_lines(human), original)
