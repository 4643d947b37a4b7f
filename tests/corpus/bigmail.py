"""Large and pathological mail for the resource-bound tests and bench/bigmail.py.

Each builder is deterministic (a seed, no clock) so a failing run can be repeated byte for
byte. Sizes are parameters: the tests use scaled-down copies of the full-size bench load.
"""
from __future__ import annotations

import base64
import random

HELPDESK = "helpdesk@kpu-mesuji.example.org"


def _head(n: int, subject: str, ctype: str, extra: str = "") -> bytes:
    return (f"From: Partai Uji {n} <lo{n}@partai-uji.example.org>\r\n"
            f"To: {HELPDESK}\r\n"
            f"Subject: {subject}\r\n"
            f"Date: Mon, 4 Nov 2024 08:{n % 60:02d}:00 +0700\r\n"
            f"Message-ID: <big-{n}@partai-uji.example.org>\r\n"
            "MIME-Version: 1.0\r\n"
            f"{extra}"
            f"Content-Type: {ctype}\r\n\r\n").encode()


def attachment_mail(n: int, size: int, seed: int = 0) -> bytes:
    """A question with a scanned-document attachment: `size` bytes in total (base64)."""
    rng = random.Random(seed * 100_003 + n)
    head = _head(n, f"Berkas persyaratan Sipol {n}", 'multipart/mixed; boundary="b1"')
    text = (b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            b"Yth. Helpdesk, terlampir berkas KTA anggota kami untuk Sipol.\r\n"
            b"--b1\r\nContent-Type: application/pdf; name=\"kta.pdf\"\r\n"
            b"Content-Disposition: attachment; filename=\"kta.pdf\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n")
    tail = b"\r\n--b1--\r\n"
    room = max(0, size - len(head) - len(text) - len(tail))
    payload = rng.randbytes(room * 3 // 4 * 76 // 78)
    body = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return head + text + body[:room] + tail


def many_parts_mail(n: int, parts: int = 80_000) -> bytes:
    """`parts` tiny MIME parts in one multipart/mixed (~38 bytes a part: 80,000 ~ 3 MB)."""
    head = _head(n, f"Banyak bagian {n}", 'multipart/mixed; boundary="p"')
    one = b"--p\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    first = b"--p\r\nContent-Type: text/plain\r\n\r\nPertanyaan Sipol di bagian pertama.\r\n"
    return head + first + one * (parts - 1) + b"--p--\r\n"


def deep_mail(n: int, depth: int = 5_000) -> bytes:
    """multipart nested `depth` levels deep (each level its own boundary)."""
    head = _head(n, f"Bersarang {n}", 'multipart/mixed; boundary="d0"')
    opens = b"".join(b"--d%d\r\nContent-Type: multipart/mixed; boundary=\"d%d\"\r\n\r\n" % (i, i + 1)
                     for i in range(depth))
    inner = b"--d%d\r\nContent-Type: text/plain\r\n\r\nPertanyaan di dalam.\r\n--d%d--\r\n" % (depth, depth)
    closes = b"".join(b"--d%d--\r\n" % i for i in range(depth - 1, -1, -1))
    return head + opens + inner + closes


def huge_header_mail(n: int, size: int = 4 * 1024 * 1024) -> bytes:
    """A header block of about `size` bytes: thousands of Received/X- lines and a long folded To."""
    line = b"X-Filler: " + b"a" * 200 + b"\r\n"
    filler = line * (size // len(line) // 2)
    folded = b"Cc: " + b",\r\n ".join(b"u%d@example.org" % i for i in range(size // 2 // 20)) + b"\r\n"
    return (_head(n, f"Header besar {n}", "text/plain; charset=utf-8", "")[:-2].replace(b"Content-Type", filler + folded + b"Content-Type", 1)
            + b"\r\nIsi pertanyaan.\r\n")


def pathological(n: int, scale: float = 1.0) -> list[bytes]:
    """The ten pathological mails of issue 11 item 3, scaled (1.0: full size)."""
    k = max(scale, 0.01)
    out = []
    for i in range(4):
        out.append(many_parts_mail(n + i, int(80_000 * k)))
    for i in range(3):
        out.append(deep_mail(n + 4 + i, max(50, int(5_000 * k))))
    for i in range(3):
        out.append(huge_header_mail(n + 7 + i, max(64 * 1024, int(4 * 1024 * 1024 * k))))
    return out
