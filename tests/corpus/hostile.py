"""Hostile and edge-case mail, built deterministically in code (no files, no network).

`hostile_messages()` returns ``[(name, raw_bytes), ...]`` -- the same bytes on every call
and every machine -- with at least one message per class a real helpdesk mailbox sees:
broken MIME, unknown charsets and transfer encodings, missing or duplicated headers, raw
8-bit headers, huge subjects/lines/attachments, hostile attachment names, deep nesting,
auto-replies (3), bounces (2: a DSN and a non-DSN), list and bulk mail (2), an exact
duplicate pair and a pair that shares a Message-ID but not its content. Names tell the
class; the `CLASS_*` tuples below group them for tests. All addresses use example.org,
example.com and example.net. Every message is non-empty (IMAP servers refuse 0 bytes).

Markers a parser must NOT turn into text: ``HTML_SCRIPT_MARKER`` and ``HTML_STYLE_MARKER``
(inside <script>/<style> of the HTML-only message); the visible text contains
``HTML_VISIBLE_TEXT``.

`party_mail()` builds one ordinary, well-formed UTF-8 text/plain mail from a party
officer; `cpython_email_corpus()` returns CPython's own email test messages.
"""
from __future__ import annotations

import base64
import functools
import random
import sysconfig
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

HELPDESK = "helpdesk@kpu-mesuji.example.org"
WIB = timezone(timedelta(hours=7), "WIB")

DSN_ORIGINAL_MSGID = "<original-1@helpdesk.example.org>"
NON_DSN_ORIGINAL_MSGID = "<original-2@helpdesk.example.org>"
DSN_FAILED_RECIPIENT = "tidak-ada@pemilih.example.net"
NON_DSN_FAILED_RECIPIENT = "salah-ketik@partai.example.com"
HTML_SCRIPT_MARKER = "JANGAN_TAMPIL_SCRIPT_7f3a"
HTML_STYLE_MARKER = "JANGAN_TAMPIL_STYLE_9c1e"
HTML_VISIBLE_TEXT = "Mohon bantuan reset kata sandi akun Sipol kami"
BIG_ATTACHMENT_SIZE = 5 * 1024 * 1024  # decoded bytes of the PDF-ish attachment
NESTING_DEPTH = 20

CLASS_AUTO_REPLY = ("auto-reply-auto-submitted", "auto-reply-outlook", "auto-reply-precedence-only")
CLASS_BOUNCE = ("bounce-dsn", "bounce-non-dsn-mailer-daemon")
CLASS_BULK = ("mailing-list", "bulk-newsletter")
EXACT_DUPLICATES = ("duplicate-exact-a", "duplicate-exact-b")
SAME_MSGID_DIFFERENT_BODY = ("same-msgid-a", "same-msgid-b")


# --------------------------------------------------------------------------- helpers


def party_mail(
    from_addr: str,
    subject: str,
    body: str,
    message_id: str | None = None,
    in_reply_to: str | Iterable[str] | None = None,
    references: str | Iterable[str] | None = None,
    date: datetime | str | None = None,
    extra_headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    to: str = HELPDESK,
) -> bytes:
    """A normal, well-formed UTF-8 text/plain mail (CRLF, policy SMTP) to the helpdesk.

    `message_id` defaults to a fresh unique id at the sender's domain, `date` to now
    (WIB, +07:00); `in_reply_to`/`references` take one id or a sequence of ids;
    `extra_headers` are added in order (repeats allowed)."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = from_addr
    msg["To"] = to
    msg["Subject"] = subject
    if isinstance(date, datetime):
        date = format_datetime(date if date.tzinfo else date.replace(tzinfo=WIB))
    msg["Date"] = date or format_datetime(datetime.now(WIB).replace(microsecond=0))
    domain = parseaddr(from_addr)[1].rpartition("@")[2] or "example.org"
    msg["Message-ID"] = message_id or make_msgid(domain=domain)
    if in_reply_to:
        msg["In-Reply-To"] = _ids(in_reply_to)
    if references:
        msg["References"] = _ids(references)
    items = extra_headers.items() if isinstance(extra_headers, Mapping) else (extra_headers or ())
    for name, value in items:
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP)


def _ids(value: str | Iterable[str]) -> str:
    return value if isinstance(value, str) else " ".join(value)


def cpython_email_corpus() -> list[tuple[str, bytes]]:
    """Every ``msg_*.txt`` of CPython's test_email data, as ``(file name, raw bytes)``."""
    data = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
    files = sorted(data.glob("msg_*.txt"))
    if not files:
        raise FileNotFoundError(
            f"CPython's email test corpus is missing ({data} has no msg_*.txt). This Python "
            "was installed without its test suite (Debian: apt-get install libpython3.11-testsuite; "
            "pyenv/python.org builds include it)."
        )
    return [(f"cpython-{p.name}", p.read_bytes()) for p in files]


def _crlf(text: str | bytes) -> bytes:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _date(n: int) -> str:
    """A fixed, distinct Date per message (deterministic corpus)."""
    return format_datetime(datetime(2024, 11, 4, 8, 0, tzinfo=WIB) + timedelta(minutes=7 * n))


def _head(
    n: int,
    subject: str | bytes,
    *,
    sender: str = "Warga Uji <warga@example.org>",
    skip: tuple[str, ...] = (),
    extra: Iterable[tuple[str, str | bytes]] = (),
    content_type: str | None = 'text/plain; charset="utf-8"',
) -> list[tuple[str, str | bytes]]:
    headers: list[tuple[str, str | bytes]] = [
        ("From", sender),
        ("To", HELPDESK),
        ("Subject", subject),
        ("Date", _date(n)),
        ("Message-ID", f"<hostile-{n:03d}@corpus.example.org>"),
        ("MIME-Version", "1.0"),
    ]
    if content_type:
        headers.append(("Content-Type", content_type))
    headers = [(k, v) for k, v in headers if k not in skip]
    headers.extend(extra)
    return headers


def _raw(headers: Iterable[tuple[str, str | bytes]], body: str | bytes = b"") -> bytes:
    out = bytearray()
    for name, value in headers:
        out += name.encode("ascii") + b": " + (value if isinstance(value, bytes) else value.encode("utf-8"))
        out += b"\r\n"
    out += b"\r\n"
    out += _crlf(body)
    return bytes(out)


def _b64(data: bytes) -> bytes:
    return _crlf(base64.encodebytes(data))


def _enc(text: str, charset: str = "utf-8") -> str:
    return Header(text, charset).encode()


# --------------------------------------------------------------------------- corpus


@functools.lru_cache(maxsize=1)
def _corpus() -> tuple[tuple[str, bytes], ...]:
    msgs: list[tuple[str, bytes]] = []
    n = iter(range(1, 1000))

    def add(name: str, raw: bytes) -> None:
        assert isinstance(raw, bytes) and raw, name
        msgs.append((name, raw))

    # -- charsets and encodings ------------------------------------------------------
    i = next(n)
    add("unknown-charset", _raw(
        _head(i, "=?x-unknown-foo?Q?Pertanyaan_tentang_=E9=E8_Sipol?=",
              content_type='text/plain; charset="x-unknown-foo"',
              extra=[("Content-Transfer-Encoding", "8bit")]),
        b"Selamat siang, kami dari partai \xe9\xe8\xfc ingin bertanya tentang Sipol.\n"))

    i = next(n)
    add("unknown-content-transfer-encoding", _raw(
        _head(i, "Encoding tidak dikenal", extra=[("Content-Transfer-Encoding", "x-kpu-fantasy")]),
        "Isi ini dikodekan dengan x-kpu-fantasy (tidak ada).\n@@@ ### ~~~\n"))

    i = next(n)
    add("invalid-base64-body", _raw(
        _head(i, "Base64 rusak", extra=[("Content-Transfer-Encoding", "base64")]),
        "U2VsYW1hdCBwYWdp!!!IGthbWkgaW5n@@@aW4gYmVydGFueWE=\n====\nbm90IHBhZGRlZA\n#$%^&*\n"))

    i = next(n)
    add("charset-declared-utf8-but-latin1", _raw(
        _head(i, "Charset bohong"),
        b"Kami ingin caf\xe9 dan r\xe9sum\xe9 tanpa UTF-8 yang benar.\n"))

    i = next(n)
    subject = (
        _enc("Permohonan verifikasi keanggotaan partai politik untuk tahap pendaftaran", "utf-8")
        + "\r\n dan =?ISO-8859-1?Q?pendaftaran_=E0_la_fa=E7on?=\r\n\t"
        + "=?windows-1252?B?IJNTaXBvbJQgZXJyb3IgliB0b2xvbmc=?= "
        + "=?utf-8?q?_Kab=2E_Mesuji_=E2=80=93_tahap_2?="
    )
    add("rfc2047-q-b-folded-mixed-charsets", _raw(
        _head(i, subject,
              sender=f"{_enc('Siti Nurhaliza — Sekretaris DPC', 'utf-8')} <siti@partai.example.com>",
              extra=[("Cc", "=?iso-8859-1?q?J=F6rg_M=FCller?= <jorg@example.net>,\r\n"
                            " =?UTF-8?B?QmFwYWsgS2V0dWE=?= <ketua@partai.example.com>"),
                     ("Thread-Topic", "=?utf-8?B?VmVyaWZpa2FzaSBrZWFuZ2dvdGFhbg==?=")]),
        "Dengan hormat, kami mohon verifikasi keanggotaan di Sipol.\n"))

    i = next(n)
    add("rfc2047-broken-encoded-words", _raw(
        _head(i, "=?utf-8?B?SGFsbyBr!!!?= =?utf-8?Q?tidak_ditutup =?unknown?X?abc?= ="),
        "Encoded word yang rusak di Subject.\n"))

    # -- structure ---------------------------------------------------------------------
    i = next(n)
    add("broken-mime-missing-boundary", _raw(
        _head(i, "Multipart tanpa boundary", content_type="multipart/mixed"),
        "--unknown\nContent-Type: text/plain\n\nBagian satu.\n--unknown--\n"))

    i = next(n)
    add("broken-mime-wrong-boundary", _raw(
        _head(i, "Multipart boundary salah", content_type='multipart/alternative; boundary="AAA-declared"'),
        "Preamble.\n--BBB-used\nContent-Type: text/plain; charset=utf-8\n\nTeks biasa.\n"
        "--BBB-used\nContent-Type: text/html; charset=utf-8\n\n<p>Teks html</p>\n--BBB-used--\n"))

    i = next(n)
    add("broken-mime-unterminated-parts", _raw(
        _head(i, "Multipart tidak selesai", content_type='multipart/mixed; boundary="cut-here"'),
        "--cut-here\nContent-Type: text/plain; charset=utf-8\n\nLampiran menyusul.\n"
        "--cut-here\nContent-Type: application/pdf; name=\"surat.pdf\"\n"
        "Content-Disposition: attachment; filename=\"surat.pdf\"\nContent-Transfer-Encoding: base64\n\n"
        "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29k"
        "ZT4+CnN0cmVhbQp4nCvkMlAw"))

    i = next(n)
    inner = "Content-Type: text/plain; charset=utf-8\n\nPaling dalam: kedalaman dua puluh.\n"
    for depth in range(NESTING_DEPTH, 0, -1):
        b = f"nest-{depth:02d}"
        inner = (f"Content-Type: multipart/mixed; boundary=\"{b}\"\n\n--{b}\n{inner}--{b}--\n")
    head_ct, _, nested_body = inner.partition("\n\n")
    add("nested-multipart-20-levels", _raw(
        _head(i, "Multipart bersarang 20 tingkat", content_type=head_ct.split(": ", 1)[1]), nested_body))

    i = next(n)
    fwd_inner = party_mail("Ahmad <ahmad@partai.example.com>", "Pertanyaan asli tentang KTA",
                           "Bagaimana cara unggah KTA ke Sipol?\n",
                           message_id="<forwarded-inner@partai.example.com>", date=_date(0))
    add("forwarded-message-rfc822", _raw(
        _head(i, "Fwd: Pertanyaan asli tentang KTA", content_type='multipart/mixed; boundary="fwd-outer"'),
        b"--fwd-outer\nContent-Type: text/plain; charset=utf-8\n\nSaya teruskan pertanyaan di bawah.\n"
        b"--fwd-outer\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n"
        + fwd_inner.replace(b"\r\n", b"\n") + b"\n--fwd-outer--\n"))

    i = next(n)
    add("html-only-with-script-and-style", _raw(
        _head(i, "Hanya HTML", content_type='text/html; charset="utf-8"'),
        "<!DOCTYPE html><html><head><title>judul</title>\n"
        f"<style>.{HTML_STYLE_MARKER} {{ color: red; }} body {{ font-family: sans-serif }}</style>\n"
        f"<script type=\"text/javascript\">var rahasia = \"{HTML_SCRIPT_MARKER}\"; alert(rahasia);</script>\n"
        "</head><body><p>Yth. Helpdesk,</p>\n"
        f"<p>{HTML_VISIBLE_TEXT}.<br>Terima&nbsp;kasih &amp; salam.</p>\n"
        "<!-- komentar tersembunyi --><noscript>aktifkan javascript</noscript>\n"
        "<img src=\"https://tracker.example.com/p.gif\" width=1 height=1></body></html>\n"))

    # -- attachments ------------------------------------------------------------------
    i = next(n)
    rng = random.Random(20241104)
    pdf_head, pdf_tail = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", b"\n%%EOF\n"
    pdf = pdf_head + rng.randbytes(BIG_ATTACHMENT_SIZE - len(pdf_head) - len(pdf_tail)) + pdf_tail
    add("attachment-5mb-pdf", _raw(
        _head(i, "Lampiran besar 5 MB", content_type='multipart/mixed; boundary="big-attach"'),
        b"--big-attach\nContent-Type: text/plain; charset=utf-8\n\nBerikut dokumen pindaian.\n"
        b"--big-attach\nContent-Type: application/pdf; name=\"pindaian-lengkap.pdf\"\n"
        b"Content-Disposition: attachment; filename=\"pindaian-lengkap.pdf\"\n"
        b"Content-Transfer-Encoding: base64\n\n" + _b64(pdf) + b"--big-attach--\n"))

    i = next(n)
    parts = [
        ('filename="../../etc/passwd"', b"root:x:0:0::/root:/bin/sh\n"),
        ('filename="..\\\\..\\\\Windows\\\\system32\\\\cmd.exe"', b"MZ not really\n"),
        ("filename*=utf-8''evil%0D%0ABcc%3A%20x%40example.com%00.txt", b"crlf and nul in name\n"),
        ('filename="' + "panjang-" * 60 + 'akhir.pdf"', b"very long name\n"),
        ("filename*=UTF-8''Surat%20Keputusan%20KPU%20%E2%80%94%20No.%201%2F2024.pdf", b"rfc2231 utf-8\n"),
        ("filename*0*=utf-8''Daftar%20Anggota%20;\n filename*1*=%E2%9C%93%20Final;\n filename*2=\".xlsx\"",
         b"rfc2231 continuation\n"),
        ('filename="..";', b"dot dot\n"),
        ('filename=""', b"empty name\n"),
        ('filename="=?utf-8?B?TGFtcGlyYW4gwq4ucGRm?="', b"encoded-word name\n"),
        ('filename="\x00hidden\x7f.txt"', b"control chars\n"),
    ]
    body = b""
    for disp, payload in parts:
        body += (b"--evil-names\nContent-Type: application/octet-stream\nContent-Disposition: attachment; "
                 + disp.encode("utf-8") + b"\nContent-Transfer-Encoding: base64\n\n" + _b64(payload))
    add("attachment-hostile-filenames", _raw(
        _head(i, "Lampiran dengan nama berbahaya", content_type='multipart/mixed; boundary="evil-names"'),
        b"--evil-names\nContent-Type: text/plain; charset=utf-8\n\nLihat lampiran.\n" + body + b"--evil-names--\n"))

    # -- bodies -----------------------------------------------------------------------
    i = next(n)
    add("empty-body", _raw(_head(i, "Badan kosong")))

    i = next(n)
    add("header-only-no-separator", b"".join(
        k.encode() + b": " + (v if isinstance(v, bytes) else v.encode()) + b"\r\n"
        for k, v in _head(i, "Hanya header tanpa baris kosong")))

    i = next(n)
    add("nul-bytes-in-body", _raw(
        _head(i, "NUL di badan"), b"Sebelum NUL\x00sesudah NUL\x00\x00\nbaris berikut \x00\n"))

    i = next(n)
    add("line-longer-than-998", _raw(
        _head(i, "Baris sangat panjang"),
        "Awal. " + "kata-panjang " * 800 + "akhir.\nBaris normal.\n"))

    i = next(n)
    add("bare-lf-line-endings", _raw(
        _head(i, "Hanya LF"), "x").split(b"\r\n\r\n")[0].replace(b"\r\n", b"\n")
        + b"\n\nBaris satu.\nBaris dua.\n\nParagraf dua.\n")

    add("garbage-bytes", bytes(random.Random(404).randrange(256) for _ in range(4096)))

    # -- headers ----------------------------------------------------------------------
    i = next(n)
    add("missing-from", _raw(_head(i, "Tanpa pengirim", skip=("From",)), "Siapa saya?\n"))

    i = next(n)
    add("missing-date", _raw(_head(i, "Tanpa tanggal", skip=("Date",)), "Kapan ini dikirim?\n"))

    i = next(n)
    add("missing-message-id", _raw(_head(i, "Tanpa Message-ID", skip=("Message-ID",)), "Tanpa id.\n"))

    i = next(n)
    add("missing-from-date-message-id-mime", _raw(
        _head(i, "Hampir tanpa header", skip=("From", "Date", "Message-ID", "MIME-Version", "To")),
        "Minimal sekali.\n"))

    i = next(n)
    add("duplicated-headers", _raw(
        _head(i, "Subjek pertama", extra=[
            ("Subject", "Subjek kedua"),
            ("Message-ID", f"<hostile-{i:03d}-second@corpus.example.org>"),
            ("From", "Pengirim Kedua <kedua@example.net>"),
            ("Date", "Tue, 05 Nov 2024 10:00:00 +0700"),
        ]),
        "Header ganda.\n"))

    i = next(n)
    add("raw-8bit-utf8-headers", _raw(
        _head(i, "Pertanyaan “Sipol” — KTA ✓ résumé".encode("utf-8"),
              sender="Dédé Ñoño Suryadi <dede@example.org>".encode("utf-8"),
              extra=[("X-Catatan", "Kabupaten Mesuji — Lampung".encode("utf-8"))]),
        "Header 8-bit mentah UTF-8.\n"))

    i = next(n)
    add("raw-8bit-latin1-headers", _raw(
        _head(i, "Pendaftaran caf\xe9 r\xe9sum\xe9 \xa9 KPU".encode("latin-1"),
              sender="J\xf6rg M\xfcller <jorg@example.net>".encode("latin-1"),
              content_type="text/plain; charset=iso-8859-1"),
        "Isi latin-1: na\xefve fa\xe7ade.\n".encode("latin-1")))

    i = next(n)
    add("subject-2000-chars", _raw(
        _head(i, ("Sangat panjang " * 200)[:2000]), "Subjek dua ribu karakter dalam satu baris.\n"))

    i = next(n)
    add("header-lines-without-colon", _raw(_head(i, "Header rusak")).replace(
        b"\r\n\r\n",
        b"\r\nIni bukan header sama sekali\r\nX Spasi: nama header dengan spasi\r\n: nama kosong\r\n\r\n",
        1) + b"Badan setelah header rusak.\r\n")

    # -- automatic mail ---------------------------------------------------------------
    i = next(n)
    add("auto-reply-auto-submitted", _raw(
        _head(i, "Balasan otomatis: Sedang cuti",
              sender="Pak Budi <budi@partai.example.com>",
              extra=[("Auto-Submitted", "auto-replied"),
                     ("In-Reply-To", "<reply-1@helpdesk.example.org>")]),
        "Saya sedang cuti sampai 10 November. Untuk hal mendesak hubungi kantor DPC.\n"))

    i = next(n)
    add("auto-reply-outlook", _raw(
        _head(i, "Automatic reply: Pertanyaan Sipol",
              sender="Ibu Rina <rina@ormas.example.net>",
              extra=[("X-Auto-Response-Suppress", "All"),
                     ("Thread-Topic", "Pertanyaan Sipol"),
                     ("X-MS-Exchange-Inbox-Rules-Loop", "rina@ormas.example.net"),
                     ("X-MS-Has-Attach", ""),
                     ("In-Reply-To", "<reply-2@helpdesk.example.org>")]),
        "I am out of the office until Monday. / Saya di luar kantor sampai Senin.\n"))

    i = next(n)
    add("auto-reply-precedence-only", _raw(
        _head(i, "Re: Pertanyaan Sipol",
              sender="Sekretariat <sekretariat@partai.example.org>",
              extra=[("Precedence", "auto_reply"), ("X-Autoreply", "yes")]),
        "Terima kasih, email Anda sudah kami terima dan akan dibalas secepatnya.\n"))

    i = next(n)
    dsn_headers = [
        ("Return-Path", "<>"),
        ("From", "Mail Delivery System <MAILER-DAEMON@mx.example.net>"),
        ("To", HELPDESK),
        ("Subject", "Undelivered Mail Returned to Sender"),
        ("Date", _date(i)),
        ("Message-ID", f"<hostile-{i:03d}@mx.example.net>"),
        ("Auto-Submitted", "auto-replied"),
        ("MIME-Version", "1.0"),
        ("Content-Type", 'multipart/report; report-type=delivery-status;\r\n\tboundary="dsn-1/mx.example.net"'),
    ]
    add("bounce-dsn", _raw(dsn_headers,
        "This is a MIME-encapsulated message.\n\n"
        "--dsn-1/mx.example.net\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n"
        "This is the mail system at host mx.example.net.\n\n"
        "I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n"
        f"<{DSN_FAILED_RECIPIENT}>: host pemilih.example.net said: 550 5.1.1\n    User unknown\n\n"
        "--dsn-1/mx.example.net\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.net\nX-Postfix-Queue-ID: 4ABCD12345\n"
        f"Arrival-Date: {_date(i - 1)}\n\n"
        f"Final-Recipient: rfc822; {DSN_FAILED_RECIPIENT}\n"
        f"Original-Recipient: rfc822;{DSN_FAILED_RECIPIENT}\nAction: failed\nStatus: 5.1.1\n"
        "Remote-MTA: dns; pemilih.example.net\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{DSN_FAILED_RECIPIENT}>: Recipient address\n"
        "    rejected: User unknown in virtual mailbox table\n\n"
        "--dsn-1/mx.example.net\nContent-Description: Undelivered Message Headers\n"
        "Content-Type: text/rfc822-headers\n\n"
        f"From: {HELPDESK}\nTo: {DSN_FAILED_RECIPIENT}\nSubject: [HD-MSJ #12] Jawaban pertanyaan Anda\n"
        f"Date: {_date(i - 1)}\nMessage-ID: {DSN_ORIGINAL_MSGID}\n\n"
        "--dsn-1/mx.example.net--\n"))

    i = next(n)
    add("bounce-non-dsn-mailer-daemon", _raw([
        ("Return-Path", "<>"),
        ("From", "MAILER-DAEMON@mx.example.com"),
        ("To", HELPDESK),
        ("Subject", "failure notice"),
        ("Date", _date(i)),
        ("Message-ID", f"<hostile-{i:03d}@mx.example.com>"),
    ],
        "Hi. This is the qmail-send program at mx.example.com.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        f"<{NON_DSN_FAILED_RECIPIENT}>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
        "--- Below this line is a copy of the message.\n\n"
        f"Return-Path: <{HELPDESK}>\nFrom: {HELPDESK}\nTo: {NON_DSN_FAILED_RECIPIENT}\n"
        f"Subject: [HD-MSJ #13] Jawaban\nMessage-ID: {NON_DSN_ORIGINAL_MSGID}\n\nIsi jawaban helpdesk.\n"))

    i = next(n)
    add("mailing-list", _raw(
        _head(i, "[sipol-info] Jadwal pemeliharaan server",
              sender="Admin Sipol <admin@lists.example.org>",
              extra=[("List-Id", "Pengumuman Sipol <sipol-info.lists.example.org>"),
                     ("List-Post", "<mailto:sipol-info@lists.example.org>"),
                     ("List-Help", "<mailto:sipol-info-request@lists.example.org?subject=help>"),
                     ("Precedence", "list"),
                     ("Sender", "sipol-info-bounces@lists.example.org")]),
        "Server Sipol akan dipelihara Sabtu malam.\n"))

    i = next(n)
    add("bulk-newsletter", _raw(
        _head(i, "Buletin Demokrasi Edisi November",
              sender="Buletin <news@newsletter.example.com>",
              extra=[("Precedence", "bulk"),
                     ("List-Unsubscribe", "<mailto:unsub@newsletter.example.com>, "
                                          "<https://newsletter.example.com/unsub?id=42>"),
                     ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                     ("X-Mailer", "MassMailer 9.1")]),
        "Baca artikel terbaru tentang pemilu.\n"))

    # -- duplicates -------------------------------------------------------------------
    i = next(n)
    dup = _raw(_head(i, "Duplikat persis"), "Pesan ini dikirim dua kali oleh klien email.\n")
    add(EXACT_DUPLICATES[0], dup)
    add(EXACT_DUPLICATES[1], bytes(dup))

    i = next(n)
    same = _head(i, "Message-ID dipakai ulang")
    add(SAME_MSGID_DIFFERENT_BODY[0], _raw(same, "Isi versi pertama.\n"))
    add(SAME_MSGID_DIFFERENT_BODY[1], _raw(same, "Isi yang sama sekali berbeda, versi kedua.\n"))

    names = [m[0] for m in msgs]
    assert len(names) == len(set(names)), "duplicate corpus names"
    return tuple(msgs)


def hostile_messages() -> list[tuple[str, bytes]]:
    """The hostile corpus as ``[(name, raw bytes), ...]``; identical on every call."""
    return list(_corpus())


def hostile_message(name: str) -> bytes:
    """One message of the hostile corpus by name."""
    for n, raw in _corpus():
        if n == name:
            return raw
    raise KeyError(name)
