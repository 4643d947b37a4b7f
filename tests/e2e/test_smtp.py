"""SmtpSender against real aiosmtpd servers on 127.0.0.1 (tests/servers/smtp.py)."""
from __future__ import annotations

import logging
from email.message import EmailMessage

import pytest

from kpudesk.mailbox.errors import AuthenticationFailed, ServerUnavailable
from kpudesk.mailbox.smtp import Envelope, SendResult, SmtpSender
from tests.servers.smtp import SmtpServer, free_port
from tests.smtp_fixtures import SMTP_PASSWORD, SMTP_USER

pytestmark = pytest.mark.timeout(60)

SENDER = "helpdesk@kpu-test.example"
SECRET_BODY = "Isi rahasia pengaduan nomor 4242"


def make_mail(n: int, to: str = "pelapor@example.org", body: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = to
    msg["Subject"] = f"[Tiket #{n}] Balasan"
    msg["Message-ID"] = f"<reply-{n}@kpu-test.example>"
    msg.set_content(body or f"Balasan nomor {n}.\n")
    return msg.as_bytes()


def envelope(n: int, *recipients: str, body: str | None = None) -> Envelope:
    recipients = recipients or ("pelapor@example.org",)
    return Envelope(key=n, sender=SENDER, recipients=tuple(recipients), data=make_mail(n, recipients[0], body))


def sender_for(server: SmtpServer, security: str = "none", *, auth: bool = False, trust: bool = True,
               **kw) -> SmtpSender:
    kw.setdefault("timeout", 10.0)
    return SmtpSender(
        server.host, server.port, security,
        SMTP_USER if auth else None, SMTP_PASSWORD if auth else None,
        ca_file=server.ca_file if trust else None, local_hostname="desk.kpu-test.example", **kw,
    )


# ---- delivery -----------------------------------------------------------------------------

def test_batch_of_three_over_one_connection(smtp_server, caplog):
    caplog.set_level(logging.INFO, logger="kpudesk.mailbox.smtp")
    results = sender_for(smtp_server).send_batch([envelope(1), envelope(2, "a@example.org", "b@example.org"),
                                                  envelope(3)])
    assert [r.key for r in results] == [1, 2, 3]
    assert all(r.ok and not r.permanent and r.code == 250 for r in results)
    assert "queued as test-1" in results[0].message
    assert smtp_server.connections == 1
    assert [m.message["Subject"] for m in smtp_server.messages] == [
        "[Tiket #1] Balasan", "[Tiket #2] Balasan", "[Tiket #3] Balasan"]
    assert smtp_server.messages[1].rcpt_tos == ["a@example.org", "b@example.org"]
    assert smtp_server.messages[0].mail_from == SENDER
    assert smtp_server.messages[0].tls is False
    assert smtp_server.helo_names == ["desk.kpu-test.example"]
    assert "3 message(s)" in caplog.text and smtp_server.host in caplog.text


def test_empty_batch_does_not_connect(smtp_server):
    assert sender_for(smtp_server).send_batch([]) == []
    assert smtp_server.connections == 0


def test_body_never_logged(caplog):
    caplog.set_level(logging.DEBUG)
    srv = SmtpServer(reject={"ditolak@example.org": 550})
    with srv:
        sender_for(srv).send_batch([envelope(1, body=SECRET_BODY), envelope(2, "ditolak@example.org",
                                                                             body=SECRET_BODY)])
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("kpudesk")]
    assert ours and not any(SECRET_BODY in line for line in ours)


def test_8bit_body_sent_with_8bitmime(smtp_server):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SENDER, "x@example.org", "8bit"
    msg.set_content("Terima kasih — salam ✓\n", cte="8bit")
    raw = msg.as_bytes()
    assert not raw.isascii()
    [result] = sender_for(smtp_server).send_batch([Envelope(1, SENDER, ("x@example.org",), raw)])
    assert result.ok, result
    received = smtp_server.messages[0]
    assert "BODY=8BITMIME" in received.mail_options
    assert received.message.get_content().rstrip() == "Terima kasih — salam ✓"


# ---- TLS ----------------------------------------------------------------------------------

def test_starttls_with_ca_file(smtp_starttls_server):
    results = sender_for(smtp_starttls_server, "starttls", auth=True).send_batch([envelope(1)])
    assert results[0].ok
    received = smtp_starttls_server.messages[0]
    assert received.tls is True and received.login == SMTP_USER


def test_starttls_untrusted_certificate_is_server_unavailable(smtp_starttls_server):
    """Verification is on by default: the trustme CA is not in the system store."""
    with pytest.raises(ServerUnavailable, match="certificate"):
        sender_for(smtp_starttls_server, "starttls", auth=True, trust=False).send_batch([envelope(1)])
    assert smtp_starttls_server.messages == []
    assert smtp_starttls_server.auth_attempts == 0  # no credentials over an unverified channel


def test_implicit_tls_with_ca_file(smtp_tls_server):
    results = sender_for(smtp_tls_server, "tls", auth=True).send_batch([envelope(1), envelope(2)])
    assert [r.ok for r in results] == [True, True]
    assert smtp_tls_server.connections == 1
    assert all(m.tls and m.login == SMTP_USER for m in smtp_tls_server.messages)


def test_implicit_tls_untrusted_certificate_is_server_unavailable(smtp_tls_server):
    with pytest.raises(ServerUnavailable, match="certificate"):
        sender_for(smtp_tls_server, "tls", auth=True, trust=False).send_batch([envelope(1)])
    assert smtp_tls_server.messages == [] and smtp_tls_server.auth_attempts == 0


@pytest.mark.parametrize("tls, security", [("starttls", "starttls"), ("implicit", "tls")])
def test_hostname_is_verified(tls, security):
    """A certificate from the trusted CA but for another name must be refused."""
    with SmtpServer(tls=tls, auth=(SMTP_USER, SMTP_PASSWORD), cert_hosts=("mail.kpu-lain.example",)) as srv:
        with pytest.raises(ServerUnavailable, match="certificate"):
            sender_for(srv, security, auth=True).send_batch([envelope(1)])
        assert srv.messages == [] and srv.auth_attempts == 0


def test_starttls_not_offered_is_an_error_not_a_downgrade(smtp_auth_server):
    """security=starttls against a server without STARTTLS: no plaintext AUTH, no mail."""
    with pytest.raises(ServerUnavailable, match="STARTTLS"):
        sender_for(smtp_auth_server, "starttls", auth=True).send_batch([envelope(1)])
    with pytest.raises(ServerUnavailable, match="STARTTLS"):
        sender_for(smtp_auth_server, "starttls", auth=True).check()
    assert smtp_auth_server.messages == []
    assert smtp_auth_server.auth_attempts == 0


def test_tls_against_plain_server_fails(smtp_server):
    with pytest.raises(ServerUnavailable):
        sender_for(smtp_server, "tls", timeout=3.0).send_batch([envelope(1)])
    assert smtp_server.messages == []


# ---- AUTH ---------------------------------------------------------------------------------

def test_auth_accepted(smtp_auth_server):
    results = sender_for(smtp_auth_server, auth=True).send_batch([envelope(1)])
    assert results[0].ok
    assert smtp_auth_server.messages[0].login == SMTP_USER


def test_wrong_password_is_authentication_failed(smtp_starttls_server):
    s = SmtpSender(smtp_starttls_server.host, smtp_starttls_server.port, "starttls", SMTP_USER, "salah",
                   ca_file=smtp_starttls_server.ca_file, timeout=10)
    with pytest.raises(AuthenticationFailed):
        s.send_batch([envelope(1)])
    with pytest.raises(AuthenticationFailed):
        s.check()
    assert smtp_starttls_server.messages == []
    assert smtp_starttls_server.auth_attempts >= 1


def test_missing_credentials_is_authentication_failed(smtp_auth_server):
    """The server answers 530 to MAIL FROM: a settings problem, nothing was sent."""
    with pytest.raises(AuthenticationFailed, match="530"):
        sender_for(smtp_auth_server).send_batch([envelope(1), envelope(2)])
    assert smtp_auth_server.messages == []


def test_auth_not_offered_over_plaintext_is_authentication_failed():
    with SmtpServer(auth=(SMTP_USER, SMTP_PASSWORD)) as srv:  # AUTH only after TLS, but no TLS
        with pytest.raises(AuthenticationFailed):
            sender_for(srv, auth=True).send_batch([envelope(1)])
        assert srv.messages == []


# ---- availability -------------------------------------------------------------------------

def test_server_down_is_server_unavailable():
    port = free_port()
    s = SmtpSender("127.0.0.1", port, "none", None, None, timeout=5)
    with pytest.raises(ServerUnavailable):
        s.send_batch([envelope(1)])
    with pytest.raises(ServerUnavailable):
        s.check()


def test_outage_then_back_on_same_port():
    with SmtpServer(tls="starttls", auth=(SMTP_USER, SMTP_PASSWORD)) as srv:
        s = sender_for(srv, "starttls", auth=True)
        port = srv.port
        assert s.send_batch([envelope(1)])[0].ok
        srv.stop()
        srv.stop()  # idempotent
        with pytest.raises(ServerUnavailable):
            s.send_batch([envelope(2)])
        srv.start()
        assert srv.port == port
        assert s.send_batch([envelope(3)])[0].ok
        assert [m.message["Message-ID"] for m in srv.messages] == [
            "<reply-1@kpu-test.example>", "<reply-3@kpu-test.example>"]


def test_connection_lost_mid_batch_marks_rest_temporary():
    with SmtpServer(drop_after=2) as srv:
        results = sender_for(srv).send_batch([envelope(n) for n in range(1, 6)])
    assert [r.ok for r in results] == [True, True, False, False, False]
    assert [r.key for r in results] == [1, 2, 3, 4, 5]
    assert all(not r.permanent for r in results[2:])
    assert len(srv.messages) == 2
    assert srv.connections == 1


def test_slow_server_times_out_as_temporary():
    with SmtpServer(data_delay=3.0) as srv:
        results = sender_for(srv, timeout=1.0).send_batch([envelope(1), envelope(2)])
    assert [(r.ok, r.permanent) for r in results] == [(False, False), (False, False)]
    assert "not attempted" in results[1].message


# ---- refusals -----------------------------------------------------------------------------

def test_550_recipient_is_permanent_451_temporary_and_batch_continues():
    with SmtpServer(reject={"hilang@example.org": 550, "sibuk@example.org": 451}) as srv:
        results = sender_for(srv).send_batch([
            envelope(1, "hilang@example.org"), envelope(2, "sibuk@example.org"), envelope(3),
        ])
    r550, r451, r_ok = results
    assert (r550.ok, r550.permanent, r550.code) == (False, True, 550)
    assert "hilang@example.org" in r550.message
    assert (r451.ok, r451.permanent, r451.code) == (False, False, 451)
    assert r_ok.ok
    assert len(srv.messages) == 1 and srv.connections == 1


def test_mixed_all_refused_is_temporary_when_any_4xx():
    with SmtpServer(reject={"hilang@example.org": 550, "sibuk@example.org": 451}) as srv:
        [r] = sender_for(srv).send_batch([envelope(1, "hilang@example.org", "sibuk@example.org")])
    assert (r.ok, r.permanent, r.code) == (False, False, 451)


def test_partial_refusal_counts_as_sent():
    with SmtpServer(reject={"hilang@example.org": 550}) as srv:
        [r] = sender_for(srv).send_batch([envelope(1, "ada@example.org", "hilang@example.org")])
    assert r.ok and r.code == 250
    assert "hilang@example.org" in r.message and "550" in r.message
    assert srv.messages[0].rcpt_tos == ["ada@example.org"]


@pytest.mark.parametrize("code, permanent", [(554, True), (452, False)])
def test_data_refused(code, permanent):
    with SmtpServer(fail_data_code=code) as srv:
        results = sender_for(srv).send_batch([envelope(1), envelope(2)])
    assert [(r.ok, r.permanent, r.code) for r in results] == [(False, permanent, code)] * 2
    assert srv.messages == []


def test_envelope_without_recipients_is_permanent(smtp_server):
    results = sender_for(smtp_server).send_batch([Envelope(7, SENDER, (), make_mail(7)), envelope(8)])
    assert results[0] == SendResult(7, False, True, None, "no recipients")
    assert results[1].ok


# ---- check --------------------------------------------------------------------------------

def test_check_plain(smtp_server):
    banner = sender_for(smtp_server).check()
    assert banner.startswith("220 kpudesk-test-smtp")
    assert smtp_server.connections == 1 and smtp_server.messages == []


def test_check_starttls_auth(smtp_starttls_server):
    assert sender_for(smtp_starttls_server, "starttls", auth=True).check().startswith("220 ")
    assert smtp_starttls_server.auth_attempts == 1


def test_check_implicit_tls(smtp_tls_server):
    assert sender_for(smtp_tls_server, "tls", auth=True).check().startswith("220 ")
    with pytest.raises(ServerUnavailable):
        sender_for(smtp_tls_server, "tls", auth=True, trust=False).check()


def test_invalid_security_rejected():
    with pytest.raises(ValueError):
        SmtpSender("127.0.0.1", 25, "ssl", None, None)
