"""Bulk actions on the queue (issue 14 item 6): checkboxes inside each queue row, `POST /bulk`
with action = assign|close|spam; each ticket is its own domain call and event, each checked
for its own permission, a partial failure names the tickets that failed (in Bahasa) while
the others change. Every role; CSRF missing → 400 and nothing changed."""
from __future__ import annotations

import re

import pytest

from kpudesk.tickets.models import Event, Ticket
from tests.corpus.hostile import party_mail
from tests.web.test_web_desk import flashed, html, state
from tests.web_fixtures import OFFICERS, WebDesk, web_fixture  # noqa: F401 - the `web` fixture

MAY_BULK = {"anggota-helpdesk", "koordinator-harian", "koordinator"}
TEAM = WebDesk.email("anggota-helpdesk")
COORD = WebDesk.email("koordinator-harian")


def tickets(web, n=3) -> list[int]:
    for i in range(n):
        web.feeder.deliver(party_mail(f"pihak{i}@partai{i}.example.org", f"Pertanyaan {i}", f"Isi pertanyaan {i}"))
    return [t.id for t in Ticket.select().order_by(Ticket.id)]


def kinds(ticket_id: int) -> list[str]:
    return [e.kind for e in Event.select().where(Event.ticket == ticket_id).order_by(Event.id)]


def test_each_queue_row_has_its_checkbox_inside_the_row_and_the_form_posts_to_bulk(web):
    ids = tickets(web)
    web.login(TEAM)
    page = html(web.client.get("/"))
    for tid in ids:
        row = re.search(rf'<tr data-ticket-id="{tid}".*?</tr>', page, re.S).group(0)
        assert f'<input type="checkbox" name="ticket_id" value="{tid}"' in row
    form = page[page.index('<form action="/bulk" method="post"'):]
    assert 'name="csrf_token"' in form and 'name="action"' in form and 'name="officer"' in form
    assert form.index('data-ticket-id') < form.index("</form>")  # the rows are inside the form


def test_a_reader_sees_no_checkboxes(web):
    tickets(web, 1)
    web.login(WebDesk.email("ketua"))
    page = html(web.client.get("/"))
    assert 'name="ticket_id"' not in page and 'action="/bulk"' not in page


@pytest.mark.parametrize("action", ["assign", "close", "spam"])
@pytest.mark.parametrize("role", [o["role"] for o in OFFICERS])
def test_every_role_and_bulk_action(web, role, action):
    ids = tickets(web)
    web.login(WebDesk.email(role))
    before = state()
    data = {"action": action, "ticket_id": [str(i) for i in ids[:2]], "officer": TEAM}
    r = web.post("/bulk", data)
    if role not in MAY_BULK:
        assert r.status_code == 403 and "Tidak diizinkan" in html(r)
        assert state() == before
        return
    text = flashed(web, r, "status")
    assert text.startswith("2 tiket") and "HD-MSJ #1" in text and "HD-MSJ #2" in text
    first, second, third = (Ticket.get_by_id(i) for i in ids)
    if action == "assign":
        assert first.assignee == second.assignee == "Rina Wulandari" and third.assignee is None
        assert kinds(ids[0]).count("ticket.assigned") == 1 and kinds(ids[1]).count("ticket.assigned") == 1
    else:
        assert first.status == second.status == "selesai" and third.status == "baru"
        assert kinds(ids[0]).count("ticket.status") == 1 and kinds(ids[1]).count("ticket.status") == 1
    if action == "spam":
        assert first.flags["spam"]["by"] and "ticket.spam" in kinds(ids[0]) and "ticket.spam" not in kinds(ids[2])
    assert not any(e.kind in ("ticket.assigned", "ticket.spam") for e in
                   Event.select().where(Event.ticket == ids[2]))


def test_bulk_without_csrf_is_400_and_changes_nothing(web):
    ids = tickets(web)
    web.login(COORD)
    before = state()
    r = web.client.post("/bulk", data={"action": "close", "ticket_id": [str(i) for i in ids]})
    assert r.status_code == 400 and state() == before


def test_a_partial_failure_names_the_failed_tickets_and_the_others_still_change(web):
    ids = tickets(web)
    web.feeder.close(ids[1])  # already closed: this one fails
    web.login(TEAM)
    r = web.post("/bulk", {"action": "close", "ticket_id": [str(i) for i in ids] + ["999"]})
    assert r.status_code == 303
    page = html(web.client.get(r.headers["Location"]))  # both messages on the one page
    ok = re.search(r'role="status">([^<]*)<', page).group(1)
    alert = re.search(r'role="alert">([^<]*)<', page).group(1)
    assert ok.startswith("2 tiket ditandai selesai") and "HD-MSJ #1" in ok and "HD-MSJ #3" in ok
    assert "Tidak berhasil untuk 2 tiket" in alert and "HD-MSJ #2 (tiket #2 sudah selesai)" in alert
    assert "HD-MSJ #999 (tidak ada)" in alert and "HD-MSJ #1" not in alert
    assert [Ticket.get_by_id(i).status for i in ids] == ["selesai"] * 3
    assert kinds(ids[1]).count("ticket.status") == 1  # the failed one: only its earlier close


def test_reassigning_in_bulk_needs_the_coordinator_ticket_by_ticket(web):
    ids = tickets(web)
    web.feeder.app.officers.assign(Ticket.get_by_id(ids[0]), officer=web.settings.officer(COORD),
                                   assignee=web.settings.officer(COORD))
    web.login(TEAM)
    r = web.post("/bulk", {"action": "assign", "ticket_id": [str(i) for i in ids], "officer": TEAM})
    assert "2 tiket ditugaskan kepada Rina Wulandari: HD-MSJ #2, HD-MSJ #3" in flashed(web, r, "status")
    r = web.post("/bulk", {"action": "assign", "ticket_id": [str(ids[0])], "officer": TEAM})
    assert "memindahkan tugas hanya boleh oleh koordinator harian" in flashed(web, r, "alert")
    assert Ticket.get_by_id(ids[0]).assignee == "Dewi Lestari"
    web.logout()
    web.login(COORD)
    r = web.post("/bulk", {"action": "assign", "ticket_id": [str(ids[0])], "officer": TEAM})
    assert "1 tiket ditugaskan kepada Rina Wulandari" in flashed(web, r, "status")
    assert Ticket.get_by_id(ids[0]).assignee == "Rina Wulandari"


@pytest.mark.parametrize(("data", "words"), [
    ({"action": "hapus", "ticket_id": ["1"]}, "pilih tindakan"),
    ({"action": "close"}, "pilih minimal satu tiket"),
    ({"action": "assign", "ticket_id": ["1"], "officer": "siapa@example.org"}, "petugas tidak dikenal"),
])
def test_bad_bulk_requests_say_why_and_change_nothing(web, data, words):
    tickets(web)
    web.login(TEAM)
    before = state()
    assert words in flashed(web, web.post("/bulk", data), "alert")
    assert state() == before


def test_bulk_goes_back_to_the_filtered_queue_and_never_off_site(web):
    ids = tickets(web)
    web.login(TEAM)
    r = web.post("/bulk", {"action": "close", "ticket_id": [str(ids[0])], "back": "/?status=baru"})
    assert r.headers["Location"] == "/?status=baru"
    r = web.post("/bulk", {"action": "close", "ticket_id": [str(ids[1])], "back": "//evil.example.com/"})
    assert r.headers["Location"] == "/"


def test_a_merged_ticket_is_skipped_by_bulk_with_its_reason(web):
    ids = tickets(web, 2)
    Ticket.update(flags={"merged_into": ids[0]}).where(Ticket.id == ids[1]).execute()
    web.login(TEAM)
    r = web.post("/bulk", {"action": "assign", "ticket_id": [str(ids[1])], "officer": TEAM})
    assert f"HD-MSJ #{ids[1]} (sudah digabung ke HD-MSJ #{ids[0]})" in flashed(web, r, "alert")
    assert Ticket.get_by_id(ids[1]).assignee is None
