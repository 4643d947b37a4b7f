"""The queue's search box (`/?q=`, issue 14 item 4) through the Flask test client: the full-text
index finds tickets by the words of their mail, accents and the beginning of the last word
included; hostile input is a plain search and never an error page; and `/?q=` lists the same
tickets as `kpudesk tickets list --search` (one clause, tickets/search.py)."""
from __future__ import annotations

import re
from urllib.parse import quote_plus

import pytest

from kpudesk.tickets import queries
from kpudesk.tickets.models import Ticket
from tests.corpus.hostile import party_mail
from tests.web_fixtures import WebDesk, web_fixture  # noqa: F401 - the `web` fixture

TEAM = WebDesk.email("anggota-helpdesk")
LIA = "Lia Anggraini <lia@pdip.example.org>"
BUDI = "Budi Santoso <budi@pkb.example.org>"


def mail(web, sender, subject, body) -> int:
    web.feeder.deliver(party_mail(sender, subject, body))
    return Ticket.select().order_by(Ticket.id.desc()).first().id


def rows(web, q: str) -> list[int]:
    r = web.client.get(f"/?q={quote_plus(q)}")
    assert r.status_code == 200, q
    return [int(x) for x in re.findall(r'<tr data-ticket-id="(\d+)"', r.get_data(as_text=True))]


def cli(web, q: str) -> list[int]:
    """What `kpudesk tickets list --search Q` lists (its JSON's ids)."""
    return [t["id"] for t in queries.list_tickets(tag="HD-MSJ", zone=web.settings.zone, search=q)]


@pytest.fixture
def three(web):
    a = mail(web, LIA, "Akun Sipol terkunci", "Akun kami terkunci setelah salah kata sandi.")
    b = mail(web, BUDI, "Unggah dokumén KTA", "Bagaimana cara mengunggah dokumen keanggotaan ke Sipol?")
    c = mail(web, BUDI, "Jadwal verifikasi", "Kapan jadwal verifikasi faktual kepengurusan?")
    web.login(TEAM)
    return a, b, c


def test_the_search_box_finds_tickets_by_their_words(web, three):
    a, b, c = three
    assert rows(web, "keanggotaan") == [b]
    assert rows(web, "dokumen") == [b]  # the subject's "dokumén" too
    assert rows(web, "verif") == [c]  # the beginning of the last word
    assert rows(web, "sipol") == [a, b]
    assert rows(web, "budi santoso") == [b, c]
    assert rows(web, f"HD-MSJ #{c}") == [c]
    assert rows(web, "sandi verifikasi") == []


def test_a_reply_is_searchable_on_the_next_page_load(web, three):
    a, _b, _c = three
    assert rows(web, "pemulihan") == []
    r = web.post(f"/tickets/{a}/reply", {"body": "Silakan pakai menu pemulihan akun di halaman masuk."})
    assert r.status_code == 303
    assert rows(web, "pemulihan") == [a]


def test_search_combines_with_the_filters_in_the_url(web, three):
    a, b, c = three
    web.post(f"/tickets/{b}/assign", {"officer": TEAM})
    page = web.client.get("/?q=sipol&assignee=me").get_data(as_text=True)
    assert re.findall(r'<tr data-ticket-id="(\d+)"', page) == [str(b)]
    assert 'value="sipol"' in page


@pytest.mark.parametrize("q", ['"', "*", "NEAR(", "OR", "-", "'; DROP TABLE ticket; --", "",
                               '<script>alert(1)</script>', "akun OR jadwal", "%", "sipol*", "#"])
def test_hostile_search_words_answer_a_queue_and_the_same_tickets_as_the_cli(web, three, q):
    shown = rows(web, q)
    assert shown == cli(web, q)
    assert Ticket.select().count() == 3
    if q in ('"', "*", "-", "", "%", "#"):
        assert shown == list(three)  # punctuation alone filters nothing
    page = web.client.get(f"/?q={quote_plus(q)}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page


@pytest.mark.parametrize("q", ["keanggotaan", "dokumén", "budi@pkb.example.org", "verif", "sipol", "kapan jadwal",
                               "1", "2 sipol", "HD-MSJ", "[HD-MSJ #3]"])
def test_the_queue_and_tickets_list_give_the_same_tickets(web, three, q):
    assert rows(web, q) == cli(web, q)


def test_a_merged_ticket_leaves_the_queue_and_the_list_alike(web, three):
    from kpudesk.tickets.merge import merge  # noqa: PLC0415 - lazy: this test only

    _a, b, c = three  # both Budi's
    merge(c, b, actor=web.settings.officer(TEAM), clock=web.clock)
    assert rows(web, "verifikasi") == cli(web, "verifikasi") == [b]  # c's words now on the survivor
    assert rows(web, "") == cli(web, "") == [1, b]
