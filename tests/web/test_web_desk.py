"""The web desk's queue and ticket page (issue 14 items 4, 5): what an officer sees and what
each action changes — the same events and outbox rows as the domain operation the CLI
calls, a Bahasa confirmation or error, and 403 with nothing changed for a role without it."""
from __future__ import annotations

import io
import re

import pytest

from kpudesk.daemon.web.ticket_page import size_text
from kpudesk.tickets import outbox
from kpudesk.tickets.escalation import Escalation
from kpudesk.tickets.models import Event, Identity, Message, Ticket
from tests.corpus.hostile import party_mail
from tests.web_fixtures import OFFICERS, WebDesk, web_fixture  # noqa: F401 - the `web` fixture

TEAM = WebDesk.email("anggota-helpdesk")
COORD = WebDesk.email("koordinator-harian")
ANGGOTA = WebDesk.email("anggota-kpu")
KETUA = WebDesk.email("ketua")
LIA = "Lia Anggraini <lia@pdip.example.org>"
QUESTION = "Akun Sipol kami terkunci setelah salah memasukkan kata sandi tiga kali. Mohon dibuka."


def mail(web, sender=LIA, subject="Akun Sipol terkunci", body=QUESTION, folder="INBOX") -> int:
    web.feeder.deliver(party_mail(sender, subject, body), folder=folder)
    return Ticket.select().order_by(Ticket.id.desc()).first().id


def html(response) -> str:
    return response.get_data(as_text=True)


def flashed(web, response, role: str) -> str:
    """Follow an action's 303 and return the text of its role="status"/"alert" message."""
    assert response.status_code == 303, html(response)
    page = html(web.client.get(response.headers["Location"]))
    found = re.search(rf'role="{role}">([^<]*)<', page)
    assert found, f'no role="{role}" on the page'
    return found.group(1)


def rows(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-ticket-id="(\d+)"', page)]


def state() -> tuple:
    """Everything an action could change."""
    return (Event.select().count(), Message.select().count(), outbox.OutboxItem.select().count(),
            [(t.status, t.assignee, t.party_id, t.updated_at) for t in Ticket.select().order_by(Ticket.id)],
            [(i.name, i.party, i.phone, i.email) for i in Identity.select().order_by(Identity.id)])


def events_of(ticket_id: int) -> list[tuple[str, str]]:
    """(kind, actor) of the ticket's events; a party's address reads "party" (two tickets compare)."""
    return [(e.kind, "party" if "@" in e.actor else e.actor)
            for e in Event.select().where(Event.ticket == ticket_id).order_by(Event.id)]


def outbox_of(ticket_id: int) -> list[tuple]:
    item = outbox.OutboxItem
    return [(o.kind, o.status) for o in item.select().where(item.ticket == ticket_id).order_by(item.id)]


# --- the queue ------------------------------------------------------------------------------


def test_not_logged_in_the_queue_and_a_ticket_send_to_the_login_page(web):
    tid = mail(web)
    for path in ("/", f"/tickets/{tid}", "/spam", "/escalations"):
        r = web.client.get(path)
        assert r.status_code == 303 and r.headers["Location"].startswith("/login?next=")


def test_each_queue_row_carries_its_ticket_id_a_link_and_the_columns(web):
    tid = mail(web)
    web.login(TEAM)
    page = html(web.client.get("/"))
    row = page[page.index(f'data-ticket-id="{tid}"'):]
    row = row[:row.index("</tr>")]
    assert f'href="/tickets/{tid}"' in row
    for shown in ("HD-MSJ #1", "Akun Sipol terkunci", "Lia Anggraini", "lia@pdip.example.org", "surel", "Baru",
                  "belum ditugaskan", "dalam standar"):
        assert shown in row
    assert "dijawab dalam 30 menit" in page  # the SOP standard is stated on the page


def test_an_overdue_ticket_stands_out_with_its_minutes(web):
    old = mail(web, subject="Pertanyaan lama")
    web.clock.advance(minutes=45)
    fresh = mail(web, sender="Budi <budi@pkb.example.org>", subject="Pertanyaan baru")
    web.login(TEAM)
    page = html(web.client.get("/"))
    old_row = page[page.index(f'data-ticket-id="{old}"'):].split("</tr>")[0]
    fresh_row = page[page.index(f'data-ticket-id="{fresh}"'):].split("</tr>")[0]
    assert 'class="overdue"' in old_row and "Terlambat 15 menit" in old_row and "dalam 30 menit" in old_row
    assert "overdue" not in fresh_row
    assert rows(html(web.client.get("/?overdue=1"))) == [old]


def test_filters_and_search_live_in_the_url(web):
    a = mail(web, subject="Akun Sipol terkunci")
    b = mail(web, sender="Budi <budi@pkb.example.org>", subject="Unggah KTA",
             body="Bagaimana cara mengunggah dokumen keanggotaan ke Sipol?")
    web.login(TEAM)
    web.post(f"/tickets/{b}/assign", {"officer": TEAM})
    assert rows(html(web.client.get("/?q=keanggotaan"))) == [b]  # a word of the body
    assert rows(html(web.client.get("/?q=budi%40pkb.example.org"))) == [b]  # the requester
    assert rows(html(web.client.get(f"/?q=HD-MSJ+%23{a}"))) == [a]  # the reference
    assert rows(html(web.client.get("/?assignee=me"))) == [b]
    assert rows(html(web.client.get("/?assignee=none"))) == [a]
    assert rows(html(web.client.get(f"/?assignee={TEAM}"))) == [b]
    assert rows(html(web.client.get("/?channel=email&status=baru"))) == [a, b]
    assert rows(html(web.client.get("/?status=selesai"))) == []
    page = web.client.get("/?q=keanggotaan")
    assert 'value="keanggotaan"' in html(page)  # the search box keeps the words


def test_party_filter_and_an_unknown_party_or_status_is_an_alert_not_an_error(web):
    mail(web)
    pkb = mail(web, sender="Budi <budi@pkb.example.org>", subject="Partai Kebangkitan Bangsa: akun")
    web.login(TEAM)
    web.post(f"/tickets/{pkb}/identity", {"party": "PKB"})
    assert rows(html(web.client.get("/?party=PKB"))) == [pkb]
    r = web.client.get("/?party=Partai+Khayalan&status=rahasia")
    assert r.status_code == 200
    assert html(r).count('role="alert"') == 2 and "partai tidak dikenal" in html(r)


def test_sort_by_last_activity_and_paging_of_fifty(web):
    for n in range(52):
        web.feeder.deliver(party_mail(f"p{n}@pkb.example.org", f"Soal nomor {n}", f"Pertanyaan {n} tentang Sipol"))
        web.clock.advance(minutes=1)
    web.login(TEAM)
    web.post("/tickets/1/note", {"body": "dibaca"})
    first = rows(html(web.client.get("/")))
    assert len(first) == 50 and first[0] == 1
    page2 = html(web.client.get("/?page=2"))
    assert rows(page2) == [51, 52] and "Halaman 2 dari 2" in page2
    assert rows(html(web.client.get("/?sort=activity")))[0] == 1  # the note made it the latest
    assert rows(html(web.client.get("/?sort=activity&page=2")))[-1] == 2


def test_an_anggota_kpu_sees_only_the_tickets_escalated_to_them(web):
    a = mail(web)
    b = mail(web, sender="Budi <budi@pkb.example.org>", subject="Lain")
    web.login(TEAM)
    web.post(f"/tickets/{b}/escalate", {"target": "anggota", "message": "Mohon arahan"})
    web.logout()
    web.login(ANGGOTA)
    assert rows(html(web.client.get("/"))) == [b]
    assert web.client.get(f"/tickets/{a}").status_code == 403
    assert web.client.get(f"/tickets/{b}").status_code == 200


# --- the ticket page -----------------------------------------------------------------------


def test_the_ticket_page_shows_messages_in_order_with_quotes_folded(web):
    tid = mail(web, body="Pertanyaan pertama.")
    web.feeder.deliver(party_mail(LIA, "Re: [HD-MSJ #1] Akun Sipol terkunci",
                                  "Sudah dicoba, tetap gagal.\n\nPada 1 Des 2026 Helpdesk menulis:\n> Yth. Bapak/Ibu\n> lama"))
    web.login(TEAM)
    page = html(web.client.get(f"/tickets/{tid}"))
    ids = [int(x) for x in re.findall(r'data-message-id="(\d+)"', page)]
    assert ids == sorted(ids) and len(ids) == 3  # two questions and the acknowledgement of the first
    assert page.index("Pertanyaan pertama.") < page.index("Sudah dicoba, tetap gagal.")
    quoted = page[page.index('<details class="quoted">'):]
    assert "Kutipan pesan sebelumnya" in quoted and "&gt; lama" in quoted.split("</details>")[0]
    assert f'<form action="/tickets/{tid}/reply" method="post"' in page
    for field in ('name="body"', 'name="faq_id"', 'name="attachments"', 'name="csrf_token"'):
        assert field in page
    assert 'id="identity-name">Lia Anggraini<' in page
    assert "tiket dibuat" in page and "tanda terima dijadwalkan" in page  # events with Bahasa labels


def test_faq_suggestions_insert_their_answer_without_javascript(web):
    tid = mail(web)
    web.login(TEAM)
    page = html(web.client.get(f"/tickets/{tid}"))
    faq_ids = re.findall(r'data-faq-id="([^"]+)"', page)
    assert faq_ids, "no FAQ suggestion for a locked account"
    entry = web.app.faq.current().get(faq_ids[0])
    filled = html(web.client.get(f"/tickets/{tid}?faq={faq_ids[0]}"))
    textarea = filled[filled.index('id="reply-body"'):].split("</textarea>")[0]
    assert entry.answer.split("\n")[0].replace("'", "&#39;").replace('"', "&#34;")[:40] in textarea
    assert f'id="faq_id" value="{faq_ids[0]}"' in filled
    assert 'src="/static/faq.js"' in page
    r = web.client.get(f"/tickets/{tid}?faq=tidak-ada")
    assert r.status_code == 200 and "entri FAQ tidak dikenal" in html(r)


def test_reply_is_the_domain_reply_queued_then_shown_sent(web):
    web_ticket, cli_ticket = mail(web), mail(web, sender="Budi <budi@pkb.example.org>")
    web.login(TEAM)
    faq_id = re.findall(r'data-faq-id="([^"]+)"', html(web.client.get(f"/tickets/{web_ticket}")))[0]
    body = "Akun sudah kami buka.\n\n" + web.app.faq.current().get(faq_id).answer
    r = web.post(f"/tickets/{web_ticket}/reply", {"body": body, "faq_id": faq_id})
    assert "masuk antrean kirim" in flashed(web, r, "status")
    # what `kpudesk tickets reply --faq` calls, for the officer who is logged in
    entry = web.app.faq.current().get(faq_id)
    web.app.officers.reply(Ticket.get_by_id(cli_ticket), officer=web.settings.officer(TEAM), body=body, faq=entry,
                           archive=web.app.archive)
    assert events_of(web_ticket) == events_of(cli_ticket)
    assert outbox_of(web_ticket) == outbox_of(cli_ticket)
    answered = Event.get((Event.ticket == web_ticket) & (Event.kind == "ticket.answered"))
    assert answered.actor == "Rina Wulandari" and answered.detail["faq"] == faq_id
    assert Ticket.get_by_id(web_ticket).status == "dijawab"
    assert "[antre kirim]" in html(web.client.get(f"/tickets/{web_ticket}"))
    answer = Message.get((Message.ticket == web_ticket) & (Message.kind == "answer"))
    answer.disposition = "sent"
    answer.save()
    assert "[terkirim]" in html(web.client.get(f"/tickets/{web_ticket}"))
    answer.disposition = "failed"
    answer.save()
    assert 'class="delivery delivery-failed">[gagal terkirim]' in html(web.client.get(f"/tickets/{web_ticket}"))


def test_reply_with_an_attachment_and_an_empty_reply_is_refused_in_bahasa(web):
    tid = mail(web)
    web.login(TEAM)
    r = web.post(f"/tickets/{tid}/reply", {"body": "Terlampir panduan.",
                                           "attachments": (io.BytesIO(b"%PDF-1.4 panduan"), "../../panduan sipol.pdf")},
                 content_type="multipart/form-data")
    assert "1 lampiran" in flashed(web, r, "status")
    answer = Message.get((Message.ticket == tid) & (Message.kind == "answer"))
    [a] = list(answer.attachments)
    assert a.filename == "panduan sipol.pdf" and a.content_type == "application/pdf"
    before = state()
    r = web.post(f"/tickets/{tid}/reply", {"body": "   "})
    assert "jawaban kosong" in flashed(web, r, "alert")
    assert state() == before


def test_note_assign_close_reopen_write_the_domain_events(web):
    tid = mail(web)
    web.login(TEAM)
    assert "Catatan internal ditambahkan" in flashed(web, web.post(f"/tickets/{tid}/note", {"body": "cek Sipol"}), "status")
    assert "ditugaskan kepada Rina Wulandari" in flashed(web, web.post(f"/tickets/{tid}/assign", {"officer": TEAM}), "status")
    assert "ditandai selesai" in flashed(web, web.post(f"/tickets/{tid}/close", {"reason": "selesai via telepon"}), "status")
    assert "sudah selesai" in flashed(web, web.post(f"/tickets/{tid}/close"), "alert")  # no 500
    assert "dibuka kembali" in flashed(web, web.post(f"/tickets/{tid}/reopen"), "status")
    kinds = [k for k, actor in events_of(tid) if actor == "Rina Wulandari"]
    assert kinds == ["ticket.note", "ticket.assigned", "ticket.status", "ticket.status"]
    assert Ticket.get_by_id(tid).status == "baru"


def test_reassigning_needs_the_coordinator(web):
    tid = mail(web)
    web.login(TEAM)
    web.post(f"/tickets/{tid}/assign", {"officer": TEAM})
    before = state()
    r = web.post(f"/tickets/{tid}/assign", {"officer": COORD})
    assert "koordinator harian" in flashed(web, r, "alert")
    assert state() == before
    assert "tidak dikenal" in flashed(web, web.post(f"/tickets/{tid}/assign", {"officer": "x@y.example"}), "alert")
    web.logout()
    web.login(COORD)
    assert "Dewi Lestari" in flashed(web, web.post(f"/tickets/{tid}/assign", {"officer": COORD}), "status")
    assert Ticket.get_by_id(tid).assignee == "Dewi Lestari"


def test_escalation_to_the_anggota_and_on_to_the_provinsi(web):
    tid = mail(web)
    web.login(TEAM)
    r = web.post(f"/tickets/{tid}/escalate", {"target": "anggota", "message": "Mohon arahan"})
    assert "dieskalasi ke Anggota KPU Kabupaten" in flashed(web, r, "status")
    assert web.post(f"/tickets/{tid}/escalate", {"target": "provinsi"}).status_code == 403
    assert "pilih tujuan eskalasi" in flashed(web, web.post(f"/tickets/{tid}/escalate", {"target": "x"}), "alert")
    web.logout()
    web.login(ANGGOTA)
    r = web.post(f"/tickets/{tid}/escalate", {"target": "provinsi", "message": "Di luar kewenangan kami"})
    assert "dieskalasi ke KPU Provinsi" in flashed(web, r, "status")
    assert Ticket.get_by_id(tid).status == "eskalasi-provinsi"
    assert [k for k, _o in outbox_of(tid)] == ["ack", "escalation-anggota", "escalation-provinsi", "notice"]
    page = html(web.client.get(f"/tickets/{tid}"))
    assert page.count('class="escalation"') == 2 and "menunggu jawaban" in page
    assert "Eskalasi ke KPU Provinsi" in page
    Escalation.update(external_ref="LPG-2026-0042").where(Escalation.target == "provinsi").execute()
    assert 'nomor tiket Provinsi <span class="external-ref">LPG-2026-0042</span>' in html(web.client.get(f"/tickets/{tid}"))
    listing = html(web.client.get("/escalations"))
    assert f'data-ticket-id="{tid}"' in listing and "KPU Provinsi" in listing and "LPG-2026-0042" in listing


def test_identity_edit_sets_the_card_and_the_ticket_party(web):
    tid = mail(web)
    web.login(TEAM)
    r = web.post(f"/tickets/{tid}/identity", {"name": "Lia Anggraini, S.H.", "party": "PDI-P", "phone": "0812-3456-7890",
                                              "email": "lia@pdip.example.org"})
    assert "diperbarui: nama, partai, telepon" in flashed(web, r, "status")
    ident = Identity.get(Identity.ticket == tid)
    assert (ident.name, ident.phone, ident.name_source) == ("Lia Anggraini, S.H.", "+6281234567890", "officer")
    assert Ticket.get_by_id(tid).party.number == web.app.registry.get("PDI-P").number
    [e] = Event.select().where((Event.ticket == tid) & (Event.kind == "identity.updated") & (Event.actor == "Rina Wulandari"))
    assert e.detail["fields"] == ["name", "party", "phone"]
    before = state()
    assert "nomor telepon tidak dikenali" in flashed(web, web.post(f"/tickets/{tid}/identity", {"phone": "abc"}), "alert")
    assert state() == before
    page = html(web.client.get(f"/tickets/{tid}"))
    assert 'id="identity-phone">+6281234567890<' in page


def test_attachments_download_as_files_never_inline(web):
    raw = (b"From: Lia <lia@pdip.example.org>\r\nTo: helpdesk@kpu-mesuji.example.org\r\n"
           b"Subject: Berkas\r\nMessage-ID: <att-1@pdip.example.org>\r\nDate: Tue, 1 Dec 2026 09:00:00 +0700\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nTerlampir.\r\n"
           b"--b\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename=\"../../x<script>.html\"\r\n\r\n"
           b"<script>alert(1)</script>\r\n"
           b"--b\r\nContent-Type: image/svg+xml\r\nContent-Disposition: attachment; filename=\"logo.svg\"\r\n\r\n"
           b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>\r\n--b--\r\n")
    web.feeder.deliver(raw)
    tid = Ticket.select().first().id
    web.login(TEAM)
    page = html(web.client.get(f"/tickets/{tid}"))
    assert f'href="/tickets/{tid}/attachments/1"' in page and f'href="/tickets/{tid}/attachments/2"' in page
    for n in (1, 2):
        r = web.client.get(f"/tickets/{tid}/attachments/{n}")
        assert r.status_code == 200
        assert r.headers["Content-Disposition"].startswith("attachment")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.mimetype == "application/octet-stream"
        assert "sandbox" in r.headers["Content-Security-Policy"] and r.headers["Cache-Control"] == "no-store"
        assert "/" not in r.headers["Content-Disposition"].split("filename", 1)[1]
    assert web.client.get(f"/tickets/{tid}/attachments/3").status_code == 404


# --- roles ---------------------------------------------------------------------------------

ACTIONS = {
    "reply": {"body": "Jawaban"}, "note": {"body": "Catatan"}, "assign": {"officer": TEAM},
    "escalate": {"target": "anggota", "message": "tolong"}, "close": {}, "identity": {"name": "Nama Baru"},
}
ALLOWED = {  # role -> the ticket POSTs it may make on a ticket escalated to the Anggota
    "anggota-helpdesk": {"reply", "note", "assign", "escalate", "close", "identity"},
    "koordinator-harian": {"reply", "note", "assign", "escalate", "close", "identity"},
    "koordinator": {"reply", "note", "assign", "escalate", "close", "identity"},
    "anggota-kpu": {"reply", "note"},
    "ketua": set(), "sekretaris": set(),
}


@pytest.mark.parametrize("role", [o["role"] for o in OFFICERS])
def test_every_ticket_action_by_every_role(tmp_path, role):
    desk = WebDesk(tmp_path)
    tickets = {}
    for n, action in enumerate(sorted(ACTIONS)):
        tickets[action] = mail(desk, sender=f"p{n}@pkb.example.org", subject=f"Soal {action}")
        desk.app.escalations.escalate(Ticket.get_by_id(tickets[action]), target="anggota",
                                     officer=desk.settings.officer(TEAM))
    desk.login(WebDesk.email(role))
    for action, tid in tickets.items():
        assert desk.client.get(f"/tickets/{tid}").status_code == 200
        before = state()
        r = desk.post(f"/tickets/{tid}/{action}", ACTIONS[action])
        if action in ALLOWED[role]:
            assert r.status_code == 303, action
            flashed(desk, r, "status")
            assert state() != before, action
        else:
            assert r.status_code == 403 and 'role="alert"' in html(r), action
            assert state() == before, action
    if role in ("ketua", "sekretaris"):
        assert "/reply" not in html(desk.client.get(f"/tickets/{tid}"))  # no forms for readers


def test_the_queue_offers_a_reload_that_keeps_the_filters(web):
    mail(web)
    web.login(TEAM)
    page = html(web.client.get("/?status=baru&q=Sipol"))
    assert 'id="queue-reload"' in page and "Muat ulang antrean" in page
    link = re.search(r'href="([^"]+)" id="queue-reload"', page).group(1)
    assert link.replace("&amp;", "&") == "/?status=baru&q=Sipol"
    assert "Dimuat 1 Desember 2026 09.00 WIB" in page


def test_attachment_sizes_read_in_bahasa():
    assert [size_text(n) for n in (820, 12_800, 3_565_158)] == ["820 bita", "12,5 KB", "3,4 MB"]


# (web POST, form, the domain call `kpudesk tickets ...` makes for the same officer)
TWINS = {
    "note": ({"body": "Cek Sipol"}, lambda app, t, o: app.officers.note(t, officer=o, body="Cek Sipol")),
    "assign": ({"officer": TEAM}, lambda app, t, o: app.officers.assign(t, officer=o, assignee=o)),
    "close": ({"reason": "beres"}, lambda app, t, o: app.officers.close(t, officer=o, reason="beres")),
    "escalate": ({"target": "anggota", "message": "Mohon arahan"},
                 lambda app, t, o: app.escalations.escalate(t, target="anggota", officer=o, note="Mohon arahan")),
}


@pytest.mark.parametrize("action", sorted(TWINS))
def test_each_web_action_writes_what_its_cli_twin_writes(web, action):
    form, domain = TWINS[action]
    by_web, by_cli = mail(web), mail(web, sender="Budi <budi@pkb.example.org>")
    web.login(TEAM)
    flashed(web, web.post(f"/tickets/{by_web}/{action}", form), "status")
    domain(web.app, Ticket.get_by_id(by_cli), web.settings.officer(TEAM))
    assert events_of(by_web) == events_of(by_cli)
    assert outbox_of(by_web) == outbox_of(by_cli)
    web_t, cli_t = Ticket.get_by_id(by_web), Ticket.get_by_id(by_cli)
    assert (web_t.status, web_t.assignee) == (cli_t.status, cli_t.assignee)
