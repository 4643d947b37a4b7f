"""The queue's "new mail" notice (issue 14 item 4: the queue offers to refresh when new mail
arrives): the page carries the newest party message it knew; /queue/arrivals counts what came
after it, only on tickets the officer may see. The browser side is in
tests/e2e/test_web_browser.py."""
from __future__ import annotations

import re

from tests.web.test_web_desk import html, mail
from tests.web_fixtures import WebDesk, web_fixture  # noqa: F401 - the `web` fixture

TEAM = WebDesk.email("anggota-helpdesk")
ANGGOTA = WebDesk.email("anggota-kpu")


def latest_on_queue(web) -> str:
    return re.search(r'id="queue-refresh" data-latest="(\d+)"', html(web.client.get("/"))).group(1)


def test_counts_the_party_mail_that_arrived_after_the_page_was_loaded(web):
    mail(web, subject="Pertanyaan pertama")
    web.login(TEAM)
    mark = latest_on_queue(web)
    assert web.client.get(f"/queue/arrivals?after={mark}").get_json() == {"new": 0, "latest": int(mark)}
    mail(web, sender="Dedi <dedi@gerindra.example.org>", subject="Pertanyaan kedua")
    mail(web, sender="Sari <sari@psi.example.org>", subject="Pertanyaan ketiga")
    got = web.client.get(f"/queue/arrivals?after={mark}").get_json()
    assert got["new"] == 2 and got["latest"] > int(mark)
    assert web.client.get(f"/queue/arrivals?after={got['latest']}").get_json()["new"] == 0
    assert latest_on_queue(web) == str(got["latest"])  # a reloaded queue knows them


def test_an_anggota_is_told_only_of_mail_on_tickets_escalated_to_them(web):
    web.login(ANGGOTA)
    mark = latest_on_queue(web)
    mail(web, subject="Tidak dieskalasi")
    assert web.client.get(f"/queue/arrivals?after={mark}").get_json()["new"] == 0


def test_a_bad_mark_is_a_clear_error_and_the_notice_needs_a_login(web):
    assert web.client.get("/queue/arrivals?after=0").status_code in (302, 303)
    web.login(TEAM)
    bad = web.client.get("/queue/arrivals?after=abc")
    assert bad.status_code == 400 and "angka" in bad.get_json()["error"]
