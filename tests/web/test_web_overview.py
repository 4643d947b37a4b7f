"""The chair's and secretary's overview (issue 15 item 7, `/overview`): today's and this
week's tickets by channel, party and status, answered within the SOP standard or late, the
median time to a first answer, open escalations: the daily recap's figures, with charts."""
from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta

import pytest

from kpudesk.tickets.models import Party, Ticket
from kpudesk.tickets.recap import recap_data
from tests.corpus.hostile import party_mail
from tests.web_fixtures import OFFICERS, WebDesk, web_fixture  # noqa: F401 - the `web` fixture

KETUA = WebDesk.email("ketua")


def text(fragment: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def period(page: str, key: str) -> str:
    return page.split(f'data-period="{key}"')[1].split("</section>")[0]


def figure(fragment: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}"><div class="value">([^<]*)<', fragment)
    assert found, name
    return htmllib.unescape(found.group(1))


def chart_rows(fragment: str, chart: str) -> dict[str, int]:
    table = fragment.split(f'data-chart="{chart}"')[1].split("</table>")[0]
    return {k: int(v) for k, v in re.findall(r'<tr><td>([^<]+)</td><td class="num">(\d+)</td></tr>', table)}


def mail(web, n: int, party: str | None = None, channel: str = "email") -> int:
    web.feeder.deliver(party_mail(f"lo{n}@partai.example.org", f"Soal {n}", "Pertanyaan di luar FAQ",
                                  message_id=f"<q{n}@partai.example.org>"))
    t = Ticket.select().order_by(Ticket.id.desc()).get()
    Ticket.update(party=Party.get(Party.short == party) if party else None, channel=channel).where(
        Ticket.id == t.id).execute()
    return t.id


@pytest.fixture
def week(web):
    """Monday: one PKB ticket; Tuesday 09:00: PKB mails answered in 10 and 45 minutes, a Golkar
    walk-in answered in 40, one more escalated to the Anggota and waiting (median 40, mean 31.7)."""
    start = web.clock.now()
    web.clock.set(start - timedelta(days=1))
    mail(web, 1, "PKB")
    web.clock.set(start)
    t2 = mail(web, 2, "PKB")
    t3 = mail(web, 3, "Golkar", channel="tatap-muka")
    t4 = mail(web, 4)
    t5 = mail(web, 5, "PKB")
    web.feeder.advance(minutes=10)
    web.feeder.reply(t2, "Jawaban kami.")
    web.feeder.escalate(t4, to="anggota", note="Mohon arahan")
    web.feeder.advance(minutes=30)
    web.feeder.reply(t3, "Jawaban kami juga.")
    web.feeder.advance(minutes=5)
    web.feeder.reply(t5, "Jawaban terakhir.")
    web.feeder.advance(minutes=5)
    return {"t2": t2, "t3": t3, "t4": t4}


def test_today_and_the_week_carry_the_recaps_figures(web, week):
    web.login(KETUA)
    r = web.client.get("/overview")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    today = period(page, "today")
    assert "Hari ini: Selasa, 1 Desember 2026" in text(today)
    assert figure(today, "new") == "4"
    assert (figure(today, "answer_within"), figure(today, "answer_late")) == ("1", "2")  # 10; 40 and 45 minutes
    assert figure(today, "median") == "40 menit"
    assert chart_rows(today, "today-channel") == {"Surel": 3, "Tatap muka": 1, "Pesan online": 0, "Pertemuan online": 0}
    assert chart_rows(today, "today-party") == {"PKB": 2, "Golkar": 1, "Tidak diketahui": 1}
    status = chart_rows(today, "today-status")
    assert status["Eskalasi ke Anggota KPU"] == 1 and sum(status.values()) == 4
    week_ = period(page, "week")
    assert "Minggu ini: sejak Senin, 30 November 2026" in text(week_)
    assert figure(week_, "new") == "5" and chart_rows(week_, "week-party")["PKB"] == 3
    # the very numbers the daily recap mails
    recap = recap_data("2026-12-01", web.app.calendar, web.clock.now(), tag="HD-MSJ")
    assert int(figure(today, "new")) == recap["totals"]["new"]
    assert chart_rows(today, "today-channel") == {c["label"]: c["count"] for c in recap["by_channel"]}
    assert int(figure(today, "answer_within")) == recap["timing"]["within"]["answer"]


def test_open_escalations_are_listed_with_a_link(web, week):
    web.login(KETUA)
    page = web.client.get("/overview").get_data(as_text=True)
    esc = page.split('aria-labelledby="esc-h"')[1].split("</section>")[0]
    assert "Eskalasi terbuka (1)" in text(esc)
    assert re.findall(r'data-ticket-id="(\d+)"', esc) == [str(week["t4"])]
    assert f'href="/tickets/{week["t4"]}"' in esc


def test_charts_are_inline_svg_beside_their_tables(web, week):
    web.login(KETUA)
    page = web.client.get("/overview").get_data(as_text=True)
    today = period(page, "today")
    svg = today.split('data-chart="today-channel"')[1].split("</svg>")[0]
    widths = [float(w) for w in re.findall(r'<rect class="bar" x="130" y="[\d.]+" width="([\d.]+)"', svg)]
    assert widths[0] == pytest.approx(3 * widths[1], abs=0.2) and widths[1] > 0 and widths[2:] == [0, 0]  # 3 mails, 1 walk-in
    assert 'role="img"' in svg and "<script" not in page.split("<main")[1] and "style=" not in page.split("<main")[1]


@pytest.mark.parametrize("role", [o["role"] for o in OFFICERS])
def test_the_chair_secretary_and_coordinators_read_it(tmp_path, role):
    desk = WebDesk(tmp_path)
    desk.login(WebDesk.email(role))
    expected = 200 if role in ("ketua", "sekretaris", "koordinator-harian", "koordinator") else 403
    r = desk.client.get("/overview")
    assert r.status_code == expected
    if expected == 403:
        assert 'role="alert"' in r.get_data(as_text=True)
