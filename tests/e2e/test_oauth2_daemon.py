"""`kpudesk run` on an OAuth2 mailbox (issue 16), with the peers' provider quirks.

Real servers on loopback: Dovecot checking each token by RFC 7662 introspection
(`passdb { driver = oauth2 }`, tests/servers/dovecot_oauth2.py) at a real HTTP provider
(tests/servers/oauth_provider.py) on the system clock, the SMTP test server, and the daemon
as a separate process with `[imap] auth = "oauth2"` and IDLE on; its refresh token comes
from `kpudesk auth oauth2 imap` by the device-code flow, as an administrator gets it.

What an office relies on:
* access tokens that expire while the daemon runs are renewed by it; no mail waits for a
  person (Zammad #5503: fetching stopped every hour until someone re-authorised);
* a refresh token the provider revoked (Zammad #3292, answered there with a 500) or one
  refused because MFA was switched on after set-up (FreeScout #5122): the daemon keeps
  running, its log names the reason and the command, and after the administrator runs it
  every mail is acknowledged once: nothing lost, nothing twice.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from kpudesk.daemon.settings_write import loopback_sections, settings_toml
from tests.corpus.hostile import party_mail
from tests.servers.dovecot import DOVECOT_BIN, INSTALL_HINT, Dovecot, dovecot_available
from tests.servers.dovecot_oauth2 import OAuth2Dovecot
from tests.servers.idle_rig import IdleDaemon, StampedSmtp, wait_until
from tests.servers.oauth_provider import DEFAULT_CLIENT_ID, FakeProvider

pytestmark = pytest.mark.timeout(180)

LIFETIME = 4  # seconds an access token lives: a run of 20 s spans several


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    with FakeProvider(access_lifetime=LIFETIME) as p:
        yield p


@pytest.fixture(scope="module")
def server(provider: FakeProvider) -> Iterator[Dovecot]:
    assert dovecot_available(), f"Dovecot is required but {DOVECOT_BIN} is missing: {INSTALL_HINT}"
    with OAuth2Dovecot(provider.introspect_url, mechanisms=("xoauth2",)) as dovecot:  # as Microsoft 365
        yield dovecot


@pytest.fixture
def smtp() -> Iterator[StampedSmtp]:
    sink = StampedSmtp().start()
    try:
        yield sink
    finally:
        sink.cleanup()


@pytest.fixture
def oauth2_smtp(provider: FakeProvider) -> Iterator[StampedSmtp]:
    """An SMTP server taking only AUTH XOAUTH2/OAUTHBEARER with a token the provider vouches for."""
    sink = StampedSmtp(oauth2=lambda user, token: provider.user_of(token) == user, auth_require_tls=False).start()
    try:
        yield sink
    finally:
        sink.cleanup()


def oauth2_daemon(root, user, smtp, provider, *, smtp_oauth2: bool = False) -> IdleDaemon:
    """An IdleDaemon whose [imap] (and with `smtp_oauth2` its [smtp]) logs in with OAuth2
    (no password anywhere)."""
    daemon = IdleDaemon(root, user, smtp, idle=True)
    sections = loopback_sections(imap_port=user.port, smtp_port=smtp.port, username=user.name,
                                 password_env="UNUSED", imap={"batch_size": 50, "poll_every": "1h", "idle": True},
                                 helpdesk={"ack_per_hour": 1000, "ack_per_day": 10000})
    del sections["imap"]["password_env"]
    oauth2 = {"auth": "oauth2", "oauth2_client_id": DEFAULT_CLIENT_ID, "oauth2_scope": "mail",
              "oauth2_token_url": provider.token_url, "oauth2_device_url": provider.device_url}
    sections["imap"].update(oauth2)
    if smtp_oauth2:
        sections["smtp"].update({"username": user.name, **oauth2})
    daemon.settings_path.write_text(settings_toml(**sections), encoding="utf-8")
    daemon.env = {k: v for k, v in os.environ.items() if k != "KPUDESK_TEST_IMAP_PASSWORD"}
    return daemon


def sign_in(daemon: IdleDaemon, provider: FakeProvider, user_name: str, section: str = "imap") -> str:
    """`kpudesk auth oauth2 imap|smtp` with the administrator approving the device code;
    the refresh token it stored."""
    proc = subprocess.Popen([sys.executable, "-m", "kpudesk.daemon", "--config", str(daemon.settings_path),
                             "auth", "oauth2", section], cwd=daemon.root, env={**daemon.env, "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "Masukkan kode:" in line:
            provider.approve_device(line.split("Masukkan kode:")[1].strip(), user_name)
            break
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(seen) + out + err
    assert "berhasil" in out, out  # the new token was tried on the real server
    return (daemon.root / "state" / "oauth2" / f"{section}-refresh-token").read_text().strip()


def mail(i: int, tag: str) -> tuple[str, bytes]:
    msgid = f"<{tag}{i}@p{i % 5}.example.org>"
    return msgid, party_mail(f"penghubung{i}@p{i % 5}.example.org", f"Pertanyaan Sipol nomor {i}",
                             f"Bagaimana cara unggah berkas keanggotaan? ({tag}{i})", message_id=msgid)


def acked_once(daemon: IdleDaemon, smtp: StampedSmtp, msgids: list[str]) -> dict[str, tuple[int, int]]:
    """{Message-ID: (acknowledgements at the SMTP server, in the database)}."""
    at_smtp, in_db = smtp.replies_to(), daemon.acks_in_db()
    return {m: (len(at_smtp.get(m, [])), in_db.get(m.strip("<>"), 0)) for m in msgids}


def started(daemon: IdleDaemon) -> IdleDaemon:
    daemon.start()
    assert daemon.wait_log("IMAP IDLE: watching"), "\n".join(daemon.log)
    return daemon


def refreshes(provider: FakeProvider) -> int:
    return sum(1 for path, form in list(provider.requests)
               if path == "/token" and form.get("grant_type") == "refresh_token")


def test_tokens_expiring_during_the_run_are_renewed_and_every_mail_is_answered(tmp_path, provider, server,
                                                                               oauth2_smtp):
    smtp, user = oauth2_smtp, server.new_user()
    daemon = oauth2_daemon(tmp_path / "desk", user, smtp, provider, smtp_oauth2=True)
    refresh = sign_in(daemon, provider, user.name)
    smtp_refresh = sign_in(daemon, provider, user.name, "smtp")
    before = refreshes(provider)
    try:
        started(daemon)
        msgids = []
        for i in range(6):  # one every ~LIFETIME/2 s for 3 lifetimes: each poll logs in anew
            msgid, raw = mail(i, "exp")
            user.append("INBOX", raw)
            msgids.append(msgid)
            assert wait_until(lambda: acked_once(daemon, smtp, [msgid])[msgid] == (1, 1), 15), "\n".join(daemon.log)
            time.sleep(LIFETIME / 2)
        assert acked_once(daemon, smtp, msgids) == {m: (1, 1) for m in msgids}
        assert refreshes(provider) - before >= 4  # IMAP's and SMTP's renewed as they ran out, by itself
        assert {m.mechanism for m in smtp.messages} == {"OAUTHBEARER"}  # preferred when both are offered
        assert daemon.proc.poll() is None
    finally:
        assert daemon.stop() == 0
    log = "\n".join(daemon.log)
    assert refresh not in log and smtp_refresh not in log and "renewed" in log  # renewals told, no token


@pytest.mark.parametrize("quirk, words", [
    ("revoked", "dicabut"),  # Zammad #3292
    ("mfa", "MFA"),          # FreeScout #5122
])
def test_a_refused_refresh_token_keeps_the_daemon_running_and_loses_nothing(tmp_path, provider, server, smtp,
                                                                           quirk, words):
    user = server.new_user()
    daemon = oauth2_daemon(tmp_path / "desk", user, smtp, provider)
    refresh = sign_in(daemon, provider, user.name)
    try:
        started(daemon)
        first, raw = mail(1, quirk)
        user.append("INBOX", raw)
        assert wait_until(lambda: acked_once(daemon, smtp, [first])[first] == (1, 1), 15), "\n".join(daemon.log)

        if quirk == "revoked":
            provider.revoke(refresh)  # and every access token made from it
        else:
            provider.require_mfa(refresh)
        time.sleep(LIFETIME + 1)  # the daemon's access token runs out; renewing it is refused
        waiting, raw = mail(2, quirk)
        user.append("INBOX", raw)  # the IDLE session (logged in before) still tells of it
        assert daemon.wait_log("kpudesk auth oauth2 imap", timeout=20), "\n".join(daemon.log)
        problem = next(line for line in daemon.log if "kpudesk auth oauth2 imap" in line)
        assert words in problem and "Traceback" not in "\n".join(daemon.log)
        time.sleep(1)
        assert daemon.proc.poll() is None  # still running
        assert acked_once(daemon, smtp, [waiting])[waiting] == (0, 0)  # waiting on the server, not lost
        check = subprocess.run([sys.executable, "-m", "kpudesk.daemon", "--config", str(daemon.settings_path), "check"],
                               cwd=daemon.root, env=daemon.env, capture_output=True, text=True, timeout=60)
        assert check.returncode == 2 and "kpudesk auth oauth2 imap" in check.stderr and words in check.stderr
        assert refresh not in check.stdout + check.stderr

        sign_in(daemon, provider, user.name)  # the administrator does what the log says
        third, raw = mail(3, quirk)
        user.append("INBOX", raw)
        msgids = [first, waiting, third]
        assert wait_until(lambda: acked_once(daemon, smtp, msgids) == {m: (1, 1) for m in msgids}, 20), \
            (acked_once(daemon, smtp, msgids), "\n".join(daemon.log))
    finally:
        assert daemon.stop() == 0
