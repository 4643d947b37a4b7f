"""The web desk's login (issue 14 item 2): passwords, the failed-login brake, idle expiry,
`next`, logout and ending all sessions — each an event; CSRF on every POST (item 8)."""
from __future__ import annotations

import pytest

from kpudesk.tickets import accounts
from kpudesk.tickets.models import Event, Ticket
from tests.corpus.hostile import party_mail
from tests.web_fixtures import PASSWORD, WebDesk, web_fixture  # noqa: F401 - the `web` fixture

RINA = WebDesk.email("anggota-helpdesk")
KETUA = WebDesk.email("ketua")


def logged_in(web) -> bool:
    return web.client.get("/").status_code == 200


def alert_text(response) -> str:
    html = response.get_data(as_text=True)
    assert 'role="alert"' in html
    return html


# --- logging in -------------------------------------------------------------------------

def test_login_with_the_right_password_opens_the_desk_and_is_an_event(web):
    assert web.client.get("/").status_code == 303
    r = web.login(RINA)
    assert r.status_code == 303 and r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert "kpudesk_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # base_url is not https here
    page = web.client.get("/")
    assert page.status_code == 200 and "Rina Wulandari" in page.get_data(as_text=True)
    [event] = web.events("web.login")
    assert event.actor == RINA and event.ticket_id is None


def test_a_wrong_password_is_refused_in_bahasa_and_recorded_without_the_password(web):
    r = web.login(RINA, "salah-sekali-123")
    assert r.status_code == 401
    assert "Email atau kata sandi salah" in alert_text(r)
    assert not logged_in(web)
    [event] = web.events("web.login_failed")
    assert event.actor == RINA and "salah-sekali-123" not in str(event.detail)
    assert web.events("web.login") == []


def test_an_unknown_email_gets_the_same_answer(web):
    r = web.login("penyusup@example.org", PASSWORD)
    assert r.status_code == 401 and "Email atau kata sandi salah" in alert_text(r)
    assert not logged_in(web)
    [event] = web.events("web.login_failed")
    assert event.actor == "penyusup@example.org" and PASSWORD not in str(event.detail)


def test_an_officer_without_a_password_cannot_log_in(tmp_path):
    desk = WebDesk(tmp_path, passwords=False)
    assert desk.login(RINA, "").status_code == 401
    assert desk.login(RINA, PASSWORD).status_code == 401
    assert not logged_in(desk)


def test_login_email_is_case_insensitive(web):
    assert web.login(RINA.upper()).status_code == 303
    assert logged_in(web)


# --- the brake on guessing --------------------------------------------------------------

def test_repeated_failures_slow_down_the_account_but_never_lock_it_forever(web):
    for _ in range(accounts.ACCOUNT_LIMIT):
        assert web.login(RINA, "tebakan-salah-1").status_code == 401
    r = web.login(RINA)  # even the right password waits while the brake holds
    assert r.status_code == 429
    assert "coba lagi dalam 15 menit" in alert_text(r).lower()
    assert not logged_in(web)
    assert web.events("web.login_failed")[-1].detail["reason"] == "throttled"
    web.clock.advance(minutes=10)
    assert "coba lagi dalam 5 menit" in web.login(RINA).get_data(as_text=True).lower()
    web.clock.advance(minutes=6)
    assert web.login(RINA).status_code == 303
    assert logged_in(web)


def test_the_account_brake_holds_from_another_address(web):
    for _ in range(accounts.ACCOUNT_LIMIT):
        web.login(RINA, "tebakan-salah-1", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    r = web.login(RINA, environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert r.status_code == 429
    # another officer is not affected
    assert web.login(KETUA, environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code == 303


def test_one_address_guessing_many_accounts_is_slowed_down(web):
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    for n in range(accounts.CLIENT_LIMIT):
        web.login(f"tebak{n}@example.org", "tebakan-salah-1", environ_base=attacker)
    assert web.login(KETUA, environ_base=attacker).status_code == 429
    assert web.login(KETUA, environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code == 303


def test_a_successful_login_forgets_earlier_typos(web):
    for _ in range(accounts.ACCOUNT_LIMIT - 1):
        web.login(RINA, "tebakan-salah-1")
    assert web.login(RINA).status_code == 303
    web.logout()
    for _ in range(accounts.ACCOUNT_LIMIT - 1):
        web.login(RINA, "tebakan-salah-1")
    assert web.login(RINA).status_code == 303


# --- sessions ---------------------------------------------------------------------------

def test_a_session_expires_after_eight_idle_hours(web):
    web.login(RINA)
    web.clock.advance(hours=5)
    assert logged_in(web)
    web.clock.advance(hours=5)  # 10 h since login, 5 h idle: activity keeps it open
    assert logged_in(web)
    web.clock.advance(hours=8, minutes=1)
    r = web.client.get("/tickets/1")
    assert r.status_code == 303 and r.headers["Location"] == "/login?next=/tickets/1"
    page = web.client.get(r.headers["Location"])
    assert "Sesi Anda berakhir" in alert_text(page)
    assert not logged_in(web)


def test_session_hours_come_from_the_settings(tmp_path):
    desk = WebDesk(tmp_path, extra={"web": {"session_hours": 1}})
    desk.login(RINA)
    desk.clock.advance(minutes=59)
    assert logged_in(desk)
    desk.clock.advance(minutes=61)
    assert not logged_in(desk)


def test_logout_ends_the_session_and_is_an_event(web):
    web.login(RINA)
    r = web.logout()
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert "Anda telah keluar" in web.client.get("/login").get_data(as_text=True)
    assert not logged_in(web)
    [event] = web.events("web.logout")
    assert event.actor == RINA


def test_logout_is_post_only(web):
    web.login(RINA)
    assert web.client.get("/logout").status_code == 405
    assert logged_in(web)


def test_ending_all_sessions_logs_out_every_browser_of_that_officer(web):
    phone, k = web.browser(), web.browser()
    web.login(RINA)
    assert 'name="all" value="1"' in web.client.get("/").text  # the button in every page's header
    phone.login(RINA)
    k.login(KETUA)
    assert logged_in(web) and logged_in(phone) and logged_in(k)
    web.logout(all="1")
    assert not logged_in(web) and not logged_in(phone)
    assert logged_in(k)  # another officer's sessions stay
    assert phone.login(RINA).status_code == 303  # the password still works


def test_a_new_password_or_the_cli_logout_ends_the_sessions(web):
    web.login(RINA)
    accounts.end_sessions(RINA, web.clock.now(), actor="via CLI by root")
    assert not logged_in(web)
    web.login(RINA)
    accounts.set_password(RINA, "sandi-baru-sekali-2026", web.clock.now(), actor="via CLI by root")
    assert not logged_in(web)
    assert web.login(RINA, "sandi-baru-sekali-2026").status_code == 303


def test_a_tampered_cookie_is_no_session(web):
    web.login(RINA)
    cookie = web.client.get_cookie("kpudesk_session")
    web.client.set_cookie("kpudesk_session", cookie.value[:-3] + "xyz")
    assert not logged_in(web)


# --- next -------------------------------------------------------------------------------

def test_pages_send_to_login_with_next_and_back_after(web):
    r = web.client.get("/tickets/7?tab=riwayat")
    assert r.status_code == 303 and r.headers["Location"].startswith("/login?next=")
    page = web.client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'name="next" value="/tickets/7?tab=riwayat"' in page
    assert web.login(RINA, next="/tickets/7?tab=riwayat").headers["Location"] == "/tickets/7?tab=riwayat"


@pytest.mark.parametrize("hostile", [
    "//evil.example", "https://evil.example/", "\\\\evil.example", "/\\evil.example",
    "\\/evil.example", "http:evil.example", "javascript:alert(1)", "evil.example", "/\t/evil.example",
    " //evil.example", "///evil.example", "/\r\nSet-Cookie: x=1",
])
def test_next_never_leaves_the_site(web, hostile):
    r = web.login(RINA, next=hostile)
    assert r.status_code == 303 and r.headers["Location"] == "/"
    assert logged_in(web)


def test_an_encoded_path_in_next_stays_a_path_on_the_site(web):
    r = web.login(RINA, next="/%0d%0aSet-Cookie:x=1")
    assert r.headers["Location"] == "/%0d%0aSet-Cookie:x=1" and "Set-Cookie: x" not in str(r.headers)


def test_next_as_a_query_on_the_login_page_is_cleaned_too(web):
    page = web.client.get("/login?next=//evil.example").get_data(as_text=True)
    assert 'name="next" value="/"' in page


# --- CSRF -------------------------------------------------------------------------------

def test_a_login_without_or_with_a_wrong_csrf_token_is_400_and_logs_nobody_in(web):
    for token in (None, "salah", web.token() + "x"):
        data = {"email": RINA, "password": PASSWORD}
        if token is not None:
            data["csrf_token"] = token
        r = web.client.post("/login", data=data)
        assert r.status_code == 400
        assert "token CSRF" in alert_text(r)
    assert web.events("web.login") == [] and not logged_in(web)


def test_a_desk_action_without_a_csrf_token_changes_nothing(web):
    web.feeder.deliver(party_mail("lia@pdip.example.org", "Akun Sipol terkunci", "Mohon bantuan."))
    ticket = Ticket.select().get()
    web.login(WebDesk.email("koordinator-harian"))
    before = Event.select().count()
    r = web.client.post(f"/tickets/{ticket.id}/close", data={})
    assert r.status_code == 400
    r = web.client.post(f"/tickets/{ticket.id}/close", data={"csrf_token": "palsu"})
    assert r.status_code == 400
    assert Ticket.get_by_id(ticket.id).status == ticket.status
    assert Event.select().count() == before
    # with the page's token the same form works: the refusal was the token's doing
    assert web.post(f"/tickets/{ticket.id}/close").status_code in (302, 303)
    assert Ticket.get_by_id(ticket.id).status == "selesai"


def test_a_logout_without_a_csrf_token_keeps_the_session(web):
    web.login(RINA)
    assert web.client.post("/logout").status_code == 400
    assert logged_in(web) and web.events("web.logout") == []


def test_behind_an_https_proxy_the_brake_counts_the_forwarded_client(tmp_path):
    desk = WebDesk(tmp_path, extra={"web": {"base_url": "https://helpdesk.kpu-mesuji.example.org"}})
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    desk.login(RINA, "tebakan-salah-1", environ_base=proxy, headers={"X-Forwarded-For": "203.0.113.5"})
    assert desk.events("web.login_failed")[-1].detail["client"] == "203.0.113.5"


def test_without_a_proxy_a_forged_forwarded_for_is_ignored(web):
    web.login(RINA, "tebakan-salah-1", environ_base={"REMOTE_ADDR": "198.51.100.20"},
              headers={"X-Forwarded-For": "203.0.113.5"})
    assert web.events("web.login_failed")[-1].detail["client"] == "198.51.100.20"
