"""Files an officer brings in with a consultation: documentation uploads and the drawn signature.

Pure checks, no storage: every file is judged by its bytes (the `filetype` library reads the
magic numbers), never by its name, so an `.exe` called `foto.jpg` is refused by name with
what it really is; names are cut to a safe base name (`../../etc/passwd` -> `passwd`), as
they are shown, archived and mirrored under it. The signature arrives as the canvas'
`data:image/png;base64,...` URL; it is decoded strictly and must be a real PNG with ink on it
(some pixel not transparent, or not all one colour): a small PNG reader with the standard
library's zlib, so the check needs no imaging library.

Every refusal is a `UserError` in Bahasa Indonesia naming the file, raised before anything
is stored.
"""
from __future__ import annotations

import base64
import binascii
import re
import struct
import unicodedata
import zlib
from dataclasses import dataclass

import filetype

from .errors import UserError

MB = 1024 * 1024

#: What documentation may be, by content: photos, screenshots, PDFs, recordings.
ALLOWED: dict[str, str] = {
    "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
    "application/pdf": "pdf",
    "audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/ogg": "ogg", "audio/x-wav": "wav",
    "video/mp4": "mp4", "video/webm": "webm",
}
ALLOWED_TEXT = "foto (JPEG, PNG, GIF, WebP), PDF, atau rekaman (MP3, M4A, OGG, WAV, MP4, WebM)"

SIGNATURE_NAME = "tanda-tangan.png"
SIGNATURE_MAX_BYTES = 1 * MB
DATA_URL_PREFIX = "data:image/png;base64,"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# A signature canvas is at most the form's width (44rem) at 3x pixel density by ~14rem: about
# 2100 x 700. This bounds what the decoder inflates and unfilters (pure Python: ~1 s per
# million pixels in the worst case).
MAX_PIXELS = 2_500_000


@dataclass(frozen=True)
class Upload:
    """One checked file: its safe name, the type its bytes show, the bytes."""

    name: str
    content_type: str
    extension: str
    data: bytes


def safe_filename(filename: str, default: str = "berkas") -> str:
    """The base name only (no folders, no control characters, no leading dots, no characters
    Windows refuses), at most 150 characters; `default` when nothing is left."""
    name = unicodedata.normalize("NFC", filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = re.sub(r'[<>:"|?*]', "_", name).strip().lstrip(".").strip()
    if len(name) > 150:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:140] + dot + ext[:9]) if dot and len(ext) <= 9 else name[:150]
    return name or default


def check_file(filename: str, data: bytes) -> Upload:
    """One documentation file, typed by its content; UserError naming it otherwise."""
    name = safe_filename(filename)
    if not data:
        raise UserError(f"berkas {name!r} kosong")
    kind = filetype.guess(data)
    if kind is None or kind.mime not in ALLOWED:
        found = f"isinya {kind.mime}" if kind is not None else "isinya tidak dikenali"
        raise UserError(f"berkas {name!r} ditolak: {found}; yang diterima hanya {ALLOWED_TEXT}. "
                        "Tidak ada yang disimpan.")
    return Upload(name=name, content_type=kind.mime, extension=ALLOWED[kind.mime], data=data)


def check_files(files: list[tuple[str, bytes]], max_total: int | None = None) -> list[Upload]:
    """Every file checked (all of them, before any is stored), their sum within `max_total`."""
    total = sum(len(data) for _name, data in files)
    if max_total is not None and total > max_total:
        raise UserError(f"berkas dokumentasi terlalu besar: {total / MB:.1f} MB bersama-sama "
                        f"(batas {max_total / MB:g} MB). Tidak ada yang disimpan.")
    return [check_file(name, data) for name, data in files]


def signature_from_data_url(value: str, max_bytes: int = SIGNATURE_MAX_BYTES) -> bytes:
    """The PNG bytes of the form's `signature` field: only `data:image/png;base64,`, strict
    base64, at most `max_bytes`, a real PNG with ink on it."""
    if not value.startswith(DATA_URL_PREFIX):
        raise UserError("tanda tangan tidak sah (bukan gambar PNG dari kotak tanda tangan). Tidak ada yang disimpan.")
    body = value[len(DATA_URL_PREFIX):]
    if len(body) > (max_bytes * 4) // 3 + 4:
        raise UserError(f"tanda tangan terlalu besar (batas {max_bytes // 1024} KB). Tidak ada yang disimpan.")
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise UserError("tanda tangan tidak sah (data rusak). Tidak ada yang disimpan.") from None
    check_signature(data, max_bytes)
    return data


def check_signature(data: bytes, max_bytes: int = SIGNATURE_MAX_BYTES) -> None:
    """UserError unless `data` is a PNG of at most `max_bytes` with something drawn on it."""
    if len(data) > max_bytes:
        raise UserError(f"tanda tangan terlalu besar (batas {max_bytes // 1024} KB). Tidak ada yang disimpan.")
    try:
        drawn = png_has_ink(data)
    except ValueError:
        raise UserError("tanda tangan tidak sah (bukan berkas PNG yang utuh). Tidak ada yang disimpan.") from None
    if not drawn:
        raise UserError("tanda tangan kosong: mintalah tamu menandatangani di kotak, atau kosongkan kotak "
                        "untuk tanda tangan di kertas. Tidak ada yang disimpan.")


# --- a small PNG reader ---------------------------------------------------------------

_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel (8-bit, no palette)


def _chunks(data: bytes):
    if not data.startswith(PNG_MAGIC):
        raise ValueError("not a PNG")
    pos = len(PNG_MAGIC)
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise ValueError("truncated chunk")
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError("bad CRC")
        yield kind, body
        if kind == b"IEND":
            return
        pos += 12 + length
    raise ValueError("no IEND")


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def png_rows(data: bytes):
    """(width, samples per pixel, the unfiltered rows as an iterator) of an 8-bit,
    non-interlaced, grey/RGB(A) PNG (what a canvas' toDataURL writes); ValueError for
    anything else. Rows whose filtered bytes and predecessor are all zero are yielded
    without the (slow, pure Python) unfiltering: they are zero."""
    header, idat = None, []
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    if header is None or not idat:
        raise ValueError("no IHDR or IDAT")
    width, height, depth, colour, _compression, _filter, interlace = header
    if depth != 8 or colour not in _CHANNELS or interlace != 0 or not 0 < width * height <= MAX_PIXELS:
        raise ValueError("unsupported PNG")
    n = _CHANNELS[colour]
    stride = width * n
    expected = (stride + 1) * height
    raw = zlib.decompressobj().decompress(b"".join(idat), expected + 1)  # bounded: no decompression bomb
    if len(raw) != expected:
        raise ValueError("image data of the wrong size")
    return width, n, _unfilter(raw, height, stride, n)


def _unfilter(raw: bytes, height: int, stride: int, n: int):
    zero = bytes(stride)
    prev = zero
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        body = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if ftype > 4:
            raise ValueError("bad filter type")
        if prev is zero and body == zero:
            yield zero  # every filter predicts 0 from zeros
            continue
        line = bytearray(body)
        if ftype == 1:
            for i in range(n, stride):
                line[i] = (line[i] + line[i - n]) & 255
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 255
        elif ftype == 3:
            for i in range(stride):
                left = line[i - n] if i >= n else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif ftype == 4:
            for i in range(stride):
                left = line[i - n] if i >= n else 0
                upleft = prev[i - n] if i >= n else 0
                line[i] = (line[i] + _paeth(left, prev[i], upleft)) & 255
        prev = bytes(line)
        if prev == zero:
            prev = zero
        yield prev


def png_has_ink(data: bytes) -> bool:
    """Is anything drawn? With alpha: some pixel not fully transparent; without: not every
    pixel the same colour. Stops at the first row with ink."""
    _w, n, rows = png_rows(data)
    first = None
    for row in rows:
        if n in (2, 4):
            if any(row[n - 1::n]):
                return True
            continue
        if first is None:
            first = row[:n] * (len(row) // n)
        if row != first:
            return True
    return False
