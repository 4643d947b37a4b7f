"""Outgoing mail as a receiving client sees it: headers, threading, MIME, and no injection."""
from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email.utils import getaddresses

import pytest

from kpudesk.mailbox import compose as compose_mod
from kpudesk.mailbox.compose import (
    NO_SUBJECT,
    OutgoingMail,
    check_addr_spec,
    clean_header,
    compose,
    reply_subject,
    tagged_subject,
)
from kpudesk.mailbox.message import Address

HELPDESK = Address("Helpdesk KPU Kabupaten Mesuji", "helpdesk@kpu-mesuji.example.org")
PARTY = Address("Siti Rahmawati", "sekretariat.dpc@partai-contoh.example.org")
WHEN = datetime(2026, 11, 27, 7, 5, tzinfo=UTC)
VICTIM = "victim@example.com"
ENCODED_TRICK = "=?UTF-8?Q?x=0D=0ABcc:_v@e?="

BASE_HEADERS = ["from", "to", "subject", "date", "message-id", "mime-version", "content-type",
                "content-transfer-encoding"]


def mail(**changes) -> OutgoingMail:
    m = OutgoingMail(
        from_addr=HELPDESK,
        to=(PARTY,),
        subject="Re: [HD-MSJ #12] Pertanyaan verifikasi",
        text="Yth. Bapak/Ibu Siti Rahmawati\n\nDengan hormat,\n",
        message_id="kpd.T12.0011223344556677.abcdef@kpu-mesuji.example.org",
        date=WHEN,
    )
    return replace(m, **changes)


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def content(part) -> str:
    """Decoded text of a part, line ends normalised as a client displays it."""
    return part.get_content().replace("\r\n", "\n")


def header_names(raw: bytes) -> list[str]:
    return [k.lower() for k in parse(raw).keys()]


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def all_recipients(msg) -> set[str]:
    values = []
    for name in ("to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc", "reply-to", "from", "sender"):
        values += [str(v) for v in msg.get_all(name, [])]
    return {addr.lower() for _, addr in getaddresses(values)}


# --- the basics ---------------------------------------------------------------------------------

def test_plain_mail_headers_as_a_client_sees_them():
    raw = compose(mail(in_reply_to="CAF+abc=12@mail.gmail.com", references=("first@p.example.org", "CAF+abc=12@mail.gmail.com"),
                       auto_submitted="auto-replied", suppress_autoresponse=True, reply_to=HELPDESK,
                       extra_headers=(("X-KPUDesk-Loop", "kpu-mesuji.example.org"),)))
    msg = parse(raw)
    assert header_names(raw) == ["from", "to", "reply-to", "subject", "date", "message-id", "in-reply-to",
                                 "references", "mime-version", "auto-submitted", "x-auto-response-suppress",
                                 "x-kpudesk-loop", "content-type", "content-transfer-encoding"]
    frm = msg["From"].addresses[0]
    assert (frm.display_name, frm.addr_spec) == ("Helpdesk KPU Kabupaten Mesuji", "helpdesk@kpu-mesuji.example.org")
    assert msg["To"].addresses[0].addr_spec == PARTY.email
    assert str(msg["Subject"]) == "Re: [HD-MSJ #12] Pertanyaan verifikasi"
    assert msg["Date"].datetime == WHEN
    assert str(msg["Message-ID"]) == "<kpd.T12.0011223344556677.abcdef@kpu-mesuji.example.org>"
    assert str(msg["In-Reply-To"]) == "<CAF+abc=12@mail.gmail.com>"
    assert str(msg["References"]) == "<first@p.example.org> <CAF+abc=12@mail.gmail.com>"
    assert str(msg["Auto-Submitted"]) == "auto-replied"
    assert str(msg["X-Auto-Response-Suppress"]) == "All"
    assert str(msg["X-KPUDesk-Loop"]) == "kpu-mesuji.example.org"
    assert msg.get_content_type() == "text/plain"
    assert content(msg) == "Yth. Bapak/Ibu Siti Rahmawati\n\nDengan hormat,\n"


def test_officer_answer_has_no_auto_headers():
    raw = compose(mail())
    assert header_names(raw) == BASE_HEADERS


def test_wire_format_is_crlf_ascii_and_short_lines():
    text = "Jawaban dengan huruf é dan tanda – serta baris yang sangat panjang " * 5 + "\nakhir\n"
    raw = compose(mail(text=text, subject="Pertanyaan tentang verifikasi faktual – mohon penjelasan " * 3))
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert content(parse(raw)) == text


def test_long_indonesian_subject_is_encoded_and_folded():
    subject = ("Re: [HD-MSJ #12] Permohonan Klarifikasi Hasil Verifikasi Administrasi (BMS) – "
               "Anggota Terdeteksi Ganda dengan Partai Lain di Kecamatan Rawajitu Utara — mohon segera dijawab")
    raw = compose(mail(subject=subject))
    head = header_block(raw).decode("ascii")
    subject_lines = head.split("Subject: ", 1)[1].split("\r\nDate: ", 1)[0].split("\r\n")
    assert len(subject_lines) > 1
    assert all(line.startswith(" ") for line in subject_lines[1:])
    assert all(len(line) <= 78 for line in head.split("\r\n"))
    assert "=?utf-8?" in head.lower()
    assert str(parse(raw)["Subject"]) == subject


def test_date_keeps_its_offset():
    wib = WHEN.astimezone(timezone(timedelta(hours=7)))
    raw = compose(mail(date=wib))
    assert b"Date: Fri, 27 Nov 2026 14:05:00 +0700\r\n" in raw
    assert parse(raw)["Date"].datetime == WHEN


def test_cc_and_several_recipients():
    others = (Address("", "anggota1@kpu-mesuji.example.org"), Address("Anggota Dua", "anggota2@kpu-mesuji.example.org"))
    msg = parse(compose(mail(to=others, cc=(HELPDESK,))))
    assert [a.addr_spec for a in msg["To"].addresses] == [a.email for a in others]
    assert msg["To"].addresses[0].display_name == ""
    assert [a.addr_spec for a in msg["Cc"].addresses] == [HELPDESK.email]


# --- threading headers ------------------------------------------------------------------------------

def test_references_are_capped_to_first_and_last_nine():
    ids = tuple(f"m{i}@p.example.org" for i in range(15))
    msg = parse(compose(mail(references=ids)))
    got = str(msg["References"]).split()
    assert got == [f"<{i}>" for i in ids[:1] + ids[-9:]]


def test_references_up_to_ten_are_kept_and_duplicates_dropped():
    ids = tuple(f"m{i}@p.example.org" for i in range(10))
    msg = parse(compose(mail(references=ids + ids[:3])))
    assert str(msg["References"]).split() == [f"<{i}>" for i in ids]


def test_long_message_ids_are_not_mangled():
    long_id = "CAF" + "x" * 150 + "@mail.gmail.com"
    raw = compose(mail(in_reply_to=long_id, references=("a@b.example.org", long_id)))
    msg = parse(raw)
    assert str(msg["In-Reply-To"]) == f"<{long_id}>"
    assert str(msg["References"]).split() == ["<a@b.example.org>", f"<{long_id}>"]
    assert b"=?" not in header_block(raw)


@pytest.mark.parametrize("bad", [ENCODED_TRICK + "@x", "a b@x", "<a@x>", "a\r\nBcc: v@e", "", "ü@x"])
def test_unusable_incoming_ids_are_dropped(bad):
    raw = compose(mail(in_reply_to=bad, references=(bad, "ok@p.example.org")))
    msg = parse(raw)
    assert msg["In-Reply-To"] is None
    assert str(msg["References"]) == "<ok@p.example.org>"


# --- header injection ---------------------------------------------------------------------------------

INJECTED_SUBJECTS = [
    f"Halo\r\nBcc: {VICTIM}",
    f"Halo\nBcc: {VICTIM}",
    f"Halo\rBcc: {VICTIM}",
    f"Halo\r\n\r\nBcc: {VICTIM}",
    f"Halo\x00\x0bBcc: {VICTIM}",
    f"Halo\u2028Bcc: {VICTIM}\u0085To: {VICTIM}",
    f"Re: {ENCODED_TRICK}",
    ENCODED_TRICK,
    "=?UTF-8?B?SGFsbw0KQmNjOiB2aWN0aW1AZXhhbXBsZS5jb20=?=",  # "Halo\r\nBcc: victim@example.com"
    f"x=?utf-8?q?=0D=0ABcc:_{VICTIM}?=",
]


@pytest.mark.parametrize("subject", INJECTED_SUBJECTS)
def test_subject_cannot_add_headers(subject):
    raw = compose(mail(subject=subject))
    assert header_names(raw) == BASE_HEADERS
    msg = parse(raw)
    assert all_recipients(msg) == {HELPDESK.email, PARTY.email}
    assert "\n" not in str(msg["Subject"]) and "\r" not in str(msg["Subject"])


@pytest.mark.parametrize("subject", INJECTED_SUBJECTS)
def test_reply_subject_of_hostile_subject_is_safe(subject):
    raw = compose(mail(subject=reply_subject("HD-MSJ #12", subject)))
    assert header_names(raw) == BASE_HEADERS
    # a very long unbreakable word may make the library fold right after "Subject:"
    assert str(parse(raw)["Subject"]).strip().startswith("Re: [HD-MSJ #12] ")


@pytest.mark.parametrize("name", [
    f"Budi\r\nBcc: {VICTIM}",
    ENCODED_TRICK,
    f'"Budi" <{VICTIM}>',
    f"Budi, {VICTIM}",
    f"Budi\x00<{VICTIM}>",
])
def test_display_name_cannot_add_headers_or_recipients(name):
    raw = compose(mail(to=(Address(name, PARTY.email),), from_addr=Address(name, HELPDESK.email),
                       reply_to=Address(name, HELPDESK.email)))
    msg = parse(raw)
    assert header_names(raw) == ["from", "to", "reply-to", "subject", "date", "message-id", "mime-version",
                                 "content-type", "content-transfer-encoding"]
    assert all_recipients(msg) == {HELPDESK.email, PARTY.email}
    assert [a.addr_spec for a in msg["To"].addresses] == [PARTY.email]


def test_extra_header_value_cannot_add_headers():
    raw = compose(mail(extra_headers=(("X-Test", f"a\r\nBcc: {VICTIM}"), ("X-Other", ENCODED_TRICK))))
    assert header_names(raw) == BASE_HEADERS[:6] + ["x-test", "x-other"] + BASE_HEADERS[6:]
    assert VICTIM not in all_recipients(parse(raw))


@pytest.mark.parametrize("name", ["Bcc", "bcc", "To", "Content-Type", "Sender", "Resent-To", "MIME-Version",
                                  "References", "X-Bad:Name", "X Bad", "", "Bcc\r\nX"])
def test_extra_headers_cannot_override_or_be_malformed(name):
    with pytest.raises(ValueError):
        compose(mail(extra_headers=((name, VICTIM),)))


def test_attachment_filename_cannot_add_headers():
    raw = compose(mail(attachments=((f"surat\r\nBcc: {VICTIM}.pdf", "application/pdf", b"%PDF"),
                                    (ENCODED_TRICK + ".pdf", "application/pdf\r\nBcc: x@y", b"%PDF"))))
    msg = parse(raw)
    assert VICTIM not in all_recipients(msg)
    parts = list(msg.iter_attachments())
    assert [p.get_filename() for p in parts] == [f"surat Bcc: {VICTIM}.pdf", "= ?UTF-8?Q?x=0D=0ABcc:_v@e?=.pdf"]
    assert parts[1].get_content_type() == "application/octet-stream"
    for part in msg.walk():
        assert {k.lower() for k in part.keys()} <= {"content-type", "content-transfer-encoding",
                                                     "content-disposition", "mime-version"} | set(BASE_HEADERS)


def test_verification_refuses_an_injected_header():
    raw = compose(mail())
    names = header_names(raw)
    expected = [n for n in names if not n.startswith("content-")]
    compose_mod._verify(raw, expected)  # the real output passes
    forged = raw.replace(b"\r\nDate:", b"\r\nBcc: " + VICTIM.encode() + b"\r\nDate:", 1)
    with pytest.raises(ValueError, match="differ"):
        compose_mod._verify(forged, expected)
    bare_lf = raw.replace(b"\r\nDate:", b"\nDate:", 1)
    with pytest.raises(ValueError, match="bare"):
        compose_mod._verify(bare_lf, expected)


# --- addresses ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    "a\r\nb@example.org", "a@example.org\r\nBcc: v@e", "a b@example.org", "nobody", "a@b@example.org",
    "", "   ", "@example.org", "a@", "a@-bad-.org", "a..b@example.org", '"a b"@example.org',
    "ü@example.org", "=?utf-8?q?x?=@example.org", "a@exa mple.org", "a,b@example.org", "a@example.org>",
])
def test_invalid_addresses_raise(bad):
    with pytest.raises(ValueError):
        check_addr_spec(bad)
    with pytest.raises(ValueError):
        compose(mail(to=(Address("X", bad),)))


@pytest.mark.parametrize("good", ["a@example.org", " lo.dpc+pkb@partai-contoh.example.org ", "o'neil@x.test",
                                  "helpdesk@localhost", "a_b-c@[192.0.2.1]"])
def test_valid_addresses(good):
    assert check_addr_spec(good) == good.strip()


@pytest.mark.parametrize("name", [
    "Dédé Suryadi", "Siti Nur'aini", 'Partai "Contoh", DPC Mesuji', "Rina Wulandari (Koordinator)",
    "Ahmad Ḥusain – DPC Gelora", "Ketua: Budi; Sekretaris: Ani", "Budi\\Santoso",
])
def test_display_names_round_trip(name):
    msg = parse(compose(mail(to=(Address(name, PARTY.email),))))
    (addr,) = msg["To"].addresses
    assert (addr.display_name, addr.addr_spec) == (name, PARTY.email)


def test_other_errors():
    with pytest.raises(ValueError, match="aware"):
        compose(mail(date=WHEN.replace(tzinfo=None)))
    with pytest.raises(ValueError, match="Message-ID"):
        compose(mail(message_id="<kpd.T12.x@y>"))
    with pytest.raises(ValueError, match="Message-ID"):
        compose(mail(message_id="a b@y"))
    with pytest.raises(ValueError, match="recipient"):
        compose(mail(to=()))
    with pytest.raises(ValueError, match="Auto-Submitted"):
        compose(mail(auto_submitted="yes"))


# --- MIME structure ---------------------------------------------------------------------------------------------

def test_html_gives_multipart_alternative():
    html = "<p>Yth. Bapak/Ibu</p>"
    msg = parse(compose(mail(html=html)))
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content_charset() == "utf-8"
    assert content(parts[1]) == html + "\n"
    assert all(p["MIME-Version"] is None for p in parts)


def test_attachment_with_html_gives_mixed_of_alternative():
    data = b"%PDF-1.4\n\x00\xff binary"
    msg = parse(compose(mail(html="<p>x</p>", attachments=(("Surat Keterangan – PKB.pdf", "application/pdf", data),))))
    assert msg.get_content_type() == "multipart/mixed"
    alt, att = msg.iter_parts()
    assert alt.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alt.iter_parts()] == ["text/plain", "text/html"]
    assert att.get_content_type() == "application/pdf"
    assert att.get_filename() == "Surat Keterangan – PKB.pdf"
    assert att.get_content() == data
    assert content(msg.get_body(("plain",))) == mail().text


def test_non_ascii_filename_uses_rfc2231():
    raw = compose(mail(attachments=(("Surat Keterangan – PKB.pdf", "application/pdf", b"x"),)))
    assert b"filename*=utf-8''Surat%20Keterangan%20%E2%80%93%20PKB.pdf" in raw


@pytest.mark.parametrize(("given", "expected"), [
    ("../../etc/passwd", "_.._etc_passwd"), ("C:\\Users\\a.pdf", "C:_Users_a.pdf"), ("", "lampiran"),
    ("..", "lampiran"), ("  laporan.csv  ", "laporan.csv"),
])
def test_attachment_filenames_are_sanitised(given, expected):
    msg = parse(compose(mail(attachments=((given, "text/csv", b"a,b\n"),))))
    (att,) = msg.iter_attachments()
    assert att.get_filename() == expected


def test_plain_attachment_without_html():
    msg = parse(compose(mail(attachments=(("data.csv", "TEXT/CSV", b"a,b\n"),))))
    assert msg.get_content_type() == "multipart/mixed"
    body, att = msg.iter_parts()
    assert body.get_content_type() == "text/plain"
    assert att.get_content_type() == "text/csv"


# --- header values and subjects ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "expected"), [
    ("Halo\r\nBcc: x", "Halo Bcc: x"),
    ("  a \t b\u00a0 c  ", "a b c"),
    ("a\x00b\x7fc\x85d\u2028e\u2029f", "a b c d e f"),
    ("abc\u202edcb", "abcdcb"),
    ("lone \udcff surrogate", "lone \ufffd surrogate"),
    (None, ""),
    ("Pemilu 2024 – Sipol ✓", "Pemilu 2024 – Sipol ✓"),
])
def test_clean_header(given, expected):
    assert clean_header(given) == expected


@pytest.mark.parametrize(("subject", "expected"), [
    ("Pertanyaan Sipol", "Re: [HD-MSJ #12] Pertanyaan Sipol"),
    ("Re: Pertanyaan", "Re: [HD-MSJ #12] Pertanyaan"),
    ("RE: RE: Pertanyaan", "Re: [HD-MSJ #12] Pertanyaan"),
    ("Re:Re: Pertanyaan", "Re: [HD-MSJ #12] Pertanyaan"),
    ("re:re:re:Pertanyaan", "Re: [HD-MSJ #12] Pertanyaan"),
    ("Re[2]: Pertanyaan", "Re: [HD-MSJ #12] Pertanyaan"),
    ("Re : Pertanyaan", "Re: [HD-MSJ #12] Pertanyaan"),
    ("Fwd: FW: Fw: Pertanyaan", "Re: [HD-MSJ #12] Pertanyaan"),
    ("AW: WG: SV: VS: Pertanyaan", "Re: [HD-MSJ #12] Pertanyaan"),
    ("Balas: Bls: Pertanyaan", "Re: [HD-MSJ #12] Pertanyaan"),
    ("TR: Tr: Pertanyaan", "Re: [HD-MSJ #12] Pertanyaan"),
    ("Re: [HD-MSJ #12] Pertanyaan", "Re: [HD-MSJ #12] Pertanyaan"),
    ("[HD-MSJ #12] Re: [HD-MSJ #12] Pertanyaan", "Re: [HD-MSJ #12] Pertanyaan"),
    ("Re: Fwd: [HD-MSJ #3] Re: Pertanyaan", "Re: [HD-MSJ #12] Pertanyaan"),
    ("Re: [hd-msj#7] Pertanyaan", "Re: [HD-MSJ #12] Pertanyaan"),
    ("Pertanyaan [HD-MSJ #12]", "Re: [HD-MSJ #12] Pertanyaan"),
    ("[LPG #55] Re: Pertanyaan", "Re: [HD-MSJ #12] [LPG #55] Re: Pertanyaan"),
    ("Ref: Surat Nomor 5", "Re: [HD-MSJ #12] Ref: Surat Nomor 5"),
    ("Transfer: data anggota", "Re: [HD-MSJ #12] Transfer: data anggota"),
    ("Mohon info: Re-upload KTA", "Re: [HD-MSJ #12] Mohon info: Re-upload KTA"),
    ("", f"Re: [HD-MSJ #12] {NO_SUBJECT}"),
    ("   ", f"Re: [HD-MSJ #12] {NO_SUBJECT}"),
    ("Re:", f"Re: [HD-MSJ #12] {NO_SUBJECT}"),
    ("Re: [HD-MSJ #12]", f"Re: [HD-MSJ #12] {NO_SUBJECT}"),
    ("Halo\r\nBcc: v@e", "Re: [HD-MSJ #12] Halo Bcc: v@e"),
    ("  Data   ganda\tdi Sipol ", "Re: [HD-MSJ #12] Data ganda di Sipol"),
])
def test_reply_subject(subject, expected):
    assert reply_subject("HD-MSJ #12", subject) == expected


def test_subject_prefix_options():
    assert tagged_subject("HD-MSJ #12", "Re: Fwd: Pertanyaan") == "[HD-MSJ #12] Pertanyaan"
    assert reply_subject("HD-MSJ #12", "Re: Pertanyaan", prefix=None) == "[HD-MSJ #12] Pertanyaan"
    assert reply_subject("HD-MSJ #12", "Pertanyaan", prefix="Balas: ") == "Balas: [HD-MSJ #12] Pertanyaan"
    assert reply_subject("KPU-X #3", "[KPU-X #2] [HD-MSJ #12] x") == "Re: [KPU-X #3] [HD-MSJ #12] x"
    with pytest.raises(ValueError):
        reply_subject("", "x")
