"""The settings value types: frozen dataclasses, one per settings.toml section, and the
secrets they point to (read only when needed, never stored in the file).

`settings_read.py` builds these from the TOML text; everything else receives a `Settings`
and reads its fields. Problems found while reading a secret are `ConfigError`s in Bahasa
Indonesia naming the key, which the CLI prints as one line and exits 2.
"""
from __future__ import annotations

import errno
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kpudesk.tickets.errors import ConfigError, UserError

from .dburl import redact_url, with_password

ROLES = ("anggota-helpdesk", "koordinator-harian", "koordinator", "sekretaris", "ketua", "anggota-kpu")
SECURITY = ("tls", "starttls", "none")
SOP_RECEIVE_SECONDS = 600  # SOP: a party's mail is "received" (ticket made) within 10 minutes
MIN_POLL_SECONDS = 120  # each poll is a login and two EXAMINEs; the poll lock prevents overlap
__all__ = [
    "MIN_POLL_SECONDS", "ROLES", "SECURITY", "SOP_RECEIVE_SECONDS", "EscalationSettings", "HelpdeskSettings",
    "ImapSettings", "MailSettings", "MirrorSettings", "OAuth2Settings", "Officer", "ReportSettings", "Secret", "Settings", "SmtpSettings",
    "WebSettings", "web_secret",
]

WEB_SECRET_FILE = "web-secret"  # in storage.dir, when [web] names no secret_env/secret_file


def os_problem(exc: OSError) -> str:
    """An OSError in Bahasa Indonesia (strerror is English, from the C library)."""
    return {errno.ENOENT: "tidak ditemukan", errno.EACCES: "izin ditolak", errno.EPERM: "izin ditolak",
            errno.EISDIR: "berupa folder, bukan berkas", errno.ENOTDIR: "salah satu foldernya bukan folder",
            }.get(exc.errno, f"galat sistem {exc.errno}")


@dataclass(frozen=True)
class Secret:
    """Where a secret comes from; read only when needed so `check` can name the problem."""

    key: str  # settings key, for messages
    env: str | None = None
    file: Path | None = None

    @property
    def configured(self) -> bool:
        return bool(self.env or self.file)

    def read(self) -> str:
        if self.env:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError(f"{self.key}_env", f"variabel lingkungan {self.env} tidak diatur atau kosong")
            return value
        if self.file:
            try:
                value = self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{self.key}_file", f"tidak dapat membaca {self.file}: {os_problem(exc)}") from None
            except UnicodeDecodeError:
                raise ConfigError(f"{self.key}_file", f"{self.file} bukan teks UTF-8") from None
            if not value:
                raise ConfigError(f"{self.key}_file", f"{self.file} kosong")
            return value
        raise ConfigError(self.key, "password_env atau password_file belum diatur")


@dataclass(frozen=True)
class HelpdeskSettings:
    name: str
    address: str
    tag: str
    timezone: str
    service_hours: str
    service_days: str
    closures: tuple[str, ...]
    msgid_domain: str
    secret: Secret
    templates_dir: Path | None
    ack_per_hour: int
    ack_per_day: int


@dataclass(frozen=True)
class OAuth2Settings:
    """How `[imap]` or `[smtp]` gets access tokens (`auth = "oauth2"`, daemon/oauth2.py)."""

    section: str  # "imap" | "smtp": names the `kpudesk auth oauth2` command to run
    provider: str  # "google" | "microsoft" | "custom"
    token_url: str
    device_url: str | None  # RFC 8628 device authorization endpoint (Microsoft, custom)
    auth_url: str | None  # authorization endpoint for the code + PKCE flow (Google, custom)
    client_id: str
    client_secret: Secret  # unconfigured for a public client (Microsoft's device flow)
    refresh_token_file: Path
    scope: str


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: str
    username: str
    password: Secret
    ca_file: Path | None
    inbox: str
    spam: str  # "" = find the \Junk special-use folder
    poll_every: int  # seconds
    batch_size: int
    mark_seen: bool
    timeout: float
    workers: int = 0  # analysis processes for a bulk import (2 on two cores); 0: all in the main process
    max_message_mb: int = 25  # larger mail is quarantined by its RFC822.SIZE, never downloaded whole
    idle: bool = False  # keep an IMAP IDLE connection on the inbox (RFC 2177): new mail in seconds
    idle_renew: int = 1500  # seconds: IDLE is re-issued at least this often (RFC 2177: under 29 min)
    oauth2: OAuth2Settings | None = None  # set when `auth = "oauth2"`: the password is unused


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str
    username: str | None
    password: Secret
    ca_file: Path | None
    timeout: float
    save_sent: bool
    sent_folder: str
    oauth2: OAuth2Settings | None = None  # set when `auth = "oauth2"`: the password is unused


@dataclass(frozen=True)
class Officer:
    name: str
    email: str
    role: str


@dataclass(frozen=True)
class EscalationSettings:
    anggota: tuple[str, ...] = ()
    provinsi: str | None = None
    provinsi_ticket_pattern: str | None = None
    provinsi_roles: tuple[str, ...] = ("anggota-kpu", "ketua")


@dataclass(frozen=True)
class ReportSettings:
    progress_at: tuple[str, ...] = ("08:00", "17:00")
    recap_at: str = "17:05"
    progress_to: tuple[str, ...] = ()
    recap_to: tuple[str, ...] = ()
    followup_at: str = "17:01"


@dataclass(frozen=True)
class MailSettings:
    """Sender authentication: whose Authentication-Results headers to believe."""

    trusted_authserv_id: str | None = None  # the receiving server's authserv-id (RFC 8601)
    # Domains whose mail servers sign nothing: their mail counts as authenticated when it
    # is not an explicit fail (a relaxation `kpudesk check` warns about).
    unsigned_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebSettings:
    """The officers' web desk (`kpudesk web`, design.md "Web desk contract")."""

    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    base_url: str = "http://127.0.0.1:8080"  # how browsers reach the desk (links, Secure cookies)
    secret_env: str | None = None  # the session-signing key; neither set: <storage>/web-secret
    secret_file: Path | None = None
    session_hours: float = 8.0  # idle time after which an officer logs in again
    max_upload_mb: int = 10  # attachments of one reply or guestbook entry, together

    @property
    def secret(self) -> Secret:
        return Secret("web.secret", self.secret_env, self.secret_file)

    @property
    def https(self) -> bool:
        """The desk is reached over TLS (a proxy in front): session cookies get `Secure`."""
        return self.base_url.startswith("https://")


@dataclass(frozen=True)
class MirrorSettings:
    """The office's cloud folder (`[storage] mirror`, issue 15): an rclone remote the office
    configured with `rclone config`; its secrets stay in rclone's config file, never here."""

    remote: str | None = None  # "remote:path"; None: no cloud folder (files still queue)
    config: Path | None = None  # rclone's config file; None: rclone's own default
    rclone: str = "rclone"  # the rclone program (name on PATH or a path)
    timeout: int = 60  # seconds without progress before rclone gives up on a connection

    @property
    def configured(self) -> bool:
        return bool(self.remote)


@dataclass(frozen=True)
class Settings:
    path: Path | None
    helpdesk: HelpdeskSettings
    imap: ImapSettings
    smtp: SmtpSettings
    database_url: str
    storage_dir: Path
    escalation: EscalationSettings
    reports: ReportSettings
    officers: tuple[Officer, ...]
    parties_registry: Path | None
    faq_file: Path | None
    faq_threshold: float | None
    log_level: str
    default_officer: str | None = None
    mail: MailSettings = field(default_factory=MailSettings)
    database_password: Secret = field(default_factory=lambda: Secret("database.password"))
    web: WebSettings = field(default_factory=WebSettings)
    mirror: MirrorSettings = field(default_factory=MirrorSettings)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def database_dsn(self) -> str:
        """The URL to connect with, credentials included: never print or log it.

        `[database] password_env | password_file` is inserted URL-quoted into a PostgreSQL
        URL (the driver gets it back with `unquote_password`)."""
        if not self.database_password.configured:
            return self.database_url
        return with_password(self.database_url, self.database_password.read())

    def database_location(self) -> str:
        """Where the database is, for people and logs: no password, no query parameters."""
        return redact_url(self.database_url)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.helpdesk.timezone)

    def officer(self, who: str | None) -> Officer:
        """Find an officer by name or email (case-insensitive); None → the default officer."""
        if not self.officers:
            raise ConfigError("officers", "belum ada [[officers]]; tambahkan petugas helpdesk ke settings.toml")
        who = who or self.default_officer
        if not who:
            if len(self.officers) == 1:
                return self.officers[0]
            raise UserError("sebutkan petugas dengan --as NAMA (atau atur helpdesk.default_officer)")
        w = who.strip().lower()
        for o in self.officers:
            if o.email.lower() == w or o.name.lower() == w:
                return o
        raise UserError(f"petugas tidak dikenal: {who!r} (lihat [[officers]] di settings.toml)")


def web_secret(settings: Settings) -> bytes:
    """The key that signs the web desk's session cookies.

    From `[web] secret_env | secret_file` when set; otherwise a per-install key: 32 random
    bytes (hex) created once in `<storage.dir>/web-secret` with mode 0600 and read from there
    afterwards, so sessions survive a restart and every installation has its own key.
    Deleting the file ends every session."""
    if settings.web.secret.configured:
        return settings.web.secret.read().encode()
    path = settings.storage_dir / WEB_SECRET_FILE
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written whole under another name, then linked: a second process starting at
            # the same moment never reads a half-written key, and the first key made wins.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".web-secret.")  # mode 0600
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        except OSError as exc:
            raise ConfigError("storage.dir", f"tidak dapat membuat kunci sesi {path}: {os_problem(exc)}") from None
    try:
        value = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        problem = os_problem(exc) if isinstance(exc, OSError) else "bukan teks"
        raise ConfigError("storage.dir", f"tidak dapat membaca kunci sesi {path}: {problem}") from None
    if not value:
        raise ConfigError("storage.dir", f"kunci sesi {path} kosong; hapus berkas itu agar dibuat ulang")
    return value.encode()
