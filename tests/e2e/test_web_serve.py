"""`kpudesk web` as the administrator runs it: a real process, a real socket, SIGTERM to stop.

/healthz answers without login and without personal data; a busy port or a malformed
--listen is a one-line Bahasa message and exit 2, never a traceback.
"""
from __future__ import annotations

import json
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest

from tests.desk import Desk


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(proc, timeout: float = 20.0) -> str:
    """The first stderr line of `kpudesk web`: "listening on http://…"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline().decode()
        if line.startswith("listening on "):
            return line.split()[-1]
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"kpudesk web did not start: exit {proc.poll()} {proc.stderr.read().decode()}")


@pytest.fixture
def desk(tmp_path, imap_user):
    d = Desk(tmp_path, imap_user)
    d.app()  # the database, as the daemon's first start makes it
    return d


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_web_serves_healthz_and_stops_on_sigterm(desk):
    port = _free_port()
    proc = desk.spawn("web", "--listen", f"127.0.0.1:{port}")
    try:
        base = _wait_listening(proc)
        assert base == f"http://127.0.0.1:{port}"
        status, headers, body = _get(base + "/healthz")
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        health = json.loads(body)
        assert health["ok"] is True and health["database"] == "ok"
        assert health["last_poll"] is None and health["outbox_pending"] == 0
        assert set(health) == {"ok", "database", "last_poll", "outbox_pending", "mirror_pending", "mirror_failed"}
        status, headers, _ = _get(base + "/")
        assert status in (200, 302, 303)  # the queue asks for a login: urllib followed to /login
        assert "Content-Security-Policy" in headers
        assert headers.get("Server", "").startswith("kpudesk")  # waitress, not a development server
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    assert code == 0


def test_healthz_reports_the_last_poll_and_the_outbox(desk, imap_user):
    imap_user.append("INBOX", b"From: a@pkb.example\r\nTo: helpdesk@kpu-mesuji.example\r\n"
                              b"Subject: Tanya Sipol\r\nMessage-ID: <h1@pkb.example>\r\n\r\nBagaimana cara unggah KTA?\r\n")
    assert desk.run("poll").code == 0
    port = _free_port()
    proc = desk.spawn("web", "--listen", f"127.0.0.1:{port}")
    try:
        base = _wait_listening(proc)
        health = json.loads(_get(base + "/healthz")[2])
        assert health["last_poll"] and health["last_poll"].endswith("Z")
        assert health["outbox_pending"] == 1  # the acknowledgement waits for `send`
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_busy_port_and_bad_listen_are_clear_errors(desk):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = desk.spawn("web", "--listen", f"127.0.0.1:{port}")
        out, err = r.communicate(timeout=30)
    assert r.returncode == 2, err
    assert b"tidak bisa mendengarkan" in err and b"Traceback" not in err
    bad = desk.run("web", "--listen", "localhost")
    assert bad.code == 2 and "HOST:PORT" in bad.err and "Traceback" not in bad.err
