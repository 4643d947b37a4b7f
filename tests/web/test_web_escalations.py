"""The Anggota KPU's view (issue 15 item 6, `/escalations`): the escalations waiting on each
commission member and on the KPU Provinsi, grouped, each with its wait in service minutes
against the SOP's 15-minute standard (a FrozenClock moves it), answered ones below, a link
to the ticket to answer; an Anggota sees only the tickets escalated to them."""
from __future__ import annotations

import html as htmllib
import re

import pytest

from kpudesk.tickets.models import Escalation
from tests.auth_mail import TRUSTED, trusted
from tests.corpus.hostile import party_mail
from tests.web_fixtures import DOMAIN, OFFICERS, WebDesk

TEAM = WebDesk.email("anggota-helpdesk")
ANGGOTA = WebDesk.email("anggota-kpu")
OTHER = f"anggota-2@{DOMAIN}"
PROVINSI = "helpdesk@kpu-lampung.example.org"


@pytest.fixture
def web(tmp_path) -> WebDesk:
    officers = [*OFFICERS, {"name": "Wayan Sudarta", "email": OTHER, "role": "anggota-kpu"}]
    return WebDesk(tmp_path, extra={"officers": officers, "mail": {"trusted_authserv_id": TRUSTED},
                                    "escalation": {"anggota": [ANGGOTA], "provinsi": PROVINSI}})


def ticket(web, n: int) -> int:
    web.feeder.deliver(party_mail(f"lo{n}@pkb.example.org", f"Soal {n}", "Pertanyaan di luar FAQ", message_id=f"<q{n}@pkb.example.org>"))
    return n


def text(fragment: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def row(page: str, tid: int, section: str = "waiting") -> str:
    found = re.search(rf'<tr data-ticket-id="{tid}" class="{section}[^"]*">.*?</tr>', page, re.S)
    assert found, f"no {section} row of ticket {tid}"
    return found.group(0)


def page_of(web) -> str:
    r = web.client.get("/escalations")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def test_the_wait_is_counted_against_the_15_minute_standard(web):
    tid = ticket(web, 1)
    web.login(TEAM)
    web.post(f"/tickets/{tid}/escalate", {"target": "anggota", "message": "Mohon arahan"})
    web.feeder.advance(minutes=10)
    r = row(page_of(web), tid)
    assert "overdue" not in r.split(">")[0]
    assert "menunggu jawaban 10 menit (standar 15 menit)" in text(r) and "Mohon arahan" in text(r)
    assert f'href="/tickets/{tid}#balas"' in r  # one click to the ticket's answer form
    web.feeder.advance(minutes=12)
    page = page_of(web)
    r = row(page, tid)
    assert 'class="waiting overdue"' in r
    assert "menunggu jawaban 22 menit (lewat 7 menit dari standar 15 menit)" in text(r)
    assert "Menunggu: 1, 1 melewati standar." in text(page)


def test_waits_are_grouped_by_member_and_provinsi_and_answered_ones_listed_below(web):
    for n in (1, 2, 3):
        ticket(web, n)
    web.login(TEAM)
    for n in (1, 2):
        web.post(f"/tickets/{n}/escalate", {"target": "anggota", "message": f"Soal {n}"})
    web.logout()
    web.login(ANGGOTA)
    web.post("/tickets/2/escalate", {"target": "provinsi", "message": "Di luar kewenangan"})
    # ticket 3: escalated while the second member was the one configured
    esc = web.feeder.escalate(3, to="anggota")
    Escalation.update(to=[OTHER]).where(Escalation.id == esc.id).execute()
    # the member answers ticket 1 by mail, threaded through our escalation
    mail = next(m for m in web.feeder.outgoing(to=ANGGOTA) if "#1]" in m.subject)
    web.feeder.advance(minutes=30)
    web.feeder.deliver(trusted(party_mail(ANGGOTA, "RE: Eskalasi", "Tidak boleh ganda.", in_reply_to=web.feeder.msgid_of(mail))))
    web.logout()
    web.login(TEAM)
    page = page_of(web)
    groups = re.findall(r'data-waiting-on="([^"]+)"', page)
    assert groups == [OTHER, "provinsi"]  # Ahmad's only wait was answered; ticket 2 moved on to the Provinsi
    other = page.split(f'data-waiting-on="{OTHER}"')[1].split("</section>")[0]
    assert "Wayan Sudarta" in text(other) and re.findall(r'data-ticket-id="(\d+)"', other) == ["3"]
    prov = page.split('data-waiting-on="provinsi"')[1].split("</section>")[0]
    assert "Menunggu KPU Provinsi (1)" in text(prov) and re.findall(r'data-ticket-id="(\d+)"', prov) == ["2"]
    done = page.split("Sudah dijawab atau selesai")[1]
    answered = text(row(done, 1, "answered"))
    assert "dijawab 1 Desember 2026 09.30 WIB (30 menit, lewat 15 menit)" in answered
    assert "tidak menunggu lagi: tiket Eskalasi ke KPU Provinsi" in text(row(done, 2, "answered"))


def test_an_anggota_sees_only_the_tickets_escalated_to_them(web):
    for n in (1, 2):
        ticket(web, n)
    web.login(TEAM)
    for n in (1, 2):
        web.post(f"/tickets/{n}/escalate", {"target": "anggota", "message": f"Soal {n}"})
    Escalation.update(to=[OTHER]).where(Escalation.ticket == 2).execute()
    web.logout()
    web.login(ANGGOTA)
    page = page_of(web)
    assert "Eskalasi kepada Anda" in page
    assert re.findall(r'data-ticket-id="(\d+)"', page) == ["1"]
    assert re.findall(r'data-waiting-on="([^"]+)"', page) == [ANGGOTA]
    assert "Ahmad Fauzi" in page and "Soal 2" not in page
    web.logout()
    web.login(OTHER)
    assert re.findall(r'data-ticket-id="(\d+)"', page_of(web)) == ["2"]


def test_nothing_waiting_says_so(web):
    web.login(WebDesk.email("ketua"))
    page = page_of(web)
    assert 'role="status">Tidak ada eskalasi yang sedang menunggu jawaban.<' in page
