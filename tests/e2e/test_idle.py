"""IMAP IDLE (issue 16 item 2): `kpudesk run` with `[imap] idle = true` against the real
Dovecot and the SMTP test server. The hourly poll (poll_every = 1h) runs once at start, so
an acknowledgement within seconds of a later APPEND can only come from IDLE."""
from __future__ import annotations

import random
import threading
import time

import pytest

from kpudesk.mailbox.errors import ServerUnavailable
from kpudesk.mailbox.imap import ImapSource
from kpudesk.mailbox.imap_idle import IdleUnsupported, IdleWatcher
from tests.corpus.hostile import party_mail
from tests.servers.dovecot import Dovecot, free_port
from tests.servers.idle_rig import IdleDaemon, RigProxy, StampedSmtp, wait_until


@pytest.fixture
def smtp():
    server = StampedSmtp().start()
    try:
        yield server
    finally:
        server.cleanup()


def mail(i: int, tag: str = "q") -> tuple[str, bytes]:
    msgid = f"<{tag}{i}@p{i % 7}.example.org>"
    return msgid, party_mail(f"pemilih{i}@p{i % 7}.example.org", f"Pertanyaan DPT nomor {i}",
                             f"Apakah nama saya terdaftar? ({tag}{i})", message_id=msgid)


def started(daemon: IdleDaemon) -> IdleDaemon:
    """Started, past its first (start-up) poll; with IDLE on, watching."""
    daemon.start()
    assert daemon.wait_log("kpudesk daemon started"), "\n".join(daemon.log)
    assert daemon.wait_log("report followup"), "\n".join(daemon.log)  # the start tick is past its poll
    return daemon


def assert_each_acknowledged_once(daemon: IdleDaemon, smtp: StampedSmtp, msgids: list[str]) -> None:
    at_smtp = smtp.replies_to()
    assert {m: len(at_smtp.get(m, [])) for m in msgids} == {m: 1 for m in msgids}
    in_db = daemon.acks_in_db()
    assert {m: in_db.get(m.strip("<>"), 0) for m in msgids} == {m: 1 for m in msgids}


def test_one_message_is_acknowledged_within_seconds(tmp_path, imap_user, smtp):
    daemon = started(IdleDaemon(tmp_path / "desk", imap_user, smtp))
    try:
        assert daemon.wait_log("IMAP IDLE: watching INBOX"), "\n".join(daemon.log)
        msgid, raw = mail(1)
        t0 = time.monotonic()
        imap_user.append("INBOX", raw)
        assert wait_until(lambda: msgid in smtp.replies_to(), 10), "\n".join(daemon.log)
        latency = smtp.replies_to()[msgid][0] - t0
        assert latency < 5, latency
        ack = next(r for r in smtp.messages if r.message["In-Reply-To"] == msgid)
        assert ack.rcpt_tos == ["pemilih1@p1.example.org"]
    finally:
        t_stop = time.monotonic()
        assert daemon.stop() == 0
        assert time.monotonic() - t_stop < 8  # SIGTERM ends the IDLE promptly
    assert any("kpudesk daemon stopped" in line for line in daemon.log)


@pytest.mark.timeout(180)
def test_mail_at_random_short_intervals_is_each_acknowledged_exactly_once(tmp_path, imap_user, smtp):
    daemon = started(IdleDaemon(tmp_path / "desk", imap_user, smtp))
    rnd = random.Random(16)
    msgids = []
    try:
        assert daemon.wait_log("IMAP IDLE: watching INBOX")
        for i in range(40):
            msgid, raw = mail(i)
            imap_user.append("INBOX", raw)
            msgids.append(msgid)
            time.sleep(rnd.uniform(0.0, 0.4))
        assert wait_until(lambda: len(smtp.messages) >= len(msgids), 30), "\n".join(daemon.log[-20:])
        time.sleep(2)  # a duplicate would come now
        assert_each_acknowledged_once(daemon, smtp, msgids)
    finally:
        assert daemon.stop() == 0


@pytest.mark.timeout(180)
def test_a_cut_connection_is_reopened_and_nothing_is_missed_or_sent_twice(tmp_path, imap_user, smtp):
    proxy = RigProxy(imap_user.host, imap_user.port).start()
    daemon = started(IdleDaemon(tmp_path / "desk", imap_user, smtp, imap_port=proxy.port))
    msgids = []

    def append(tag: str, n: int) -> None:
        for i in range(n):
            msgid, raw = mail(i, tag)
            imap_user.append("INBOX", raw)  # straight to Dovecot: mail keeps arriving during the outage
            msgids.append(msgid)
            time.sleep(0.1)

    try:
        assert daemon.wait_log("IMAP IDLE: watching INBOX")
        append("before", 8)
        assert wait_until(lambda: len(smtp.messages) >= 8, 20)
        proxy.stop()  # the network drops: the IDLE connection is cut, reconnects are refused
        assert daemon.wait_log("reconnecting in", timeout=10), "\n".join(daemon.log[-10:])  # the loss is logged
        append("during", 8)
        time.sleep(1)
        assert len(smtp.messages) == 8  # nobody can see the new mail yet
        proxy.start()
        assert daemon.wait_log("IMAP IDLE: reconnected", timeout=30), "\n".join(daemon.log[-10:])
        # what came during the outage is polled as soon as the watcher is back, not at the next mail
        assert wait_until(lambda: len(smtp.messages) >= 16, 15), "\n".join(daemon.log[-20:])
        append("after", 8)
        assert wait_until(lambda: len(smtp.messages) >= 24, 30), "\n".join(daemon.log[-20:])
        time.sleep(2)
        assert_each_acknowledged_once(daemon, smtp, msgids)
        assert proxy.open_connections() == 1  # the IDLE connection again, nothing left behind
    finally:
        assert daemon.stop() == 0
        proxy.stop()


@pytest.mark.timeout(180)
def test_a_dovecot_restart_mid_run_is_survived_with_nothing_missed_or_twice(tmp_path, smtp):
    with Dovecot(port=free_port()) as server:  # its own server, on a fixed port: restarted below
        user = server.new_user()
        daemon = started(IdleDaemon(tmp_path / "desk", user, smtp))
        msgids = []

        def append(tag: str, n: int, pause: float = 0.1) -> None:
            for i in range(n):
                msgid, raw = mail(i, tag)
                user.append("INBOX", raw)
                msgids.append(msgid)
                time.sleep(pause)

        try:
            assert daemon.wait_log("IMAP IDLE: watching INBOX")
            append("before", 6)
            append("racing", 4, pause=0)  # polls may be cut short by the shutdown that follows
            server.stop()  # "* BYE Server shutting down." to the IDLE session, then the processes go
            assert daemon.wait_log("reconnecting in", timeout=10), "\n".join(daemon.log[-10:])
            server.start()
            assert server.port == user.port
            assert daemon.wait_log("IMAP IDLE: reconnected", timeout=30), "\n".join(daemon.log[-10:])
            append("after", 6)
            assert wait_until(lambda: len(smtp.messages) >= 16, 30), "\n".join(daemon.log[-20:])
            time.sleep(2)
            assert_each_acknowledged_once(daemon, smtp, msgids)
        finally:
            assert daemon.stop() == 0


def test_idle_off_keeps_no_connection_and_waits_for_the_poll(tmp_path, imap_user, smtp):
    proxy = RigProxy(imap_user.host, imap_user.port).start()
    daemon = started(IdleDaemon(tmp_path / "desk", imap_user, smtp, imap_port=proxy.port, idle=False))
    try:
        assert wait_until(lambda: proxy.open_connections() == 0, 10)  # the start-up poll logged out
        msgid, raw = mail(1)
        imap_user.append("INBOX", raw)
        time.sleep(5)
        assert proxy.open_connections() == 0
        assert msgid not in smtp.replies_to()  # the hourly poll will take it
        assert not any("IDLE" in line for line in daemon.log)
    finally:
        assert daemon.stop() == 0
        proxy.stop()


def test_a_server_without_idle_is_said_once_and_the_daemon_keeps_polling(tmp_path, imap_user, smtp):
    proxy = RigProxy(imap_user.host, imap_user.port, strip_idle=True).start()
    daemon = started(IdleDaemon(tmp_path / "desk", imap_user, smtp, imap_port=proxy.port))
    try:
        assert daemon.wait_log("does not offer IDLE", timeout=10), "\n".join(daemon.log)
        msgid, raw = mail(1)
        imap_user.append("INBOX", raw)
        time.sleep(4)
        assert msgid not in smtp.replies_to()
        assert sum("does not offer IDLE" in line for line in daemon.log) == 1
        assert proxy.open_connections() == 0  # it logged out and did not try again
        assert daemon.proc.poll() is None
    finally:
        assert daemon.stop() == 0
        proxy.stop()


# --- the watcher itself, in process, against the same Dovecot --------------------------------

def _watch(imap_user, port: int, **kw):
    source = ImapSource(imap_user.host, port, "none", imap_user.name, imap_user.password, timeout=10)
    stop, news, errors = threading.Event(), [], []
    watcher = IdleWatcher(source, "INBOX", on_new=lambda: news.append(time.monotonic()), should_stop=stop.is_set,
                          check=kw.pop("check", 0.5), **kw)

    def run():
        try:
            watcher.run()
        except Exception as exc:  # noqa: BLE001 - the test reads it
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return watcher, stop, news, errors, thread


def test_the_watcher_renews_idle_and_hears_each_append(imap_user):
    ready = threading.Event()
    watcher, stop, news, errors, thread = _watch(imap_user, imap_user.port, renew=1.0, on_ready=ready.set)
    try:
        assert ready.wait(10)
        time.sleep(3.5)
        assert watcher.renewals >= 3  # IDLE re-issued every `renew` seconds
        assert news == []  # a quiet mailbox says nothing
        imap_user.append("INBOX", mail(1)[1])
        assert wait_until(lambda: len(news) >= 1, 5)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and errors == []


def test_the_watcher_reports_a_dropped_connection_instead_of_spinning(imap_user):
    proxy = RigProxy(imap_user.host, imap_user.port).start()
    ready = threading.Event()
    watcher, stop, news, errors, thread = _watch(imap_user, proxy.port, renew=600, on_ready=ready.set)
    try:
        assert ready.wait(10) and wait_until(lambda: watcher.renewals == 1, 5)
        time.sleep(0.5)  # in IDLE, blocked in idle_check
        renewals = watcher.renewals
        proxy.stop()
        thread.join(5)
        assert not thread.is_alive()
        assert len(errors) == 1 and isinstance(errors[0], ServerUnavailable)
        assert watcher.renewals - renewals <= 1  # at most one check of the early empty answer
    finally:
        stop.set()
        proxy.stop()


def test_the_watcher_says_when_the_server_lacks_idle(imap_user):
    proxy = RigProxy(imap_user.host, imap_user.port, strip_idle=True).start()
    try:
        _watcher, _stop, _news, errors, thread = _watch(imap_user, proxy.port, renew=600)
        thread.join(10)
        assert len(errors) == 1 and isinstance(errors[0], IdleUnsupported)
        assert "does not offer IDLE" in str(errors[0])
    finally:
        proxy.stop()
