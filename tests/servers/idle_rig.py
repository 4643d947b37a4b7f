"""The IMAP IDLE rig shared by tests/e2e/test_idle.py and bench/idle.py: a `kpudesk run`
process with `[imap] idle` on or off, an SMTP test server that stamps when it accepted each
mail, a proxy that can hide IDLE from CAPABILITY, and the per-Message-ID counts of
acknowledgements at the SMTP server and in the database."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from kpudesk.daemon.settings_write import loopback_sections, settings_toml
from tests.servers.proxy import Proxy
from tests.smtp_fixtures import SmtpServer

PASSWORD_ENV = "KPUDESK_TEST_IMAP_PASSWORD"


def wait_until(cond, timeout: float, step: float = 0.05) -> bool:
    """Poll `cond` until it is true or `timeout` seconds have passed; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


class StampedSmtp(SmtpServer):
    """The tests' SMTP server, remembering when (time.monotonic) it accepted each mail."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.accepted_at: list[float] = []

    def store(self, mail_from, rcpt_tos, data, **session):
        r = super().store(mail_from, rcpt_tos, data, **session)
        with self._lock:
            self.accepted_at.append(time.monotonic())
        return r

    def replies_to(self) -> dict[str, list[float]]:
        """{In-Reply-To: [acceptance times]} of the mail received so far."""
        with self._lock:
            pairs = list(zip(self.messages, self.accepted_at))
        out: dict[str, list[float]] = {}
        for r, at in pairs:
            out.setdefault(str(r.message.get("In-Reply-To", "")).strip(), []).append(at)
        return out


class RigProxy(Proxy):
    """The tests' proxy, telling how many client connections are open; with `strip_idle` its
    server says nothing of IDLE: the word is cut from what the server sends (the greeting's
    and LOGIN's CAPABILITY), so test mail must not contain " IDLE"."""

    def __init__(self, *a, strip_idle: bool = False, **kw) -> None:
        super().__init__(*a, **kw)
        self.strip_idle = strip_idle

    def open_connections(self) -> int:
        with self._lock:
            return len(self._conns) // 2  # each relayed connection holds a client and an upstream socket

    def _pump(self, src, dst, outward, client, upstream, pending) -> None:
        if outward or not self.strip_idle:
            return super()._pump(src, dst, outward, client, upstream, pending)
        real = dst.sendall

        class Stripping:
            def __getattr__(_self, name):
                return getattr(dst, name)

            def sendall(_self, data):
                real(data.replace(b" IDLE", b""))

        return super()._pump(src, Stripping(), outward, client, upstream, pending)


class IdleDaemon:
    """`kpudesk run` in `root`, pointed at `imap_user` (through `imap_port` if given) and `smtp`."""

    def __init__(self, root: Path, imap_user, smtp, *, idle: bool = True, imap_port: int | None = None,
                 idle_renew: str = "25m") -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        sections = loopback_sections(imap_host=imap_user.host, imap_port=imap_port or imap_user.port,
                                     username=imap_user.name, password_env=PASSWORD_ENV,
                                     smtp_host=smtp.host, smtp_port=smtp.port,
                                     imap={"batch_size": 50, "poll_every": "1h", "idle": idle,
                                           "idle_renew": idle_renew},
                                     helpdesk={"ack_per_hour": 1000, "ack_per_day": 10000})
        self.settings_path = self.root / "settings.toml"
        self.settings_path.write_text(settings_toml(**sections), encoding="utf-8")
        self.env = {**os.environ, PASSWORD_ENV: imap_user.password}
        self.proc: subprocess.Popen | None = None
        self.log: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self) -> "IdleDaemon":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kpudesk.daemon", "--config", str(self.settings_path), "run"],
            cwd=self.root, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.log.append(line.rstrip("\n"))

    def wait_log(self, text: str, timeout: float = 30.0, count: int = 1) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(text in line for line in list(self.log)) >= count:
                return True
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader finish
                return sum(text in line for line in list(self.log)) >= count
            time.sleep(0.05)
        return False

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if self._reader is not None:
            self._reader.join(5)
        return code

    def cpu_seconds(self) -> float:
        """utime + stime of the daemon process (all its threads), from /proc."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def acks_in_db(self) -> Counter:
        """{Message-ID (bare) of each stored incoming mail: acknowledgements queued for its ticket}."""
        con = sqlite3.connect(f"file:{self.root / 'state' / 'kpudesk.db'}?mode=ro", uri=True, timeout=5)
        try:
            rows = con.execute(
                "SELECT m.msgid, COUNT(o.id) FROM message m LEFT JOIN outbox_item o"
                " ON o.ticket_id = m.ticket_id AND o.kind = 'ack' WHERE m.direction = 'in' GROUP BY m.id").fetchall()
        finally:
            con.close()
        out: Counter = Counter()
        for msgid, n in rows:
            out[msgid] += n
        return out
