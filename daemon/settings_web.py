"""The `[web]` section of settings.toml: where the officers' web desk listens, the URL
browsers use to reach it, its session key and limits (design.md, "Web desk contract").

`parse_listen` is also what `kpudesk web --listen HOST:PORT` uses, so the option and the
setting accept and refuse the same text.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from kpudesk.tickets.errors import ConfigError

from .settings import WebSettings

_HOST_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.\-]{0,252})?")
_MAX_SESSION_HOURS = 24 * 30


def parse_listen(key: str, value: Any) -> tuple[str, int]:
    """"HOST:PORT" (IPv6 as "[::1]:8080") → (host, port); anything else a ConfigError."""
    if not isinstance(value, str):
        raise ConfigError(key, "harus berupa teks HOST:PORT, mis. \"127.0.0.1:8080\"")
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^:\[\]\s]+):(\d{1,5})", value.strip())
    if not m:
        raise ConfigError(key, f"harus berbentuk HOST:PORT, mis. \"127.0.0.1:8080\", bukan {value!r}")
    host, port = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    if not m.group(1) and not _HOST_RE.fullmatch(host):
        raise ConfigError(key, f"nama host tidak sah: {host!r}")
    if not 1 <= int(port) <= 65535:
        raise ConfigError(key, f"port harus antara 1 dan 65535, bukan {int(port)}")
    return host, int(port)


def default_base_url(host: str, port: int) -> str:
    """The URL of a desk reached directly at its listen address (no proxy in front)."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # "every address": link to this machine
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _base_url(key: str, value: str) -> str:
    parts = urlsplit(value.strip())
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number or too large
    except ValueError:
        raise ConfigError(key, f"port di URL tidak sah: {value!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(key, f"harus URL http:// atau https://, mis. \"https://helpdesk.kpu-mesuji.go.id\", "
                               f"bukan {value!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(key, "tidak boleh memuat ?query, #fragmen atau nama pengguna/kata sandi")
    return value.strip().rstrip("/")


def read_web(r) -> WebSettings:
    """The `[web]` section, read with a settings_read.Reader (defaults when it is absent)."""
    host, port = parse_listen(r.key("listen"), r.data.get("listen", "127.0.0.1:8080"))
    base_url = r.str("base_url")
    secret = r.secret("secret", required=False)
    hours = r.data.get("session_hours", 8)
    if not isinstance(hours, (int, float)) or isinstance(hours, bool):
        raise ConfigError(r.key("session_hours"), "harus berupa angka jam, mis. 8")
    if not 0 < hours <= _MAX_SESSION_HOURS:
        raise ConfigError(r.key("session_hours"), f"harus lebih dari 0 dan paling banyak {_MAX_SESSION_HOURS}, "
                                                  f"bukan {hours}")
    return WebSettings(
        listen_host=host, listen_port=port,
        base_url=_base_url(r.key("base_url"), base_url) if base_url else default_base_url(host, port),
        secret_env=secret.env, secret_file=secret.file,
        session_hours=float(hours), max_upload_mb=r.int("max_upload_mb", 10, 1, 1024),
    )
