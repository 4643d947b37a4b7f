"""IMAP login with OAuth2 access tokens (SASL OAUTHBEARER / XOAUTH2), on a real Dovecot.

The Dovecot (tests/servers/dovecot_oauth2.py) checks every token with Dovecot 2.3's
``passdb { driver = oauth2 }`` against the RFC 7662 introspection endpoint of a real HTTP
`FakeProvider` on 127.0.0.1, whose clock is a FrozenClock: a test "waits an hour" by
moving it. The adapter's token callable is `tests.token_source.TokenSource`, which
refreshes at the provider's /token over HTTP, as the daemon's token source does.

What a user relies on: a valid token logs in (OAUTHBEARER where offered, XOAUTH2 where it
is the only one, as on Microsoft 365); an expired token costs one refresh, not an error;
a token that stays dead is AuthenticationFailed in the server's words and the token is in
no message and no log line; a revoked refresh token surfaces as the token source's own
error; and no token is ever sent in plaintext except to loopback.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from kpudesk.mailbox.errors import AuthenticationFailed, ServerUnavailable
from kpudesk.mailbox.imap import ImapSource

from tests.servers.common import free_port
from tests.servers.dovecot import DOVECOT_BIN, INSTALL_HINT, Dovecot, ImapUser, dovecot_available
from tests.servers.dovecot_oauth2 import OAuth2Dovecot
from tests.servers.oauth_provider import FakeProvider
from tests.token_source import LIFETIME, FixedToken, TokenSource, clock, provider, raising, secret_forms  # noqa: F401 - clock, provider: fixtures

pytestmark = pytest.mark.timeout(120)

TIMEOUT = 20.0
MAIL = (b"From: Partai Contoh <liaison@partai.example>\r\nTo: helpdesk@kpu.example\r\n"
        b"Subject: Akun Sipol terkunci\r\nMessage-ID: <oauth2-imap@partai.example>\r\n\r\n"
        b"Mohon bantuan, akun kami terkunci.\r\n")


def _serve(server: Dovecot) -> Iterator[Dovecot]:
    # Missing Dovecot is an error, never a skip (as tests/conftest.py's `dovecot` fixture)
    assert dovecot_available(), f"Dovecot is required but {DOVECOT_BIN} is missing: {INSTALL_HINT}"
    with server:
        yield server


@pytest.fixture(scope="module")
def both_dovecot(provider: FakeProvider) -> Iterator[Dovecot]:
    """Offers AUTH=XOAUTH2 and AUTH=OAUTHBEARER, like Gmail."""
    yield from _serve(OAuth2Dovecot(provider.introspect_url))


@pytest.fixture(scope="module")
def xoauth2_dovecot(provider: FakeProvider) -> Iterator[Dovecot]:
    """Offers only AUTH=XOAUTH2, like Microsoft 365."""
    yield from _serve(OAuth2Dovecot(provider.introspect_url, mechanisms=("xoauth2",)))


@pytest.fixture
def user(both_dovecot: Dovecot) -> ImapUser:
    return both_dovecot.new_user()


def source(user: ImapUser, oauth2, *, security: str = "none", port: int | None = None,
           host: str = "127.0.0.1") -> ImapSource:
    return ImapSource(host, port or user.port, security, user.name, None, ca_file=user.ca_file,
                      timeout=TIMEOUT, oauth2=oauth2)


def login_methods(server: Dovecot, name: str, expected: int, wait: float = 5.0) -> list[str]:
    """The SASL mechanisms of `name`'s successful logins, from Dovecot's own log."""
    deadline = time.monotonic() + wait
    while True:
        lines = [line for line in server.log_text().splitlines() if "Login: user=<%s>" % name in line]
        if len(lines) >= expected or time.monotonic() > deadline:
            return [line.split("method=")[1].split(",")[0] for line in lines]
        time.sleep(0.05)


# ---- a valid token logs in ------------------------------------------------------------------

def test_a_valid_token_logs_in_with_oauthbearer_when_the_server_offers_both(provider, both_dovecot, user):
    user.append("INBOX", MAIL)
    tokens = TokenSource(provider, user.name)
    with source(user, tokens) as src:
        status = src.examine("INBOX")
        assert status.exists == 1
        [mail] = src.fetch("INBOX", status.uidvalidity, src.uids_above(status, 0))
        assert b"Akun Sipol terkunci" in mail.raw
    assert tokens.calls == [False]
    # new_user() logged in once with the password (PLAIN) to create the folders, append() once more
    assert login_methods(both_dovecot, user.name, 3)[-1] == "OAUTHBEARER"


def test_a_valid_token_logs_in_with_xoauth2_where_it_is_the_only_mechanism(provider, xoauth2_dovecot):
    user = xoauth2_dovecot.new_user()
    user.append("INBOX", MAIL)
    tokens = TokenSource(provider, user.name)
    with source(user, tokens) as src:
        assert src.examine("INBOX").exists == 1
    assert tokens.calls == [False]
    assert login_methods(xoauth2_dovecot, user.name, 3)[-1] == "XOAUTH2"


def test_a_token_of_another_user_is_refused(provider, user):
    other = TokenSource(provider, "someone-else@kpu.example")  # a live token, of another mailbox
    with pytest.raises(AuthenticationFailed) as failed:
        source(user, other).connect()
    assert "AUTHENTICATIONFAILED" in str(failed.value)
    assert other.calls == [False, True]


# ---- expiry: one forced refresh, then success -----------------------------------------------

@pytest.mark.parametrize("server", ["both_dovecot", "xoauth2_dovecot"])
def test_an_expired_token_is_refreshed_once_and_the_login_succeeds(request, provider, clock, server):
    dovecot = request.getfixturevalue(server)
    user = dovecot.new_user()
    user.append("INBOX", MAIL)
    tokens = TokenSource(provider, user.name)
    with source(user, tokens) as src:
        assert src.examine("INBOX").exists == 1
    first = tokens.access

    clock.advance(seconds=LIFETIME + 1)  # an hour-long run: the cached token has expired
    assert provider.user_of(first) is None
    with source(user, tokens) as src:
        assert src.examine("INBOX").exists == 1
    assert tokens.calls == [False, False, True]  # cached, cached (refused), forced
    assert tokens.refreshes == 2 and tokens.access != first


# ---- a token that stays dead ----------------------------------------------------------------

@pytest.mark.parametrize("server, words", [("both_dovecot", "invalid_token"), ("xoauth2_dovecot", "status 401")])
def test_a_token_that_stays_dead_is_authentication_failed_in_the_servers_words(
        request, provider, caplog, server, words):
    dovecot = request.getfixturevalue(server)
    user = dovecot.new_user()
    stale = FixedToken(provider.issue_access(user.name))
    provider.revoke(stale.token)

    caplog.set_level(logging.DEBUG)
    # imapclient's own level too: daemon/logsetup.py (run by in-process CLI tests) sets it to WARNING
    caplog.set_level(logging.DEBUG, logger="imapclient")
    with pytest.raises(AuthenticationFailed) as failed:
        source(user, stale).connect()
    text = str(failed.value)
    assert "AUTHENTICATIONFAILED" in text and words in text and user.name in text, text
    assert stale.calls == [False, True]
    assert "AUTHENTICATE" in caplog.text  # the protocol exchange was logged (imapclient at DEBUG)
    for secret in secret_forms(user.name, stale.token):
        assert secret not in text and secret not in caplog.text


def test_a_revoked_refresh_token_reaches_the_caller_as_the_token_sources_error(provider, user):
    tokens = TokenSource(provider, user.name)
    source(user, tokens).connect()
    provider.revoke(tokens.refresh_token)  # also kills the access token issued from it
    with pytest.raises(AuthenticationFailed, match="token refresh refused: invalid_grant"):
        source(user, tokens).connect()
    assert tokens.calls == [False, False, True]


@pytest.mark.parametrize("error", [AuthenticationFailed("revoked"), ConnectionRefusedError("token endpoint down")])
def test_whatever_the_token_callable_raises_reaches_the_caller_unchanged(user, error):
    with pytest.raises(type(error)) as failed:
        source(user, raising(error)).connect()
    assert failed.value is error


# ---- where a token may go --------------------------------------------------------------------

def test_no_token_goes_in_plaintext_to_a_host_other_than_loopback():
    never = FixedToken("at-never")
    src = ImapSource("imap.kpu.invalid", 143, "none", "helpdesk@kpu.example", None, oauth2=never)
    with pytest.raises(AuthenticationFailed, match="only over TLS"):
        src.connect()
    # the name does not resolve: had it tried to connect, this would be ServerUnavailable
    assert never.calls == []
    assert "at-never" not in repr(src)


@pytest.fixture(scope="module")
def tls_dovecot(provider: FakeProvider) -> Iterator[Dovecot]:
    """TLS required (``ssl = required``); the plain port is reached from 127.0.0.2, so
    Dovecot treats it as remote and advertises LOGINDISABLED before STARTTLS."""
    yield from _serve(OAuth2Dovecot(provider.introspect_url, tls=True))


def test_over_tls_and_starttls_the_token_logs_in(provider, tls_dovecot):
    user = tls_dovecot.new_user()
    tokens = TokenSource(provider, user.name)
    for security, port in (("tls", tls_dovecot.tls_port), ("starttls", tls_dovecot.port)):
        with source(user, tokens, security=security, port=port) as src:
            assert src.client.socket().version() in ("TLSv1.2", "TLSv1.3")
            assert src.examine("INBOX").exists == 0
    assert tokens.calls == [False, False]


def test_a_server_that_requires_tls_never_sees_the_token_in_plaintext(provider, tls_dovecot):
    user = tls_dovecot.new_user()
    tokens = TokenSource(provider, user.name)
    with pytest.raises(AuthenticationFailed, match="LOGINDISABLED"):
        source(user, tokens, security="none", port=tls_dovecot.port).connect()
    assert tokens.calls == []  # not even asked for a token


def test_a_server_without_oauth2_says_what_it_offers_and_is_never_sent_a_token(imap_user):
    never = FixedToken("at-never")  # the session Dovecot: passwords only
    with pytest.raises(AuthenticationFailed, match="offers no OAuth2 mechanism.*PLAIN LOGIN"):
        source(imap_user, never).connect()
    assert never.calls == []


# ---- the server's token check is down: try again later ---------------------------------------

def test_an_unreachable_introspection_endpoint_is_server_unavailable_without_a_refresh(provider):
    with OAuth2Dovecot(f"http://127.0.0.1:{free_port()}/introspect") as dovecot:
        user = dovecot.new_user()
        tokens = TokenSource(provider, user.name)
        with pytest.raises(ServerUnavailable, match="UNAVAILABLE"):
            source(user, tokens).connect()
    assert tokens.calls == [False]
