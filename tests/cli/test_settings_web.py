"""The [web] settings of the officers' web desk: defaults, each bad value refused with one
Bahasa Indonesia line naming the key (exit 2, `check --offline` too), and the session key."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kpudesk.daemon.cli import main
from kpudesk.daemon.config import load_settings, parse_listen, web_secret
from kpudesk.tickets.errors import ConfigError
from tests.cli.test_admin_day import OTHER, check_as_service_user, needs_root
from tests.paths import ROOT

EXAMPLE = (ROOT / "settings.toml").read_text(encoding="utf-8")


def write(tmp_path: Path, web: str) -> Path:
    path = tmp_path / "settings.toml"
    """The example settings with its [web] section replaced by `web`."""
    before, after = EXAMPLE[:EXAMPLE.index("[web]")], EXAMPLE[EXAMPLE.index("# Officers:"):]
    path.write_text(f"{before}[web]\n{web}\n\n{after}", encoding="utf-8")
    return path


def test_the_example_documents_the_defaults():
    web = load_settings(ROOT / "settings.toml").web
    assert (web.listen_host, web.listen_port, web.base_url) == ("127.0.0.1", 8080, "http://127.0.0.1:8080")
    assert (web.session_hours, web.max_upload_mb, web.secret_env, web.secret_file) == (8, 10, None, None)
    assert not web.https


def test_without_a_web_section_the_defaults_apply(tmp_path):
    text = EXAMPLE[:EXAMPLE.index("[web]")] + EXAMPLE[EXAMPLE.index("# Officers:"):]
    assert "[web]" not in text
    (tmp_path / "settings.toml").write_text(text, encoding="utf-8")
    web = load_settings(tmp_path / "settings.toml").web
    assert (web.listen_host, web.listen_port, web.session_hours, web.max_upload_mb) == ("127.0.0.1", 8080, 8, 10)


def test_listen_base_url_and_secret_are_read(tmp_path):
    path = write(tmp_path, 'listen = "[::1]:9000"\nbase_url = "https://desk.kpu.example.org/"\n'
                           'secret_file = "web.key"\nsession_hours = 0.5\nmax_upload_mb = 25')
    web = load_settings(path).web
    assert (web.listen_host, web.listen_port) == ("::1", 9000)
    assert web.base_url == "https://desk.kpu.example.org" and web.https
    assert web.secret_file == tmp_path / "web.key" and web.session_hours == 0.5 and web.max_upload_mb == 25


@pytest.mark.parametrize("listen, base_url", [
    ("0.0.0.0:8081", "http://127.0.0.1:8081"), ("[::1]:8082", "http://[::1]:8082"),
    ("desk.local:80", "http://desk.local:80"),
])
def test_base_url_defaults_to_the_listen_address(tmp_path, listen, base_url):
    assert load_settings(write(tmp_path, f'listen = "{listen}"')).web.base_url == base_url


@pytest.mark.parametrize("line, key", [
    ('listen = "8080"', "web.listen"),
    ('listen = "127.0.0.1:0"', "web.listen"),
    ('listen = "127.0.0.1:70000"', "web.listen"),
    ('listen = ":8080"', "web.listen"),
    ('listen = "bad host!:8080"', "web.listen"),
    ("listen = 8080", "web.listen"),
    ('listen = "127.0.0.1:8080"\nbase_url = "ftp://desk.example.org"', "web.base_url"),
    ('listen = "127.0.0.1:8080"\nbase_url = "desk.example.org"', "web.base_url"),
    ('listen = "127.0.0.1:8080"\nbase_url = "https://desk.example.org:99999"', "web.base_url"),
    ('listen = "127.0.0.1:8080"\nbase_url = "https://desk.example.org/?a=1"', "web.base_url"),
    ('listen = "127.0.0.1:8080"\nsecret = "rahasia"', "web.secret"),
    ('listen = "127.0.0.1:8080"\nsecret_env = "A"\nsecret_file = "b"', "web.secret_env"),
    ('listen = "127.0.0.1:8080"\nport = 8080', "web.port"),
])
def test_a_bad_web_value_exits_2_with_one_bahasa_line_naming_the_key(tmp_path, capsys, line, key):
    path = write(tmp_path, line)
    for args in (("tickets", "list"), ("check", "--offline")):
        code = main(["--config", str(path), *args])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and f"{key}:" in err, err
        assert "Traceback" not in err and not any(w in err for w in ("must", "unknown", "invalid", "got"))


@pytest.mark.parametrize("edit", ["session_hours = 0", "session_hours = -1", "session_hours = 721",
                                  'session_hours = "8"', "max_upload_mb = 0", "max_upload_mb = 2000",
                                  "max_upload_mb = 1.5"])
def test_bad_session_and_upload_limits_are_refused(tmp_path, capsys, edit):
    key = edit.split(" ")[0]
    path = tmp_path / "settings.toml"
    path.write_text(EXAMPLE.replace(f"{key} = {8 if key == 'session_hours' else 10}", edit, 1), encoding="utf-8")
    code = main(["--config", str(path), "check", "--offline"])
    err = capsys.readouterr().err
    assert code == 2 and f"web.{key}:" in err and len(err.strip().splitlines()) == 1, err


def test_the_listen_option_parser_is_the_settings_one():
    assert parse_listen("--listen", "0.0.0.0:80") == ("0.0.0.0", 80)
    with pytest.raises(ConfigError, match="--listen: harus berbentuk HOST:PORT"):
        parse_listen("--listen", "localhost")


def test_check_offline_reads_the_web_secret(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KPUDESK_WEB_SECRET_T", raising=False)
    monkeypatch.setenv("KPUDESK_IMAP_PASSWORD", "x")
    monkeypatch.setenv("KPUDESK_SMTP_PASSWORD", "x")
    path = write(tmp_path, 'listen = "127.0.0.1:8080"\nsecret_env = "KPUDESK_WEB_SECRET_T"')
    assert main(["--config", str(path), "check", "--offline"]) == 2
    assert "web.secret_env" in capsys.readouterr().err
    monkeypatch.setenv("KPUDESK_WEB_SECRET_T", "k" * 40)
    assert main(["--config", str(path), "check", "--offline"]) == 0
    assert web_secret(load_settings(path)) == b"k" * 40


def test_without_a_configured_secret_each_install_makes_its_own_private_key(tmp_path):
    one, two = tmp_path / "a", tmp_path / "b"
    keys = []
    for root in (one, two):
        root.mkdir()
        (root / "settings.toml").write_text(EXAMPLE, encoding="utf-8")
        settings = load_settings(root / "settings.toml")
        first = web_secret(settings)
        assert web_secret(settings) == first and len(first) >= 32  # stable across restarts
        key_file = settings.storage_dir / "web-secret"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert os.listdir(settings.storage_dir) == ["web-secret"]  # no temporary file left behind
        keys.append(first)
    assert keys[0] != keys[1]
    (two / "state" / "web-secret").write_text("")
    with pytest.raises(ConfigError, match="storage.dir: kunci sesi .* kosong"):
        web_secret(load_settings(two / "settings.toml"))


@needs_root
def test_check_names_a_web_key_the_service_user_cannot_read(tmp_path):
    storage = tmp_path / "var"
    storage.mkdir(mode=0o700)
    (tmp_path / "settings.toml").write_text(EXAMPLE.replace('dir = "state"', f'dir = "{storage}"', 1),
                                            encoding="utf-8")
    key = storage / "web-secret"
    key.write_text("k" * 64)
    env = {"KPUDESK_IMAP_PASSWORD": "x", "KPUDESK_SMTP_PASSWORD": "x"}
    assert check_as_service_user(tmp_path / "settings.toml", env).returncode == 0
    os.chown(key, OTHER, OTHER)  # made by a first `kpudesk web` run as another user
    os.chmod(key, 0o600)
    r = check_as_service_user(tmp_path / "settings.toml", env)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert str(key) in r.stderr and "tidak dapat membaca kunci sesi web" in r.stderr
