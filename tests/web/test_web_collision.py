"""Collision safety on the ticket page (issue 14 item 6): who else has the ticket open, and a
reply written while the party's new mail arrived is held back ("Ada pesan baru sejak Anda
membuka tiket ini", role="alert", the new message shown, the typed body kept); sent again
with the new `seen`, it goes out. Without `seen` (an old form, a script) it is sent as before."""
from __future__ import annotations

import re

import pytest

from kpudesk.tickets import outbox
from kpudesk.tickets.models import Ticket
from tests.auth_mail import TRUSTED, trusted
from tests.corpus.hostile import party_mail
from tests.web.test_web_desk import LIA, flashed, html, mail, state
from tests.web_fixtures import OFFICERS, WebDesk, web_fixture  # noqa: F401 - the `web` fixture

TEAM = WebDesk.email("anggota-helpdesk")
COORD = WebDesk.email("koordinator-harian")
MAY_REPLY = {"anggota-helpdesk", "koordinator-harian", "koordinator"}  # the anggota-kpu: escalated only
ANSWER = "Silakan gunakan menu Lupa Kata Sandi di halaman masuk Sipol."


def seen_of(page: str) -> str:
    return re.search(r'<input type="hidden" name="seen" value="(\d+)">', page).group(1)


def answers() -> int:
    item = outbox.OutboxItem
    return item.select().where(item.kind == "answer").count()


def test_the_page_names_the_other_officers_who_opened_it_in_the_last_two_minutes(web):
    tid = mail(web)
    other = web.browser()
    other.login(COORD)
    other.client.get(f"/tickets/{tid}")
    web.login(TEAM)
    page = html(web.client.get(f"/tickets/{tid}"))
    assert "Sedang dibuka juga oleh: Dewi Lestari" in page
    assert "Rina Wulandari" not in page[page.index('id="also-open"'):page.index("</p>", page.index('id="also-open"'))]
    web.clock.advance(minutes=3)  # Dewi's view has expired, Rina's is refreshed by this visit
    assert 'id="also-open"' not in html(web.client.get(f"/tickets/{tid}"))
    assert "Sedang dibuka juga oleh: Rina Wulandari" in html(other.client.get(f"/tickets/{tid}"))


def test_presence_is_per_ticket(web):
    a, b = mail(web), mail(web, subject="Lain")
    other = web.browser()
    other.login(COORD)
    other.client.get(f"/tickets/{a}")
    web.login(TEAM)
    assert 'id="also-open"' not in html(web.client.get(f"/tickets/{b}"))


def test_a_reply_after_new_mail_is_held_back_with_the_new_message_and_the_body_kept(web):
    tid = mail(web)
    web.login(TEAM)
    seen = seen_of(html(web.client.get(f"/tickets/{tid}")))
    web.clock.advance(minutes=5)
    web.feeder.deliver(party_mail(LIA, f"Re: [HD-MSJ #{tid}] Akun Sipol terkunci", "Maaf, ternyata sudah bisa masuk. Terima kasih."))
    before = state()
    r = web.post(f"/tickets/{tid}/reply", {"body": ANSWER, "seen": seen})
    page = html(r)
    assert r.status_code == 409
    alert = page[page.index('role="alert"'):page.index("</div>", page.index('role="alert"'))]
    assert "Ada pesan baru sejak Anda membuka tiket ini" in alert and "ternyata sudah bisa masuk" in alert
    assert f">{ANSWER}</textarea>" in page
    assert state() == before and answers() == 0 and Ticket.get_by_id(tid).status == "baru"
    newest = seen_of(page)
    assert int(newest) > int(seen)
    assert 'class="message message-in message-new"' in page
    # sent again from the page that shows the new message: it goes out
    r = web.post(f"/tickets/{tid}/reply", {"body": ANSWER, "seen": newest})
    assert "masuk antrean kirim" in flashed(web, r, "status")
    assert answers() == 1 and Ticket.get_by_id(tid).status == "dijawab"


def test_our_own_note_or_escalation_mail_is_no_reason_to_hold_back(web):
    tid = mail(web)
    web.login(TEAM)
    seen = seen_of(html(web.client.get(f"/tickets/{tid}")))
    web.post(f"/tickets/{tid}/note", {"body": "saya cek dulu"})  # a note row after `seen`
    r = web.post(f"/tickets/{tid}/escalate", {"target": "anggota", "message": "Mohon arahan."})  # our internal mail
    assert "dieskalasi" in flashed(web, r, "status")
    r = web.post(f"/tickets/{tid}/reply", {"body": ANSWER, "seen": seen})
    assert r.status_code == 303 and answers() == 1


def test_without_seen_the_reply_is_sent_as_before(web):
    tid = mail(web)
    web.login(TEAM)
    web.feeder.deliver(party_mail(LIA, f"Re: [HD-MSJ #{tid}] Akun Sipol terkunci", "tambahan"))
    r = web.post(f"/tickets/{tid}/reply", {"body": ANSWER})
    assert "masuk antrean kirim" in flashed(web, r, "status") and answers() == 1


@pytest.mark.parametrize("role", [o["role"] for o in OFFICERS])
def test_every_role_and_the_collision_check(web, role):
    tid = mail(web)
    web.login(WebDesk.email(role))
    web.feeder.deliver(party_mail(LIA, f"Re: [HD-MSJ #{tid}] Akun Sipol terkunci", "tambahan"))
    before = state()
    r = web.post(f"/tickets/{tid}/reply", {"body": ANSWER, "seen": "1"})
    if role not in MAY_REPLY:
        assert r.status_code == 403 and state() == before
        return
    assert r.status_code == 409 and state() == before


def test_a_held_back_reply_without_csrf_is_400(web):
    tid = mail(web)
    web.login(TEAM)
    web.feeder.deliver(party_mail(LIA, f"Re: [HD-MSJ #{tid}] Akun Sipol terkunci", "tambahan"))
    before = state()
    r = web.client.post(f"/tickets/{tid}/reply", data={"body": ANSWER, "seen": "1"})
    assert r.status_code == 400 and state() == before


def test_the_members_escalation_answer_arriving_meanwhile_holds_the_reply_back_too(tmp_path):
    web = WebDesk(tmp_path, extra={"mail": {"trusted_authserv_id": TRUSTED}})
    tid = mail(web)
    web.feeder.escalate(tid, to="anggota", officer="Rina Wulandari", note="Mohon arahan.")
    (esc,) = web.feeder.outgoing(to=WebDesk.email("anggota-kpu"))
    web.login(TEAM)
    seen = seen_of(html(web.client.get(f"/tickets/{tid}")))
    web.feeder.deliver(trusted(party_mail(WebDesk.email("anggota-kpu"), "RE: Eskalasi", "Boleh, asal satu akun saja.",
                                          in_reply_to=web.feeder.msgid_of(esc))))
    r = web.post(f"/tickets/{tid}/reply", {"body": ANSWER, "seen": seen})
    assert r.status_code == 409 and "asal satu akun saja" in html(r) and answers() == 0
