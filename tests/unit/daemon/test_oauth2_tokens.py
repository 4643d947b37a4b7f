"""OAuth2 settings and the token source (issue 16), against a real HTTP provider on loopback.

The provider is tests/servers/oauth_provider.py's FakeProvider: a real server speaking the
refresh_token grant with Google's and Microsoft's error answers. Time is a FrozenClock
shared by the provider (access-token lifetimes) and the token source (renewal)."""
from __future__ import annotations

import logging
import stat
from datetime import UTC, datetime

import pytest

from kpudesk.daemon.config import settings_from_dict
from kpudesk.daemon.oauth2 import (DEFAULT_LIFETIME, RENEW_BEFORE, TokenRefused, TokenSource, seconds_of,
                                   store_refresh_token)
from kpudesk.mailbox.errors import AuthenticationFailed, ServerUnavailable
from kpudesk.tickets.clock import FrozenClock
from kpudesk.tickets.errors import ConfigError
from tests.feeder import base_settings
from tests.servers.oauth_provider import DEFAULT_CLIENT_ID, FakeProvider

USER = "helpdesk@kpu-mesuji.example.org"


def read(tmp_path, section="imap", **keys):
    data = base_settings(tmp_path)
    table = data[section]
    table.pop("password_env", None)
    table.update({"username": USER, "auth": "oauth2", **keys})
    return settings_from_dict(data, base=tmp_path)


# --- settings -------------------------------------------------------------------------

def test_microsoft_preset_fills_endpoints_with_the_tenant_and_a_scope_per_server(tmp_path):
    imap = read(tmp_path, oauth2_provider="microsoft", oauth2_client_id="app-1", oauth2_tenant="kpu.go.id").imap.oauth2
    assert imap.token_url == "https://login.microsoftonline.com/kpu.go.id/oauth2/v2.0/token"
    assert imap.device_url == "https://login.microsoftonline.com/kpu.go.id/oauth2/v2.0/devicecode"
    assert imap.scope == "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
    smtp = read(tmp_path, "smtp", oauth2_provider="microsoft", oauth2_client_id="app-1").smtp.oauth2
    assert smtp.scope == "https://outlook.office.com/SMTP.Send offline_access"
    assert "/common/" in smtp.token_url and not smtp.client_secret.configured


def test_google_preset_has_no_device_flow_and_the_mail_scope(tmp_path):
    s = read(tmp_path, oauth2_provider="google", oauth2_client_id="x.apps.googleusercontent.com",
             oauth2_client_secret_env="KPUDESK_GOOGLE_SECRET")
    o = s.imap.oauth2
    assert (o.token_url, o.device_url, o.scope) == ("https://oauth2.googleapis.com/token", None, "https://mail.google.com/")
    assert o.auth_url.startswith("https://accounts.google.com/") and o.client_secret.env == "KPUDESK_GOOGLE_SECRET"
    assert o.refresh_token_file == tmp_path / "state" / "oauth2" / "imap-refresh-token"
    assert s.imap.password.configured is False


@pytest.mark.parametrize("keys, key, words", [
    ({"oauth2_client_id": "a", "password_env": "X"}, "imap.password_env", "tidak dipakai"),
    ({"oauth2_client_id": "a"}, "imap.oauth2_token_url", "wajib diisi"),
    ({"oauth2_provider": "yahoo", "oauth2_client_id": "a"}, "imap.oauth2_provider", "yahoo"),
    ({"oauth2_provider": "google"}, "imap.oauth2_client_id", "wajib"),
    ({"oauth2_token_url": "http://login.example.org/token", "oauth2_scope": "s", "oauth2_client_id": "a"},
     "imap.oauth2_token_url", "https://"),
    ({"oauth2_provider": "google", "oauth2_client_id": "a", "oauth2_tenant": "x"}, "imap.oauth2_tenant", "microsoft"),
    ({"oauth2_provider": "google", "oauth2_client_id": "a", "oauth2_client_secret": "s"},
     "imap.oauth2_client_secret", "rahasia tidak pernah"),
    ({"auth": "kerberos"}, "imap.auth", "kerberos"),
])
def test_bad_oauth2_settings_name_the_key_in_bahasa(tmp_path, keys, key, words):
    with pytest.raises(ConfigError) as exc:
        read(tmp_path, **keys)
    assert exc.value.key == key and words in str(exc.value)


def test_oauth2_keys_without_auth_oauth2_are_refused(tmp_path):
    data = base_settings(tmp_path)
    data["imap"]["oauth2_provider"] = "google"
    with pytest.raises(ConfigError) as exc:
        settings_from_dict(data, base=tmp_path)
    assert exc.value.key == "imap.oauth2_provider" and 'auth = "oauth2"' in str(exc.value)


def test_smtp_with_oauth2_needs_the_mailbox_user(tmp_path):
    data = base_settings(tmp_path)
    data["smtp"].update({"auth": "oauth2", "oauth2_provider": "google", "oauth2_client_id": "a"})
    with pytest.raises(ConfigError) as exc:
        settings_from_dict(data, base=tmp_path)
    assert exc.value.key == "smtp.username"


# --- the token source -----------------------------------------------------------------

@pytest.fixture
def clock():
    return FrozenClock(datetime(2026, 12, 7, 1, 0, tzinfo=UTC))


@pytest.fixture
def provider(clock):
    with FakeProvider(access_lifetime=3600, clock=clock) as p:
        yield p


def source_for(tmp_path, provider, clock, refresh: str | None, section="imap") -> TokenSource:
    s = read(tmp_path, section, oauth2_token_url=provider.token_url, oauth2_scope="mail",
             oauth2_client_id=DEFAULT_CLIENT_ID)
    cfg = s.imap.oauth2 if section == "imap" else s.smtp.oauth2
    if refresh is not None:
        store_refresh_token(cfg.refresh_token_file, refresh)
    return TokenSource(cfg, clock)


def refreshes(provider) -> int:
    return sum(1 for path, form in provider.requests if path == "/token" and form.get("grant_type") == "refresh_token")


def test_a_token_is_renewed_once_and_reused_until_shortly_before_it_expires(tmp_path, provider, clock):
    tokens = source_for(tmp_path, provider, clock, provider.add_refresh_token(USER, "mail"))
    first = tokens()
    assert provider.user_of(first) == USER and tokens() == first and refreshes(provider) == 1
    clock.advance(seconds=3600 - RENEW_BEFORE - 1)
    assert tokens() == first and refreshes(provider) == 1
    clock.advance(seconds=2)
    second = tokens()
    assert second != first and provider.user_of(second) == USER and refreshes(provider) == 2


def test_force_renews_a_token_the_server_refused(tmp_path, provider, clock):
    tokens = source_for(tmp_path, provider, clock, provider.add_refresh_token(USER, "mail"))
    first = tokens()
    provider.revoke(first)  # the access token alone died (e.g. the server's cache said so)
    second = tokens(True)
    assert second != first and provider.user_of(second) == USER


def test_a_rotated_refresh_token_replaces_the_file_atomically_and_privately(tmp_path, clock):
    with FakeProvider(rotate=True, clock=clock) as provider:
        old = provider.add_refresh_token(USER, "mail")
        tokens = source_for(tmp_path, provider, clock, old)
        tokens()
        path = tokens.cfg.refresh_token_file
        new = path.read_text().strip()
        assert new != old and provider.refresh_alive(new) and not provider.refresh_alive(old)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
        # A second process reading the same file renews with the rotated token, not the dead one.
        other = TokenSource(tokens.cfg, clock)
        assert provider.user_of(other(True)) == USER


def test_a_revoked_refresh_token_says_what_to_run_and_never_shows_a_token(tmp_path, provider, clock, caplog):
    refresh = provider.add_refresh_token(USER, "mail")
    tokens = source_for(tmp_path, provider, clock, refresh)
    provider.revoke(refresh)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TokenRefused) as exc:
        tokens()
    text = str(exc.value)
    assert isinstance(exc.value, AuthenticationFailed)
    assert "kpudesk auth oauth2 imap" in text and "invalid_grant" in text and "dicabut" in text
    assert refresh not in text and refresh not in caplog.text and refresh not in repr(tokens)


def test_mfa_required_after_set_up_is_named(tmp_path, provider, clock):
    """FreeScout #5122: MFA switched on for the account after the token was made."""
    refresh = provider.add_refresh_token(USER, "mail")
    tokens = source_for(tmp_path, provider, clock, refresh, section="smtp")
    provider.require_mfa(refresh)
    with pytest.raises(TokenRefused) as exc:
        tokens()
    assert "AADSTS50076" in str(exc.value) and "MFA" in str(exc.value) and "kpudesk auth oauth2 smtp" in str(exc.value)


def test_a_provider_outage_is_temporary_and_the_next_call_succeeds(tmp_path, provider, clock):
    tokens = source_for(tmp_path, provider, clock, provider.add_refresh_token(USER, "mail"))
    provider.fail_next(1, status=503)
    with pytest.raises(ServerUnavailable) as exc:
        tokens()
    assert "503" in str(exc.value)
    assert provider.user_of(tokens()) == USER


def test_an_unreachable_provider_is_temporary(tmp_path, provider, clock):
    tokens = source_for(tmp_path, provider, clock, provider.add_refresh_token(USER, "mail"))
    provider.stop()
    with pytest.raises(ServerUnavailable):
        tokens()


def test_no_refresh_token_yet_names_the_command(tmp_path, provider, clock):
    tokens = source_for(tmp_path, provider, clock, None)
    with pytest.raises(ConfigError) as exc:
        tokens()
    assert exc.value.key == "imap.oauth2_refresh_token_file" and "kpudesk auth oauth2 imap" in str(exc.value)


def test_a_wrong_client_secret_is_named(tmp_path, clock, monkeypatch):
    with FakeProvider(client_secret="benar", clock=clock) as provider:
        monkeypatch.setenv("KPUDESK_OAUTH2_SECRET", "Zq-wrong-9")
        s = read(tmp_path, oauth2_token_url=provider.token_url, oauth2_scope="mail", oauth2_client_id=DEFAULT_CLIENT_ID,
                 oauth2_client_secret_env="KPUDESK_OAUTH2_SECRET")
        store_refresh_token(s.imap.oauth2.refresh_token_file, provider.add_refresh_token(USER, "mail"))
        with pytest.raises(TokenRefused) as exc:
            TokenSource(s.imap.oauth2, clock)()
        assert "invalid_client" in str(exc.value) and "Zq-wrong-9" not in str(exc.value)
        monkeypatch.setenv("KPUDESK_OAUTH2_SECRET", "benar")
        assert provider.user_of(TokenSource(s.imap.oauth2, clock)()) == USER


@pytest.mark.parametrize("value, default, seconds", [
    (3599, DEFAULT_LIFETIME, 3599), ("900", 900, 900), (None, 900, 900), ("lima", 5, 5), ([], 5, 5), (0, 5, 1),
    (-3, DEFAULT_LIFETIME, 1),
])
def test_a_providers_seconds_fall_back_to_the_default_the_caller_names(value, default, seconds):
    """A device-code answer with a malformed `interval` polls every 5 s, not every hour
    (the token lifetime's default)."""
    assert seconds_of(value, default=default) == seconds
