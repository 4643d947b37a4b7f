"""Access tokens for IMAP and SMTP from a stored OAuth2 refresh token (issue 16).

A `TokenSource` is the ``oauth2`` callable the mail adapters take (mailbox/sasl.py:
``force -> access token``). It keeps the access token in memory and renews it
`RENEW_BEFORE` seconds before it expires, or at once when the server refused it
(``force=True``). Renewal is the RFC 6749 refresh_token grant, through Authlib. When the
provider rotates the refresh token, the new one replaces the file atomically: a temporary
file in the same folder, fsync, rename, so a crash leaves the old token or the new one,
never half of either. Every process (the daemon, a `kpudesk poll`, `kpudesk auth`) reads
and writes the file under one lock file, so none renews with a token another has just
rotated away (which the provider would call revoked).

What the provider answers becomes the mail adapters' errors, so the CLI and the daemon
treat it as they treat any login:
* the refresh token refused (revoked, expired, the password changed, MFA now required) ->
  `TokenRefused` (an AuthenticationFailed): the message names the provider's reason and
  the command to run; the daemon logs it and retries at the next poll, nothing lost;
* the endpoint unreachable, a 5xx, an answer that is not a token -> `ServerUnavailable`;
* no refresh token stored yet -> ConfigError naming the command.
Tokens and the client secret never appear in a message, a log line or a repr.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session

from kpudesk.mailbox.errors import AuthenticationFailed, ServerUnavailable
from kpudesk.tickets.clock import Clock
from kpudesk.tickets.errors import ConfigError

from .settings import OAuth2Settings, os_problem

log = logging.getLogger(__name__)

RENEW_BEFORE = 300  # seconds: renew this long before the access token's expiry (a tenth of
# a lifetime shorter than 50 minutes)
DEFAULT_LIFETIME = 3600  # an answer without expires_in: assume the usual hour
HTTP_TIMEOUT = 30.0
# Token endpoint errors that need a person (RFC 6749 section 5.2); anything else is the
# provider's trouble and passes.
_NEEDS_PERSON = ("invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope", "interaction_required",
                 "consent_required", "login_required")
_MFA_MARKS = ("AADSTS50076", "AADSTS50079", "AADSTS50158", "interaction_required")


class TokenRefused(AuthenticationFailed):
    """The provider refused the stored refresh token: someone must sign in again."""


def command_for(cfg: OAuth2Settings) -> str:
    return f"kpudesk auth oauth2 {cfg.section}"


def refusal_text(cfg: OAuth2Settings, error: str, description: str) -> str:
    """Why the provider refused, in Bahasa Indonesia, and what to run."""
    said = f"{error}: {description}".strip(": ")[:300]
    if any(mark in f"{error} {description}" for mark in _MFA_MARKS):
        why = "akun kini wajib verifikasi tambahan (MFA) atau persetujuan ulang"
    elif error == "invalid_client":
        why = "aplikasi OAuth2 (oauth2_client_id / rahasia klien) tidak dikenal atau rahasianya salah"
    elif error == "invalid_scope":
        why = "scope tidak diizinkan untuk aplikasi ini"
    else:
        why = "refresh token dicabut atau kedaluwarsa (kata sandi diganti, akses dicabut admin, atau lama tak dipakai)"
    return (f"penyedia OAuth2 {cfg.provider} menolak refresh token {cfg.section} ({said}): {why}. "
            f"Jalankan `{command_for(cfg)}` untuk masuk ulang; surel tetap menunggu di server dan diambil "
            "setelahnya")


def session(cfg: OAuth2Settings, **kwargs) -> OAuth2Session:
    """An Authlib session for `cfg`'s client: the secret in the form when there is one
    (Google and Microsoft both accept client_secret_post), only the client id otherwise."""
    secret = cfg.client_secret.read() if cfg.client_secret.configured else None
    return OAuth2Session(cfg.client_id, secret, scope=cfg.scope,
                         token_endpoint_auth_method="client_secret_post" if secret else "none", **kwargs)


def read_refresh_token(cfg: OAuth2Settings) -> str:
    path = cfg.refresh_token_file
    key = f"{cfg.section}.oauth2_refresh_token_file"
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(key, f"{path} belum ada: jalankan `{command_for(cfg)}` untuk masuk "
                               "dan menyimpan refresh token") from None
    except OSError as exc:
        raise ConfigError(key, f"tidak dapat membaca {path}: {os_problem(exc)}") from None
    except UnicodeDecodeError:
        raise ConfigError(key, f"{path} bukan teks UTF-8") from None
    if not token:
        raise ConfigError(key, f"{path} kosong: jalankan `{command_for(cfg)}`")
    return token


def store_refresh_token(path: Path, token: str) -> None:
    """Replace `path` with `token` atomically, readable only by its owner (0600)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, token.encode("utf-8") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)


@contextmanager
def renewal_lock(cfg: OAuth2Settings) -> Iterator[None]:
    """One renewal at a time across processes for one refresh token file."""
    path = cfg.refresh_token_file.with_name(cfg.refresh_token_file.name + ".lock")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"{cfg.section}.oauth2_refresh_token_file",
                          f"tidak dapat membuat {path}: {os_problem(exc)}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def seconds_of(value: object, default: int = DEFAULT_LIFETIME) -> int:
    """A provider's count of seconds (expires_in, interval: a number, sometimes a string),
    at least 1; `default` when it is missing or no number."""
    try:
        return max(int(value), 1) if value is not None else default
    except (TypeError, ValueError):
        return default


class TokenSource:
    """``source(force=False) -> access token`` for one server section (see the module doc)."""

    def __init__(self, cfg: OAuth2Settings, clock: Clock, *, timeout: float = HTTP_TIMEOUT) -> None:
        self.cfg, self.clock, self.timeout = cfg, clock, timeout
        self._lock = threading.Lock()
        self._access: str | None = None
        self._expires: datetime | None = None
        self._margin = timedelta(seconds=RENEW_BEFORE)

    def __repr__(self) -> str:
        return f"TokenSource({self.cfg.section}, {self.cfg.provider}, {urlsplit(self.cfg.token_url).hostname})"

    def prime(self, access: str, expires_in: object) -> None:
        """Start with an access token just obtained (by `kpudesk auth`), not a renewal."""
        if access:
            self._set(access, seconds_of(expires_in))

    def __call__(self, force: bool = False) -> str:
        with self._lock:
            now = self.clock.now()
            if not force and self._access and self._expires and now < self._expires - self._margin:
                return self._access
            why = "the server refused the old one" if force else "it expires" if self._access else "first use"
            with renewal_lock(self.cfg):
                self._access, lifetime = self._renew()
            self._set(self._access, lifetime)
            log.info("%s: OAuth2 access token renewed (%s), valid %d s", self.cfg.section, why, lifetime)
            return self._access

    def _set(self, access: str, lifetime: int) -> None:
        self._access = access
        self._expires = self.clock.now() + timedelta(seconds=lifetime)
        self._margin = timedelta(seconds=min(RENEW_BEFORE, lifetime // 10))

    def _renew(self) -> tuple[str, int]:
        # Read under the lock: a token another process rotated meanwhile is the one read.
        refresh = read_refresh_token(self.cfg)
        answer = self._grant(refresh)
        access = answer.get("access_token")
        if not isinstance(access, str) or not access:
            raise ServerUnavailable(f"{self._where}: the answer holds no access_token")
        rotated = answer.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != refresh:
            store_refresh_token(self.cfg.refresh_token_file, rotated)
            log.info("%s: the provider rotated the refresh token; %s updated", self.cfg.section,
                     self.cfg.refresh_token_file)
        return access, seconds_of(answer.get("expires_in"))

    @property
    def _where(self) -> str:
        return f"OAuth2 token endpoint {urlsplit(self.cfg.token_url).hostname}"

    def _grant(self, refresh: str) -> dict:
        client = session(self.cfg)
        try:
            return dict(client.refresh_token(self.cfg.token_url, refresh_token=refresh, timeout=self.timeout))
        except AuthlibBaseError as exc:
            error, description = str(exc.error or ""), str(exc.description or "")
            if error in _NEEDS_PERSON:
                raise TokenRefused(refusal_text(self.cfg, error, description)) from None
            raise ServerUnavailable(f"{self._where}: {error} {description}"[:300]) from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise ServerUnavailable(f"{self._where}: HTTP {status}") from None
        except (requests.RequestException, ValueError) as exc:
            raise ServerUnavailable(f"{self._where}: {type(exc).__name__}") from None
        finally:
            client.close()
