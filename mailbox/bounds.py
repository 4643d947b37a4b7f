"""Bounds on what one message may cost the parser, applied before the stdlib parser sees it.

The standard library's feed parser costs time per line and memory several times the
message: a 3 MB mail of 80,000 MIME parts took seconds and ~110 MB, a 25 MB attachment
~140 MB (its lines as str objects, the joined payload, its bytes, the decoded copy). So
`bound` looks at the raw bytes first (C-speed `find`/`count`, a Python loop only over
MIME delimiter lines) and hands the parser a *skeleton* instead:

* more than MAX_SCAN_PARTS delimiters, or more than MAX_SCAN_BOUNDARIES distinct
  boundaries (nesting): the body is cut after that many and closed with the first
  boundary's close-delimiter; the parser reads only that prefix (a defect says so);
* a header block over MAX_HEADER_BYTES: its first MAX_HEADER_BYTES are kept, plus the
  essential fields (From, To, Message-ID ...) found after them, each capped;
* in a message over LARGE_MESSAGE, each leaf body over LARGE_LEAF is replaced by a short
  placeholder; the walker decodes the leaf straight from the raw bytes (`leaf_bytes`,
  binascii over a memoryview: one copy, the decoded one), and text leaves only up to
  TEXT_CAP bytes.

Ordinary mail (under 1 MB, few delimiters, a normal header) costs one `bytes.count`.
"""
from __future__ import annotations

import binascii
import quopri
import re
from dataclasses import dataclass, field

MAX_SCAN_PARTS = 1000
MAX_SCAN_BOUNDARIES = 60  # distinct boundaries ~ nesting depth (mime_walk.MAX_DEPTH is 40)
MAX_HEADER_BYTES = 256 * 1024
MAX_FIELD_BYTES = 16 * 1024  # an essential field found past MAX_HEADER_BYTES
LARGE_MESSAGE = 1024 * 1024
LARGE_LEAF = 256 * 1024
TEXT_CAP = 1024 * 1024  # decoded bytes of one text part read into the message text

LEAF_MARK = "\x00kpudesk-leaf-"
_BOUNDARY_RE = re.compile(rb'(?i)\bboundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))')
_ESSENTIAL_RE = re.compile(
    rb"(?im)^(from|to|cc|reply-to|subject|date|message-id|in-reply-to|references|mime-version|"
    rb"content-type|content-transfer-encoding|auto-submitted|precedence|list-id|list-unsubscribe|"
    rb"return-path|authentication-results|dkim-signature|x-spam-flag|x-spam-status)[ \t]*:")
_CONTAINER_RE = re.compile(rb"(?i)content-type[ \t]*:[ \t]*(?:multipart|message)/")


@dataclass
class Bounded:
    skeleton: bytes
    body_start: int  # in the skeleton
    leaves: dict[str, tuple[int, int]] = field(default_factory=dict)  # placeholder -> span of data
    defects: list[str] = field(default_factory=list)


def bound(data: bytes, body_start: int) -> Bounded | None:
    """A skeleton of `data` for the parser, or None when the message is within every bound."""
    big = len(data) > LARGE_MESSAGE
    head_big = body_start > MAX_HEADER_BYTES
    if not big and not head_big and data.count(b"\n--", max(0, body_start - 1)) <= MAX_SCAN_PARTS:
        return None
    defects: list[str] = []
    head = _bounded_header(data[:body_start], defects) if head_big else data[:body_start]
    boundaries = {m.group(1) or m.group(2) for m in _BOUNDARY_RE.finditer(data)}
    delims, cut = _delimiters(data, body_start, boundaries)
    end = len(data) if cut is None else cut
    if cut is not None:
        defects.append(f"more than {MAX_SCAN_PARTS} MIME parts or {MAX_SCAN_BOUNDARIES} nested boundaries: "
                       f"only the body up to delimiter {len(delims)} was parsed")
    # Leaf bodies: between the end of a delimiter line and the line break before the next.
    spans = []
    if big:
        if delims:
            for (_, line_end, _, closing), (nxt, *_rest) in zip(delims, [*delims[1:], (end,)]):
                if not closing:
                    spans.append((line_end, nxt))
        elif not _CONTAINER_RE.search(head) and len(data) - body_start > LARGE_LEAF:
            spans.append((body_start, len(data)))  # a single-part message: no part header
    out = [head]
    pos = body_start
    leaves: dict[str, tuple[int, int]] = {}
    for start, stop in spans:
        body = (start, stop) if start == body_start else _leaf_body(data, start, stop)
        if body is None:
            continue
        s, e = body
        mark = f"{LEAF_MARK}{len(leaves)}\x00"
        leaves[mark] = (s, e)
        out += [data[pos:s], mark.encode()]
        pos = e
    out.append(data[pos:end])
    if cut is not None:
        out.append(b"\r\n--" + delims[0][2] + b"--\r\n")
    skeleton = b"".join(out)
    return Bounded(skeleton, len(head), leaves, defects)


def _delimiters(data: bytes, body_start: int, boundaries: set[bytes]):
    """[(line start, line end, boundary, closing)] of the delimiter lines, and where to cut
    the body (None: nowhere)."""
    delims: list[tuple[int, int, bytes, bool]] = []
    if not boundaries:
        return delims, None
    seen: set[bytes] = set()
    pos = max(0, body_start - 1)
    n = len(data)
    while True:
        i = data.find(b"\n--", pos)
        if i < 0:
            return delims, None
        j = data.find(b"\n", i + 1)
        j = n if j < 0 else j + 1
        token = data[i + 3:min(j, i + 210)].rstrip(b"\r\n \t")
        closing = token.endswith(b"--") and token[:-2] in boundaries
        name = token[:-2] if closing else token
        if name in boundaries:
            seen.add(name)
            if len(delims) >= MAX_SCAN_PARTS or len(seen) > MAX_SCAN_BOUNDARIES:
                return delims, i
            delims.append((i + 1, j, name, closing))
        pos = j - 1 if j < n else n


def _leaf_body(data: bytes, start: int, stop: int) -> tuple[int, int] | None:
    """The body span of the part in data[start:stop] when it is a large leaf, else None."""
    if stop - start <= LARGE_LEAF:
        return None
    window = data[start:start + 65536]
    if window.startswith((b"\r\n", b"\n")):
        hend = 0
        s = start + (2 if window.startswith(b"\r\n") else 1)
    else:
        hend = window.find(b"\r\n\r\n")
        k = window.find(b"\n\n")
        if hend < 0 or (0 <= k < hend):
            hend, sep = k, 2
        else:
            sep = 4
        if hend < 0:
            return None
        s = start + hend + sep
    if _CONTAINER_RE.search(window, 0, max(hend, 0)):
        return None
    # `stop` is a delimiter line's start (after its "\n"), a cut (at a "\n") or the end.
    e = stop - 1 if stop < len(data) and data[stop - 1:stop] == b"\n" else stop
    if data[e - 1:e] == b"\r":
        e -= 1
    return (s, e) if e - s > LARGE_LEAF else None


def _bounded_header(head: bytes, defects: list[str]) -> bytes:
    """The first MAX_HEADER_BYTES of a header block, cut at a field, plus the essential
    fields after them (each at most MAX_FIELD_BYTES), then the blank line."""
    cut = MAX_HEADER_BYTES
    while cut > 0:
        cut = head.rfind(b"\n", 0, cut)
        if cut < 0 or head[cut + 1:cut + 2] not in (b" ", b"\t"):
            break
    cut = cut + 1 if cut > 0 else MAX_HEADER_BYTES
    kept = [head[:cut]]
    for m in _ESSENTIAL_RE.finditer(head, cut):
        end = m.start()
        while True:  # the field and its continuation lines
            nl = head.find(b"\n", end)
            if nl < 0 or head[nl + 1:nl + 2] not in (b" ", b"\t") or nl - m.start() > MAX_FIELD_BYTES:
                break
            end = nl + 1
        stop = head.find(b"\n", end)
        value = head[m.start():stop if stop >= 0 else len(head)][:MAX_FIELD_BYTES].rstrip(b"\r\n")
        kept.append(value + b"\r\n")
    defects.append(f"header block of {len(head) // 1024} KB: only the first {cut // 1024} KB and the "
                   "essential fields after them were read")
    return b"".join(kept) + b"\r\n"


def leaf_bytes(data: bytes, span: tuple[int, int], cte: str, limit: int | None = None) -> tuple[bytes, bool]:
    """Transfer-decoded bytes of a leaf (at most about `limit`); True when invalid base64."""
    s, e = span
    if limit is not None and cte == "base64":
        e = min(e, s + limit * 4 // 3 + 80)
    elif limit is not None:
        e = min(e, s + limit * 3)
    view = memoryview(data)[s:e]
    if cte == "base64":
        try:
            return binascii.a2b_base64(view), False
        except binascii.Error:
            compact = bytes(view).translate(None, b"\r\n \t")
            compact = compact[:len(compact) // 4 * 4]
            try:
                return binascii.a2b_base64(compact), True
            except binascii.Error:
                return b"", True
    if cte == "quoted-printable":
        return quopri.decodestring(bytes(view)), False
    return bytes(view), False
