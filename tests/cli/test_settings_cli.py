"""Settings validation and the init/check commands."""
from __future__ import annotations

import socket

import pytest

from kpudesk.daemon.cli import main
from kpudesk.daemon.config import load_settings
from tests.desk import Desk
from tests.paths import ROOT


def run(capsys, *args):
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_repo_settings_example_is_valid():
    s = load_settings(ROOT / "settings.toml")
    assert s.helpdesk.tag == "HD-MSJ" and s.helpdesk.timezone == "Asia/Jakarta"
    assert s.imap.poll_every == 3600 and s.imap.password.env == "KPUDESK_IMAP_PASSWORD"


@pytest.mark.parametrize("edit, key", [
    ('port = 993', 'imap.port'),
    ('security = "tls"', 'imap.security'),
    ('tag = "HD-MSJ"', 'helpdesk.tag'),
    ('timezone = "Asia/Jakarta"', 'helpdesk.timezone'),
    ('poll_every = "1h"', 'imap.poll_every'),
    ('workers = 0', 'imap.workers'),
])
def test_a_bad_value_exits_2_with_one_line_naming_the_key(tmp_path, capsys, edit, key):
    text = (ROOT / "settings.toml").read_text(encoding="utf-8")
    bad = {"port = 993": "port = 99999", 'security = "tls"': 'security = "ssl3"', 'tag = "HD-MSJ"': 'tag = "HD MSJ!"',
           'timezone = "Asia/Jakarta"': 'timezone = "Mars/Olympus"', 'poll_every = "1h"': 'poll_every = "sometimes"',
           'workers = 0': 'workers = -1'}[edit]
    (tmp_path / "settings.toml").write_text(text.replace(edit, bad, 1), encoding="utf-8")
    code, out, err = run(capsys, "--config", str(tmp_path / "settings.toml"), "tickets", "list")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and key in err


def test_password_written_in_the_file_is_refused(tmp_path, capsys):
    text = (ROOT / "settings.toml").read_text(encoding="utf-8")
    (tmp_path / "settings.toml").write_text(text.replace('password_env = "KPUDESK_IMAP_PASSWORD"', 'password = "rahasia"', 1),
                                            encoding="utf-8")
    code, _out, err = run(capsys, "--config", str(tmp_path / "settings.toml"), "tickets", "list")
    assert code == 2 and "imap.password" in err and "tidak pernah" in err


def test_unknown_key_is_named(tmp_path, capsys):
    text = (ROOT / "settings.toml").read_text(encoding="utf-8")
    (tmp_path / "settings.toml").write_text(text.replace("[imap]\n", "[imap]\nhots = \"x\"\n", 1), encoding="utf-8")
    code, _out, err = run(capsys, "--config", str(tmp_path / "settings.toml"), "tickets", "list")
    assert code == 2 and "imap.hots: kunci tidak dikenal" in err


def test_init_writes_settings_and_database_and_refuses_to_overwrite(tmp_path, capsys):
    code, out, _err = run(capsys, "init", str(tmp_path / "site"))
    assert code == 0
    assert (tmp_path / "site" / "settings.toml").exists()
    assert (tmp_path / "site" / "state" / "kpudesk.db").exists()
    code, _out, err = run(capsys, "init", str(tmp_path / "site"))
    assert code == 1 and "sudah ada" in err


def test_check_logs_in_and_lists_the_folders(tmp_path, imap_user, smtp_server):
    desk = Desk(tmp_path, imap_user, smtp=smtp_server)
    r = desk.run("check")
    assert r.code == 0, r.err
    assert "login berhasil" in r.out and "INBOX" in r.out and "Spam" in r.out
    assert "SMTP" in r.out and "tersambung" in r.out and "Templat" in r.out


def test_check_with_smtp_down_exits_75(tmp_path, imap_user):
    desk = Desk(tmp_path, imap_user)  # SMTP points at a closed port
    r = desk.run("check")
    assert r.code == 75 and "smtp" in r.err.lower()


def test_an_override_template_with_a_missing_variable_fails_check_with_its_name(tmp_path, imap_user, smtp_server):
    override = tmp_path / "templates-local" / "party"
    override.mkdir(parents=True)
    (override / "ack.txt.j2").write_text("Yth. {{ requester.name }}, nomor {{ ticket.nomor_salah }}\n")
    desk = Desk(tmp_path / "desk", imap_user, smtp=smtp_server)
    text = desk.settings_path.read_text().replace('tag = "HD-MSJ"', f'tag = "HD-MSJ"\ntemplates_dir = "{override.parent}"')
    desk.settings_path.write_text(text)
    r = desk.run("check")
    assert r.code == 2
    assert "party/ack.txt.j2" in r.err and "nomor_salah" in r.err


def test_faq_search_ranks_entries_for_an_indonesian_question(tmp_path, imap_user):
    desk = Desk(tmp_path, imap_user)
    hits = desk.json("faq", "search", "kapan", "batas", "akhir", "pendaftaran", "parpol")
    assert hits[0]["id"] == "sipol-004" and set(hits[0]) == {"id", "score", "question"}
    assert hits == sorted(hits, key=lambda h: -h["score"])
    miss = desk.run("faq", "search", "harga", "tiket", "pesawat").out
    assert miss.startswith("Tidak ada") and "FAQ" in miss


def test_check_with_a_wrong_password_exits_2(tmp_path, imap_user, monkeypatch):
    desk = Desk(tmp_path, imap_user)
    monkeypatch.setenv("KPUDESK_TEST_IMAP_PASSWORD", "wrong-password")
    r = desk.run("check")
    assert r.code == 2 and "ditolak" in r.err


def test_check_with_the_server_down_exits_75(tmp_path, imap_user):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    desk = Desk(tmp_path, imap_user)
    desk.settings_path.write_text(desk.settings_path.read_text().replace(f"port = {imap_user.port}", f"port = {free}"))
    r = desk.run("check")
    assert r.code == 75 and "tidak dapat dihubungi" in r.err
    r = desk.run("poll", "--json")
    assert r.code == 75 and r.out == ""


def test_bad_service_days_is_a_settings_error_naming_the_key(tmp_path, capsys):
    text = (ROOT / "settings.toml").read_text(encoding="utf-8")
    (tmp_path / "settings.toml").write_text(text.replace('service_days = "mon-sun"', 'service_days = "senin-kadang"'),
                                            encoding="utf-8")
    code, _out, err = run(capsys, "--config", str(tmp_path / "settings.toml"), "tickets", "list")
    assert code == 2 and "helpdesk.service_days" in err and len(err.strip().splitlines()) == 1
    assert "hari tidak dikenal" in err  # Bahasa Indonesia, like every settings error


def test_idle_settings_default_off_and_renew_under_thirty_minutes(tmp_path):
    from kpudesk.tickets.errors import ConfigError

    text = (ROOT / "settings.toml").read_text(encoding="utf-8")
    s = load_settings(ROOT / "settings.toml")
    assert (s.imap.idle, s.imap.idle_renew) == (False, 25 * 60)
    path = tmp_path / "settings.toml"
    path.write_text(text.replace('idle_renew = "25m"', 'idle_renew = "40m"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="29 menit"):
        load_settings(path)
