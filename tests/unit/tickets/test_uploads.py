"""tickets/uploads.py: documentation typed by content, safe names, the signature's data URL and PNG check."""
from __future__ import annotations

import base64
import io
import struct
import time
import zlib

import pytest
from PIL import Image

from kpudesk.tickets import uploads
from kpudesk.tickets.errors import UserError

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + b"\x00" * 200
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 100
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 40


def png(width: int, height: int, ink: set[tuple[int, int]] = frozenset(), *, mode: str = "RGBA") -> bytes:
    """A PNG drawn by Pillow (an encoder independent of the reader under test)."""
    img = Image.new(mode, (width, height), (0, 0, 0, 0) if mode == "RGBA" else (255, 255, 255))
    for xy in ink:
        img.putpixel(xy, (10, 20, 80, 255) if mode == "RGBA" else (10, 20, 80))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def raw_png(width: int, height: int, rows: list[bytes], filters: list[int], colour: int = 6) -> bytes:
    """A PNG written by hand with the given (already filtered) rows and filter types."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    data = b"".join(bytes([f]) + r for f, r in zip(filters, rows))
    return (uploads.PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b""))


def data_url(data: bytes) -> str:
    return uploads.DATA_URL_PREFIX + base64.b64encode(data).decode()


@pytest.mark.parametrize("name, data, mime", [
    ("foto.jpg", JPEG, "image/jpeg"), ("scan.pdf", PDF, "application/pdf"), ("rekaman.wav", WAV, "audio/x-wav"),
    ("rapat.mp4", MP4, "video/mp4"), ("layar.png", png(4, 4, {(1, 1)}), "image/png"),
    ("tanpa-ekstensi", JPEG, "image/jpeg"),  # the name says nothing: the bytes do
])
def test_documentation_is_typed_by_its_content(name, data, mime):
    up = uploads.check_file(name, data)
    assert (up.name, up.content_type, up.data) == (name, mime, data)


def test_an_exe_called_jpg_is_refused_by_name_in_bahasa():
    with pytest.raises(UserError) as err:
        uploads.check_file("foto-kunjungan.jpg", EXE)
    assert "'foto-kunjungan.jpg' ditolak" in str(err.value) and "Tidak ada yang disimpan" in str(err.value)


@pytest.mark.parametrize("data", [b"just some text, not a photo", b"<svg xmlns='http://www.w3.org/2000/svg'/>"])
def test_unknown_or_active_content_is_refused(data):
    with pytest.raises(UserError, match="ditolak"):
        uploads.check_file("gambar.png", data)


def test_an_empty_file_is_refused():
    with pytest.raises(UserError, match="kosong"):
        uploads.check_file("foto.jpg", b"")


@pytest.mark.parametrize("given, safe", [
    ("../../etc/passwd", "passwd"), ("..\\..\\windows\\system32\\cmd.jpg", "cmd.jpg"), ("/etc/shadow", "shadow"),
    (".htaccess", "htaccess"), ("a\x00b\x1f.jpg", "ab.jpg"), ("..", "berkas"), ("", "berkas"),
    ('foto "rapat"?.jpg', "foto _rapat__.jpg"), ("x" * 300 + ".jpeg", "x" * 140 + ".jpeg"),
])
def test_names_are_cut_to_a_safe_base_name(given, safe):
    assert uploads.safe_filename(given) == safe


def test_a_traversal_name_is_stored_under_its_base_name():
    assert uploads.check_file("../../etc/passwd", JPEG).name == "passwd"


def test_files_together_over_the_limit_are_refused_before_any_is_checked():
    with pytest.raises(UserError, match="terlalu besar: 2.0 MB bersama-sama"):
        uploads.check_files([("a.jpg", JPEG + b"\x00" * uploads.MB), ("b.exe", EXE + b"\x00" * uploads.MB)],
                            max_total=uploads.MB)
    assert len(uploads.check_files([("a.jpg", JPEG), ("b.pdf", PDF)], max_total=uploads.MB)) == 2


def test_one_bad_file_among_good_ones_refuses_all():
    with pytest.raises(UserError, match="'program.jpg'"):
        uploads.check_files([("a.jpg", JPEG), ("program.jpg", EXE), ("b.pdf", PDF)])


# --- the signature ---------------------------------------------------------------------------


def test_a_drawn_signature_decodes_to_its_png():
    drawn = png(300, 120, {(150, 60), (151, 60), (152, 61)})
    assert uploads.signature_from_data_url(data_url(drawn)) == drawn


@pytest.mark.parametrize("value, needle", [
    ("data:image/jpeg;base64," + base64.b64encode(JPEG).decode(), "bukan gambar PNG"),
    ("data:image/svg+xml;base64,PHN2Zy8+", "bukan gambar PNG"),
    ("javascript:alert(1)", "bukan gambar PNG"),
    ("DATA:IMAGE/PNG;BASE64," + base64.b64encode(png(3, 3, {(1, 1)})).decode(), "bukan gambar PNG"),
    (uploads.DATA_URL_PREFIX + "not*base64!", "data rusak"),
    (uploads.DATA_URL_PREFIX + base64.b64encode(JPEG).decode(), "bukan berkas PNG yang utuh"),
    (uploads.DATA_URL_PREFIX + base64.b64encode(png(3, 3, {(1, 1)})[:-20]).decode(), "bukan berkas PNG yang utuh"),
    (data_url(png(300, 120)), "tanda tangan kosong"),
    (data_url(png(300, 120, mode="RGB")), "tanda tangan kosong"),
])
def test_a_bad_signature_is_refused_in_bahasa(value, needle):
    with pytest.raises(UserError, match=needle):
        uploads.signature_from_data_url(value)


def test_a_signature_over_the_size_limit_is_refused_before_decoding():
    big = uploads.DATA_URL_PREFIX + "A" * (2 * uploads.MB)
    with pytest.raises(UserError, match="terlalu besar"):
        uploads.signature_from_data_url(big)


def test_a_corrupted_chunk_fails_its_crc():
    good = bytearray(png(20, 20, {(5, 5)}))
    good[40] ^= 0xFF  # inside IDAT
    with pytest.raises(UserError, match="bukan berkas PNG yang utuh"):
        uploads.check_signature(bytes(good))


def test_a_decompression_bomb_is_not_inflated():
    # 4096 x 4097 pixels claims more than MAX_PIXELS: refused from the header alone.
    with pytest.raises(ValueError):
        uploads.png_rows(raw_png(4096, 4097, [b""], [0]))


@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4])
def test_ink_is_found_through_every_png_filter(filter_type):
    # Row 0 blank, row 1 one opaque pixel at x=2, written with the filter's residuals.
    w = 4
    row1 = bytearray(w * 4)
    row1[8:12] = bytes([10, 20, 80, 255])
    if filter_type == 1:  # Sub: residual = x - left
        res = bytearray(row1)
        for i in range(len(res) - 1, 3, -1):
            res[i] = (row1[i] - row1[i - 4]) & 255
        row1f = bytes(res)
    elif filter_type == 3:  # Average with a zero row above: x - left // 2
        res, prev = bytearray(row1), bytearray(row1)
        for i in range(len(res)):
            left = prev[i - 4] if i >= 4 else 0
            res[i] = (prev[i] - (left >> 1)) & 255
        row1f = bytes(res)
    else:  # None, Up (row above is zero) and Paeth (all predictors left/zero here) keep or predict simply
        if filter_type == 4:
            res = bytearray(row1)
            for i in range(len(res)):
                left = row1[i - 4] if i >= 4 else 0
                res[i] = (row1[i] - left) & 255  # Paeth with a zero row above picks left
            row1f = bytes(res)
        else:
            row1f = bytes(row1)
    drawn = raw_png(w, 2, [bytes(w * 4), row1f], [filter_type, filter_type])
    assert uploads.png_has_ink(drawn)
    assert not uploads.png_has_ink(raw_png(w, 2, [bytes(w * 4), bytes(w * 4)], [filter_type, filter_type]))
    # Pillow reads the same pixel where our reader found it (the unfiltering is right).
    assert Image.open(io.BytesIO(drawn)).getpixel((2, 1)) == (10, 20, 80, 255)


def test_transparent_colour_without_alpha_is_still_blank():
    # RGB non-zero but alpha 0 everywhere: nothing a person would see.
    row = bytes([200, 10, 10, 0]) * 3
    assert not uploads.png_has_ink(raw_png(3, 2, [row, row], [0, 0]))


def test_a_canvas_sized_signature_is_checked_quickly():
    drawn = png(1400, 500, {(x, 300 + (x % 7)) for x in range(200, 1200)})
    start = time.perf_counter()
    uploads.check_signature(drawn)
    assert time.perf_counter() - start < 1.0
