"""Showing a stranger's message safely on the ticket page.

Everything here came from outside. The text part is shown as text (the templates escape
it; nothing here marks anything safe), with quoted history split off so the page can fold
it. When a mail had only HTML, its HTML is cleaned with nh3 (the maintained sanitiser of
the ammonia project: an allow-list of tags and attributes, no script, no style, no event
handlers, no `javascript:` links) and shown in `<iframe sandbox srcdoc=…>`: no script
runs in it and it has no origin of its own. Remote images are dropped (a tracking pixel
would tell the sender the mail was read and from where); `cid:` images of the mail itself
are inlined as `data:` URLs, raster types only (an SVG can carry script).
"""
from __future__ import annotations

import base64
import email
import email.policy
from dataclasses import dataclass

import nh3

from kpudesk.tickets.quoting import OUTLOOK_FROM_RE, OUTLOOK_NEXT_RE, QUOTE_START_RE

INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
MAX_INLINE_BYTES = 1024 * 1024  # per inline image
MAX_RAW_BYTES = 10 * 1024 * 1024  # larger mail is shown as its text part only
URL_SCHEMES = {"http", "https", "mailto", "cid"}  # cid: only survives as an inlined image


@dataclass(frozen=True)
class Segment:
    quoted: bool
    text: str


def split_quoted(text: str) -> list[Segment]:
    """The message text as own words and quoted history, in order: "> " blocks are quoted
    segments, and a reply or forward header ("Pada … menulis:", "-----Original Message-----",
    an Outlook "From:/Sent:" block) starts a quoted segment running to the end."""
    lines = (text or "").splitlines()
    out: list[Segment] = []
    current: list[str] = []
    quoted = False

    def flush() -> None:
        if current and "".join(current).strip():
            out.append(Segment(quoted, "\n".join(current).strip("\n")))
        current.clear()

    for i, line in enumerate(lines):
        if (QUOTE_START_RE.match(line)
                or (OUTLOOK_FROM_RE.match(line) and i + 1 < len(lines) and OUTLOOK_NEXT_RE.match(lines[i + 1]))):
            flush()
            out.append(Segment(True, "\n".join(lines[i:]).strip("\n")))
            return out
        is_quote = line.lstrip().startswith(">")
        if is_quote != quoted and line.strip():
            flush()
            quoted = is_quote
        current.append(line)
    flush()
    return out


def _decoded(part) -> bytes:
    try:
        return part.get_payload(decode=True) or b""
    except Exception:  # noqa: BLE001 - a broken transfer encoding shows as nothing
        return b""


def _text_of(part) -> str:
    charset = part.get_content_charset() or "utf-8"
    data = _decoded(part)
    try:
        return data.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return data.decode("utf-8", errors="replace")


def _is_attachment(part) -> bool:
    return (part.get("Content-Disposition") or "").strip().lower().startswith("attachment")


def html_only_body(raw: bytes) -> str | None:
    """The sanitised HTML of a mail that has an HTML body and no plain-text body; None when
    it has a text part (shown instead), no HTML, or is too large to look at here."""
    if not raw or len(raw) > MAX_RAW_BYTES:
        return None
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    html = None
    images: dict[str, str] = {}
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type().lower()
        cid = (part.get("Content-ID") or "").strip().strip("<>")
        if ctype == "text/plain" and not _is_attachment(part):
            return None
        if ctype == "text/html" and html is None and not _is_attachment(part):
            html = _text_of(part)
        elif cid and ctype in INLINE_TYPES:
            data = _decoded(part)
            if 0 < len(data) <= MAX_INLINE_BYTES:
                images[cid.lower()] = f"data:{ctype};base64,{base64.b64encode(data).decode()}"
    return None if html is None else sanitise(html, images)


def sanitise(html: str, images: dict[str, str] | None = None) -> str:
    """`html` with only harmless markup left; `<img src="cid:x">` becomes the mail's own
    image `x` (from `images`, keyed by lower-case Content-ID), any other image source goes."""
    images = images or {}

    def attribute(tag: str, attr: str, value: str) -> str | None:
        if attr == "src" or (tag == "img" and attr in ("srcset", "lowsrc")):
            if value[:4].lower() == "cid:":
                return images.get(value[4:].strip().strip("<>").lower())
            return None  # remote (or relative) images are never loaded
        if value[:4].lower() == "cid:":
            return None  # a cid: link goes nowhere
        return value

    return nh3.clean(html, url_schemes=URL_SCHEMES, attribute_filter=attribute,
                     link_rel="noopener noreferrer nofollow", strip_comments=True)
