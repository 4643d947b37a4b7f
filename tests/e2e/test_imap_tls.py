"""kpudesk's IMAP connection does TLS properly, proven against a real Dovecot with TLS.

One module-scoped Dovecot (`Dovecot(tls=True)`, ``ssl = required``) serves implicit TLS
on ``tls_port`` and plain IMAP + STARTTLS on ``port``, with a certificate for 127.0.0.1
and localhost from a private trustme CA (``ca_file``). A second one has a certificate
naming only imap.example.org (host-name verification).

Certificate verification is on by default: without ``ca_file`` the private CA is not
trusted and the connection is refused -- never a silent fallback to an unverified or
plaintext connection.
"""
from __future__ import annotations

import re
import ssl
from collections.abc import Iterator

import imapclient
import pytest

from kpudesk.mailbox.errors import AuthenticationFailed, ServerUnavailable
from kpudesk.mailbox.imap import ImapSource
from tests.corpus.hostile import party_mail
from tests.desk import Desk
from tests.servers.dovecot import DOVECOT_BIN, INSTALL_HINT, Dovecot, ImapUser, dovecot_available

TIMEOUT = 30.0
EX_USAGE, EX_TEMPFAIL = 2, 75


def _serve(server: Dovecot) -> Iterator[Dovecot]:
    if not dovecot_available():
        pytest.fail(f"Dovecot is required but {DOVECOT_BIN} is missing: {INSTALL_HINT}", pytrace=False)
    with server:
        yield server


@pytest.fixture(scope="module")
def tls_dovecot() -> Iterator[Dovecot]:
    """TLS Dovecot, ``ssl = required``; certificate for 127.0.0.1 and localhost."""
    yield from _serve(Dovecot(tls=True, ssl_mode="required"))


@pytest.fixture(scope="module")
def wrong_name_dovecot() -> Iterator[Dovecot]:
    """TLS Dovecot whose (CA-trusted) certificate names only imap.example.org."""
    yield from _serve(Dovecot(tls=True, cert_hosts=("imap.example.org",)))


@pytest.fixture
def tls_user(tls_dovecot: Dovecot) -> ImapUser:
    return tls_dovecot.new_user()


def source(user: ImapUser, security: str, *, port: int | None = None, host: str = "127.0.0.1",
           ca_file=None) -> ImapSource:
    if port is None:
        port = user.server.tls_port if security == "tls" else user.server.port
    return ImapSource(host, port, security, user.name, user.password, ca_file=ca_file, timeout=TIMEOUT)


def assert_tls(src: ImapSource) -> None:
    sock = src.client.socket()
    assert isinstance(sock, ssl.SSLSocket), f"{src.security}: the session is not encrypted"
    assert sock.version() in ("TLSv1.2", "TLSv1.3")


def assert_verify_failed(exc: BaseException, reason: str = "") -> None:
    msg = str(exc)
    assert "certificate verify failed" in msg.lower(), msg
    assert isinstance(exc.__cause__, ssl.SSLCertVerificationError), repr(exc.__cause__)
    if reason:
        assert reason in msg, msg


# ---- the fixture itself --------------------------------------------------------------------

def test_tls_dovecot_listeners(tls_dovecot):
    d = tls_dovecot
    assert d.ca_file is not None and d.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert len({d.port, d.tls_port, d.direct_port}) == 3
    config = d.config_path.read_text()
    assert "ssl = required" in config and f"port = {d.tls_port}\n    ssl = yes" in config
    plain = imapclient.IMAPClient(d.host, d.port, ssl=False, timeout=TIMEOUT)
    try:
        caps = set(plain.capabilities())
        assert {b"STARTTLS", b"LOGINDISABLED"} <= caps  # ssl = required, as a remote client sees it
    finally:
        plain.shutdown()


# ---- (a) (b) implicit TLS ------------------------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_implicit_tls_with_the_ca_file_logs_in(tls_dovecot, tls_user, host):
    uid = tls_user.append("INBOX", party_mail("budi@gelora.example.org", "Lewat TLS", "isi"))
    with source(tls_user, "tls", host=host, ca_file=tls_dovecot.ca_file) as src:
        assert_tls(src)
        status = src.examine("INBOX")
        assert status.exists == 1 and src.uids_above(status, 0) == [uid]


def test_implicit_tls_without_the_ca_file_is_refused(tls_user):
    src = source(tls_user, "tls", ca_file=None)
    with pytest.raises(ServerUnavailable) as err:
        src.connect()
    assert_verify_failed(err.value)
    assert src.client is None


def test_implicit_tls_on_a_plain_port_fails_instead_of_going_plain(tls_dovecot, tls_user):
    with pytest.raises(ServerUnavailable):
        source(tls_user, "tls", port=tls_dovecot.port, ca_file=tls_dovecot.ca_file).connect()


# ---- (c) STARTTLS --------------------------------------------------------------------------

def test_starttls_with_the_ca_file_logs_in(tls_dovecot, tls_user):
    with source(tls_user, "starttls", ca_file=tls_dovecot.ca_file) as src:
        assert_tls(src)
        assert src.examine("INBOX").exists == 0


def test_starttls_without_the_ca_file_is_refused(tls_user):
    with pytest.raises(ServerUnavailable) as err:
        source(tls_user, "starttls", ca_file=None).connect()
    assert_verify_failed(err.value)


def test_starttls_against_a_server_without_starttls_does_not_fall_back_to_plain(dovecot, imap_user):
    """The session Dovecot has ``ssl = no``: no STARTTLS capability. kpudesk must refuse,
    not log in over plaintext."""
    src = ImapSource(imap_user.host, imap_user.port, "starttls", imap_user.name, imap_user.password,
                     timeout=TIMEOUT)
    with pytest.raises(ServerUnavailable, match="STARTTLS"):
        src.connect()
    assert src.client is None


# ---- (d) host-name verification ------------------------------------------------------------

@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_a_certificate_for_another_host_is_refused(wrong_name_dovecot, security):
    d = wrong_name_dovecot
    user = d.new_user()  # the helpers trust the CA but skip the name check: the server works
    with pytest.raises(ServerUnavailable) as err:
        source(user, security, ca_file=d.ca_file).connect()
    # Trusted CA, wrong name: OpenSSL reports the mismatch, not an unknown issuer.
    assert_verify_failed(err.value, "IP address mismatch")


def test_connecting_by_a_name_the_certificate_lacks_is_refused(wrong_name_dovecot):
    user = wrong_name_dovecot.new_user()
    with pytest.raises(ServerUnavailable) as err:
        source(user, "tls", host="localhost", ca_file=wrong_name_dovecot.ca_file).connect()
    assert_verify_failed(err.value, "Hostname mismatch")


# ---- (e) ssl = required refuses plaintext logins -------------------------------------------

def test_without_tls_the_login_is_refused(tls_user):
    """security="none" against ``ssl = required``: Dovecot advertises LOGINDISABLED, so
    kpudesk never sends the password (RFC 3501 6.2.3) and reports AuthenticationFailed
    (exit 2, "login ditolak server") with a hint to turn TLS on."""
    src = source(tls_user, "none")
    with pytest.raises(AuthenticationFailed) as err:
        src.connect()
    assert src.client is None
    assert "LOGINDISABLED" in str(err.value) and "starttls" in str(err.value)


# ---- (f) the whole poll over TLS -----------------------------------------------------------

def _tls_desk(root, user: ImapUser, security: str, ca_file) -> Desk:
    server = user.server
    port = server.tls_port if security == "tls" else server.port
    desk = Desk(root, user, imap_port=port)
    text = desk.settings_path.read_text(encoding="utf-8")
    m = re.search(r"^\[imap\]\n.*?(?=^\[)", text, re.M | re.S)
    assert m and 'security = "none"\n' in m.group(0), "tests/desk.py changed its [imap] section"
    extra = f'ca_file = "{ca_file}"\n' if ca_file else ""
    imap = m.group(0).replace('security = "none"\n', f'security = "{security}"\n{extra}', 1)
    desk.settings_path.write_text(text[: m.start()] + imap + text[m.end():], encoding="utf-8")
    return desk


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_kpudesk_poll_over_tls_makes_a_ticket(tmp_path, tls_dovecot, tls_user, security):
    desk = _tls_desk(tmp_path / "desk", tls_user, security, tls_dovecot.ca_file)
    settings = desk.settings_path.read_text()
    assert f'security = "{security}"' in settings and str(tls_dovecot.ca_file) in settings
    tls_user.append("INBOX", party_mail(
        "Budi Santoso <budi@gelora.example.org>", "Pertanyaan lewat IMAP TLS",
        "Selamat pagi, bagaimana cara unggah KTA?\n"))
    stats = desk.json("poll")
    assert stats["fetched"] == 1 and stats["tickets_created"] == 1
    tickets = desk.json("tickets", "list")
    assert len(tickets) == 1 and tickets[0]["requester"] == "budi@gelora.example.org"
    assert desk.json("poll")["fetched"] == 0


def test_kpudesk_poll_without_the_ca_file_fails_and_stores_nothing(tmp_path, tls_user):
    desk = _tls_desk(tmp_path / "desk", tls_user, "tls", None)
    tls_user.append("INBOX", party_mail("budi@gelora.example.org", "Tidak boleh masuk", "isi"))
    r = desk.run("poll", "--json")
    assert r.code == EX_TEMPFAIL, (r.code, r.err)  # ServerUnavailable: "coba lagi nanti"
    assert "certificate verify failed" in r.err.lower()
    assert desk.json("tickets", "list") == []
