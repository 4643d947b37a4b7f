"""SMTP AUTH with OAuth2 access tokens (SASL OAUTHBEARER / XOAUTH2), on a real aiosmtpd.

The server is the demo's and tests' `MailSink` (daemon/demo/smtp_sink.py) with its OAuth2
authenticator (daemon/demo/smtp_oauth2.py), which asks a real HTTP `FakeProvider` whether a
token is live and answers a dead one as Gmail does: the RFC 7628 error challenge, then 535.
The provider's clock is a FrozenClock; the adapter's token callable is
`tests.token_source.TokenSource`, refreshing at the provider's /token over HTTP.
"""
from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Iterator

import aiosmtplib
import pytest
from kpudesk.mailbox import sasl
from kpudesk.mailbox.errors import AuthenticationFailed
from kpudesk.mailbox.smtp import Envelope, SmtpSender

from tests.servers.oauth_provider import FakeProvider
from tests.smtp_fixtures import SmtpServer
from tests.token_source import LIFETIME, FixedToken, TokenSource, clock, provider, raising, secret_forms  # noqa: F401 - clock, provider: fixtures

pytestmark = pytest.mark.timeout(60)

USER = "helpdesk@kpu.example"
MAIL = (b"From: Helpdesk KPU <helpdesk@kpu.example>\r\nTo: liaison@partai.example\r\n"
        b"Subject: [HD-MSJ #1] Tanda terima\r\nMessage-ID: <oauth2-smtp@kpu.example>\r\n\r\n"
        b"Pesan Anda sudah kami terima.\r\n")
# A Microsoft 365 access token is a JWT of 1.5-2.5 KB; base64 of the SASL message is more.
LONG_TOKEN = "eyJ0eXAiOiJKV1Qi." + "A" * 2400 + ".sig"


def serve(provider: FakeProvider, **kwargs) -> SmtpServer:
    kwargs.setdefault("auth_require_tls", kwargs.get("tls", "none") != "none")
    kwargs.setdefault("oauth2", lambda user, token: provider.user_of(token) == user)
    return SmtpServer(**kwargs).start()


@pytest.fixture
def sink(provider: FakeProvider) -> Iterator[SmtpServer]:
    server = serve(provider)
    yield server
    server.cleanup()


@pytest.fixture
def xoauth2_sink(provider: FakeProvider) -> Iterator[SmtpServer]:
    """Offers only AUTH XOAUTH2 (and LOGIN/PLAIN), like Microsoft 365."""
    server = serve(provider, oauth2_mechanisms=("XOAUTH2",))
    yield server
    server.cleanup()


def sender(server: SmtpServer, oauth2, *, security: str = "none", host: str = "127.0.0.1") -> SmtpSender:
    return SmtpSender(host, server.port, security, USER, None, ca_file=server.ca_file, timeout=10,
                      local_hostname="kpudesk.test", oauth2=oauth2)


def send(smtp: SmtpSender) -> bool:
    [result] = smtp.send_batch([Envelope(1, USER, ("liaison@partai.example",), MAIL)])
    return result.ok


# ---- a valid token logs in ------------------------------------------------------------------

def test_a_valid_token_sends_with_oauthbearer_when_the_server_offers_both(provider, sink):
    tokens = TokenSource(provider, USER)
    assert send(sender(sink, tokens))
    [got] = sink.messages
    assert (got.login, got.mechanism) == (USER, "OAUTHBEARER")
    assert got.data == MAIL
    assert tokens.calls == [False]


def test_a_valid_token_sends_with_xoauth2_where_it_is_the_only_mechanism(provider, xoauth2_sink):
    tokens = TokenSource(provider, USER)
    assert send(sender(xoauth2_sink, tokens))
    [got] = xoauth2_sink.messages
    assert (got.login, got.mechanism) == (USER, "XOAUTH2")


@pytest.mark.parametrize("mechanisms", [("XOAUTH2", "OAUTHBEARER"), ("XOAUTH2",)])
def test_a_token_as_long_as_microsofts_is_accepted(provider, mechanisms):
    server = serve(provider, oauth2=lambda user, token: token == LONG_TOKEN, oauth2_mechanisms=mechanisms)
    try:
        assert send(sender(server, FixedToken(LONG_TOKEN)))
        assert server.messages[0].login == USER
    finally:
        server.cleanup()


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_over_starttls_and_implicit_tls_the_token_logs_in(provider, tls):
    server = serve(provider, tls=tls)
    try:
        tokens = TokenSource(provider, USER)
        assert send(sender(server, tokens, security="starttls" if tls == "starttls" else "tls"))
        [got] = server.messages
        assert got.tls and got.login == USER
    finally:
        server.cleanup()


# ---- expiry: one forced refresh, then success -----------------------------------------------

def test_an_expired_token_is_refreshed_once_on_a_new_connection_and_the_mail_goes(provider, clock, sink):
    tokens = TokenSource(provider, USER)
    smtp = sender(sink, tokens)
    assert send(smtp)
    first = tokens.access

    clock.advance(seconds=LIFETIME + 1)
    assert send(smtp)
    assert tokens.calls == [False, False, True]
    assert tokens.refreshes == 2 and tokens.access != first
    assert len(sink.messages) == 2
    assert sink.connections == 3  # the refused session was closed; the retry had its own
    assert sink.auth_attempts == 3


# ---- a token that stays dead ----------------------------------------------------------------

@pytest.mark.parametrize("mechanisms", [("XOAUTH2", "OAUTHBEARER"), ("XOAUTH2",)])
def test_a_token_that_stays_dead_is_authentication_failed_in_the_servers_words(provider, caplog, mechanisms):
    server = serve(provider, oauth2_mechanisms=mechanisms)
    stale = FixedToken(provider.issue_access(USER))
    provider.revoke(stale.token)

    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(AuthenticationFailed) as failed:
            send(sender(server, stale))
        assert server.messages == []
    finally:
        server.cleanup()
    text = str(failed.value)
    # 535 comes only after the error challenge was acknowledged as RFC 7628 asks (else 501)
    assert "535 5.7.8" in text and "invalid_token" in text and USER in text, text
    assert stale.calls == [False, True]
    assert ">> b'AUTH " in caplog.text  # the server's own log of the session was captured
    for secret in secret_forms(USER, stale.token):
        assert secret not in text and secret not in caplog.text


def test_a_revoked_refresh_token_reaches_the_caller_as_the_token_sources_error(provider, sink):
    tokens = TokenSource(provider, USER)
    sender(sink, tokens).check()
    provider.revoke(tokens.refresh_token)  # also kills the access token issued from it
    with pytest.raises(AuthenticationFailed, match="token refresh refused: invalid_grant"):
        sender(sink, tokens).check()
    assert tokens.calls == [False, False, True]


@pytest.mark.parametrize("error", [AuthenticationFailed("revoked"), ConnectionRefusedError("token endpoint down")])
def test_whatever_the_token_callable_raises_reaches_the_caller_unchanged(sink, error):
    with pytest.raises(type(error)) as failed:
        send(sender(sink, raising(error)))
    assert failed.value is error
    assert sink.messages == []


# ---- where a token may go, and to whom ------------------------------------------------------

def test_no_token_goes_in_plaintext_to_a_host_other_than_loopback(sink):
    never = FixedToken("at-never")
    smtp = sender(sink, never, host="smtp.kpu.invalid")
    with pytest.raises(AuthenticationFailed, match="only over TLS"):
        smtp.check()
    assert never.calls == [] and sink.connections == 0
    assert "at-never" not in repr(smtp)


def test_a_server_without_oauth2_says_what_it_offers_and_is_never_sent_a_token(smtp_auth_server):
    never = FixedToken("at-never")
    with pytest.raises(AuthenticationFailed, match="offers no OAuth2 mechanism.*LOGIN PLAIN"):
        sender(smtp_auth_server, never).check()
    assert never.calls == []


def test_oauth2_needs_the_username_the_token_belongs_to():
    with pytest.raises(ValueError, match="username"):
        SmtpSender("127.0.0.1", 25, "none", None, None, oauth2=FixedToken("at-x"))


# ---- the sink as other clients use it --------------------------------------------------------

def test_the_sink_takes_the_initial_response_on_the_auth_line_too(provider):
    """aiosmtplib's own auth_xoauth2 (and Google's documented exchange) sends the token on
    the AUTH line itself: the sink reads lines up to RFC 4954's 12288 octets there."""
    server = serve(provider, oauth2=lambda user, token: token == LONG_TOKEN)

    async def login(token: str) -> int:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, start_tls=False) as client:
            try:
                return (await client.auth_xoauth2(USER, token)).code
            except aiosmtplib.SMTPAuthenticationError as exc:
                return exc.code

    try:
        assert asyncio.run(login(LONG_TOKEN)) == 235
        assert asyncio.run(login("at-wrong")) == 535
        line = b"AUTH XOAUTH2 " + base64.b64encode(sasl.initial_response("XOAUTH2", sasl.Bearer(USER, LONG_TOKEN)))
        assert len(line) > 3000
    finally:
        server.cleanup()
