"""The OAuth2 keys of `[imap]` and `[smtp]` (issue 16): `auth = "password" | "oauth2"` and,
for OAuth2, where access tokens come from.

`oauth2_provider = "google" | "microsoft"` fills the endpoints and the scope; "custom" (or no
provider) takes them from `oauth2_token_url`, `oauth2_device_url`, `oauth2_auth_url` and
`oauth2_scope`, which also override a preset one by one. Microsoft's endpoints name a tenant
(`oauth2_tenant`, default "common": any work or school account; an office may put its own
domain or tenant id). Google offers no device-code flow for the mail scope, so its preset has
no device URL: `kpudesk auth oauth2` uses the authorization code with PKCE there.

The refresh token lives in `oauth2_refresh_token_file` (default
`<storage.dir>/oauth2/<imap|smtp>-refresh-token`), written by `kpudesk auth oauth2` and
rewritten when the provider rotates it; the client secret, when the app has one, comes from
`oauth2_client_secret_env | _file` like any other secret.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from kpudesk.tickets.errors import ConfigError

from .settings import OAuth2Settings

AUTH_KINDS = ("password", "oauth2")
KEYS = {"auth", "oauth2_provider", "oauth2_tenant", "oauth2_token_url", "oauth2_device_url", "oauth2_auth_url",
        "oauth2_client_id", "oauth2_client_secret_env", "oauth2_client_secret_file", "oauth2_refresh_token_file",
        "oauth2_scope"}
LOOPBACK = ("127.0.0.1", "::1", "localhost")

_MS = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0"
# Each preset: the endpoints, then the scope per section. Google's one scope covers IMAP and
# SMTP; Microsoft's two are separate grants, "offline_access" asks for a refresh token.
PRESETS: dict[str, dict[str, str | None]] = {
    "google": {
        "token_url": "https://oauth2.googleapis.com/token",
        "device_url": None,
        "auth_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "imap": "https://mail.google.com/",
        "smtp": "https://mail.google.com/",
    },
    "microsoft": {
        "token_url": _MS + "/token",
        "device_url": _MS + "/devicecode",
        "auth_url": _MS + "/authorize",
        "imap": "https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
        "smtp": "https://outlook.office.com/SMTP.Send offline_access",
    },
}


def auth_kind(r) -> str:
    """`auth` of a server section: "password" (default) or "oauth2"; oauth2_* keys need the latter."""
    kind = r.str("auth", "password")
    if kind not in AUTH_KINDS:
        raise ConfigError(r.key("auth"), f"harus \"password\" atau \"oauth2\", bukan {kind!r}")
    if kind == "password":
        stray = sorted(k for k in r.data if k.startswith("oauth2_"))
        if stray:
            raise ConfigError(r.key(stray[0]), 'hanya dipakai bila auth = "oauth2"')
    else:
        stray = sorted(k for k in r.data if k.startswith("password_"))
        if stray:
            raise ConfigError(r.key(stray[0]), 'tidak dipakai bila auth = "oauth2" (token akses menggantikan '
                                                'kata sandi); hapus kunci ini')
    return kind


def _url(key: str, value: str) -> str:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(key, f"port di URL tidak sah: {value!r}") from None
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise ConfigError(key, f"harus URL https://, bukan {value!r}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        # The token endpoint receives the refresh token and the client secret.
        raise ConfigError(key, "harus https:// (http:// hanya untuk 127.0.0.1)")
    return value


def read_oauth2(r, storage_dir: Path) -> OAuth2Settings:
    """The OAuth2 settings of the section `r` reads (a settings_values.Reader)."""
    provider = r.str("oauth2_provider", "custom")
    if provider not in (*PRESETS, "custom"):
        raise ConfigError(r.key("oauth2_provider"), f"harus \"google\", \"microsoft\" atau \"custom\", bukan {provider!r}")
    preset = PRESETS.get(provider, {})
    tenant = r.str("oauth2_tenant", "common")
    if provider != "microsoft" and "oauth2_tenant" in r.data:
        raise ConfigError(r.key("oauth2_tenant"), 'hanya untuk oauth2_provider = "microsoft"')
    if not tenant or not all(c.isalnum() or c in "-._" for c in tenant):
        raise ConfigError(r.key("oauth2_tenant"), f"bukan nama tenant yang sah: {tenant!r} (mis. \"common\", "
                                                  "\"kpu-mesuji.go.id\" atau ID tenant)")

    def endpoint(name: str, *, required: bool = False) -> str | None:
        value = r.str(f"oauth2_{name}") or preset.get(name)
        if value is None:
            if required:
                raise ConfigError(r.key(f"oauth2_{name}"), 'wajib diisi bila oauth2_provider bukan "google" '
                                                           'atau "microsoft"')
            return None
        return _url(r.key(f"oauth2_{name}"), value.format(tenant=tenant))

    token_url = endpoint("token_url", required=True)
    scope = r.str("oauth2_scope") or preset.get(r.section)
    if not scope:
        raise ConfigError(r.key("oauth2_scope"), 'wajib diisi bila oauth2_provider bukan "google" atau "microsoft"')
    refresh_file = r.path("oauth2_refresh_token_file") or storage_dir / "oauth2" / f"{r.section}-refresh-token"
    return OAuth2Settings(
        section=r.section, provider=provider,
        token_url=token_url,
        device_url=endpoint("device_url"), auth_url=endpoint("auth_url"),
        client_id=r.str("oauth2_client_id", required=True),
        client_secret=r.secret("oauth2_client_secret", required=False),
        refresh_token_file=refresh_file, scope=scope,
    )
