"""The duplicate-detection fingerprint of an incoming message: a versioned SHA-256 over
From, Date, Message-ID and the body bytes, hashed in chunks so that a large body costs no copy.
"""
from __future__ import annotations

import hashlib

FINGERPRINT_VERSION = b"kpudesk-fp-v1"


def message_fingerprint(raw: bytes, body_start: int, from_value: str, date_value: str, msgid_value: str) -> str:
    """Content identity, stable across folders and trace headers.

    sha256 over: a version tag, the decoded From, Date and Message-ID header values (first
    occurrence, whitespace collapsed), and the raw body bytes after the header block with
    line endings normalised to LF, trailing spaces/tabs stripped from every line, and
    trailing blank lines removed. Fields are NUL-separated.

    Deliberately left out: Subject (spam filters prefix "[SPAM]"), Received, Return-Path,
    Delivered-To, X-Spam-* and every other header a filter or server adds. So the copy in
    INBOX and the copy in Spam hash the same, while two different messages that reuse a
    Message-ID differ by body, From or Date. A filter that rewrites the body itself
    (SpamAssassin ``report_safe``) produces a different fingerprint.
    """
    h = hashlib.sha256(FINGERPRINT_VERSION)
    for v in (from_value, date_value, msgid_value):
        h.update(b"\x00")
        h.update(v.encode("utf-8", "surrogatepass"))
    h.update(b"\x00")
    if len(raw) - body_start > _FP_CHUNK:
        _fingerprint_body_chunked(h, raw, body_start)
        return h.hexdigest()
    body = raw[body_start:]
    if body:
        if b"\r" in body:
            body = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        body = b"\n".join([line.rstrip(b" \t") for line in body.split(b"\n")]).rstrip(b" \t\n")
    h.update(body)
    return h.hexdigest()


_FP_CHUNK = 1024 * 1024


def _fingerprint_body_chunked(h, raw: bytes, start: int, chunk: int = _FP_CHUNK) -> None:
    """The body part of `message_fingerprint`, the same bytes hashed, a chunk at a time: the
    one-piece version holds the body three times over plus a bytes object per line (~4x a
    25 MB mail). Chunks end just after a "\n", so no CRLF pair and no line is split; the
    trailing run of blanks and newlines is held back until non-blank content follows it,
    which is the final rstrip of the one-piece version."""
    pending: list[bytes] = []
    n = len(raw)
    pos = start
    while pos < n:
        end = raw.find(b"\n", min(pos + chunk, n) - 1)
        end = n if end < 0 else end + 1
        piece = raw[pos:end]
        if b"\r" in piece:
            piece = piece.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        piece = b"\n".join([line.rstrip(b" \t") for line in piece.split(b"\n")])
        kept = piece.rstrip(b" \t\n")
        if kept:
            for p in pending:
                h.update(p)
            pending.clear()
            h.update(kept)
        pending.append(piece[len(kept):])
        pos = end
