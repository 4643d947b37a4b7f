"""An administrator's first day (issue 12 items 1-6, 18): install as the README says, the
database where the storage is, `check` that names what the service user cannot read, example
files that agree with the code and each other, logs in WIB, `kpudesk status`, polling often."""
from __future__ import annotations

import ctypes
import json
import logging
import os
import re
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kpudesk.daemon.cli import main
from kpudesk.daemon.config import load_settings, settings_from_dict
from tests.corpus.hostile import party_mail
from tests.desk import Desk
from tests.paths import ROOT

EXAMPLE = ROOT / "daemon" / "settings.example.toml"


def run(capsys, *args):
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def fill_in(settings: Path, imap_user, smtp=None) -> None:
    """What the administrator edits after `init`: the mail servers (test Dovecot, no SMTP)."""
    text = settings.read_text(encoding="utf-8")
    imap = (f'[imap]\nhost = "{imap_user.host}"\nport = {imap_user.port}\nsecurity = "none"\n'
            f'username = "{imap_user.name}"\n')
    text = re.sub(r"\[imap\]\nhost = .*?\nusername = [^\n]*\n", imap, text, count=1, flags=re.S)
    host, port = (smtp.host, smtp.port) if smtp else ("127.0.0.1", 9)
    text = re.sub(r"\[smtp\]\nhost = .*?\nusername = [^\n]*\n",
                  f'[smtp]\nhost = "{host}"\nport = {port}\nsecurity = "none"\n', text, count=1, flags=re.S)
    text = text.replace('password_env = "KPUDESK_SMTP_PASSWORD"\n', "", 1)
    settings.write_text(text, encoding="utf-8")


# --- the README's "Install for real", literally, in a temporary root ------------------------

def test_install_for_real_keeps_database_and_archive_in_the_storage_folder(tmp_path, imap_user, capsys, monkeypatch):
    etc, var = tmp_path / "etc" / "kpudesk", tmp_path / "var" / "lib" / "kpudesk"
    etc.mkdir(parents=True, mode=0o750)
    var.mkdir(parents=True, mode=0o700)
    code, out, err = run(capsys, "init", str(etc), "--storage", str(var))
    assert code == 0, err
    assert str(var / "kpudesk.db") in out
    fill_in(etc / "settings.toml", imap_user)
    monkeypatch.setenv("KPUDESK_IMAP_PASSWORD", imap_user.password)
    code, out, err = run(capsys, "--config", str(etc / "settings.toml"), "check", "--offline")
    assert code == 0, err
    assert "Pengaturan valid" in out and "tidak berada di folder penyimpanan" not in out
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya Sipol", "Bagaimana cara login Sipol?"))
    code, out, err = run(capsys, "--config", str(etc / "settings.toml"), "poll", "--json")
    assert code == 0, err and json.loads(out)["tickets_created"] == 1
    assert sorted(p.name for p in etc.iterdir()) == ["settings.toml"]  # nothing else under /etc
    assert (var / "kpudesk.db").stat().st_size > 0 and (var / "secret.key").exists()
    assert [p for p in (var / "archive").rglob("*") if p.is_file()], "the raw mail is archived in the storage folder"
    code, out, _ = run(capsys, "--config", str(etc / "settings.toml"), "tickets", "list", "--json")
    assert code == 0 and json.loads(out)[0]["subject"] == "Tanya Sipol"


# --- item 1: one folder for the desk; read commands never start a second one -----------------

def test_init_writes_no_database_url_so_changing_storage_dir_moves_the_database(tmp_path, capsys):
    code, _out, err = run(capsys, "init", str(tmp_path / "etc"))
    assert code == 0, err
    path = tmp_path / "etc" / "settings.toml"
    active = [line for line in path.read_text().splitlines() if re.match(r"\s*url\s*=", line)]
    assert active == []
    path.write_text(path.read_text().replace('dir = "state"', f'dir = "{tmp_path / "var"}"', 1))
    assert load_settings(path).database_url == f"sqlite:///{tmp_path / 'var' / 'kpudesk.db'}"


def old_layout(tmp_path: Path) -> Path:
    """What `init` wrote before, then the README's one edit: database under the settings."""
    (tmp_path / "var").mkdir()
    path = tmp_path / "etc" / "settings.toml"
    path.parent.mkdir()
    text = EXAMPLE.read_text().replace('dir = "state"', f'dir = "{tmp_path / "var"}"', 1)
    path.write_text(text.replace("[database]\n", '[database]\nurl = "sqlite:///state/kpudesk.db"\n', 1))
    return path


def test_a_read_command_never_creates_a_database_outside_the_storage_folder(tmp_path, capsys):
    path = old_layout(tmp_path)
    code, out, err = run(capsys, "--config", str(path), "tickets", "list")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert str(tmp_path / "etc" / "state" / "kpudesk.db") in err and "kpudesk init" in err
    assert not (tmp_path / "etc" / "state").exists() and list((tmp_path / "var").iterdir()) == []


def test_check_says_when_database_and_storage_are_in_different_places(tmp_path, capsys, monkeypatch):
    path = old_layout(tmp_path)
    monkeypatch.setenv("KPUDESK_IMAP_PASSWORD", "x")
    monkeypatch.setenv("KPUDESK_SMTP_PASSWORD", "x")
    code, out, err = run(capsys, "--config", str(path), "check", "--offline")
    assert code == 0, err
    assert "tidak berada di folder penyimpanan" in out and str(tmp_path / "var") in out


# --- item 2: check as a user who cannot read ------------------------------------------------

def _without_dac_override() -> None:
    """root losing CAP_DAC_OVERRIDE/READ_SEARCH at exec: file modes apply to it like to a
    service user (the test host has no other user who can run this interpreter)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")


def check_as_service_user(path: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kpudesk.daemon", "--config", str(path), "check", "--offline"],
                          capture_output=True, text=True, env={**os.environ, **env}, preexec_fn=_without_dac_override,
                          timeout=60)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop CAP_DAC_OVERRIDE")
OTHER = 65534  # nobody: owns what "the service user" may not read


@needs_root
@pytest.mark.parametrize("what", ["settings", "password_file", "ca_file", "storage"])
def test_check_names_the_file_the_service_user_cannot_read(tmp_path, what):
    etc, var = tmp_path / "etc", tmp_path / "var"
    etc.mkdir()
    var.mkdir(mode=0o700)
    secret = tmp_path / "private" / "imap-password"
    secret.parent.mkdir()
    secret.write_text("rahasia\n")
    ca = tmp_path / "pki" / "ca.pem"
    ca.parent.mkdir()
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    text = EXAMPLE.read_text().replace('dir = "state"', f'dir = "{var}"', 1)
    text = text.replace('password_env = "KPUDESK_IMAP_PASSWORD"', f'password_file = "{secret}"', 1)
    text = text.replace('# ca_file = "/etc/kpudesk/ca.pem"           # (example) trust', f'ca_file = "{ca}"  # trust', 1)
    path = etc / "settings.toml"
    path.write_text(text)
    closed, named = {"settings": (path, path), "password_file": (secret, secret), "ca_file": (ca.parent, ca),
                     "storage": (var, var)}[what]
    os.chown(closed, OTHER, OTHER)
    os.chmod(closed, 0o700 if closed.is_dir() else 0o600)
    r = check_as_service_user(path, {"KPUDESK_SMTP_PASSWORD": "x"})
    assert r.returncode == 2, r.stderr
    assert "Pengaturan valid" not in r.stdout
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert str(named) in r.stderr
    assert re.search(r"cannot read|permission denied|tidak dapat (membaca|menulis)", r.stderr), r.stderr


@needs_root
def test_check_passes_for_a_service_user_who_can_read_everything(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o700)
    path = tmp_path / "settings.toml"
    path.write_text(EXAMPLE.read_text().replace('dir = "state"', f'dir = "{var}"', 1))
    r = check_as_service_user(path, {"KPUDESK_IMAP_PASSWORD": "x", "KPUDESK_SMTP_PASSWORD": "x"})
    assert r.returncode == 0, r.stderr
    assert "Pengaturan valid" in r.stdout


# --- items 3, 4: secrets set but unused; valid only when everything is ----------------------

def example_desk(tmp_path: Path, monkeypatch, **env) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(EXAMPLE.read_text())
    for name in [n for n in os.environ if n.startswith("KPUDESK_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return path


def test_check_warns_about_a_secret_variable_no_setting_uses(tmp_path, capsys, monkeypatch):
    path = example_desk(tmp_path, monkeypatch, KPUDESK_IMAP_PASSWORD="x", KPUDESK_SMTP_PASSWORD="x",
                        KPUDESK_SECRET="0123456789abcdef")
    code, out, err = run(capsys, "--config", str(path), "check", "--offline")
    assert code == 0, err
    warned = [line for line in out.splitlines() if line.startswith("Peringatan") and "KPUDESK_SECRET" in line]
    assert warned and "tidak dipakai" in warned[0]
    assert "KPUDESK_IMAP_PASSWORD" not in out


def test_check_never_says_valid_before_a_missing_secret(tmp_path, capsys, monkeypatch):
    path = example_desk(tmp_path, monkeypatch, KPUDESK_SMTP_PASSWORD="x")
    code, out, err = run(capsys, "--config", str(path), "check", "--offline")
    assert code == 2 and "Pengaturan valid" not in out
    assert "imap.password_env" in err and "KPUDESK_IMAP_PASSWORD" in err


# --- item 5: every documented default is the code's default --------------------------------

MINIMAL = {"helpdesk": {"address": "helpdesk@kpu-mesuji.example.org"},
           "imap": {"host": "imap.example.org", "username": "u", "password_env": "KPUDESK_IMAP_PASSWORD"},
           "smtp": {"host": "smtp.example.org"}}
# Lines naming a site's own values (hosts, addresses, secrets' names), not defaults.
EXAMPLE_VALUES = {"helpdesk.address", "imap.host", "imap.username", "imap.password_env", "smtp.host",
                  "smtp.username", "smtp.password_env"}


def documented_defaults() -> list[tuple[str, str, object]]:
    """(section, key, value) of every `key = value` / `# key = value` line of the example not
    marked "(example)": what it claims the code uses when the key is left out."""
    found, section = [], None
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        body = re.sub(r"^#\s?", "", line.strip())
        if m := re.fullmatch(r"\[\[?([a-z_]+)\]\]?.*", body):
            section = m.group(1)
            continue
        if section == "officers" or "(example)" in line or not re.match(r"[a-z_]+\s*=", body):
            continue
        try:
            ((key, value),) = tomllib.loads(body).items()
        except (tomllib.TOMLDecodeError, ValueError):
            continue
        if f"{section}.{key}" not in EXAMPLE_VALUES:
            found.append((section, key, value))
    return found


def test_the_example_shows_every_default_the_code_uses(tmp_path):
    defaults = documented_defaults()
    assert len(defaults) > 30 and ("faq", "threshold", 0.25) in defaults
    base = settings_from_dict(json.loads(json.dumps(MINIMAL)), base=tmp_path)
    wrong = []
    for section, key, value in defaults:
        data = json.loads(json.dumps(MINIMAL))
        data.setdefault(section, {})[key] = value
        if settings_from_dict(data, base=tmp_path) != base:
            wrong.append(f"{section}.{key} = {value!r}")
    assert wrong == []


def test_the_repository_settings_are_the_example():
    assert (ROOT / "settings.toml").read_text() == EXAMPLE.read_text()


# --- item 6: logs in helpdesk time, status ---------------------------------------------------

@pytest.mark.parametrize("journal", [True, False])
def test_log_lines_carry_the_helpdesk_offset_not_utc(monkeypatch, capsys, journal):
    from kpudesk.daemon.logsetup import configure_logging

    monkeypatch.setenv("TZ", "UTC")
    if journal:
        monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
    else:
        monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", "Asia/Jakarta")
        logging.getLogger("kpudesk.test").info("poll selesai")
        line = capsys.readouterr().err.strip().splitlines()[-1]
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    stamp = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\+07:00", line)
    assert stamp, line
    local = datetime.fromisoformat(stamp.group(0).replace(" ", "T"))
    assert abs(local - datetime.now(UTC)) < timedelta(minutes=1)
    assert line.startswith("<6>") == journal and "poll selesai" in line


def test_status_reports_the_desk_after_a_poll(tmp_path, imap_user):
    desk = Desk(tmp_path, imap_user)
    fresh = desk.run("status")
    assert fresh.code == 0 and "Poll terakhir     : belum pernah" in fresh.out
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya Sipol", "Bagaimana cara login Sipol?"))
    desk.json("poll")
    st = desk.json("status")
    assert {"last_poll", "next_poll", "outbox_pending", "outbox_failed", "last_report_slot", "quarantined",
            "database_bytes", "archive_bytes"} <= set(st)
    last, nxt = datetime.fromisoformat(st["last_poll"]), datetime.fromisoformat(st["next_poll"])
    assert st["last_poll"].endswith("+07:00") and timedelta(0) < nxt - last <= timedelta(hours=1)
    assert nxt.minute == 0 and nxt.second == 0  # every hour on the hour, as the daemon does
    assert st["outbox_pending"] == 1 and st["outbox_failed"] == 0  # the acknowledgement waits (no SMTP)
    assert st["quarantined"] == 0 and st["last_report_slot"] is None
    assert st["database_bytes"] > 0 and st["archive_bytes"] > 0
    out = desk.run("status").out
    assert "Poll terakhir" in out and "1 menunggu, 0 gagal" in out and "WIB" in out
    for english in ("pending", "failed", "last poll", "never"):
        assert english not in out.lower()


def test_an_idle_poll_moves_last_poll(tmp_path, imap_user):
    desk = Desk(tmp_path, imap_user)
    desk.json("poll")
    first = desk.json("status")["last_poll"]
    assert first is not None  # no mail at all: still a poll that happened


# --- item 18: polling often -------------------------------------------------------------------

@pytest.mark.parametrize("every, ok", [("2m", True), ("10m", True), ("1m", False), ("90s", False)])
def test_poll_every_goes_down_to_two_minutes(tmp_path, every, ok):
    data = json.loads(json.dumps(MINIMAL))
    data["imap"]["poll_every"] = every
    if ok:
        assert settings_from_dict(data, base=tmp_path).imap.poll_every == int(every[:-1]) * 60
    else:
        from kpudesk.tickets.errors import ConfigError
        with pytest.raises(ConfigError, match="imap.poll_every.*2 menit"):
            settings_from_dict(data, base=tmp_path)


@pytest.mark.parametrize("every, warned", [("1h", True), ("15m", True), ("10m", False), ("2m", False)])
def test_check_warns_when_polling_is_slower_than_the_sop_receive_standard(tmp_path, capsys, monkeypatch,
                                                                           every, warned):
    path = example_desk(tmp_path, monkeypatch, KPUDESK_IMAP_PASSWORD="x", KPUDESK_SMTP_PASSWORD="x")
    path.write_text(path.read_text().replace('poll_every = "1h"', f'poll_every = "{every}"', 1))
    code, out, err = run(capsys, "--config", str(path), "check", "--offline")
    assert code == 0, err
    line = [x for x in out.splitlines() if "imap.poll_every" in x]
    assert bool(line) == warned
    if warned:
        assert "10 menit" in line[0] and "2m" in line[0]


def test_a_two_minute_poll_never_overlaps_and_never_catches_up_in_a_burst(tmp_path, imap_user, monkeypatch):
    from kpudesk.daemon import runner as runner_mod
    from kpudesk.tickets.clock import FrozenClock

    desk = Desk(tmp_path, imap_user, extra="")
    desk.settings_path.write_text(desk.settings_path.read_text().replace("batch_size = 50", "batch_size = 50\npoll_every = \"2m\"", 1))
    clock = FrozenClock(datetime(2026, 12, 7, 1, 0, tzinfo=UTC))
    active, starts = [], []

    def slow_poll(app, **_kw):
        assert not active, "a poll started while another ran"
        active.append(1)
        starts.append(clock.now())
        if len(starts) == 2:
            clock.advance(minutes=7)  # a large backlog: this poll outlasts three periods
        active.pop()
        return type("S", (), {"fetched": 0})()

    monkeypatch.setattr(runner_mod, "poll", slow_poll)
    r = runner_mod.Runner(desk.app(clock=clock))
    for _ in range(40):  # 10 minutes of 15-second ticks
        r.tick()
        clock.advance(seconds=15)
    # At most one poll per 2-minute slot of the clock: the long poll is followed by one
    # poll at once (its slots passed), not by a burst of the three it outlasted.
    slots = [int(t.timestamp()) // 120 for t in starts]
    assert len(set(slots)) == len(slots), starts
    assert len(starts) >= 4 and (starts[2] - starts[1]) >= timedelta(minutes=7)


@needs_root
def test_init_by_root_leaves_the_new_database_and_key_to_the_storage_folders_owner(tmp_path, capsys):
    var = tmp_path / "var"
    var.mkdir(mode=0o700)
    os.chown(var, OTHER, OTHER)  # install -d -o kpudesk -g kpudesk /var/lib/kpudesk
    code, _out, err = run(capsys, "init", str(tmp_path / "etc"), "--storage", str(var))
    assert code == 0, err
    made = [p for p in var.rglob("*")]
    assert {"kpudesk.db", "secret.key"} <= {p.name for p in made}
    assert {p.name: p.stat().st_uid for p in made} == {p.name: OTHER for p in made}
    assert (tmp_path / "etc" / "settings.toml").stat().st_uid == 0  # the settings stay root's
