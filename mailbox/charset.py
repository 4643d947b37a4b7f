"""Text decoding for mail: charset labels to codecs, byte decoding with fallbacks, RFC 2047
encoded words, and the control-character clean-up applied to header and body text.

Used by the header, MIME-walk and salvage code of `mailbox.parse`; never raises on bad input.
"""
from __future__ import annotations

import base64
import binascii
import codecs
import re
from functools import lru_cache

# --------------------------------------------------------------------------------------
# text clean-up
# --------------------------------------------------------------------------------------

# Line-ish and tab characters become a space in one-line values; other control characters
# (C0, DEL, C1) and bidi overrides/isolates (filename and subject spoofing) are removed.
TO_SPACE_RE = re.compile("[\t\r\n\x0b\x0c\x1c-\x1f\x85\u2028\u2029]")
ONE_LINE_DROP_RE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
# In body text keep TAB and LF, drop the rest of C0 (NUL, ESC ...), DEL and C1.
_TEXT_DROP_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def one_line(value: str) -> str:
    """CR, LF, TAB -> space, other control characters removed, whitespace collapsed."""
    if value.isascii() and value.isprintable():
        return " ".join(value.split())
    value = TO_SPACE_RE.sub(" ", value)
    value = ONE_LINE_DROP_RE.sub("", value)
    return " ".join(value.split())


def clean_text(value: str) -> str:
    """Body text: LF line endings, no NUL or other control characters except TAB/LF."""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")  # str methods: ~10x a regex
    # Every character the regex drops is non-printable; newlines and tabs (kept) are too,
    # so test without them: a str method is ~10x cheaper than the regex scan it avoids.
    if not value.replace("\n", " ").replace("\t", " ").isprintable():
        value = _TEXT_DROP_RE.sub("", value)
    return value


# --------------------------------------------------------------------------------------
# charsets
# --------------------------------------------------------------------------------------

_CHARSET_ALIASES = {
    # WHATWG: these labels mean windows-1252 on the web and, in practice, in mail.
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "x-user-defined": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "x-sjis": "shift_jis",
    "windows-874": "cp874",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
}
# Text codecs that must never run on untrusted bytes.
_BLOCKED_CODECS = {
    "unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined",
    "mbcs", "oem", "charmap", "unicode_internal",
}
_UTF8_MULTIBYTE_RE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


@lru_cache(maxsize=256)  # keyed on a charset label: a handful per deployment, a codec lookup each
def _codec(charset: str | None) -> str | None:
    """Python codec name for a MIME charset label, or None when unknown or unsafe."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").split("*", 1)[0].strip().lower()
    if not name or len(name) > 40:
        return None
    name = _CHARSET_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _BLOCKED_CODECS:
        return None
    return info.name


def fallback_decode(data: bytes) -> str:
    """Decode bytes of unknown or wrong charset: UTF-8, else windows-1252, else Latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if len(_UTF8_MULTIBYTE_RE.findall(data)) >= 2:
        # Mostly UTF-8 with a few broken bytes: keep UTF-8, mark the damage.
        return data.decode("utf-8", "replace")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode with the declared charset; on failure fall back. Returns (text, problem)."""
    codec = _codec(charset)
    if codec is not None:
        try:
            text = data.decode(codec)
            # Strict UTF-8 and ASCII decoding never yield a lone surrogate: skip the scan.
            if codec in ("utf-8", "ascii") or not _SURROGATE_RE.search(text):
                return text, None
        except (UnicodeError, LookupError, ValueError, TypeError):
            pass
        if data.isascii():
            return data.decode("ascii"), None
        problem = f"bytes invalid for declared charset {charset!r}"
    elif charset:
        if data.isascii():
            return data.decode("ascii"), None
        problem = f"unknown charset {charset!r}"
    else:
        if data.isascii():
            return data.decode("ascii"), None
        try:
            return data.decode("utf-8"), None  # 8-bit text without a charset: UTF-8 is normal now
        except UnicodeDecodeError:
            problem = "8-bit text without a charset"
    return fallback_decode(data), problem


def unescape_surrogates(value: str) -> tuple[str, bool]:
    """compat32 keeps raw 8-bit header bytes as surrogate escapes; decode them as text.

    Returns (text, ok) where ok is False when the bytes were not UTF-8.
    """
    if not _SURROGATE_RE.search(value):
        return value, True
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        return fallback_decode(data), False


# --------------------------------------------------------------------------------------
# RFC 2047 encoded words
# --------------------------------------------------------------------------------------

# Lenient: encoded text may contain spaces (broken mailers do that), never "?".
_EW_RE = re.compile(r"=\?([^?\s]{1,60})\?([bBqQ])\?([^?]*)\?=")
_Q_HEX_RE = re.compile(rb"=([0-9A-Fa-f]{2})")


def _q_decode(text: str) -> bytes:
    data = text.replace("_", " ").encode("ascii", "replace")
    return _Q_HEX_RE.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def _b_decode(text: str) -> bytes:
    data = re.sub(r"[^A-Za-z0-9+/]", "", text.split("=", 1)[0])
    if len(data) % 4 == 1:
        data = data[:-1]
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return b""


def lenient_b64(data: bytes) -> bytes:
    data = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    data = data[: len(data) - len(data) % 4]
    try:
        return base64.b64decode(data)
    except (binascii.Error, ValueError):
        return b""


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words leniently.

    Adjacent encoded words are joined (the whitespace between them is dropped, as RFC 2047
    says) and their bytes are decoded together, so a multi-byte character split across two
    words survives. Unknown charsets fall back to UTF-8, then windows-1252/Latin-1.
    """
    if "=?" not in value:
        return value
    out: list[str] = []
    pending: list[bytes] = []
    pending_cs: str | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending, pending_cs
        if pending:
            text, _ = decode_bytes(b"".join(pending), pending_cs)
            out.append(text)
        pending, pending_cs = [], None

    for m in _EW_RE.finditer(value):
        between = value[pos:m.start()]
        if between and (between.strip() or not pending):
            flush()
            out.append(between)
        charset = m.group(1).split("*", 1)[0].lower()
        raw = _b_decode(m.group(3)) if m.group(2) in "bB" else _q_decode(m.group(3))
        if pending and charset != pending_cs:
            flush()
        pending_cs = charset
        pending.append(raw)
        pos = m.end()
    flush()
    out.append(value[pos:])
    return "".join(out)
