"""`kpudesk auth oauth2 imap|smtp` as an administrator runs it in a terminal, against a real
OAuth2 provider on loopback (tests/servers/oauth_provider.py): the device-code flow
(Microsoft 365's) and the authorization code with PKCE and a pasted-back address (Google's).
The mail servers are not running here (port 9): the command says the token is stored but
could not be tried; tests/e2e/test_oauth2_daemon.py tries it on real servers."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.servers.oauth_provider import DEFAULT_CLIENT_ID, FakeProvider

USER = "helpdesk@kpu-mesuji.example.org"


def write_settings(root: Path, provider: FakeProvider, *, device: bool = True, section: str = "imap") -> Path:
    oauth = (f'auth = "oauth2"\noauth2_client_id = "{DEFAULT_CLIENT_ID}"\noauth2_scope = "mail"\n'
             f'oauth2_token_url = "{provider.token_url}"\n'
             + (f'oauth2_device_url = "{provider.device_url}"\n' if device else
                f'oauth2_auth_url = "{provider.authorize_url}"\n'))
    imap = f'host = "127.0.0.1"\nport = 9\nsecurity = "none"\nusername = "{USER}"\n'
    smtp = 'host = "127.0.0.1"\nport = 9\nsecurity = "none"\n'
    if section == "imap":
        imap = imap + oauth
    else:
        imap, smtp = imap + 'password_env = "KPUDESK_UNUSED"\n', smtp + f'username = "{USER}"\n' + oauth
    text = (f'[helpdesk]\nname = "Helpdesk KPU Mesuji"\naddress = "{USER}"\ntag = "HD-MSJ"\n\n'
            f'[imap]\n{imap}\n[smtp]\n{smtp}\n[storage]\ndir = "{root / "state"}"\n')
    path = root / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def spawn(path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kpudesk.daemon", "--config", str(path), *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def read_until(proc: subprocess.Popen, mark: str, seen: list[str]) -> str:
    for line in proc.stdout:
        seen.append(line)
        if mark in line:
            return line
    raise AssertionError(f"no line with {mark!r}; got {seen!r}; stderr {proc.stderr.read()!r}")


def finish(proc: subprocess.Popen, seen: list[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, "".join(seen) + out, err


@pytest.fixture
def provider():
    with FakeProvider() as p:
        yield p


def token_file(root: Path, section: str = "imap") -> Path:
    return root / "state" / "oauth2" / f"{section}-refresh-token"


def test_device_flow_prints_the_code_and_stores_a_private_refresh_token(tmp_path, provider):
    proc = spawn(write_settings(tmp_path, provider), "auth", "oauth2", "imap")
    seen: list[str] = []
    assert provider.verification_uri in read_until(proc, "Buka", seen)
    code = read_until(proc, "Masukkan kode:", seen).split("Masukkan kode:")[1].strip()
    provider.approve_device(code, USER)
    rc, out, err = finish(proc, seen)
    assert rc == 0, err
    stored = token_file(tmp_path).read_text().strip()
    assert provider.refresh_tokens_of(USER) == [stored]
    assert stat.S_IMODE(token_file(tmp_path).stat().st_mode) == 0o600
    assert "Refresh token disimpan" in out and "tidak dapat dihubungi" in out  # IMAP on port 9: not tried
    assert stored not in out + err


def test_device_flow_declined_or_expired_says_so_and_stores_nothing(tmp_path, provider):
    path = write_settings(tmp_path, provider, section="smtp")
    for act, words in ((provider.deny_device, "ditolak"), (provider.expire_device, "kedaluwarsa")):
        proc = spawn(path, "auth", "oauth2", "smtp")
        seen: list[str] = []
        act(read_until(proc, "Masukkan kode:", seen).split("Masukkan kode:")[1].strip())
        rc, out, err = finish(proc, seen)
        assert rc == 1 and words in err and "Traceback" not in err
        assert not token_file(tmp_path, "smtp").exists()


def browse(url: str) -> dict[str, str]:
    """The administrator's browser opening the consent page; the query it carried."""
    with urllib.request.urlopen(url, timeout=10) as page:
        assert page.status == 200
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_code_flow_with_pkce_takes_the_pasted_address(tmp_path, provider):
    proc = spawn(write_settings(tmp_path, provider, device=False), "auth", "oauth2", "imap")
    seen: list[str] = []
    url = read_until(proc, provider.authorize_url, seen).strip()
    query = browse(url)
    assert query["code_challenge_method"] == "S256" and query["login_hint"] == USER
    code = provider.approve_code(query["state"], USER)
    read_until(proc, "tempel di sini", seen)
    proc.stdin.write(f"{query['redirect_uri']}?state={query['state']}&code={code}&scope=mail\n")
    proc.stdin.flush()
    rc, out, err = finish(proc, seen)
    assert rc == 0, err
    assert provider.refresh_tokens_of(USER) == [token_file(tmp_path).read_text().strip()]
    assert query["redirect_uri"].startswith("http://127.0.0.1:")


def test_code_flow_refuses_an_address_from_another_request(tmp_path, provider):
    proc = spawn(write_settings(tmp_path, provider, device=False), "auth", "oauth2", "imap")
    seen: list[str] = []
    query = browse(read_until(proc, provider.authorize_url, seen).strip())
    code = provider.approve_code(query["state"], USER)
    proc.stdin.write(f"{query['redirect_uri']}?state=someone-else&code={code}\n")
    proc.stdin.flush()
    rc, out, err = finish(proc, seen)
    assert rc == 1 and "state tidak cocok" in err and not token_file(tmp_path).exists()


def test_a_password_mailbox_is_told_how_to_switch(tmp_path, provider):
    path = write_settings(tmp_path, provider, section="smtp")
    proc = spawn(path, "auth", "oauth2", "imap")
    rc, out, err = finish(proc, [])
    assert rc == 2 and "imap.auth" in err and 'auth = "oauth2"' in err


def test_check_offline_without_a_token_names_the_command(tmp_path, provider):
    proc = spawn(write_settings(tmp_path, provider), "check", "--offline")
    rc, out, err = finish(proc, [])
    assert rc == 2 and "kpudesk auth oauth2 imap" in err and "imap.oauth2_refresh_token_file" in err
