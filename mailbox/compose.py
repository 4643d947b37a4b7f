"""Build the exact bytes of a mail the helpdesk sends.

Everything that reaches a header is hostile until proven otherwise: subjects and names come
from incoming mail. The standard library will happily write a header value that contains a
line break, and it *decodes* RFC 2047 encoded words in values we assign (on Python 3.11,
`msg["Subject"] = "=?UTF-8?Q?x=0D=0ABcc:_v@e?="` is written out as a real `Bcc:` line; the same
holds for display names, References and filenames). So:

* every header value goes through `clean_header` (control characters and line breaks become
  spaces), and an encoded-word opener `=?` that the library would decode is broken up;
* addresses are validated and built with `email.headerregistry.Address`, which quotes
  display names;
* Message-IDs are validated and written verbatim (the library mangles long or unusual ids);
* the composed bytes are parsed back and the header names compared with what was asked for:
  anything extra is a bug and raises `ValueError` instead of sending.

`compose` returns the bytes as they go on the wire (CRLF line ends, 7-bit clean, UTF-8
encoded words in headers, quoted-printable or base64 bodies).
"""
from __future__ import annotations

import email
import email.policy
import re
from functools import lru_cache
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email import headerregistry
from email.message import EmailMessage
from email.utils import format_datetime

from .message import Address

__all__ = [
    "NO_SUBJECT",
    "tag_pattern",
    "OutgoingMail",
    "check_addr_spec",
    "clean_header",
    "compose",
    "reply_subject",
    "tagged_subject",
]

#: What a mail without a subject is called.
NO_SUBJECT = "(tanpa subjek)"

# SMTP policy (CRLF, 78-column folding), 7-bit output (no reliance on 8BITMIME), and raw
# string headers (our Message-ID lines) written as given rather than re-parsed.
_POLICY = email.policy.SMTP.clone(cte_type="7bit", refold_source="none")

_AUTO_SUBMITTED = frozenset({"auto-replied", "auto-generated", "auto-notified"})
_MAX_REFERENCES = 10  # first one + last nine, as mail clients trim long threads

# Bidirectional overrides/isolates: invisible, and used to disguise text. Dropped.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")

_HEADER_NAME_RE = re.compile(r"[!-9;-~]+")  # RFC 5322 ftext
_MSGID_RE = re.compile(r"[!-;=?-~]+")  # printable ASCII without space, '<' and '>'
_LOCAL_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\]")
_CTYPE_RE = re.compile(r"([a-z0-9][a-z0-9!#$&^_.+-]*)/([a-z0-9][a-z0-9!#$&^_.+-]*)")

# Headers compose writes itself; extra_headers may not set them (nor any other header the
# library treats as structured: Sender, Resent-*, Bcc, ...).
_MANAGED = frozenset({
    "from", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id", "in-reply-to",
    "references", "mime-version", "auto-submitted", "x-auto-response-suppress", "return-path",
})
# Headers a MIME body part may carry.
_PART_HEADERS = frozenset({"content-type", "content-transfer-encoding", "content-disposition",
                           "content-id", "content-description", "mime-version"})


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    from_addr: Address
    to: tuple[Address, ...]
    subject: str
    text: str
    message_id: str  # bare, no angle brackets
    date: datetime  # aware
    cc: tuple[Address, ...] = ()
    reply_to: Address | None = None
    html: str | None = None
    in_reply_to: str | None = None  # bare
    references: tuple[str, ...] = ()  # bare, oldest first
    auto_submitted: str | None = None  # "auto-replied" | "auto-generated"
    suppress_autoresponse: bool = False
    extra_headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[tuple[str, str, bytes], ...] = ()  # (filename, content type, data)


def to_record(mail: OutgoingMail) -> dict:
    """A JSON-able record of a mail without attachments, to compose later (see `from_record`)."""
    if mail.attachments:
        raise ValueError("a mail with attachments is composed at once, not recorded")
    addr = lambda a: [a.name, a.email]  # noqa: E731
    return {"from": addr(mail.from_addr), "to": [addr(a) for a in mail.to], "cc": [addr(a) for a in mail.cc],
            "reply_to": addr(mail.reply_to) if mail.reply_to else None, "subject": mail.subject,
            "text": mail.text, "html": mail.html, "message_id": mail.message_id, "date": mail.date.isoformat(),
            "in_reply_to": mail.in_reply_to, "references": list(mail.references),
            "auto_submitted": mail.auto_submitted, "suppress_autoresponse": mail.suppress_autoresponse,
            "extra_headers": [list(h) for h in mail.extra_headers]}


def from_record(r: dict) -> OutgoingMail:
    addr = lambda a: Address(a[0], a[1])  # noqa: E731
    return OutgoingMail(
        from_addr=addr(r["from"]), to=tuple(addr(a) for a in r["to"]), cc=tuple(addr(a) for a in r["cc"]),
        reply_to=addr(r["reply_to"]) if r["reply_to"] else None, subject=r["subject"], text=r["text"],
        html=r["html"], message_id=r["message_id"], date=datetime.fromisoformat(r["date"]),
        in_reply_to=r["in_reply_to"], references=tuple(r["references"]), auto_submitted=r["auto_submitted"],
        suppress_autoresponse=r["suppress_autoresponse"], extra_headers=tuple(tuple(h) for h in r["extra_headers"]))


# --- header values ---------------------------------------------------------------------------

def clean_header(value: object) -> str:
    """A value that is safe on one header line.

    CR, LF, NUL, every other control character and the Unicode line/paragraph separators
    become spaces; bidirectional override characters are dropped; lone surrogates (from
    undecodable bytes) become U+FFFD; runs of whitespace collapse to one space; the result is
    stripped. None gives "".
    """
    if value is None:
        return ""
    value = str(value)
    if value.isprintable():
        # No control, separator, surrogate or bidi character (none of them is printable):
        # the loop below would only collapse spaces. Nearly every subject takes this way.
        return " ".join(value.split())
    out: list[str] = []
    for ch in value:
        if ch in _BIDI:
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zl", "Zp"):
            out.append(" ")
        elif cat == "Cs":
            out.append("\ufffd")
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def _break_encoded_words(value: str) -> str:
    """Make sure no RFC 2047 encoded word can start in `value` ("=?" becomes "= ?")."""
    return value.replace("=?", "= ?")


def _unstructured(name: str, value: object) -> str:
    """Clean a free-text header value so the library writes exactly this text.

    When the library would decode an encoded word inside the value (so the text we checked
    is not the text it writes), the encoded-word openers are broken up.
    """
    text = clean_header(value)
    if "=?" in text and str(_POLICY.header_factory(name, text)) != text:
        text = _break_encoded_words(text)
    return text


def check_addr_spec(addr: str) -> str:
    """Return the stripped addr-spec, or raise ValueError when it is not a plain `local@domain`.

    Rejected: line breaks and other control characters, spaces, no or several '@', quoted or
    otherwise unusual local parts, non-ASCII (SMTPUTF8 is not used), encoded-word look-alikes.
    """
    if not isinstance(addr, str):
        raise ValueError(f"email address must be a string, not {type(addr).__name__}")
    spec = addr.strip()
    if not spec:
        raise ValueError("empty email address")
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in spec):
        raise ValueError(f"email address contains whitespace or control characters: {spec!r}")
    if spec.count("@") != 1:
        raise ValueError(f"email address must contain exactly one '@': {spec!r}")
    if not spec.isascii():
        raise ValueError(f"non-ASCII email address is not supported: {spec!r}")
    if "=?" in spec:
        raise ValueError(f"email address looks like an encoded word: {spec!r}")
    local, domain = spec.split("@")
    if not _LOCAL_RE.fullmatch(local) or len(local) > 64:
        raise ValueError(f"invalid local part in email address: {spec!r}")
    if not _DOMAIN_RE.fullmatch(domain) or len(domain) > 255:
        raise ValueError(f"invalid domain in email address: {spec!r}")
    return spec


def _address(addr: Address) -> headerregistry.Address:
    spec = check_addr_spec(addr.email)
    name = _break_encoded_words(clean_header(addr.name))
    return headerregistry.Address(display_name=name, addr_spec=spec)


def _msgid_ok(bare: object) -> bool:
    return (isinstance(bare, str) and 0 < len(bare) <= 900 and _MSGID_RE.fullmatch(bare) is not None
            and "=?" not in bare)


def _fold_ids(name: str, ids: list[str]) -> str:
    """`<a> <b> ...` folded at 78 columns (an id longer than a line stays whole)."""
    lines: list[str] = []
    line = ""
    for token in (f"<{i}>" for i in ids):
        # room on this physical line after "Name: " (first line) or the folding space
        room = _POLICY.max_line_length - (len(name) + 2 if not lines else 1)
        if not line:
            line = token
        elif len(line) + 1 + len(token) <= room:
            line += " " + token
        else:
            lines.append(line)
            line = token
    lines.append(line)
    return "\r\n ".join(lines)


def _cap_references(ids: tuple[str, ...]) -> list[str]:
    seen: dict[str, None] = {}
    for i in ids:
        if _msgid_ok(i):
            seen.setdefault(i, None)
    out = list(seen)
    if len(out) > _MAX_REFERENCES:
        out = out[:1] + out[-(_MAX_REFERENCES - 1):]
    return out


def _content_type(value: str) -> tuple[str, str]:
    m = _CTYPE_RE.fullmatch(clean_header(value).lower())
    if not m or m.group(1) in ("multipart", "message"):
        return "application", "octet-stream"
    return m.group(1), m.group(2)


def _filename(value: str) -> str:
    name = clean_header(value).replace("/", "_").replace("\\", "_").strip(" .")
    name = _break_encoded_words(name)
    return name or "lampiran"


# --- composing -------------------------------------------------------------------------------

def compose(mail: OutgoingMail) -> bytes:
    """The wire bytes of `mail`. Raises ValueError on an invalid address, id, date or header."""
    if not isinstance(mail.date, datetime) or mail.date.tzinfo is None or mail.date.utcoffset() is None:
        raise ValueError("OutgoingMail.date must be an aware datetime")
    if not _msgid_ok(mail.message_id):
        raise ValueError(f"invalid Message-ID (bare id expected, no brackets or spaces): {mail.message_id!r}")
    if not mail.to and not mail.cc:
        raise ValueError("a mail needs at least one To or Cc recipient")
    if mail.auto_submitted is not None and mail.auto_submitted not in _AUTO_SUBMITTED:
        raise ValueError(f"invalid Auto-Submitted value: {mail.auto_submitted!r}")

    msg = EmailMessage(policy=_POLICY)
    expected: list[str] = []

    def put(name: str, value: object) -> None:
        msg[name] = value
        expected.append(name.lower())

    def put_raw(name: str, value: str) -> None:
        msg.set_raw(name, value)  # validated ASCII, written verbatim
        expected.append(name.lower())

    put("From", _address(mail.from_addr))
    if mail.to:
        put("To", [_address(a) for a in mail.to])
    if mail.cc:
        put("Cc", [_address(a) for a in mail.cc])
    if mail.reply_to is not None:
        put("Reply-To", _address(mail.reply_to))
    put("Subject", _unstructured("Subject", mail.subject))
    put("Date", format_datetime(mail.date))
    put_raw("Message-ID", f"<{mail.message_id}>")
    # In-Reply-To and References come from incoming mail: an unusable id is dropped, not sent.
    if mail.in_reply_to and _msgid_ok(mail.in_reply_to):
        put_raw("In-Reply-To", _fold_ids("In-Reply-To", [mail.in_reply_to]))
    refs = _cap_references(mail.references)
    if refs:
        put_raw("References", _fold_ids("References", refs))
    put("MIME-Version", "1.0")
    if mail.auto_submitted:
        put("Auto-Submitted", mail.auto_submitted)
    if mail.suppress_autoresponse:
        put("X-Auto-Response-Suppress", "All")
    for name, value in mail.extra_headers:
        if not isinstance(name, str) or not _HEADER_NAME_RE.fullmatch(name):
            raise ValueError(f"invalid header name: {name!r}")
        low = name.lower()
        if low in _MANAGED or low.startswith(("content-", "resent-")) or low in _POLICY.header_factory.registry:
            raise ValueError(f"header {name} cannot be set through extra_headers")
        put(name, _unstructured(name, value))

    text = _body(mail.text)
    msg.set_content(text, subtype="plain", charset="utf-8")
    if mail.html is not None:
        msg.add_alternative(_body(mail.html), subtype="html", charset="utf-8")
    for filename, ctype, data in mail.attachments:
        maintype, subtype = _content_type(ctype)
        msg.add_attachment(bytes(data), maintype=maintype, subtype=subtype, filename=_filename(filename))

    for part in msg.walk():  # the library stamps MIME-Version on every part it creates
        if part is not msg:
            del part["MIME-Version"]
    raw = msg.as_bytes(policy=_POLICY)
    _verify(raw, expected)
    return raw


def _body(text: str) -> str:
    text = "" if text is None else str(text)
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> '?'
    if not text.endswith("\n"):
        text += "\n"
    return text


def _verify(raw: bytes, expected: list[str]) -> None:
    """Parse the result back as a receiver would; any header we did not ask for is fatal."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    if b"\n" in head.replace(b"\r\n", b"") or b"\r" in head.replace(b"\r\n", b""):
        raise ValueError("composed header block contains a bare CR or LF")
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    names = [k.lower() for k in parsed.keys()]
    top = [n for n in names if not n.startswith("content-")]
    if top != expected or not set(names) - set(top) <= _PART_HEADERS:
        raise ValueError(f"composed headers {names} differ from the requested {expected}")
    for part in parsed.walk():
        if part is parsed:
            continue
        extra = {k.lower() for k in part.keys()} - _PART_HEADERS
        if extra:
            raise ValueError(f"unexpected headers in a MIME part: {sorted(extra)}")


# --- subjects --------------------------------------------------------------------------------

_REPLY_WORDS = ("re", "fwd", "fw", "aw", "wg", "sv", "vs", "balas", "bls", "tr", "trs",
                "antw", "rif", "odp", "res", "enc")
_PREFIX_RE = re.compile(
    r"^(?:\s*(?:" + "|".join(_REPLY_WORDS) + r")\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]\s*)+",
    re.IGNORECASE,
)
_REF_RE = re.compile(r"^(.*?)\s*#\s*\d+$")


def _tag_pattern(tag_ref: str) -> re.Pattern[str]:
    m = _REF_RE.match(tag_ref)
    if m and m.group(1):
        return tag_pattern(m.group(1))
    return re.compile(r"\[\s*" + re.escape(tag_ref) + r"\s*\]", re.IGNORECASE)


@lru_cache(maxsize=16)  # one tag per deployment: built once, not per message
def tag_pattern(tag: str) -> re.Pattern[str]:
    """The subject tag `[TAG #N]` (spaces and case as people retype them); group 1 is N.
    The one pattern for both sides: stripping it from subjects we write, finding it in
    subjects we read (tickets.matching)."""
    return re.compile(r"\[\s*" + re.escape(tag) + r"\s*#\s*(\d{1,9})\s*\]", re.IGNORECASE)


def _strip_subject(tag_ref: str, subject: str) -> str:
    text = clean_header(subject)
    text = " ".join(_tag_pattern(tag_ref).sub(" ", text).split())
    text = _PREFIX_RE.sub("", text).strip()
    return text or NO_SUBJECT


def reply_subject(tag_ref: str, subject: str, prefix: str | None = "Re: ") -> str:
    """"Re: [HD-MSJ #12] original subject": one tag, one prefix, one line.

    Every existing tag with the same prefix ("[HD-MSJ #7]", "[hd-msj#12]") is removed, then
    any leading chain of reply/forward markers (Re, RE, Fwd, FW, AW, WG, SV, VS, Balas, Bls,
    Tr, "Re[2]:", "Re:Re:" ...), before our tag and `prefix` are added once. `prefix=None`
    gives the bare tagged subject.
    """
    ref = clean_header(tag_ref)
    if not ref:
        raise ValueError("empty ticket reference")
    head = clean_header(prefix) + " " if prefix and clean_header(prefix) else ""
    return f"{head}[{ref}] {_strip_subject(ref, subject)}"


def tagged_subject(tag_ref: str, subject: str) -> str:
    """"[HD-MSJ #12] original subject" (no reply prefix)."""
    return reply_subject(tag_ref, subject, prefix=None)
