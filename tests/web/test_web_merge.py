"""Party history and merging on the ticket page (issue 14 item 6): the party's other tickets
are listed, the merge form offers them, every role × merge (allowed → effect, forbidden →
403 and nothing changed), CSRF missing → 400, and the merged ticket points to the survivor."""
from __future__ import annotations

import re

import pytest

from kpudesk.tickets.models import Message, Ticket
from tests.corpus.hostile import party_mail
from tests.web.test_web_desk import flashed, html, state
from tests.web_fixtures import OFFICERS, WebDesk, web_fixture  # noqa: F401 - the `web` fixture

LIA = "Lia Anggraini <lia@pdip.example.org>"
MAY_MERGE = {"anggota-helpdesk", "koordinator-harian", "koordinator"}


def ticket(web, subject, body="Akun Sipol PDI-P kami terkunci.", sender=LIA) -> int:
    web.feeder.deliver(party_mail(sender, subject, body))
    web.clock.advance(minutes=5)
    return Ticket.select().order_by(Ticket.id.desc()).first().id


def test_the_ticket_page_lists_the_partys_other_tickets_newest_first(web):
    first, second = ticket(web, "Soal pertama"), ticket(web, "Soal kedua")
    ticket(web, "Dari partai lain", "Partai PKB bertanya", sender="budi@pkb.example.org")
    now = ticket(web, "Soal ketiga")
    web.login(WebDesk.email("anggota-helpdesk"))
    page = html(web.client.get(f"/tickets/{now}"))
    section = page[page.index('id="riwayat-partai"'):page.index('id="balas"')]
    assert [int(x) for x in re.findall(r'data-past-ticket-id="(\d+)"', section)] == [second, first]
    assert "Soal kedua" in section and f'href="/tickets/{first}"' in section and "Baru" in section
    assert "Dari partai lain" not in section
    # the merge form offers exactly those tickets
    form = page[page.index('id="merge-form"'):]
    assert [int(x) for x in re.findall(r'<option value="(\d+)"', form[:form.index("</form>")])] == [second, first]


@pytest.mark.parametrize("role", [o["role"] for o in OFFICERS])
def test_every_role_and_merge(web, role):
    survivor, merged = ticket(web, "Soal pertama"), ticket(web, "Soal kedua")
    web.login(WebDesk.email(role))
    before = state()
    r = web.post(f"/tickets/{merged}/merge", {"into": str(survivor)})
    if role not in MAY_MERGE:
        assert r.status_code == 403 and "Tidak diizinkan" in html(r)
        assert state() == before
        return
    assert r.headers["Location"] == f"/tickets/{survivor}"
    assert "HD-MSJ #2 digabung ke HD-MSJ #1" in flashed(web, r, "status")
    assert Ticket.get_by_id(merged).status == "selesai"
    assert Message.select().where(Message.ticket == merged).count() == 0
    stub = html(web.client.get(f"/tickets/{merged}"))
    assert "digabung ke" in stub and f'<a href="/tickets/{survivor}" id="merged-into-link">HD-MSJ #{survivor}</a>' in stub
    assert 'id="merge-form"' not in stub
    assert f"digabung ke HD-MSJ #{survivor}</li>" in stub  # the timeline, in Bahasa
    assert f"HD-MSJ #{merged} digabung ke sini</li>" in html(web.client.get(f"/tickets/{survivor}"))


def test_merge_without_csrf_is_400_and_changes_nothing(web):
    survivor, merged = ticket(web, "Soal pertama"), ticket(web, "Soal kedua")
    web.login(WebDesk.email("koordinator-harian"))
    before = state()
    r = web.client.post(f"/tickets/{merged}/merge", data={"into": str(survivor)})
    assert r.status_code == 400 and state() == before


@pytest.mark.parametrize(("into", "words"), [
    ("", "pilih tiket tujuan"),
    ("abc", "nomor tiket tidak valid"),
    ("SELF", "dirinya sendiri"),
    ("999", "tidak ada"),
    ("OTHER", "partai yang berbeda"),
])
def test_a_refused_merge_says_why_in_bahasa_and_changes_nothing(web, into, words):
    survivor, merged = ticket(web, "Soal pertama"), ticket(web, "Soal kedua")
    other = ticket(web, "Lain", "Partai PKB bertanya", sender="budi@pkb.example.org")
    into = {"SELF": str(merged), "OTHER": str(other)}.get(into, into)
    web.login(WebDesk.email("anggota-helpdesk"))
    before = state()
    r = web.post(f"/tickets/{merged}/merge", {"into": into})
    assert r.headers["Location"] == f"/tickets/{merged}"
    assert words in flashed(web, r, "alert")
    assert state() == before and survivor


def test_unknown_ticket_is_404(web):
    web.login(WebDesk.email("anggota-helpdesk"))
    assert web.post("/tickets/999/merge", {"into": "1"}).status_code == 404


def test_after_a_merge_the_search_finds_the_merged_words_on_the_survivor(web):
    survivor = ticket(web, "Soal pertama")
    merged = ticket(web, "Soal kedua", "Berkas kepengurusan kami ditolak sistem.")
    web.login(WebDesk.email("anggota-helpdesk"))
    assert rows_of(html(web.client.get("/?q=kepengurusan"))) == [merged]
    web.post(f"/tickets/{merged}/merge", {"into": str(survivor)})
    assert rows_of(html(web.client.get("/?q=kepengurusan"))) == [survivor]


def rows_of(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-ticket-id="(\d+)"', page)]


def test_a_merged_ticket_is_read_only_in_the_desk_and_points_to_the_survivor(web):
    survivor, merged = ticket(web, "Soal pertama"), ticket(web, "Soal kedua")
    web.login(WebDesk.email("koordinator-harian"))
    web.post(f"/tickets/{merged}/merge", {"into": str(survivor)})
    stub = html(web.client.get(f"/tickets/{merged}"))
    assert f'action="/tickets/{merged}/reply"' not in stub and f'action="/tickets/{merged}/reopen"' not in stub
    before = state()
    for action, data in (("reply", {"body": "halo"}), ("note", {"body": "x"}), ("reopen", {})):
        r = web.post(f"/tickets/{merged}/{action}", data)
        assert r.headers["Location"] == f"/tickets/{survivor}"
        assert f"HD-MSJ #{merged} sudah digabung ke HD-MSJ #{survivor}" in flashed(web, r, "alert")
    assert state() == before
