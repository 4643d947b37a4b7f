"""`kpudesk demo` as a newcomer runs it: the story, then the web desk on loopback until Ctrl+C.

A real process and real sockets: the URL and a login are read from what the demo prints, the
browser's part is urllib with a cookie jar (the CSRF token parsed from the login form), and
SIGINT / SIGTERM stop it. The folder, the IMAP and the SMTP server are the demo's own.
"""
from __future__ import annotations

import email
import email.policy
import html
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kpudesk.daemon.demo.content import SITI

from .test_demo import clean_env, kpudesk

LOGIN_ROW = re.compile(r"^  (\S+@\S+) +(demo-\S+) +(.+)$", re.M)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


@dataclass
class Running:
    proc: subprocess.Popen
    printed: str       # stdout up to "Tekan Ctrl+C untuk berhenti."
    url: str
    logins: dict[str, tuple[str, str]]  # email -> (password, what the role may do)
    settings: Path     # the demo folder's settings.toml, from the printed `send` command


def start_demo(tmp_path: Path, *args: str, timeout: float = 90) -> Running:
    env = clean_env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "kpudesk.daemon", "demo", *args], cwd=tmp_path, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if line.startswith("Tekan Ctrl+C untuk berhenti."):
            printed = "".join(lines)
            url = re.search(r"^Meja layanan web \(web desk\) berjalan: (http://127\.0\.0\.1:\d+)$", printed, re.M)
            send = re.search(r"^  kpudesk --config (\S+settings\.toml) send$", printed, re.M)
            assert url and send, printed
            logins = {m[1]: (m[2], m[3]) for m in LOGIN_ROW.finditer(printed)}
            return Running(proc, printed, url[1], logins, Path(send[1]))
    proc.kill()
    out, err = proc.communicate(timeout=10)
    raise AssertionError(f"the demo never served its desk: exit {proc.returncode}\n{''.join(lines)}{out}\n{err}")


def stop(run: Running, sig: int) -> tuple[int, str, float]:
    """Send `sig`; the exit code, the rest of stdout, and how long the demo took to exit."""
    started = time.monotonic()
    run.proc.send_signal(sig)
    out, err = run.proc.communicate(timeout=20)
    elapsed = time.monotonic() - started
    assert "Traceback" not in err, err
    return run.proc.returncode, out, elapsed


class Browser:
    """Cookies, CSRF tokens and forms over urllib, as far as a test needs them."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str, str]:
        """(status, final URL, body) after following redirects."""
        try:
            with self.opener.open(self.base + path, timeout=15) as r:
                return r.status, r.url, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.url, e.read().decode()

    def post(self, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(fields).encode()
        try:
            with self.opener.open(self.base + path, data=data, timeout=15) as r:
                return r.status, r.url, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.url, e.read().decode()

    @staticmethod
    def token(page: str, form_action: str | None = None) -> str:
        if form_action is not None:  # the token inside that form
            page = page[page.index(f'action="{form_action}"'):]
        m = CSRF.search(page)
        assert m, "no csrf_token in the page"
        return m[1] or m[2]

    def login(self, address: str, password: str) -> str:
        status, _, page = self.get("/login")
        assert status == 200
        status, url, body = self.post("/login", {"csrf_token": self.token(page), "email": address,
                                                  "password": password, "next": "/"})
        assert status == 200 and urllib.parse.urlsplit(url).path == "/", (status, url)
        return body


def ticket_ids(page: str) -> set[int]:
    return {int(i) for i in re.findall(r'data-ticket-id="(\d+)"', page)}


def cli_json(settings: Path, *args: str):
    """`kpudesk --config <the demo's settings> ARGS --json`, in another process beside the running demo."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPUDESK_")}
    r = kpudesk("--config", str(settings), *args, "--json", cwd=settings.parent, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_demo_serves_its_day_in_the_web_desk_until_ctrl_c(tmp_path):
    run = start_demo(tmp_path, "--cleanup")
    try:
        assert set(run.logins) == {"rina.wulandari@kpu-mesuji.example.org", "dewi.lestari@kpu-mesuji.example.org",
                                   "anggota@kpu-mesuji.example.org", "ketua@kpu-mesuji.example.org"}
        folder = run.settings.parent
        assert folder.parent == tmp_path / "tmp" and folder.name.startswith("kpudesk-demo-")
        tickets = {t["requester"]: t for t in cli_json(run.settings, "tickets", "list")}
        assert len(tickets) == 4

        officer = next(a for a, (_, label) in run.logins.items() if label.startswith("petugas helpdesk"))
        browser = Browser(run.url)
        queue = browser.login(officer, run.logins[officer][0])
        assert ticket_ids(queue) == {t["id"] for t in tickets.values()}  # the day the demo just played

        siti = tickets[SITI]
        status, _, page = browser.get(f"/tickets/{siti['id']}")
        shown = cli_json(run.settings, "tickets", "show", str(siti["id"]))
        assert status == 200 and html.escape(siti["subject"]) in page
        assert len(re.findall(r"data-message-id=", page)) == len(shown["messages"]) >= 4

        # An answer written in the desk waits in the outbox; the demo's SMTP server is still up.
        reply_path = f"/tickets/{siti['id']}/reply"
        status, _, after = browser.post(reply_path, {"csrf_token": browser.token(page, reply_path),
                                                     "body": "Terima kasih, Bu Siti. Ada lagi yang bisa kami bantu?"})
        assert status == 200 and 'role="status"' in after
        sent = cli_json(run.settings, "send")
        assert sent["sent"] == 1 and sent["failed"] == 0
        delivered = email.message_from_bytes((folder / "terkirim" / "013.eml").read_bytes(),
                                             policy=email.policy.default)
        assert delivered["To"].addresses[0].addr_spec == SITI
        assert "Ada lagi yang bisa kami bantu" in delivered.get_body(("plain",)).get_content()
    finally:
        code, rest, elapsed = stop(run, signal.SIGINT)
    assert code == 0 and elapsed < 10, (code, elapsed, rest)
    assert "Meja layanan web dan server surel demo dihentikan." in rest and "Folder demo dihapus" in rest
    assert not folder.exists() and list((tmp_path / "tmp").iterdir()) == []


def test_each_demo_login_sees_what_its_role_may_and_sigterm_keeps_the_folder(tmp_path):
    run = start_demo(tmp_path)
    try:
        tickets = {t["requester"]: t for t in cli_json(run.settings, "tickets", "list")}
        anggota = next(a for a, (_, label) in run.logins.items() if label.startswith("Anggota KPU"))
        member = Browser(run.url)
        # The Anggota KPU sees only the ticket the story escalated to them.
        assert ticket_ids(member.login(anggota, run.logins[anggota][0])) == {tickets[SITI]["id"]}

        ketua = next(a for a, (_, label) in run.logins.items() if label.startswith("ketua"))
        chair = Browser(run.url)
        assert ticket_ids(chair.login(ketua, run.logins[ketua][0])) == {t["id"] for t in tickets.values()}
        budi = min(t["id"] for t in tickets.values())
        _, _, page = chair.get(f"/tickets/{budi}")
        status, _, _ = chair.post(f"/tickets/{budi}/close", {"csrf_token": chair.token(page)})
        assert status == 403  # reads everything, changes nothing
        assert cli_json(run.settings, "tickets", "show", str(budi))["status"] == "baru"

        wrong = Browser(run.url)
        _, _, form = wrong.get("/login")
        status, url, _ = wrong.post("/login", {"csrf_token": wrong.token(form), "email": ketua,
                                               "password": "bukan-kata-sandinya"})
        assert urllib.parse.urlsplit(url).path == "/login"  # no session: still the login page
        assert wrong.get("/")[1].startswith(run.url + "/login")
    finally:
        code, rest, elapsed = stop(run, signal.SIGTERM)
    assert code == 0 and elapsed < 10, (code, elapsed, rest)
    folder = run.settings.parent
    assert f"Folder demo disimpan: {folder}" in rest and (folder / "state" / "kpudesk.db").exists()


def test_demo_listen_takes_the_given_loopback_port(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = start_demo(tmp_path, "--cleanup", "--listen", f"127.0.0.1:{port}")
    try:
        assert run.url == f"http://127.0.0.1:{port}"
        status, url, _ = Browser(run.url).get("/")
        assert status == 200 and urllib.parse.urlsplit(url).path == "/login"
    finally:
        code, _, _ = stop(run, signal.SIGINT)
    assert code == 0
