"""The Buku Tamu in the web desk (issue 15 items 1-2): the form creates the ticket `tickets new`
creates, with the visitor's signature and documentation archived, hashed and queued for the
cloud folder; bad input is refused in Bahasa with the form kept and nothing stored; roles
and CSRF as everywhere; the day's Daftar Hadir with its signatures and register timing."""
from __future__ import annotations

import base64
import hashlib
import io
import re
from datetime import timedelta
from html import unescape

import pytest
from PIL import Image

from kpudesk.tickets import queries, walkin
from kpudesk.tickets.models import Attachment, Event, Identity, Message, MirrorItem, Ticket
from kpudesk.tickets.permissions import allowed
from tests.web_fixtures import OFFICERS, WebDesk, web_fixture  # noqa: F401 - the `web` fixture

ROLES = [o["role"] for o in OFFICERS]
RINA = WebDesk.email("anggota-helpdesk")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + b"\x00" * 200


def signature_png(ink: bool = True) -> bytes:
    img = Image.new("RGBA", (400, 150), (0, 0, 0, 0))
    if ink:
        for x in range(50, 350):
            img.putpixel((x, 75 + (x % 20) - 10), (11, 31, 77, 255))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def form_values(web) -> dict:
    """The hidden and prefilled fields of the form as a browser received them."""
    page = web.client.get("/guestbook").get_data(as_text=True)
    return {name: unescape(re.search(rf'name="{name}"[^>]*value="([^"]*)"', page).group(1))
            for name in ("opened", "prefilled", "date", "time")}


def visit(web, files=(), **fields):
    data = {**form_values(web), "name": "Hendra Gunawan", "phone": "0812 7777 8888", "party": "PKB",
            "email": "", "subject": "Verifikasi faktual", "message": "Kapan jadwal verifikasi faktual keanggotaan?",
            "channel": "tatap-muka", "signature": ""}
    data.update(fields)
    data["files"] = [(io.BytesIO(content), name) for name, content in files]
    return web.post("/guestbook", data, content_type="multipart/form-data")


def alert(r) -> str:
    found = re.search(r'role="alert"[^>]*>(.*?)</div>', r.get_data(as_text=True), re.S)
    return unescape(re.sub(r"<[^>]+>", " ", found.group(1))) if found else ""


def nothing_stored(web) -> bool:
    return (Ticket.select().count() == 0 and Attachment.select().count() == 0 and MirrorItem.select().count() == 0
            and not any((web.settings.storage_dir / "archive").rglob("*.*")))


@pytest.fixture
def desk(web):
    web.login(RINA)
    return web


# --- roles and CSRF ------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_every_role_may_register_walk_ins_only_if_the_table_says_so(web, role):
    web.login(web.email(role))
    page = web.client.get("/guestbook")
    if allowed(role, "walkin"):
        assert page.status_code == 200 and 'action="/guestbook"' in page.get_data(as_text=True)
        r = visit(web)
        assert r.status_code == 303 and Ticket.select().count() == 1
    else:
        assert page.status_code == 403 and "Tidak diizinkan" in page.get_data(as_text=True)
        r = web.post("/guestbook", {"name": "X", "party": "PKB", "subject": "S", "message": "M",
                                    "channel": "tatap-muka", "date": "2026-12-01", "time": "08:00"})
        assert r.status_code == 403 and Ticket.select().count() == 0
    register = web.client.get("/guestbook/register")
    may_read = allowed(role, "walkin") or allowed(role, "reports")
    assert register.status_code == (200 if may_read else 403)


def test_not_logged_in_goes_to_the_login_page(web):
    r = web.client.get("/guestbook")
    assert r.status_code in (302, 303) and "/login?next=/guestbook" in r.headers["Location"]


def test_a_post_without_a_valid_csrf_token_stores_nothing(desk):
    values = {**form_values(desk), "name": "X", "party": "PKB", "subject": "S", "message": "M",
              "channel": "tatap-muka"}
    for token in (None, "palsu"):
        data = dict(values) if token is None else {**values, "csrf_token": token}
        r = desk.client.post("/guestbook", data=data)
        assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    assert nothing_stored(desk)


# --- the ticket --------------------------------------------------------------------------------

def test_the_form_shows_now_the_parties_and_the_channels(desk):
    page = desk.client.get("/guestbook").get_data(as_text=True)
    assert 'name="date" value="2026-12-01"' in page and 'name="time" value="09:00"' in page
    assert 'max="2026-12-01"' in page  # the date picker offers no future day
    assert '<option value="PKB">1. Partai Kebangkitan Bangsa</option>' in page
    assert re.search(r'<option value="tatap-muka" selected>', page)
    for channel in ("pesan-online", "pertemuan-online"):
        assert f'<option value="{channel}"' in page
    assert 'enctype="multipart/form-data"' in page and 'name="files" multiple' in page
    assert "vendor/signature_pad.umd.min.js" in page and "guestbook.js" in page and "<script>" not in page


def test_a_visit_with_signature_and_files_makes_the_ticket_tickets_new_makes(desk):
    sig = signature_png()
    opened = form_values(desk)
    desk.clock.advance(minutes=3, seconds=20)  # the visitor fills the form in
    r = visit(desk, files=[("foto-kunjungan.jpg", JPEG), ("surat.pdf", PDF)], signature=data_url(sig), **opened)
    assert r.status_code == 303
    ticket = Ticket.get()
    assert r.headers["Location"].endswith(f"/tickets/{ticket.id}")
    page = desk.client.get(r.headers["Location"]).get_data(as_text=True)
    assert re.search(r'role="status"[^>]*>Kunjungan Hendra Gunawan dicatat sebagai HD-MSJ #1 '
                     r'\(ditandatangani di layar, 2 berkas dokumentasi\)', page)
    # What the CLI's `tickets new` does with the same visit (daemon/commands/tickets.py cmd_new).
    cli = walkin.register(walkin.WalkIn(channel="tatap-muka", party="PKB", name="Hendra Gunawan",
                                        subject="Verifikasi faktual", phone="0812 7777 8888",
                                        message="Kapan jadwal verifikasi faktual keanggotaan?",
                                        files=(("foto-kunjungan.jpg", JPEG), ("surat.pdf", PDF))),
                          registry=desk.app.registry, archive=desk.app.archive, clock=desk.clock,
                          officer=desk.settings.officer("Rina Wulandari"), zone=desk.settings.zone,
                          tag=desk.settings.helpdesk.tag)

    def comparable(t):
        d = queries.detail(t, tag="HD-MSJ", zone=desk.settings.zone)
        for m in d["messages"]:
            m["attachments"] = [a for a in m["attachments"] if a["filename"] != "tanda-tangan.png"]
            for a in m["attachments"]:
                a.pop("n", None)
        return {k: v for k, v in d.items() if k not in ("id", "ref", "events")} | {
            "messages": [{k: v for k, v in m.items() if k not in ("id", "message_id")} for m in d["messages"]]}

    web_side, cli_side = comparable(ticket), comparable(cli)
    assert web_side == cli_side
    assert web_side["identity"]["phone"] == "+6281277778888" and web_side["party"] == "PKB"
    # The signature: an attachment of the first message, archived byte-exact with its hash.
    first = Message.select().where(Message.ticket == ticket).order_by(Message.id).get()
    files = {a.filename: a for a in first.attachments}
    assert set(files) == {"foto-kunjungan.jpg", "surat.pdf", "tanda-tangan.png"}
    signed = files["tanda-tangan.png"]
    assert desk.app.archive.read(signed.path) == sig and signed.sha256 == hashlib.sha256(sig).hexdigest()
    assert signed.content_type == "image/png" and files["surat.pdf"].content_type == "application/pdf"
    # Every stored file queued for the cloud folder, in the ticket's folder.
    queued = {m.remote_path: m for m in MirrorItem.select().where(MirrorItem.ticket == ticket)}
    assert set(queued) == {"2026/12/HD-MSJ-1/foto-kunjungan.jpg", "2026/12/HD-MSJ-1/surat.pdf",
                           "2026/12/HD-MSJ-1/tanda-tangan.png"}
    for a in files.values():
        item = queued[f"2026/12/HD-MSJ-1/{a.filename}"]
        assert (item.path, item.sha256, item.size, item.status) == (a.path, a.sha256, a.size, "pending")
    created = Event.get((Event.ticket == ticket) & (Event.kind == "ticket.created"))
    assert created.detail == {"channel": "tatap-muka", "evidence": 2, "signature": "digital",
                              "register_seconds": 200}


def test_without_javascript_the_visit_is_signed_on_paper(desk):
    r = visit(desk)  # the hidden signature field stays empty without script
    assert r.status_code == 303
    ticket = Ticket.get()
    assert Event.get((Event.ticket == ticket) & (Event.kind == "ticket.created")).detail["signature"] == "kertas"
    assert "tanda tangan di kertas" in desk.client.get(r.headers["Location"]).get_data(as_text=True)
    assert Attachment.select().count() == 0
    row = desk.client.get("/guestbook/register").get_data(as_text=True)
    assert re.search(r'data-ticket-id="1".*?<span class="paper">di kertas</span>', row, re.S)


def test_a_chat_group_consultation_with_screenshots(desk):
    shot = signature_png()  # any PNG: a screenshot
    r = visit(desk, files=[("layar-1.png", shot), ("rekaman.pdf", PDF)], channel="pesan-online", name="Dewi",
              party="3")
    assert r.status_code == 303
    t = Ticket.get()
    assert t.channel == "pesan-online"
    assert Identity.get(Identity.ticket == t).party == "Partai Demokrasi Indonesia Perjuangan"
    detail = Event.get((Event.ticket == t) & (Event.kind == "ticket.created")).detail
    assert "signature" not in detail and detail["evidence"] == 2
    assert MirrorItem.select().count() == 2


def test_a_visit_written_up_later_keeps_its_own_time(desk):
    desk.clock.advance(hours=5)
    r = visit(desk, date="2026-12-01", time="09:30")
    assert r.status_code == 303
    t = Ticket.get()
    assert t.created_at == walkin.parse_when("2026-12-01 09:30", desk.settings.zone, desk.clock.now())


def test_the_form_time_left_as_shown_means_now(desk):
    values = form_values(desk)
    desk.clock.advance(minutes=2)
    visit(desk, **values)
    assert Ticket.get().created_at == desk.clock.now()


# --- refusals --------------------------------------------------------------------------------------

BAD = [
    ({"party": "Partai Antah Berantah"}, (), "partai tidak dikenal"),
    ({"date": "2026-12-02", "time": "09:00"}, (), "masa depan"),
    ({"date": "2026-12-01", "time": "25:99"}, (), "waktu tidak valid"),
    ({"signature": "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()}, (), "bukan gambar PNG"),
    ({"signature": "data:image/png;base64,@@@"}, (), "data rusak"),
    ({"signature": data_url(signature_png(ink=False))}, (), "tanda tangan kosong"),
    ({"signature": data_url(JPEG)}, (), "bukan berkas PNG yang utuh"),
    ({}, [("foto.jpg", JPEG), ("foto-tamu.jpg", EXE)], "'foto-tamu.jpg' ditolak"),
    ({"phone": "12"}, (), "nomor telepon tidak valid"),
    ({"name": "  "}, (), "nama perwakilan wajib diisi"),
    ({"email": "bukan surel"}, (), "alamat surel tidak valid"),
    ({"channel": "merpati-pos"}, (), "kanal tidak dikenal"),
]


@pytest.mark.parametrize("fields, files, needle", BAD, ids=[b[2] for b in BAD])
def test_bad_input_is_refused_in_bahasa_with_the_form_kept_and_nothing_stored(desk, fields, files, needle):
    r = visit(desk, files=files, subject="Jadwal verifikasi", **fields)
    assert r.status_code == 422
    assert needle in alert(r) and "Belum tersimpan" in alert(r)
    page = r.get_data(as_text=True)
    assert 'value="Jadwal verifikasi"' in page and "Kapan jadwal verifikasi faktual keanggotaan?" in page
    if files:
        assert "Pilih ulang berkas dokumentasi" in alert(r)
    assert nothing_stored(desk)


def test_a_traversal_name_is_stored_under_its_base_name(desk):
    assert visit(desk, files=[("../../etc/passwd", JPEG)]).status_code == 303
    (a,) = Attachment.select()
    assert a.filename == "passwd" and a.content_type == "image/jpeg"
    assert MirrorItem.get().remote_path == "2026/12/HD-MSJ-1/passwd"
    archive = (desk.settings.storage_dir / "archive").resolve()
    assert (archive / a.path).resolve().is_relative_to(archive)


def test_a_kept_signature_goes_back_into_the_form_after_another_error(desk):
    url = data_url(signature_png())
    r = visit(desk, signature=url, party="Partai Antah Berantah")
    assert r.status_code == 422 and f'value="{url}"' in r.get_data(as_text=True)


@pytest.fixture
def small(tmp_path):
    web = WebDesk(tmp_path, extra={"web": {"max_upload_mb": 1}})
    web.login(RINA)
    return web


def test_files_over_the_settings_limit_are_refused_in_bahasa(small):
    # Under the request limit (max_upload_mb + 256 KB for the form), over the files' own.
    r = visit(small, files=[("a.jpg", JPEG + b"\x00" * (600 * 1024)), ("b.jpg", JPEG + b"\x00" * (500 * 1024))])
    assert r.status_code == 422 and "terlalu besar" in alert(r) and "batas 1 MB" in alert(r)
    assert nothing_stored(small)


def test_an_upload_over_the_request_limit_is_a_bahasa_413(small):
    r = visit(small, files=[("video.mp4", b"\x00" * (2 * 1024 * 1024))])
    assert r.status_code == 413 and "Terlalu besar" in r.get_data(as_text=True)
    assert nothing_stored(small)


def test_a_200_mb_upload_is_refused_before_it_is_read(desk):
    """A browser announcing 200 MB: refused on its Content-Length, the body never read."""
    token = desk.token()
    body = io.BytesIO(b"--x\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + token.encode() + b"\r\n")
    r = desk.client.post("/guestbook", input_stream=body, content_type="multipart/form-data; boundary=x",
                         environ_overrides={"CONTENT_LENGTH": str(200 * 1024 * 1024)})
    assert r.status_code == 413 and "Terlalu besar" in r.get_data(as_text=True)
    assert nothing_stored(desk)


# --- the day's register ----------------------------------------------------------------------------

def test_the_register_lists_the_days_visits_with_signatures_and_timing(desk):
    sig = signature_png()
    opened = form_values(desk)
    desk.clock.advance(minutes=2)
    visit(desk, signature=data_url(sig), **opened)
    values = form_values(desk)
    desk.clock.advance(minutes=7)  # a slow entry: over the SOP's 5 minutes
    visit(desk, **values, name="Siti Aminah", party="Gerindra", phone="0813 1111 2222")
    visit(desk, name="Dewi", channel="pertemuan-online", party="3", phone="")
    desk.clock.advance(days=1)
    desk.login(RINA)  # the session of yesterday has expired
    visit(desk, name="Besok")  # another day: not on this register
    page = desk.client.get("/guestbook/register?date=2026-12-01").get_data(as_text=True)
    assert "DAFTAR HADIR HELPDESK KONSULTASI" in page and "Helpdesk KPU Kabupaten Mesuji" in page
    assert "Hari/tanggal: 1 Desember 2026" in page
    rows = re.findall(r'<tr data-ticket-id="(\d+)">(.*?)</tr>', page, re.S)
    assert [int(t) for t, _ in rows] == [1, 2, 3]
    cells = [[unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
             for _, row in rows]
    assert cells[0][:8] == ["1", "01-12-2026 09.02 WIB", "Hendra Gunawan", "+6281277778888",
                            "PKB", "Tatap muka", "HD-MSJ #1", "2 mnt 00 dtk"]
    assert 'title="Partai Kebangkitan Bangsa"' in rows[0][1]
    assert cells[1][2] == "Siti Aminah" and cells[1][7] == "7 mnt 00 dtk" and cells[1][8] == "di kertas"
    assert 'class="over"' in rows[1][1] and 'class="over"' not in rows[0][1]
    assert cells[2][5] == "Pertemuan daring" and cells[2][3] == "-"
    assert "Pencatatan dalam standar SOP 5 menit: 2 dari 3" in page
    # The signature image: the desk's own origin, behind the login, the archived bytes.
    src = re.search(r'<img class="signature" src="([^"]+)"', rows[0][1]).group(1)
    assert src.startswith("/guestbook/signature/")
    img = desk.client.get(src)
    assert img.status_code == 200 and img.mimetype == "image/png" and img.data == sig
    assert desk.browser().client.get(src).status_code in (302, 303)  # no session: the login page


def test_the_register_prints_twenty_visitors_a_sheet(desk):
    for i in range(25):
        visit(desk, name=f"Tamu {i + 1:02d}")
        desk.clock.advance(minutes=1)
    page = desk.client.get("/guestbook/register").get_data(as_text=True)
    sheets = re.findall(r'<section class="register-page" data-page="(\d)">(.*?)</section>', page, re.S)
    assert [n for n, _ in sheets] == ["1", "2"]
    assert [s.count("<tr data-ticket-id") for _, s in sheets] == [20, 5]
    assert all("<thead>" in s and "DAFTAR HADIR" in s for _, s in sheets)
    css = desk.client.get("/static/guestbook.css").get_data(as_text=True)
    assert "@page" in css and "size: A4" in css and "break-inside: avoid" in css and "table-header-group" in css


def test_a_bad_register_date_says_so_and_shows_today(desk):
    visit(desk)
    r = desk.client.get("/guestbook/register?date=kemarin")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "tanggal tidak valid" in page and 'role="alert"' in page
    assert 'data-ticket-id="1"' in page


def test_a_signature_is_served_only_to_roles_that_read_the_register(web):
    web.login(RINA)
    visit(web, signature=data_url(signature_png()))
    (a,) = Attachment.select()
    src = f"/guestbook/signature/{a.id}"
    assert web.client.get(src).status_code == 200
    for role, code in (("ketua", 200), ("anggota-kpu", 403)):
        other = web.browser()
        other.login(other.email(role))
        assert other.client.get(src).status_code == code
    assert web.client.get(f"/guestbook/signature/{a.id + 99}").status_code == 404


def test_a_signature_damaged_in_the_archive_is_not_served(desk):
    visit(desk, signature=data_url(signature_png()))
    a = Attachment.get()
    path = desk.settings.storage_dir / "archive" / a.path
    path.chmod(0o600)
    path.write_bytes(b"\x89PNG damaged")
    assert desk.client.get(f"/guestbook/signature/{a.id}").status_code == 410


def test_a_forged_opened_time_is_ignored_not_trusted(desk):
    visit(desk, opened="2026-12-01T01:00:00+00:00")  # unsigned: anyone could type it
    detail = Event.get(Event.kind == "ticket.created").detail
    assert "register_seconds" not in detail
    assert timedelta(0) <= desk.clock.now() - Ticket.get().created_at
