"""The MIME walk: collects body text, attachments (with safe file names) and delivery-status
pieces from a compat32 message tree, within the part and depth limits, decoding leaf bodies
straight from the raw bytes where `mailbox.bounds` cut them.
"""
from __future__ import annotations

import base64
import binascii
import email
import hashlib
import quopri
import re
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from mailparser.utils import decode_base64_payload

from . import bounds
from .charset import decode_bytes, fallback_decode, lenient_b64, one_line, unescape_surrogates, decode_words
from .message import Attachment

MAX_DEPTH = 40  # MIME nesting we follow; deeper parts are reported, not walked
MAX_PARTS = 500  # parts we look at in one message


_META_CHARSET_RE = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_.:\-]{1,40})", re.I)

# --------------------------------------------------------------------------------------
# filenames
# --------------------------------------------------------------------------------------

_EXT_BY_TYPE = {
    "application/pdf": ".pdf", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/png": ".png",
    "image/gif": ".gif", "image/webp": ".webp", "image/tiff": ".tif", "image/heic": ".heic",
    "text/plain": ".txt", "text/html": ".html", "text/calendar": ".ics", "text/csv": ".csv",
    "text/rfc822-headers": ".txt", "message/delivery-status": ".txt",
    "message/rfc822": ".eml", "message/global": ".eml",
    "application/zip": ".zip", "application/x-zip-compressed": ".zip",
    "application/msword": ".doc", "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/pgp-signature": ".asc", "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
}
MAX_FILENAME = 150


def sanitize_filename(name: str | None, index: int, content_type: str = "") -> str:
    """A safe display/storage name: basename only, no control characters, never empty.

    Decodes RFC 2047 words, drops any directory part (``/`` or ``\\``), control characters
    and bidi overrides, collapses whitespace, strips leading dots, keeps at most 150
    characters with the extension preserved. Empty -> ``lampiran-N`` + an extension guessed
    from the content type (``.bin`` when unknown).
    """
    name = name or ""
    if "=?" in name:
        name = decode_words(name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = one_line(name)
    name = name.lstrip(". ").rstrip(" ")
    if name.strip(".") == "":
        name = ""
    if len(name) > MAX_FILENAME:
        root, dot, ext = name.rpartition(".")
        if dot and root and 0 < len(ext) <= 16:
            name = root[:MAX_FILENAME - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_FILENAME]
    if not name:
        if content_type == "message/rfc822":
            return "forwarded-message.eml" if index <= 1 else f"forwarded-message-{index}.eml"
        name = f"lampiran-{index}{_EXT_BY_TYPE.get(content_type, '.bin')}"
    return name


# --------------------------------------------------------------------------------------
# structure walk
# --------------------------------------------------------------------------------------

HEADER_LINE_RE = re.compile(rb"[!-9;-~]+[ \t]*:")


KNOWN_HEADER_RE = re.compile(
    rb"(?im)^(?:from|to|cc|subject|date|message-id|received|return-path|mime-version|"
    rb"content-type|reply-to|in-reply-to|references|delivered-to)[ \t]*:")


_BINARY_BYTES = bytes([*range(0, 9), *range(14, 27), *range(28, 32), 127])


def looks_binary(data: bytes) -> bool:
    """More than 5% NUL/control bytes in the first 8 KiB: an image, archive or noise, not text."""
    sample = data[:8192]
    if not sample:
        return False
    controls = len(sample) - len(sample.translate(None, _BINARY_BYTES))
    return controls * 20 > len(sample)


class Walker:
    """Collects body segments, attachments and DSN pieces from a compat32 message tree."""

    def __init__(self, defects: list[str], linesep: str = "\n", bounded: bounds.Bounded | None = None,
                 data: bytes = b"") -> None:
        self.defects = defects
        self.linesep = linesep
        self.leaves = bounded.leaves if bounded is not None else {}
        self.data = data  # what the leaves' spans index
        self.attachments: list[Attachment] = []
        self.delivery_status: list[Message] = []
        self.rfc822_headers: list[str] = []
        self.forwarded: list[Message] = []
        self.parts_seen = 0

    # -- helpers -----------------------------------------------------------------------

    def _note_defects(self, part: Message, ctype: str) -> None:
        for d in getattr(part, "defects", ()) or ():
            doc = (type(d).__doc__ or "").strip().splitlines()
            what = doc[0].rstrip(".") if doc else ""
            self.defects.append(f"{type(d).__name__} ({ctype}){': ' + what if what else ''}")

    def payload_bytes(self, part: Message, ctype: str, text_limit: int | None = None) -> bytes:
        """Transfer-decoded payload of a non-multipart part (a large leaf's text: at most
        about `text_limit` bytes)."""
        # The raw payload: get_payload() would already apply the declared charset to 8-bit
        # text (with errors="replace"), losing the bytes we need for our own fallbacks.
        payload = getattr(part, "_payload", None)
        if isinstance(payload, list):
            return self._flatten_list(payload)
        if payload is None:
            return b""
        if not isinstance(payload, str):
            payload = str(payload)
        cte = str(part.get("content-transfer-encoding", "") or "").strip().lower()
        if self.leaves and payload.startswith(bounds.LEAF_MARK):
            span = self.leaves.get(payload.strip("\r\n"))
            if span is not None:
                return self._leaf(span, cte, ctype, text_limit)
        raw = payload.encode("utf-8", "surrogateescape")
        if not cte or cte in ("7bit", "8bit", "binary"):
            return raw
        if cte == "base64":
            compact = b"".join(raw.split())
            try:
                return base64.b64decode(compact, validate=True)
            except (binascii.Error, ValueError):
                self.defects.append(f"invalid base64 in {ctype} part, decoded leniently")
                try:
                    return decode_base64_payload(payload)  # mail-parser: decodes like a mail client
                except Exception:  # noqa: BLE001
                    return lenient_b64(compact)
        if cte == "quoted-printable":
            return quopri.decodestring(raw)
        if cte in ("x-uuencode", "uuencode", "uue", "x-uue"):
            try:
                data = part.get_payload(decode=True)
                return data if isinstance(data, bytes) else raw
            except Exception:  # noqa: BLE001
                return raw
        self.defects.append(f"unknown Content-Transfer-Encoding {cte[:40]!r} in {ctype} part")
        return raw

    def _leaf(self, span: tuple[int, int], cte: str, ctype: str, limit: int | None) -> bytes:
        data, invalid = bounds.leaf_bytes(self.data, span, cte, limit)
        if invalid:
            self.defects.append(f"invalid base64 in {ctype} part, decoded leniently")
        if limit is not None and len(data) > limit:
            self.defects.append(f"{ctype} part over {limit // (1024 * 1024)} MB: only its start was read")
            data = data[:limit]
        return data

    def _flatten(self, msg: Message, depth: int = 0) -> bytes:
        return _raw_text(msg, self.linesep, depth, self).encode("utf-8", "surrogateescape")

    def _flatten_list(self, items: list) -> bytes:
        return self.linesep.encode().join(self._flatten(m) for m in items if isinstance(m, Message))

    def add_attachment(self, part: Message, ctype: str, filename: str | None, payload: bytes) -> None:
        index = len(self.attachments) + 1
        self.attachments.append(Attachment(
            filename=sanitize_filename(filename, index, ctype),
            content_type=ctype,
            size=len(payload),
            sha256=hashlib.sha256(payload).hexdigest(),
            payload=payload,
        ))

    @staticmethod
    def filename(part: Message) -> str | None:
        if "content-disposition" not in part and "name" not in str(part.get("content-type", "")).lower():
            return None  # fast path: nowhere a filename could be
        try:
            name = part.get_filename()
        except Exception:  # noqa: BLE001
            name = None
        if name is None:
            return None
        if not isinstance(name, str):
            name = str(name)
        return unescape_surrogates(name)[0]

    @staticmethod
    def disposition(part: Message) -> str:
        value = part.get("content-disposition")
        if value is None:
            return ""
        return str(value).split(";", 1)[0].strip().lower()

    def decode_text(self, part: Message, ctype: str) -> str:
        data = self.payload_bytes(part, ctype, bounds.TEXT_CAP)
        try:
            charset = part.get_content_charset()
        except Exception:  # noqa: BLE001
            charset = None
        if charset is None and ctype == "text/html":
            m = _META_CHARSET_RE.search(data[:4096])
            if m:
                charset = m.group(1).decode("ascii", "replace").lower()
        text, problem = decode_bytes(data, charset)
        if problem:
            self.defects.append(f"{ctype} part: {problem}; decoded with fallback")
        return text

    # -- the walk ----------------------------------------------------------------------

    def walk(self, part: Message, depth: int = 0) -> list[tuple[str, str]]:
        """Return display body segments [(kind, text)], kind 'plain' or 'html' (raw markup)."""
        self.parts_seen += 1
        if self.parts_seen > MAX_PARTS:
            if self.parts_seen == MAX_PARTS + 1:
                self.defects.append(f"more than {MAX_PARTS} MIME parts; the rest were skipped")
            return []
        try:
            ctype = part.get_content_type().lower()
        except Exception:  # noqa: BLE001
            ctype = "application/octet-stream"
        self._note_defects(part, ctype)
        if depth > MAX_DEPTH:
            self.defects.append(f"MIME nesting deeper than {MAX_DEPTH}; inner parts skipped")
            return []
        maintype = ctype.split("/", 1)[0]
        payload = getattr(part, "_payload", None)  # see payload_bytes: get_payload() can raise

        if isinstance(payload, list):
            if maintype == "message":
                self._message_part(part, ctype, payload)
                return []
            if maintype != "multipart":
                # a non-multipart type with a parsed sub-message list: treat as an attachment
                self.add_attachment(part, ctype, self.filename(part), self._flatten_list(payload))
                return []
            children = [c for c in payload if isinstance(c, Message)]
            if ctype == "multipart/alternative":
                return self._alternative(children, depth)
            segs: list[tuple[str, str]] = []
            for child in children:
                segs.extend(self.walk(child, depth + 1))
            return segs

        # a leaf
        filename = self.filename(part)
        disposition = self.disposition(part)
        if maintype == "multipart":
            # boundary missing or never found: keep the text rather than lose it
            self.defects.append(f"{ctype} without usable parts; body kept as text")
            return [("plain", self.decode_text(part, "text/plain"))]
        if ctype == "text/rfc822-headers":
            self.rfc822_headers.append(self.decode_text(part, ctype))
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
            kind = "plain" if ctype == "text/plain" else "html"
            return [(kind, self.decode_text(part, ctype))]
        if maintype == "message":
            # message/* that compat32 left unparsed (e.g. base64-encoded message/rfc822)
            data = self.payload_bytes(part, ctype)
            if ctype in ("message/rfc822", "message/global") and data:
                try:
                    self.forwarded.append(email.message_from_bytes(data))
                except Exception:  # noqa: BLE001
                    pass
            elif ctype == "message/delivery-status":
                self.delivery_status.extend(_status_blocks(data))
            self.add_attachment(part, ctype, filename, data)
            return []
        self.add_attachment(part, ctype, filename, self.payload_bytes(part, ctype))
        return []

    def _message_part(self, part: Message, ctype: str, payload: list) -> None:
        subs = [m for m in payload if isinstance(m, Message)]
        if ctype == "message/delivery-status":
            self.delivery_status.extend(subs)
            data = self._flatten_list(subs)
        else:
            if ctype in ("message/rfc822", "message/global") and subs:
                self.forwarded.append(subs[0])
                for sub in subs:  # report defects inside the forwarded message too
                    self._note_defects(sub, "forwarded " + ctype)
            data = self._flatten_list(subs)
        self.add_attachment(part, ctype, self.filename(part), data)

    def _alternative(self, children: list[Message], depth: int) -> list[tuple[str, str]]:
        results = [self.walk(c, depth + 1) for c in children]
        plain = [r for r in results if any(k == "plain" for k, _ in r)]
        html_ = [r for r in results if any(k == "html" for k, _ in r)]
        for r in plain:
            if any(t.strip() for k, t in r if k == "plain"):
                return r
        for r in html_:
            if any(t.strip() for k, t in r if k == "html"):
                return r
        return plain[0] if plain else (html_[0] if html_ else [])


def _raw_text(msg: Message, nl: str, depth: int = 0, walker: Walker | None = None) -> str:
    """A parsed compat32 message back as text, as close to the original as we can get.

    Not `BytesGenerator`: that re-validates headers and raises on values the parser
    accepted (embedded newlines, bad charsets), and it may refold. compat32 keeps header
    values and leaf payloads exactly as they arrived (8-bit bytes as surrogate escapes), so
    writing them back out gives the original bytes up to the line endings we add.
    """
    if depth > MAX_DEPTH:
        return ""
    out: list[str] = []
    for name, value in getattr(msg, "_headers", ()):
        out.append(f"{name}: {value}{nl}")
    out.append(nl)
    payload = getattr(msg, "_payload", None)
    if isinstance(payload, list):
        subs = [_raw_text(m, nl, depth + 1, walker) for m in payload if isinstance(m, Message)]
        if msg.get_content_maintype() == "multipart":
            boundary = msg.get_boundary() or ""
            if msg.preamble is not None:
                out.append(msg.preamble + nl)
            for i, sub in enumerate(subs):
                out.append(("" if i == 0 else nl) + f"--{boundary}{nl}" + sub)
            out.append(f"{nl}--{boundary}--{nl}")
            if msg.epilogue is not None:
                out.append(msg.epilogue)
        else:
            out.append(nl.join(subs))
    elif payload is not None:
        payload = str(payload)
        span = walker.leaves.get(payload.strip("\r\n")) if walker is not None and walker.leaves else None
        if span is not None:  # a large leaf kept out of the parse: its bytes as they arrived
            payload = walker.data[span[0]:span[1]].decode("ascii", "surrogateescape")
        out.append(payload)
    return "".join(out)


def _status_blocks(data: bytes) -> list[Message]:
    """Parse a delivery-status body (header blocks separated by blank lines)."""
    text = fallback_decode(data)
    blocks = re.split(r"\r?\n[ \t]*\r?\n", text)
    out = []
    for block in blocks:
        if block.strip():
            try:
                out.append(HeaderParser(policy=compat32).parsestr(block.strip() + "\n"))
            except Exception:  # noqa: BLE001
                pass
    return out
