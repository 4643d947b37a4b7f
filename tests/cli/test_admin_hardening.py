"""Administration hardening (issue 11 items 8-12), as an administrator and an attacker see it.

* No credential in any output: the database password (in the URL or from `password_env`)
  never reaches stdout, stderr, `--json` or the log (every command runs with -v, so DEBUG
  logging goes to the captured stderr), on a real PostgreSQL.
* `check --offline` validates settings only and contacts nothing; `check` validates fully
  before it says "Pengaturan valid"; the daemon starts while IMAP and SMTP are down.
* Files kpudesk writes are private (0600/0700) under a caller's umask 022.
* KPUDESK_NOW moves nothing in a real `kpudesk` process; only the in-process seam does.
* An override template that reaches for Python internals is refused and runs nothing.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlparse

import pytest
from kpudesk.daemon.config import load_settings
from playhouse.db_url import parseresult_to_dict

from tests.corpus.hostile import party_mail
from tests.desk import HELPDESK, SQLITE_LINE, Desk
from tests.frozen_kpudesk import command
from tests.servers.smtp import SmtpServer

URL_SECRET = "Url-Rahasia-8413"
ENV_SECRET = "Env-Rahasia-5927"


def with_database(desk: Desk, url_line: str) -> Desk:
    """Desk.use_database, with whole settings lines (a URL and its password_env, say)."""
    text = desk.settings_path.read_text(encoding="utf-8")
    assert text.count(SQLITE_LINE) == 1
    desk.settings_path.write_text(text.replace(SQLITE_LINE, url_line), encoding="utf-8")
    return desk


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- item 8: no credential in any output ---------------------------------------------------

COMMANDS = [
    ("check",), ("check", "--offline"), ("poll",), ("poll", "--json"), ("send",), ("send", "--json"),
    ("tickets", "list", "--json"), ("tickets", "list"), ("tickets", "show", "1", "--json"),
    ("tickets", "note", "1", "--message", "catatan", "--as", "Rina Wulandari"),
    ("quarantine", "list", "--json"), ("spam", "list", "--json"), ("report", "progress", "--json"),
    ("tickets", "show", "999"),
]


@pytest.mark.parametrize("where", ["url", "password_env"])
def test_no_command_prints_the_database_password(tmp_path, imap_user, smtp_server, postgres, monkeypatch, where):
    url = postgres.new_database()  # postgresql://kpudesk@127.0.0.1:PORT/NAME (trust: any password works)
    secret = URL_SECRET if where == "url" else ENV_SECRET
    if where == "url":
        line = f'url = "{url.replace("kpudesk@", f"kpudesk:{URL_SECRET}@")}"'
    else:
        monkeypatch.setenv("KPUDESK_TEST_DB_PASSWORD", ENV_SECRET)
        line = f'url = "{url}"\npassword_env = "KPUDESK_TEST_DB_PASSWORD"'
    desk = with_database(Desk(tmp_path / "desk", imap_user, smtp=smtp_server), line)
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya Sipol", "Bagaimana cara login?"))
    outputs = []
    for args in COMMANDS:
        r = desk.run("-v", *args)
        assert r.code in (0, 1), (args, r.err)
        outputs.append((args, r.out + r.err))
    check = desk.run("check")
    assert check.code == 0 and "Pengaturan valid" in check.out
    assert f"127.0.0.1:{urlparse(url).port}{urlparse(url).path}" in check.out  # the location is shown
    if where == "url":  # written in the URL: shown masked and warned about
        assert "kpudesk:***@" in check.out and "password_env" in check.out
    # The daemon too, for a few seconds with DEBUG logging.
    proc = desk.spawn("-v", "run")
    time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    outputs.append((("run",), (out + err).decode()))
    leaked = [args for args, text in outputs if secret in text]
    assert not leaked, leaked
    assert desk.json("tickets", "list")[0]["subject"] == "Tanya Sipol"  # it did connect and work


def test_an_unreachable_postgresql_does_not_print_the_password(tmp_path, imap_user, monkeypatch):
    monkeypatch.setenv("KPUDESK_TEST_DB_PASSWORD", ENV_SECRET)
    desk = with_database(Desk(tmp_path / "desk", imap_user),
                         f'url = "postgresql://kpudesk@127.0.0.1:{free_port()}/kpudesk"\n'
                         'password_env = "KPUDESK_TEST_DB_PASSWORD"')
    for args in (("check",), ("poll", "--json"), ("tickets", "list")):
        r = desk.spawn("-v", *args)
        out, err = r.communicate(timeout=60)
        assert r.returncode != 0
        assert ENV_SECRET not in (out + err).decode(), args


@pytest.mark.parametrize("url", [
    f"mysql://kpudesk:{URL_SECRET}@db.example.org/kpudesk",          # an unsupported scheme
    f"postgresql://kpudesk:{URL_SECRET}@db.example.org",             # no database name
    f"postgresql://kpudesk:{URL_SECRET}@db.example.org:99999/kpudesk",  # a bad port
])
def test_a_settings_error_about_the_database_url_does_not_repeat_the_password(tmp_path, imap_user, url):
    desk = with_database(Desk(tmp_path / "desk", imap_user), f'url = "{url}"')
    r = desk.run("check", "--offline")
    assert r.code == 2 and "database.url" in r.err and len(r.err.strip().splitlines()) == 1
    assert URL_SECRET not in r.err + r.out
    assert "kpudesk:***@db.example.org" in r.err or "port harus angka" in r.err


def test_the_password_setting_is_url_quoted_into_the_connection_url(tmp_path, imap_user, monkeypatch):
    password = "p@ss:w/rd%41#?&="
    monkeypatch.setenv("KPUDESK_TEST_DB_PASSWORD", password)
    desk = with_database(Desk(tmp_path / "desk", imap_user),
                         'url = "postgresql://kpudesk@db.example.org:5433/helpdesk?sslmode=require"\n'
                         'password_env = "KPUDESK_TEST_DB_PASSWORD"')
    settings = load_settings(desk.settings_path)
    kwargs = parseresult_to_dict(urlparse(settings.database_dsn()), unquote_password=True)
    assert kwargs == {"database": "helpdesk", "user": "kpudesk", "password": password, "host": "db.example.org",
                      "port": 5433, "sslmode": "require"}
    assert settings.database_location() == "postgresql://kpudesk@db.example.org:5433/helpdesk"


def test_a_password_both_in_the_url_and_from_password_env_is_refused(tmp_path, imap_user, monkeypatch):
    monkeypatch.setenv("KPUDESK_TEST_DB_PASSWORD", ENV_SECRET)
    desk = with_database(Desk(tmp_path / "desk", imap_user),
                         f'url = "postgresql://kpudesk:{URL_SECRET}@db.example.org/kpudesk"\n'
                         'password_env = "KPUDESK_TEST_DB_PASSWORD"')
    r = desk.run("check", "--offline")
    assert r.code == 2 and "database.url" in r.err and URL_SECRET not in r.err and ENV_SECRET not in r.err


# --- item 9: check --offline, full validation, the daemon starts without its servers ----------

class Listener:
    """A TCP port that accepts and counts connections (and says nothing)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


def test_check_offline_contacts_nothing_and_exits_0(tmp_path, imap_user, monkeypatch):
    servers = Listener()
    monkeypatch.setenv("KPUDESK_TEST_DB_PASSWORD", ENV_SECRET)
    desk = Desk(tmp_path / "desk", imap_user, imap_port=servers.port)
    text = desk.settings_path.read_text().replace("port = 9\n", f"port = {servers.port}\n")
    desk.settings_path.write_text(text)
    with_database(desk, f'url = "postgresql://kpudesk@127.0.0.1:{servers.port}/kpudesk"\n'
                        'password_env = "KPUDESK_TEST_DB_PASSWORD"')
    r = desk.run("check", "--offline")
    assert r.code == 0, r.err
    assert "Pengaturan valid" in r.out and "tidak dihubungi" in r.out
    time.sleep(0.2)
    assert servers.accepted == 0
    # Online, the same settings reach the servers (and fail on this mute port): try again later.
    r = desk.run("check")
    assert r.code == 75 and servers.accepted >= 1 and len(r.err.strip().splitlines()) == 1, r.err


def test_check_offline_creates_no_database(tmp_path, imap_user):
    desk = Desk(tmp_path / "desk", imap_user)
    assert desk.run("check", "--offline").code == 0
    assert not (desk.root / "state").exists()


@pytest.mark.parametrize("offline", [True, False])
def test_check_reads_every_secret_before_calling_the_settings_valid(tmp_path, imap_user, smtp_server, monkeypatch,
                                                                   offline):
    desk = Desk(tmp_path / "desk", imap_user, smtp=smtp_server)
    monkeypatch.delenv("KPUDESK_TEST_IMAP_PASSWORD")
    r = desk.run("check", *(["--offline"] if offline else []))
    assert r.code == 2 and "imap.password_env" in r.err and "KPUDESK_TEST_IMAP_PASSWORD" in r.err
    assert "Pengaturan valid" not in r.out
    monkeypatch.setenv("KPUDESK_TEST_IMAP_PASSWORD", imap_user.password)
    secret_file = desk.root / "missing-secret"
    desk.settings_path.write_text(desk.settings_path.read_text().replace(
        'tag = "HD-MSJ"', f'tag = "HD-MSJ"\nsecret_file = "{secret_file}"'))
    r = desk.run("check", *(["--offline"] if offline else []))
    assert r.code == 2 and "helpdesk.secret_file" in r.err and "Pengaturan valid" not in r.out


def test_check_warns_about_relaxed_sender_authentication(tmp_path, imap_user, smtp_server):
    desk = Desk(tmp_path / "desk", imap_user, smtp=smtp_server)
    r = desk.run("check")
    assert r.code == 0, r.err
    assert "Peringatan: mail.trusted_authserv_id tidak diatur" in r.out
    assert "unsigned_domains" not in r.out
    desk.settings_path.write_text(desk.settings_path.read_text() + '\n[mail]\ntrusted_authserv_id = "mx.kpu.example"\n'
                                  'unsigned_domains = ["partai-kecil.example.org"]\n')
    r = desk.run("check")
    assert r.code == 0, r.err
    assert "trusted_authserv_id" not in r.out
    assert "Peringatan: mail.unsigned_domains" in r.out and "partai-kecil.example.org" in r.out


def test_the_daemon_starts_and_keeps_retrying_while_imap_and_smtp_are_down(tmp_path, imap_user):
    desk = Desk(tmp_path / "desk", imap_user)  # SMTP: port 9, nothing listens
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya", "isi"))
    assert desk.json("poll")["tickets_created"] == 1  # an acknowledgement now waits in the outbox
    closed = free_port()
    desk.settings_path.write_text(desk.settings_path.read_text().replace(f"port = {imap_user.port}", f"port = {closed}"))
    assert desk.run("check", "--offline").code == 0  # what ExecStartPre runs: the start goes on
    notify_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(notify_path))
        sock.settimeout(60)
        proc = desk.spawn("run", env={**os.environ, **desk.env, "NOTIFY_SOCKET": str(notify_path)})
        try:
            assert sock.recv(100) == b"READY=1"
            time.sleep(2)
            assert proc.poll() is None  # still running, servers still down
        finally:
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "poll failed; next try in" in err.decode() and "SMTP unreachable" in err.decode()
    with SmtpServer() as smtp:  # the server is back: the acknowledgement waited, it did not fail
        desk.settings_path.write_text(desk.settings_path.read_text().replace("port = 9\n", f"port = {smtp.port}\n"))
        assert desk.json("send")["sent"] == 1 and len(smtp.messages) == 1


# --- item 10: private files whatever the caller's umask ---------------------------------------

def _mail_with_attachment() -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "lo@pkb.example.org", HELPDESK, "Berkas Sipol"
    m["Message-ID"] = "<lampiran-1@pkb.example.org>"
    m.set_content("Terlampir berkas kami.")
    m.add_attachment(b"%PDF-1.4 isi", maintype="application", subtype="pdf", filename="berkas.pdf")
    return m.as_bytes()


def _not_private(root: Path) -> list[str]:
    bad = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            bad.append(f"{path.relative_to(root.parent)} {mode:o}")
    return bad


def test_everything_kpudesk_writes_is_private_under_umask_022(tmp_path, imap_user, smtp_server):
    desk = Desk(tmp_path / "desk", imap_user, smtp=smtp_server)
    imap_user.append("INBOX", _mail_with_attachment())
    imap_user.append("Spam", party_mail("promo@iklan.example.com", "Diskon", "Beli sekarang",
                                        extra_headers={"X-Spam-Flag": "YES"}))
    for args in (("poll", "--json"), ("send", "--json"),
                 ("tickets", "note", "1", "--message", "dicatat", "--as", "Rina Wulandari")):
        proc = desk.spawn(*args, umask=0o022)
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (args, err.decode())
    state = desk.root / "state"
    names = {p.name for p in state.rglob("*")}
    assert {"kpudesk.db", "kpudesk.db-wal", "secret.key"} <= names or {"kpudesk.db", "secret.key"} <= names
    assert any((state / "archive").rglob("*")) and len(smtp_server.messages) == 1
    assert _not_private(state) == []


def test_check_warns_about_a_storage_folder_others_can_enter(tmp_path, imap_user):
    desk = Desk(tmp_path / "desk", imap_user)
    (desk.root / "state").mkdir(mode=0o755)
    os.chmod(desk.root / "state", 0o755)  # made before kpudesk set its umask
    r = desk.run("check", "--offline")
    assert r.code == 0 and "chmod 700" in r.out
    os.chmod(desk.root / "state", 0o700)
    assert "chmod 700" not in desk.run("check", "--offline").out


def test_init_under_umask_022_writes_private_settings_and_storage(tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "kpudesk.daemon", "init", str(site)], capture_output=True, check=False,
                          text=True, umask=0o022, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE((site / "settings.toml").stat().st_mode) == 0o600
    assert _not_private(site / "state") == []


# --- item 11: no clock from the environment -----------------------------------------------------

def _created(desk: Desk, runner: list[str], env: dict) -> datetime:
    imap_user = desk.imap_user
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya waktu", "isi"))
    proc = subprocess.run([*runner, "--config", str(desk.settings_path), "poll", "--json"], capture_output=True,
                          check=False, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    shown = subprocess.run([*runner, "--config", str(desk.settings_path), "tickets", "list", "--json"],
                           capture_output=True, check=False, env=env, timeout=120)
    return datetime.fromisoformat(json.loads(shown.stdout)[-1]["created_at"])


def test_kpudesk_now_in_the_environment_of_a_real_kpudesk_moves_nothing(tmp_path, imap_user):
    desk = Desk(tmp_path / "desk", imap_user)
    env = {**os.environ, **desk.env, "KPUDESK_NOW": "2020-01-01T09:00:00+07:00"}
    before = datetime.now(UTC)
    created = _created(desk, [sys.executable, "-m", "kpudesk.daemon"], env)
    assert before - timedelta(seconds=5) <= created <= datetime.now(UTC) + timedelta(seconds=5)


def test_the_in_process_seam_still_moves_time_for_tests(tmp_path, imap_user):
    desk = Desk(tmp_path / "desk", imap_user)
    env = {**os.environ, **desk.env}
    env.pop("KPUDESK_NOW", None)
    created = _created(desk, command("2026-11-27T09:00:00+07:00"), env)
    assert created == datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


# --- item 12: override templates are sandboxed ---------------------------------------------------

def _hostile_override(root: Path, marker: Path) -> Path:
    folder = root / "templates-local"
    (folder / "party").mkdir(parents=True)
    (folder / "party" / "ack.txt.j2").write_text(
        "Yth. {{ requester.name }}\n{{ cycler.__init__.__globals__.os.popen('touch " + str(marker) + "').read() }}\n")
    return folder


def test_an_override_template_that_reaches_for_python_internals_is_refused_and_runs_nothing(
        tmp_path, imap_user, smtp_server):
    marker = tmp_path / "pwned"
    folder = _hostile_override(tmp_path, marker)
    desk = Desk(tmp_path / "desk", imap_user, smtp=smtp_server)
    desk.settings_path.write_text(desk.settings_path.read_text().replace(
        'tag = "HD-MSJ"', f'tag = "HD-MSJ"\ntemplates_dir = "{folder}"'))
    for args in (("check", "--offline"), ("check",)):
        r = desk.run(*args)
        assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err
        assert "party/ack.txt.j2" in r.err and "sandbox" in r.err and "Traceback" not in r.err
    # Mail still flows: the acknowledgement that would run the template fails alone.
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya", "isi"))
    assert desk.json("poll")["tickets_created"] == 1
    (t,) = desk.json("tickets", "list")
    assert t["flags"]["delivery_failed"] is True  # refused when it was queued, at ingest
    r = desk.run("send", "--json")
    assert r.code == 0 and "Traceback" not in r.err
    assert r.json()["failed"] == 0 and smtp_server.messages == []
    assert not marker.exists()
