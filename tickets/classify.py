"""Classify an incoming message: ours, a bounce, an auto-reply, list/bulk mail, or normal.

Pure functions over an `InboundMessage`; no I/O. The rules are small named objects in a
fixed order (Mailman's pipeline style). Every rule is tried so `Classification.reasons`
explains everything that matched; the *kind* comes from the first rule that matched.

Order: OWN, BOUNCE, AUTO_REPLY, BULK, else NORMAL. A DSN relayed through a mailing list is a
bounce, not list mail; an out-of-office reply is an auto-reply even when it carries
Precedence: bulk.

Weak signals are deliberately not enough on their own:
* ``X-Auto-Response-Suppress`` — Outlook/Exchange put it on ordinary mail too (meeting
  invitations, mail sent through some add-ins), so it counts only with an auto-reply subject.
* ``List-Unsubscribe`` — newsletters *and* some ordinary transactional senders set it; it
  counts only together with Precedence or List-Id.
* A Message-ID on our domain without our ``kpd.`` prefix: colleagues on the same mail domain
  (e.g. anggota answering an escalation from Outlook) have such ids; it counts only together
  with our From address or our loop header.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from kpudesk.mailbox.message import InboundMessage

from .msgid import is_ours

log = logging.getLogger(__name__)


class Kind(StrEnum):
    NORMAL = "normal"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    BULK = "bulk"
    OWN = "own"


@dataclass(frozen=True)
class Classification:
    kind: Kind
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class OwnIdentity:
    """Who "we" are. ``loop_value`` empty means "same as msgid_domain"."""

    addresses: frozenset[str]  # lower-case helpdesk addresses
    msgid_domain: str
    loop_header: str = "X-KPUDesk-Loop"
    loop_value: str = ""

    @property
    def expected_loop_value(self) -> str:
        return (self.loop_value or self.msgid_domain).strip().lower()


class _View:
    """What the rules look at: first value of each header, computed once."""

    __slots__ = ("msg", "own", "first", "subject", "from_key", "from_local")

    def __init__(self, msg: InboundMessage, own: OwnIdentity) -> None:
        self.msg = msg
        self.own = own
        first: dict[str, str] = {}
        for k, v in msg.headers:
            first.setdefault(k, v)
        self.first = first
        self.subject = msg.subject.strip()
        self.from_key = msg.sender_key or ""
        self.from_local = self.from_key.rsplit("@", 1)[0] if "@" in self.from_key else self.from_key

    def h(self, name: str) -> str | None:
        return self.first.get(name)


@dataclass(frozen=True, slots=True)
class Rule:
    """One check. ``check`` returns the reason text when the rule hits, else None."""

    name: str
    kind: Kind
    check: Callable[[_View], str | None]


def _token(value: str) -> str:
    """First token of a header value, lower case: "Auto-Replied; x" -> "auto-replied"."""
    return re.split(r"[\s;(,]", value.strip(), maxsplit=1)[0].lower() if value.strip() else ""


# --- OWN ---------------------------------------------------------------------------------

def _own_address(v: _View) -> str | None:
    if v.from_key and v.from_key in {a.lower() for a in v.own.addresses}:
        return f"From is our own address {v.from_key}"
    return None


def _own_loop_header(v: _View) -> str | None:
    name = v.own.loop_header.lower()
    expected = v.own.expected_loop_value
    for k, value in v.msg.headers:
        if k == name and value.strip().lower() == expected:
            return f"{v.own.loop_header}: {value.strip()}"
    return None


def _own_msgid(v: _View) -> str | None:
    bare = v.msg.msgid
    domain = v.own.msgid_domain.lower()
    if not bare or not domain:
        return None
    if is_ours(bare, domain):
        return f"Message-ID {bare} was made by us"
    if bare.lower().endswith("@" + domain) and (_own_address(v) or _own_loop_header(v)):
        return f"Message-ID {bare} is on our domain {domain}"
    return None


# --- BOUNCE ------------------------------------------------------------------------------

_DAEMON_LOCALS = {"mailer-daemon", "postmaster", "mailerdaemon", "mail-daemon"}
_BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver|undelivered|delivery status notification|delivery (?:has )?fail|"
    r"failure notice|returned mail|mail delivery (?:failed|system)|delivery failure|"
    r"non-?delivery|could not be delivered|not delivered|delivery notification|"
    r"gagal (?:terkirim|dikirim)|tidak (?:dapat )?terkirim|pesan tidak dapat dikirim",
    re.I)
_REPORT_TYPE_RE = re.compile(r"report-type\s*=\s*\"?delivery-status", re.I)


def _bounce_report(v: _View) -> str | None:
    r = v.msg.report
    if r is None:
        return None
    detail = ", ".join(x for x in (r.status, ", ".join(r.recipients[:3])) if x)
    return f"delivery report ({detail})" if detail else "delivery report"


def _bounce_dsn_type(v: _View) -> str | None:
    ctype = v.h("content-type") or ""
    if v.msg.content_type == "multipart/report" and _REPORT_TYPE_RE.search(ctype):
        return "Content-Type: multipart/report; report-type=delivery-status"
    return None


def _bounce_daemon(v: _View) -> str | None:
    if v.from_local in _DAEMON_LOCALS:
        return f"From is {v.from_key}"
    return None


def _bounce_null_sender(v: _View) -> str | None:
    rp = v.h("return-path")
    if rp is None or rp.strip() != "<>":
        return None
    if _BOUNCE_SUBJECT_RE.search(v.subject):
        return f"Return-Path: <> with bounce subject {v.subject[:60]!r}"
    if v.msg.report is not None:
        return "Return-Path: <> with a delivery report"
    return None


# --- AUTO_REPLY --------------------------------------------------------------------------

_AUTO_SUBJECT_RE = re.compile(
    r"^\s*(?:(?:automatic reply|auto[ -]?reply|auto|autoreply|autosvar|abwesenheitsnotiz|"
    r"r[ée]ponse automatique|respuesta autom[áa]tica|balasan otomatis|otomatis|"
    r"sedang cuti|di luar kantor)\s*:|out of (?:the )?office\b)", re.I)
_SUPPRESS_TOKENS = {"all", "oof", "autoreply"}


def _auto_submitted(v: _View) -> str | None:
    value = v.h("auto-submitted")
    if value is None:
        return None
    if _token(value) in ("no", ""):
        return None
    return f"Auto-Submitted: {value.strip()[:60]}"


def _auto_x_autoreply(v: _View) -> str | None:
    for name, label in (("x-autoreply", "X-Autoreply"), ("x-autorespond", "X-Autorespond"),
                        ("x-autoresponder", "X-Autoresponder")):
        value = v.h(name)
        if value is not None and _token(value) not in ("no", "false", "0"):
            return f"{label}: {value.strip()[:60]}"
    return None


def _auto_precedence(v: _View) -> str | None:
    value = v.h("precedence")
    if value is not None and _token(value) in ("auto_reply", "auto-reply"):
        return f"Precedence: {value.strip()}"
    return None


def _auto_suppress_with_subject(v: _View) -> str | None:
    value = v.h("x-auto-response-suppress")
    if value is None:
        return None
    tokens = {t.strip().lower() for t in re.split(r"[,;\s]+", value) if t.strip()}
    if tokens & _SUPPRESS_TOKENS and _AUTO_SUBJECT_RE.search(v.subject):
        return f"X-Auto-Response-Suppress: {value.strip()} with auto-reply subject {v.subject[:60]!r}"
    return None


def _auto_fc_machine(v: _View) -> str | None:
    value = v.h("x-fc-machinegenerated")
    if value is not None and _token(value) == "true":
        return "X-FC-MachineGenerated: true"
    return None


_MDN_TYPE_RE = re.compile(r"report-type\s*=\s*\"?disposition-notification", re.I)


def _auto_read_receipt(v: _View) -> str | None:
    """Read receipts (RFC 8098 MDNs): Outlook sends them without Auto-Submitted."""
    if v.msg.content_type == "multipart/report" and _MDN_TYPE_RE.search(v.h("content-type") or ""):
        return "read receipt (multipart/report; report-type=disposition-notification)"
    return None


def _auto_null_sender(v: _View) -> str | None:
    rp = v.h("return-path")
    if rp is not None and rp.strip() == "<>" and v.msg.report is None:
        return "Return-Path: <>"
    return None


# --- BULK --------------------------------------------------------------------------------

def _bulk_precedence(v: _View) -> str | None:
    value = v.h("precedence")
    if value is not None and _token(value) in ("bulk", "junk", "list"):
        return f"Precedence: {value.strip()}"
    return None


def _bulk_list_id(v: _View) -> str | None:
    value = v.h("list-id")
    if value is not None:
        return f"List-Id: {value.strip()[:80]}"
    return None


def _bulk_list_unsubscribe(v: _View) -> str | None:
    if v.h("list-unsubscribe") is not None and (_bulk_precedence(v) or _bulk_list_id(v)):
        return "List-Unsubscribe with Precedence/List-Id"
    return None


def _bulk_list_software(v: _View) -> str | None:
    for name, label in (("x-mailman-version", "X-Mailman-Version"), ("x-beenthere", "X-BeenThere")):
        value = v.h(name)
        if value is not None:
            return f"{label}: {value.strip()[:60]}"
    return None


RULES: tuple[Rule, ...] = (
    Rule("own-address", Kind.OWN, _own_address),
    Rule("own-loop-header", Kind.OWN, _own_loop_header),
    Rule("own-message-id", Kind.OWN, _own_msgid),
    Rule("delivery-report", Kind.BOUNCE, _bounce_report),
    Rule("dsn-content-type", Kind.BOUNCE, _bounce_dsn_type),
    Rule("daemon-sender", Kind.BOUNCE, _bounce_daemon),
    Rule("null-sender-bounce", Kind.BOUNCE, _bounce_null_sender),
    Rule("auto-submitted", Kind.AUTO_REPLY, _auto_submitted),
    Rule("x-autoreply", Kind.AUTO_REPLY, _auto_x_autoreply),
    Rule("precedence-auto-reply", Kind.AUTO_REPLY, _auto_precedence),
    Rule("outlook-auto-reply", Kind.AUTO_REPLY, _auto_suppress_with_subject),
    Rule("fc-machine-generated", Kind.AUTO_REPLY, _auto_fc_machine),
    Rule("read-receipt", Kind.AUTO_REPLY, _auto_read_receipt),
    Rule("null-return-path", Kind.AUTO_REPLY, _auto_null_sender),
    Rule("precedence-bulk", Kind.BULK, _bulk_precedence),
    Rule("list-id", Kind.BULK, _bulk_list_id),
    Rule("list-unsubscribe", Kind.BULK, _bulk_list_unsubscribe),
    Rule("list-software", Kind.BULK, _bulk_list_software),
)


def classify(msg: InboundMessage, own: OwnIdentity, rules: tuple[Rule, ...] = RULES) -> Classification:
    """Kind of the first matching rule (rules are in priority order); reasons from all hits."""
    view = _View(msg, own)
    kind: Kind | None = None
    reasons: list[str] = []
    for rule in rules:
        reason = rule.check(view)
        if reason is None:
            continue
        log.debug("rule %s (%s) hit for %s: %s", rule.name, rule.kind, msg.msgid, reason)
        if kind is None:
            kind = rule.kind
        reasons.append(reason)
    return Classification(kind or Kind.NORMAL, tuple(reasons))
