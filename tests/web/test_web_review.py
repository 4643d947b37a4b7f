"""Spam, quarantine and escalation review in the web desk (issue 14 item 7): the same
operations as `kpudesk spam release` and `kpudesk quarantine retry`, dismissing as an Event,
and only the coordinator's role reviews spam and quarantine."""
from __future__ import annotations

import re

import pytest

from kpudesk.daemon.lock import FileLock
from kpudesk.tickets.models import Event, Message, Quarantine, Ticket
from tests.corpus.hostile import party_mail
from tests.web_fixtures import OFFICERS, WebDesk, web_fixture  # noqa: F401 - the `web` fixture

COORD = WebDesk.email("koordinator-harian")
TEAM = WebDesk.email("anggota-helpdesk")


def held(web, subject="Hadiah undian Sipol", body="Klik tautan ini untuk hadiah") -> int:
    web.feeder.deliver(party_mail("Promo <promo@spam.example.net>", subject, body), folder="Spam")
    return Message.get(Message.disposition == "spam_held").id


def quarantined(web, raw: bytes | None = None, path: str | None = None) -> Quarantine:
    raw = raw or party_mail("Lia <lia@pdip.example.org>", "Akun Sipol terkunci", "Mohon dibuka akun kami.")
    sha, stored = web.app.archive.put(raw)
    now = web.clock.now()
    return Quarantine.create(folder="INBOX", uidvalidity=1, uid=77, message_id="<q-1@pdip.example.org>",
                             raw_sha256=sha, raw_path=path or stored, internaldate=now,
                             error="ValueError: parser gagal", created_at=now)


def flashed(web, response, role: str) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    page = web.client.get(response.headers["Location"]).get_data(as_text=True)
    found = re.search(rf'role="{role}">([^<]*)<', page)
    assert found, f'no role="{role}" on the page'
    return found.group(1)


def test_held_spam_is_listed_with_sender_subject_and_reason(web):
    mid = held(web)
    web.login(COORD)
    page = web.client.get("/spam").get_data(as_text=True)
    row = page[page.index(f'data-spam-id="{mid}"'):].split("</tr>")[0]
    assert "promo@spam.example.net" in row and "Hadiah undian Sipol" in row
    assert f'action="/spam/{mid}/release"' in row and f'action="/spam/{mid}/dismiss"' in row
    assert "ditandai spam oleh server surel; pengirim tidak dapat diautentikasi" in row


def test_release_makes_the_ticket_as_the_cli_does(web):
    mid = held(web)
    web.login(COORD)
    r = web.post(f"/spam/{mid}/release")
    assert re.search(r"dijadikan tiket HD-MSJ #\d+", flashed(web, r, "status"))
    row = Message.get_by_id(mid)
    assert row.disposition == "released" and row.ticket_id is not None
    ticket = Ticket.get_by_id(row.ticket_id)
    assert ticket.from_spam
    [e] = Event.select().where(Event.kind == "spam.released")
    assert (e.actor, e.ticket_id, e.detail["message"]) == ("Dewi Lestari", ticket.id, mid)
    assert f'data-spam-id="{mid}"' not in web.client.get("/spam").get_data(as_text=True)
    assert "tidak ada di daftar tahanan" in flashed(web, web.post(f"/spam/{mid}/release"), "alert")


def test_dismiss_takes_it_off_the_list_as_an_event_and_makes_no_ticket(web):
    mid = held(web)
    web.login(COORD)
    assert "dipastikan spam" in flashed(web, web.post(f"/spam/{mid}/dismiss"), "status")
    assert Message.get_by_id(mid).disposition == "spam_dismissed"
    assert Ticket.select().count() == 0
    [e] = Event.select().where(Event.kind == "spam.dismissed")
    assert (e.actor, e.ticket_id, e.detail["message"]) == ("Dewi Lestari", None, mid)
    assert "Tidak ada spam yang ditahan" in web.client.get("/spam").get_data(as_text=True)
    assert "tidak ada di daftar tahanan" in flashed(web, web.post(f"/spam/{mid}/dismiss"), "alert")


def test_quarantine_lists_the_error_and_retry_processes_it(web):
    q = quarantined(web)
    web.login(COORD)
    page = web.client.get("/quarantine").get_data(as_text=True)
    row = page[page.index(f'data-quarantine-id="{q.id}"'):].split("</tr>")[0]
    assert "ValueError: parser gagal" in row and "&lt;q-1@pdip.example.org&gt;" in row
    assert "berhasil diproses ulang" in flashed(web, web.post(f"/quarantine/{q.id}/retry"), "status")
    q = Quarantine.get_by_id(q.id)
    assert q.resolved_at is not None and q.resolved_message.ticket.subject == "Akun Sipol terkunci"
    assert "Tidak ada pesan di karantina" in web.client.get("/quarantine").get_data(as_text=True)
    assert "sudah diproses" in flashed(web, web.post(f"/quarantine/{q.id}/retry"), "alert")


def test_a_retry_that_cannot_read_the_archive_is_an_alert_not_a_500(web):
    q = quarantined(web, path="raw/00/hilang.eml")
    web.login(COORD)
    assert "tidak dapat dibaca" in flashed(web, web.post(f"/quarantine/{q.id}/retry"), "alert")
    assert Quarantine.get_by_id(q.id).resolved_at is None


def test_a_retry_while_a_poll_runs_is_refused_until_later(web):
    q = quarantined(web)
    web.login(COORD)
    with FileLock(web.app.state_dir / "poll.lock", "poll"):
        assert "coba lagi nanti" in flashed(web, web.post(f"/quarantine/{q.id}/retry"), "alert")
    assert Quarantine.get_by_id(q.id).resolved_at is None


@pytest.mark.parametrize("role", [o["role"] for o in OFFICERS])
def test_only_coordinators_review_spam_and_quarantine(tmp_path, role):
    desk = WebDesk(tmp_path)
    mid, q = held(desk), quarantined(desk)
    desk.login(WebDesk.email(role))
    allowed = role in ("koordinator-harian", "koordinator")
    events = Event.select().count()
    for path in ("/spam", "/quarantine"):
        assert desk.client.get(path).status_code == (200 if allowed else 403)
    if not allowed:
        for path in (f"/spam/{mid}/release", f"/spam/{mid}/dismiss", f"/quarantine/{q.id}/retry"):
            r = desk.post(path)
            assert r.status_code == 403 and 'role="alert"' in r.get_data(as_text=True)
        assert Message.get_by_id(mid).disposition == "spam_held"
        assert Quarantine.get_by_id(q.id).resolved_at is None
        assert Event.select().count() == events
    assert desk.client.get("/escalations").status_code == 200  # every role reads the escalations


def test_escalations_page_shows_state_and_an_anggota_sees_only_theirs(web):
    for n in range(2):
        web.feeder.deliver(party_mail(f"p{n}@pkb.example.org", f"Soal {n}", "Pertanyaan di luar FAQ"))
    web.login(TEAM)
    web.post("/tickets/1/escalate", {"target": "anggota", "message": "Mohon arahan"})
    page = web.client.get("/escalations").get_data(as_text=True)
    assert 'data-ticket-id="1"' in page and "menunggu jawaban" in page and "Anggota KPU Kabupaten" in page
    web.logout()
    web.login(WebDesk.email("anggota-kpu"))
    assert re.findall(r'data-ticket-id="(\d+)"', web.client.get("/escalations").get_data(as_text=True)) == ["1"]
