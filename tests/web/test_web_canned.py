"""The office's saved replies (`/canned`, issue 14 item 6): every officer reads them, only the
coordinator creates, edits and deletes (others: 403, nothing changed; CSRF missing: 400);
the ticket page shows them beside the FAQ suggestions and a link fills the reply body
without JavaScript (the script inserts the same text: data-canned-id)."""
from __future__ import annotations

import pytest

from kpudesk.tickets import canned
from kpudesk.tickets.errors import UserError
from kpudesk.tickets.models import CannedAnswer, Event
from tests.web.test_web_desk import flashed, html, mail
from tests.web_fixtures import OFFICERS, WebDesk, web_fixture  # noqa: F401 - the `web` fixture

COORD = WebDesk.email("koordinator-harian")
TEAM = WebDesk.email("anggota-helpdesk")
EDITORS = {"koordinator-harian", "koordinator"}
TEXT = "Terima kasih. Jadwal verifikasi faktual akan kami sampaikan lewat surel resmi."


def saved(web, title="Jadwal verifikasi", body=TEXT) -> CannedAnswer:
    return canned.create(title, body, actor=web.settings.officer(COORD), clock=web.clock)


def rows() -> list[tuple]:
    return [(c.id, c.title, c.body, c.updated_by) for c in CannedAnswer.select().order_by(CannedAnswer.id)]


@pytest.mark.parametrize("role", [o["role"] for o in OFFICERS])
def test_every_role_reads_the_list(web, role):
    saved(web)
    web.login(WebDesk.email(role))
    page = html(web.client.get("/canned"))
    assert "Jadwal verifikasi" in page and TEXT in page
    assert ('action="/canned"' in page) is (role in EDITORS)


@pytest.mark.parametrize("role", [o["role"] for o in OFFICERS])
def test_every_role_and_create_edit_delete(web, role):
    row = saved(web)
    web.login(WebDesk.email(role))
    before, events = rows(), Event.select().count()
    steps = [("/canned", {"title": "Lupa kata sandi", "body": "Gunakan menu Lupa Kata Sandi."}),
             (f"/canned/{row.id}", {"title": "Jadwal verifikasi faktual", "body": TEXT + " Salam."}),
             (f"/canned/{row.id}/delete", {})]
    if role not in EDITORS:
        for path, data in steps:
            r = web.post(path, data)
            assert r.status_code == 403 and "Tidak diizinkan" in html(r)
        assert rows() == before and Event.select().count() == events
        return
    assert "disimpan" in flashed(web, web.post(*steps[0]), "status")
    assert [t for _, t, _, _ in rows()] == ["Jadwal verifikasi", "Lupa kata sandi"]
    assert "diperbarui" in flashed(web, web.post(*steps[1]), "status")
    assert CannedAnswer.get_by_id(row.id).body.endswith("Salam.")
    assert CannedAnswer.get_by_id(row.id).updated_by == WebDesk.email(role)
    assert "dihapus" in flashed(web, web.post(*steps[2]), "status")
    assert [t for _, t, _, _ in rows()] == ["Lupa kata sandi"]
    kinds = [e.kind for e in Event.select().where(Event.kind.startswith("canned.")).order_by(Event.id)]
    assert kinds == ["canned.created", "canned.created", "canned.updated", "canned.deleted"]


def test_without_csrf_is_400_and_nothing_changes(web):
    row = saved(web)
    web.login(COORD)
    before = rows()
    for path in ("/canned", f"/canned/{row.id}", f"/canned/{row.id}/delete"):
        assert web.client.post(path, data={"title": "x", "body": "y"}).status_code == 400
    assert rows() == before


@pytest.mark.parametrize(("data", "words"), [
    ({"title": " ", "body": "isi"}, "judul jawaban siap pakai wajib diisi"),
    ({"title": "Judul", "body": "  "}, "isi jawaban siap pakai wajib diisi"),
    ({"title": "x" * 201, "body": "isi"}, "judul terlalu panjang"),
])
def test_an_empty_or_too_long_answer_is_refused_in_bahasa(web, data, words):
    web.login(COORD)
    assert words in flashed(web, web.post("/canned", data), "alert")
    assert rows() == []


def test_editing_a_deleted_answer_says_it_is_gone(web):
    row = saved(web)
    canned.delete(row.id, actor=web.settings.officer(COORD), clock=web.clock)
    web.login(COORD)
    r = web.post(f"/canned/{row.id}", {"title": "a", "body": "b"})
    assert f"jawaban siap pakai #{row.id} tidak ada" in flashed(web, r, "alert")


def test_the_domain_refuses_a_role_without_canned_edit_as_the_web_does(web):
    with pytest.raises(UserError, match="hanya boleh oleh koordinator harian"):
        canned.create("a", "b", actor=web.settings.officer(TEAM), clock=web.clock)
    assert rows() == []


def test_the_ticket_page_shows_them_beside_the_faq_and_a_link_fills_the_reply(web):
    row = saved(web)
    tid = mail(web)
    web.login(TEAM)
    page = html(web.client.get(f"/tickets/{tid}"))
    aside = page[page.index('aria-labelledby="canned-h"'):]
    assert f'<a href="/tickets/{tid}?canned={row.id}#balas" data-canned-id="{row.id}">' in aside
    assert f'id="canned-answer-{row.id}">{TEXT}</pre>' in aside
    assert page.index('aria-labelledby="faq-h"') < page.index('aria-labelledby="canned-h"')  # beside the FAQ
    assert f">{TEXT}</textarea>" not in page
    filled = html(web.client.get(f"/tickets/{tid}?canned={row.id}"))
    assert f'name="body" rows="12" cols="70">{TEXT}</textarea>' in filled
    missing = html(web.client.get(f"/tickets/{tid}?canned=999"))
    assert 'role="alert" class="alert">jawaban siap pakai #999 tidak ada' in missing


def test_the_script_inserts_canned_text_by_the_same_mechanism_as_the_faq(web):
    web.login(TEAM)
    script = web.client.get("/static/faq.js").get_data(as_text=True)
    assert "data-canned-id" in script and "canned-answer-" in script and "reply-body" in script
