"""`kpudesk run` under a systemd watchdog (issue 11 item 3).

systemd is not PID 1 here (no user manager for `systemd-run --user`), so a harness plays
its part: it binds the $NOTIFY_SOCKET datagram socket, sets WATCHDOG_USEC, reads READY=1
and WATCHDOG=1, and kills the daemon as systemd would when WATCHDOG=1 stops arriving for
WatchdogSec. The workload is scaled down (WatchdogSec 4 s instead of 120, a link throttled
to a few MB/s so the poll outlasts several WatchdogSec); bench/bigmail.py runs the full size.
"""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.corpus.bigmail import attachment_mail, pathological
from tests.desk import Desk
from tests.servers.proxy import Proxy

MB = 1024 * 1024
WATCHDOG_SEC = 4.0


class SlowProxy(Proxy):
    """Server-to-client bytes at `rate` bytes/s; `hang` stops them altogether."""

    def __init__(self, *a, rate: float, **kw) -> None:
        super().__init__(*a, **kw)
        self.rate = rate
        self.hang = threading.Event()

    def _pump(self, src, dst, outward, client, upstream, pending) -> None:
        if outward:
            return super()._pump(src, dst, outward, client, upstream, pending)
        real_send = dst.sendall

        class Slow:
            def __getattr__(_self, name):
                return getattr(dst, name)

            def sendall(_self, data):
                for i in range(0, len(data), 16384):
                    while self.hang.is_set():
                        time.sleep(0.1)
                    piece = data[i:i + 16384]
                    time.sleep(len(piece) / self.rate)
                    real_send(piece)

        return super()._pump(src, Slow(), outward, client, upstream, pending)


class FakeSystemd:
    """The notify socket and the watchdog of a Type=notify unit with WatchdogSec."""

    def __init__(self, folder: Path, watchdog_sec: float) -> None:
        self.path = str(folder / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.watchdog_sec = watchdog_sec
        self.messages: list[tuple[float, str]] = []

    def env(self) -> dict[str, str]:
        return {"NOTIFY_SOCKET": self.path, "WATCHDOG_USEC": str(int(self.watchdog_sec * 1_000_000))}

    def supervise(self, proc, done, limit: float) -> str:
        """Run until `done()` (returns "done"), the watchdog fires ("killed": SIGKILL sent),
        the process exits ("exited") or `limit` seconds pass ("timeout")."""
        start = time.monotonic()
        last = start  # systemd's start-up timeout plays the watchdog's part until READY
        while time.monotonic() - start < limit:
            try:
                text = self.sock.recv(4096).decode()
                now = time.monotonic()
                self.messages.append((now - start, text))
                if "WATCHDOG=1" in text or "READY=1" in text:
                    last = now
            except TimeoutError:
                pass
            if proc.poll() is not None:
                return "exited"
            if time.monotonic() - last > self.watchdog_sec:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return "killed"
            if done():
                return "done"
        return "timeout"

    def close(self) -> None:
        """Read what is left (STOPPING=1 comes after supervision ended), then close."""
        self.sock.settimeout(0)
        try:
            while True:
                self.messages.append((-1.0, self.sock.recv(4096).decode()))
        except (BlockingIOError, TimeoutError):
            pass
        self.sock.close()


def _tree_rss(pid: int, source: str = "status", key: str = "VmRSS:") -> int:
    """Sum of VmRSS (bytes; or another kB field of another /proc file) of `pid` and its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in open(f"/proc/{p}/{source}"):
                if line.startswith(key):
                    total += int(line.split()[1]) * 1024
            for t in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in open(f"/proc/{p}/task/{t}/children").read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _stored(desk: Desk) -> int:
    try:
        db = sqlite3.connect(desk.root / "state" / "kpudesk.db", timeout=0.1)
        try:
            n = db.execute("SELECT COUNT(*) FROM message WHERE direction = 'in'").fetchone()[0]
            q = db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0]
            return n + q
        finally:
            db.close()
    except sqlite3.Error:
        return -1


def _daemon(tmp_path, imap_user, port: int, fake: FakeSystemd) -> tuple[Desk, object]:
    desk = Desk(tmp_path / "desk", imap_user, imap_port=port)
    text = desk.settings_path.read_text()
    desk.settings_path.write_text(text.replace("batch_size = 50", "batch_size = 50\ntimeout = 300", 1))
    proc = desk.spawn("run", cwd=desk.root, env={**os.environ, **desk.env, **fake.env()})
    return desk, proc


@pytest.mark.timeout(120)
def test_the_daemon_survives_a_long_poll_of_large_and_hostile_mail_under_the_watchdog(tmp_path, imap_user):
    mails = [attachment_mail(n, 2 * MB) for n in range(12)] + pathological(100, scale=0.25)
    imap_user.append_many("INBOX", mails)
    total = sum(len(m) for m in mails)
    fake = FakeSystemd(tmp_path, WATCHDOG_SEC)
    with SlowProxy(imap_user.host, imap_user.port, rate=total / (3 * WATCHDOG_SEC)) as proxy:
        desk, proc = _daemon(tmp_path, imap_user, proxy.port, fake)
        peak = 0

        def done() -> bool:
            nonlocal peak
            peak = max(peak, _tree_rss(proc.pid))
            return _stored(desk) >= len(mails)

        try:
            t0 = time.monotonic()
            outcome = fake.supervise(proc, done, limit=90)
            took = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
            fake.close()
    ready = [t for t, m in fake.messages if "READY=1" in m]
    assert outcome == "done", (outcome, fake.messages, err.decode()[-3000:])
    assert took > 2 * WATCHDOG_SEC, took  # the poll did outlast the watchdog several times over
    assert ready and ready[0] < WATCHDOG_SEC  # READY before the first poll, not after it
    assert proc.returncode == 0 and any("STOPPING=1" in m for _, m in fake.messages)
    assert peak < 200 * MB, peak / MB


@pytest.mark.timeout(120)
def test_a_daemon_hung_mid_fetch_stops_feeding_the_watchdog_and_is_killed(tmp_path, imap_user):
    imap_user.append_many("INBOX", [attachment_mail(n, 1 * MB) for n in range(6)])
    fake = FakeSystemd(tmp_path, WATCHDOG_SEC)
    with SlowProxy(imap_user.host, imap_user.port, rate=50 * MB) as proxy:
        proxy.hang.set()  # the server stops answering: the daemon waits (imap.timeout = 300 s)
        desk, proc = _daemon(tmp_path, imap_user, proxy.port, fake)
        try:
            t0 = time.monotonic()
            outcome = fake.supervise(proc, lambda: False, limit=60)
            took = time.monotonic() - t0
        finally:
            proxy.hang.clear()
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)
            fake.close()
    assert outcome == "killed", (outcome, fake.messages)
    assert took < 3 * WATCHDOG_SEC + 3, took  # stall (WatchdogSec) + WatchdogSec, plus start-up
    assert any("READY=1" in m for _, m in fake.messages)
