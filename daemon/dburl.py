"""The database URL: checked, shown without credentials, completed with the password.

A PostgreSQL password never needs to be in settings.toml (`[database] password_env |
password_file`); where one is written in the URL anyway, nothing kpudesk prints repeats it.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from kpudesk.tickets.errors import ConfigError


def redact_url(url: str) -> str:
    """`url` without its password and query string (where libpq takes `password=` too)."""
    if url.startswith("sqlite:"):
        return url
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        user = parts.username
    except ValueError:
        return "<URL tidak terbaca>"
    if parts.password is not None:
        user = f"{user or ''}:***"
    netloc = f"{user}@{host}" if user else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def database_url(url: str | None, storage_dir: Path, base: Path) -> str:
    """`[database] url` checked and made absolute (SQLite paths are relative to the settings)."""
    if url is None:
        return f"sqlite:///{storage_dir / 'kpudesk.db'}"
    if url.startswith("sqlite:///"):
        if not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
            url = f"sqlite:///{base / url[len('sqlite:///'):]}"  # relative to the settings file
        return url
    if not re.match(r"^(postgres|postgresql|postgresext)://", url):
        raise ConfigError("database.url", f"harus sqlite:///PATH atau postgresql://USER@HOST/DB, bukan {redact_url(url)!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:  # its message may quote what follows the host: say what is wrong instead
        raise ConfigError("database.url", "port harus angka 1 sampai 65535 "
                                          "(postgresql://USER@HOST:PORT/DB)") from None
    if not parts.hostname or not parts.path.strip("/"):
        raise ConfigError("database.url", f"perlu nama host dan nama basis data (postgresql://USER@HOST/DB), "
                                          f"bukan {redact_url(url)!r}")
    return url


def with_password(url: str, password: str) -> str:
    """`url` with `password` in it, URL-quoted (read back with `unquote_password`)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{quote(password, safe='')}@{host}"))
