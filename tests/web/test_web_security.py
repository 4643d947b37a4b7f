"""Roles decide what each page and action allows (issue 14 item 3), a forbidden action is a
Bahasa 403 page that changes nothing, and every response carries the security headers
(item 8): a strict CSP, no framing, same-origin referrers, nosniff, no caching of pages."""
from __future__ import annotations

import fnmatch
import tomllib

import pytest
from flask import Blueprint

from kpudesk.daemon.config import ROLES as CONFIGURED
from kpudesk.daemon.web import auth
from kpudesk.tickets import permissions
from kpudesk.tickets.models import Event, Ticket
from kpudesk.tickets.permissions import ACTIONS, allowed, allowed_on_ticket, escalated_to
from tests.corpus.hostile import party_mail
from tests.web_fixtures import OFFICERS, WebDesk, web_fixture  # noqa: F401 - the `web` fixture
from tests.paths import ROOT

ROLES = [o["role"] for o in OFFICERS]

# Written out from the SOP (issue 14 item 3), independently of tickets/permissions.py.
# Merging two tickets of one party and bulk actions (each ticket still checked on its own)
# belong to the team that answers; moving a ticket another officer holds stays the coordinator's.
# The team also imports the Sipol progress figures it reads off the dashboard (issue 15);
# the overview page is for those who supervise: the coordinators, the chair, the secretary.
TEAM = {"view", "reply", "note", "assign", "escalate_anggota", "close", "reopen", "identity_edit", "walkin",
        "merge", "bulk", "progress_import"}
# The coordinator signs the Laporan Hasil Konsultasi, so reads the reports too.
COORDINATOR = TEAM | {"reassign", "spam_review", "quarantine_review", "canned_edit", "overview", "reports"}
EXPECTED = {
    "anggota-helpdesk": TEAM,
    "koordinator-harian": COORDINATOR,
    "koordinator": COORDINATOR,
    "anggota-kpu": {"view", "reply", "note", "escalate_provinsi"},
    "ketua": {"view", "reports", "overview"},
    "sekretaris": {"view", "reports", "overview"},
}


def test_the_table_names_every_role_of_the_settings():
    assert set(permissions.TABLE) == set(CONFIGURED) == set(EXPECTED)


@pytest.mark.parametrize("role", sorted(EXPECTED))
@pytest.mark.parametrize("action", ACTIONS)
def test_every_role_and_action(role, action):
    assert allowed(role, action) is (action in EXPECTED[role])


def test_an_unknown_role_may_nothing_and_an_unknown_action_is_a_bug():
    assert not any(allowed("tamu", a) for a in ACTIONS)
    with pytest.raises(ValueError):
        allowed("koordinator", "hapus_semua")


# --- an Anggota KPU only on the tickets escalated to them ----------------------------------

def _ticket(web, subject="Akun Sipol terkunci") -> Ticket:
    web.feeder.deliver(party_mail("lia@pdip.example.org", subject, "Mohon bantuan, akun kami terkunci."))
    return Ticket.select().order_by(Ticket.id.desc()).get()


def test_an_anggota_acts_only_on_tickets_escalated_to_them(web):
    anggota = web.settings.officer(WebDesk.email("anggota-kpu"))
    team = web.settings.officer(WebDesk.email("anggota-helpdesk"))
    mine, other = _ticket(web), _ticket(web, "Pertanyaan lain")
    assert not allowed_on_ticket(anggota, "view", mine)
    web.feeder.escalate(mine.id, to="anggota", officer=team.name)
    for action in ("view", "reply", "note", "escalate_provinsi"):
        assert allowed_on_ticket(anggota, action, mine)
        assert not allowed_on_ticket(anggota, action, other.id)
    for action in ("close", "assign", "identity_edit", "merge"):
        assert not allowed_on_ticket(anggota, action, mine)
    assert escalated_to(anggota.email.upper()) == {mine.id}
    # other roles: the table alone decides
    assert allowed_on_ticket(team, "close", other) and allowed_on_ticket(team, "merge", other)
    assert not allowed_on_ticket(team, "reassign", other)


# --- require(): 403 in Bahasa, nothing changed ----------------------------------------------

def _with_probe(tmp_path) -> WebDesk:
    """A desk with one extra route guarded by `require("close")`, which writes an event."""
    desk = WebDesk(tmp_path)
    probe = Blueprint("probe", __name__)

    @probe.post("/probe/close")
    @auth.require("close")
    def close():
        Event.create(ticket=None, at=desk.clock.now(), actor=auth.current_officer().email, kind="probe")
        return "ok"

    @probe.get("/probe/boom")
    def boom():
        raise RuntimeError("rahasia internal /etc/kpudesk")

    desk.flask.register_blueprint(probe)
    return desk


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_require_answers_403_in_bahasa_and_does_nothing(tmp_path, role):
    desk = _with_probe(tmp_path)
    desk.login(WebDesk.email(role))
    r = desk.post("/probe/close")
    if "close" in EXPECTED[role]:
        assert r.status_code == 200 and desk.events("probe")
        return
    html = r.get_data(as_text=True)
    assert r.status_code == 403 and 'role="alert"' in html and "Tidak diizinkan" in html
    assert '<html lang="id">' in html
    assert desk.events("probe") == []


def test_a_chair_cannot_close_a_ticket_through_the_desk(web):
    ticket = _ticket(web)
    web.login(WebDesk.email("ketua"))
    r = web.post(f"/tickets/{ticket.id}/close")
    assert r.status_code == 403 and 'role="alert"' in r.get_data(as_text=True)
    assert Ticket.get_by_id(ticket.id).status == ticket.status


def test_a_server_error_is_a_bahasa_page_without_a_traceback(tmp_path):
    desk = _with_probe(tmp_path)
    desk.login(WebDesk.email("ketua"))
    r = desk.client.get("/probe/boom")
    html = r.get_data(as_text=True)
    assert r.status_code == 500 and "Terjadi kesalahan" in html
    assert "Traceback" not in html and "rahasia internal" not in html
    assert_security_headers(r)


# --- headers on every kind of response ------------------------------------------------------

def assert_security_headers(r, *, cached: bool = False) -> None:
    csp = r.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'" and directives["form-action"] == "'self'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    if not cached:
        assert "no-store" in r.headers["Cache-Control"]


def test_headers_on_the_pages_before_login(web):
    for path in ("/login", "/", "/tickets/1", "/healthz"):
        assert_security_headers(web.client.get(path))
    assert_security_headers(web.client.post("/login", data={}))  # the CSRF 400 page


def test_headers_on_the_desk_pages_and_error_pages(web):
    ticket = _ticket(web)
    web.login(WebDesk.email("koordinator-harian"))
    responses = {
        "queue": web.client.get("/"),
        "ticket": web.client.get(f"/tickets/{ticket.id}"),
        "404": web.client.get("/tidak-ada"),
        "405": web.client.get("/logout"),
        "400": web.client.post(f"/tickets/{ticket.id}/note", data={"body": "x"}),
        "redirect": web.post(f"/tickets/{ticket.id}/note", {"body": "catatan"}),
    }
    assert responses["queue"].status_code == 200 and f'data-ticket-id="{ticket.id}"' in responses["queue"].text
    assert responses["ticket"].status_code == 200
    assert [responses[k].status_code for k in ("404", "405", "400")] == [404, 405, 400]
    for kind in ("404", "405", "400"):
        assert 'role="alert"' in responses[kind].text, kind
    for kind, r in responses.items():
        assert_security_headers(r)


def test_headers_on_a_403_page(web):
    web.login(WebDesk.email("ketua"))
    r = web.client.get("/spam")
    assert r.status_code == 403
    assert_security_headers(r)


def test_the_stylesheet_may_be_cached_but_is_never_sniffed(web):
    r = web.client.get("/static/desk.css")
    assert r.status_code == 200 and r.mimetype == "text/css" and "@media" in r.text
    assert_security_headers(r, cached=True)
    assert "no-store" not in r.headers.get("Cache-Control", "")


def test_every_page_is_bahasa_with_a_viewport_and_labelled_login_fields(web):
    html = web.client.get("/login").text
    assert '<html lang="id">' in html and 'name="viewport"' in html
    for field in ("email", "password"):
        assert f'<label for="{field}">' in html and f'id="{field}" name="{field}"' in html
    assert 'name="csrf_token"' in html and 'name="next"' in html


def test_nav_shows_what_the_role_may_do(web):
    web.login(WebDesk.email("anggota-helpdesk"))
    team = web.client.get("/").text
    assert 'href="/guestbook"' in team and 'href="/spam"' not in team and 'href="/reports/consultations"' not in team
    web.logout()
    web.login(WebDesk.email("koordinator-harian"))
    coordinator = web.client.get("/").text
    assert 'href="/spam"' in coordinator and 'href="/quarantine"' in coordinator
    web.logout()
    web.login(WebDesk.email("ketua"))
    chair = web.client.get("/").text
    assert 'href="/reports/consultations"' in chair and 'href="/guestbook"' not in chair
    assert 'action="/logout" method="post"' in chair and "Hendra Gunawan" in chair


def test_the_session_cookie_is_secure_behind_https(tmp_path):
    desk = WebDesk(tmp_path, extra={"web": {"base_url": "https://helpdesk.kpu-mesuji.example.org"}})
    r = desk.login(WebDesk.email("ketua"))
    cookie = r.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- the pages ship in the package ----------------------------------------------------------

def test_every_web_template_and_static_file_is_package_data():
    """A wheel holds only what pyproject's package-data names (a page missing from it is a
    500 on the server only). Checked against the patterns, so it runs in milliseconds."""
    root = ROOT
    tool = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert "kpudesk.daemon.web" in tool["packages"]
    data = tool["package-data"]
    for folder, package in ((root / "templates", "kpudesk.templates"), (root / "daemon" / "web", "kpudesk.daemon.web")):
        sub = "web" if package == "kpudesk.templates" else "static"
        files = [p.relative_to(folder).as_posix() for p in (folder / sub).rglob("*") if p.is_file()]
        assert files
        missing = [f for f in files if not any(fnmatch.fnmatch(f, pattern) for pattern in data[package])]
        assert missing == [], f"add to [tool.setuptools.package-data] {package}: {missing}"
