"""settings.toml → typed, validated, frozen settings. Parsed once, passed explicitly.

Every problem is reported as a `ConfigError` naming the key (`imap.port: must be ...`), which
the CLI prints as one line and exits 2. Secrets never live in the file: passwords and the
Message-ID key come from an environment variable (`*_env`) or a file (`*_file`).
"""
from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kpudesk.tickets.errors import ConfigError, UserError
from kpudesk.tickets.faq import DEFAULT_THRESHOLD

from .dburl import database_url, redact_url, with_password

ROLES = ("anggota-helpdesk", "koordinator-harian", "koordinator", "sekretaris", "ketua", "anggota-kpu")
SECURITY = ("tls", "starttls", "none")
_EMAIL_RE = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
_HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_DURATION_RE = re.compile(r"^(\d+)\s*(s|m|h)$")
SOP_RECEIVE_SECONDS = 600  # SOP: a party's mail is "received" (ticket made) within 10 minutes
MIN_POLL_SECONDS = 120  # each poll is a login and two EXAMINEs; the poll lock prevents overlap


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
                raise ConfigError(f"{self.key}_env", f"environment variable {self.env} is not set or empty")
            return value
        if self.file:
            try:
                value = self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{self.key}_file", f"cannot read {self.file}: {exc.strerror}") from None
            if not value:
                raise ConfigError(f"{self.key}_file", f"{self.file} is empty")
            return value
        raise ConfigError(self.key, "no password_env or password_file configured")


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
    workers: int = 2  # analysis processes for a large poll (0: all in the main process)
    max_message_mb: int = 25  # larger mail is quarantined by its RFC822.SIZE, never downloaded whole


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
            raise ConfigError("officers", "no [[officers]] configured; add the helpdesk officers to settings.toml")
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


# --- the schema ---------------------------------------------------------------------------

_SECTIONS: dict[str, set[str]] = {
    "helpdesk": {"name", "address", "tag", "timezone", "service_hours", "service_days", "closures",
                 "language", "msgid_domain", "secret_env", "secret_file", "templates_dir",
                 "ack_per_hour", "ack_per_day", "default_officer"},
    "imap": {"host", "port", "security", "username", "password_env", "password_file", "ca_file",
             "inbox", "spam", "poll_every", "batch_size", "mark_seen", "timeout", "workers",
             "max_message_mb"},
    "smtp": {"host", "port", "security", "username", "password_env", "password_file", "ca_file",
             "timeout", "save_sent", "sent_folder"},
    "database": {"url", "password_env", "password_file"},
    "mail": {"trusted_authserv_id", "unsigned_domains"},
    "storage": {"dir"},
    "escalation": {"anggota", "provinsi", "provinsi_ticket_pattern", "provinsi_roles"},
    "reports": {"progress_at", "recap_at", "progress_to", "recap_to", "followup_at"},
    "parties": {"registry"},
    "faq": {"file", "threshold"},
    "logging": {"level"},
}
_REQUIRED = ("helpdesk", "imap", "smtp")


class _Reader:
    """Typed access to one section, with errors that name the full key."""

    def __init__(self, section: str, data: dict[str, Any], base: Path) -> None:
        self.section, self.data, self.base = section, data, base

    def key(self, name: str) -> str:
        return f"{self.section}.{name}"

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        if name not in self.data:
            if required:
                raise ConfigError(self.key(name), "is required")
            return default
        v = self.data[name]
        if not isinstance(v, str):
            raise ConfigError(self.key(name), f"must be a string, not {type(v).__name__}")
        if required and not v.strip():
            raise ConfigError(self.key(name), "must not be empty")
        return v

    def int(self, name: str, default: int, lo: int, hi: int) -> int:
        v = self.data.get(name, default)
        if not isinstance(v, int) or isinstance(v, bool):
            raise ConfigError(self.key(name), f"must be an integer, not {type(v).__name__}")
        if not lo <= v <= hi:
            raise ConfigError(self.key(name), f"must be between {lo} and {hi}, got {v}")
        return v

    def float(self, name: str, default: float | None, lo: float, hi: float) -> float | None:
        v = self.data.get(name, default)
        if v is None:
            return None
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise ConfigError(self.key(name), "must be a number")
        if not lo <= v <= hi:
            raise ConfigError(self.key(name), f"must be between {lo} and {hi}, got {v}")
        return float(v)

    def bool(self, name: str, default: bool) -> bool:
        v = self.data.get(name, default)
        if not isinstance(v, bool):
            raise ConfigError(self.key(name), "must be true or false")
        return v

    def strlist(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        v = self.data.get(name, list(default))
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise ConfigError(self.key(name), "must be a list of strings")
        return tuple(v)

    def path(self, name: str, default: str | None = None) -> Path | None:
        v = self.str(name, default)
        if v is None or v == "":
            return None
        p = Path(os.path.expanduser(v))
        return p if p.is_absolute() else (self.base / p)

    def email(self, name: str, *, required: bool = False) -> str | None:
        v = self.str(name, required=required)
        if v is not None and not _EMAIL_RE.match(v):
            raise ConfigError(self.key(name), f"is not an email address: {v!r}")
        return v

    def emails(self, name: str) -> tuple[str, ...]:
        vs = self.strlist(name)
        for v in vs:
            if not _EMAIL_RE.match(v):
                raise ConfigError(self.key(name), f"is not an email address: {v!r}")
        return vs

    def hhmm(self, name: str, default: str) -> str:
        v = self.str(name, default)
        if not _HHMM_RE.match(v or ""):
            raise ConfigError(self.key(name), f"must be a time HH:MM, got {v!r}")
        return v

    def secret(self, prefix: str, *, required: bool) -> Secret:
        env = self.str(f"{prefix}_env")
        file = self.path(f"{prefix}_file")
        if prefix in self.data:
            raise ConfigError(self.key(prefix), f"secrets are never written in settings.toml: use {prefix}_env or {prefix}_file")
        if env and file:
            raise ConfigError(self.key(f"{prefix}_env"), f"set only one of {prefix}_env and {prefix}_file")
        if required and not (env or file):
            raise ConfigError(self.key(f"{prefix}_env"), f"set {prefix}_env or {prefix}_file")
        return Secret(self.key(prefix), env or None, file)


def parse_duration(key: str, value: Any, lo: int = 10) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (m := _DURATION_RE.match(value.strip())):
        seconds = int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]
    else:
        raise ConfigError(key, f"must be a duration like '1h', '30m' or seconds, got {value!r}")
    if not lo <= seconds <= 86400:
        low = f"{lo // 60} minutes" if lo % 60 == 0 else f"{lo} seconds"
        raise ConfigError(key, f"must be between {low} and 24 hours")
    return seconds


def _existing(key: str, path: Path | None, kind: str = "file") -> Path | None:
    """`path` must be an existing file (or folder); one closed to this user is said to be
    so, not "not found" (what Path.is_file() answers for a file in an unreadable folder)."""
    if path is None:
        return None
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(key, f"{kind} not found: {path}") from None
    except PermissionError:
        raise ConfigError(key, f"permission denied: this user cannot open {path} "
                               "(check the owner and mode of the file and its folders)") from None
    if (kind == "folder") != stat.S_ISDIR(st.st_mode):
        raise ConfigError(key, f"{kind} not found: {path}")
    return path


def _server(r: _Reader, default_ports: dict[str, int], *, need_user: bool) -> tuple:
    host = r.str("host", required=True)
    security = r.str("security", "tls")
    if security not in SECURITY:
        raise ConfigError(r.key("security"), f"must be one of {', '.join(SECURITY)}, got {security!r}")
    if security == "none" and host not in ("127.0.0.1", "::1", "localhost"):
        raise ConfigError(r.key("security"), "'none' (no TLS) is allowed only for 127.0.0.1")
    port = r.int("port", default_ports[security], 1, 65535)
    username = r.str("username", required=need_user)
    password = r.secret("password", required=bool(username))
    ca_file = _existing(r.key("ca_file"), r.path("ca_file"))
    return host, port, security, username, password, ca_file


def load_settings(path: Path | str) -> Settings:
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "settings file not found (create one with `kpudesk init`)") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(str(path), "is not UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"invalid TOML: {exc}") from None
    return settings_from_dict(data, base=path.resolve().parent, path=path.resolve())


def settings_from_dict(data: dict[str, Any], *, base: Path, path: Path | None = None) -> Settings:
    for section, value in data.items():
        if section == "officers":
            continue
        if section not in _SECTIONS:
            raise ConfigError(section, "unknown section")
        if not isinstance(value, dict):
            raise ConfigError(section, "must be a table ([section])")
        for k in value:
            if k in ("password", "secret"):
                raise ConfigError(f"{section}.{k}", f"secrets are never written in settings.toml: use {k}_env or {k}_file")
            if k not in _SECTIONS[section]:
                raise ConfigError(f"{section}.{k}", "unknown key")
    for section in _REQUIRED:
        if section not in data:
            raise ConfigError(section, "section is required")

    h = _Reader("helpdesk", data["helpdesk"], base)
    address = h.email("address", required=True)
    tz = h.str("timezone", "Asia/Jakarta")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("helpdesk.timezone", f"unknown time zone {tz!r}") from None
    tag = h.str("tag", "HD-MSJ")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,30}", tag):
        raise ConfigError("helpdesk.tag", "must be letters, digits and dashes, starting with a letter")
    hours = h.str("service_hours", "08:00-17:00")
    m = re.fullmatch(r"(\d\d:\d\d)-(\d\d:\d\d)", hours)
    if not m or not all(_HHMM_RE.match(x) for x in m.groups()) or m.group(1) >= m.group(2):
        raise ConfigError("helpdesk.service_hours", f"must look like '08:00-17:00', got {hours!r}")
    closures = h.strlist("closures")
    for c in closures:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", c):
            raise ConfigError("helpdesk.closures", f"dates must be YYYY-MM-DD, got {c!r}")
    language = h.str("language", "id")
    if language != "id":
        raise ConfigError("helpdesk.language", "only 'id' (Bahasa Indonesia) is available")
    templates_dir = _existing("helpdesk.templates_dir", h.path("templates_dir"), "folder")
    helpdesk = HelpdeskSettings(
        name=h.str("name", "Helpdesk KPU Kabupaten Mesuji"),
        address=address,
        tag=tag,
        timezone=tz,
        service_hours=hours,
        service_days=h.str("service_days", "mon-sun"),
        closures=closures,
        msgid_domain=h.str("msgid_domain", address.rsplit("@", 1)[1].lower()),
        secret=h.secret("secret", required=False),
        templates_dir=templates_dir,
        ack_per_hour=h.int("ack_per_hour", 3, 0, 1000),
        ack_per_day=h.int("ack_per_day", 10, 0, 10000),
    )

    i = _Reader("imap", data["imap"], base)
    host, port, security, username, password, ca_file = _server(i, {"tls": 993, "starttls": 143, "none": 143}, need_user=True)
    imap = ImapSettings(
        host=host, port=port, security=security, username=username, password=password, ca_file=ca_file,
        inbox=i.str("inbox", "INBOX"), spam=i.str("spam", "Spam"),
        poll_every=parse_duration("imap.poll_every", i.data.get("poll_every", "1h"), MIN_POLL_SECONDS),
        batch_size=i.int("batch_size", 200, 1, 5000),
        mark_seen=i.bool("mark_seen", False),
        timeout=i.float("timeout", 60.0, 1.0, 3600.0),
        workers=i.int("workers", 2, 0, 8),
        max_message_mb=i.int("max_message_mb", 25, 1, 2048),
    )

    s = _Reader("smtp", data["smtp"], base)
    host, port, security, username, password, ca_file = _server(s, {"tls": 465, "starttls": 587, "none": 25}, need_user=False)
    smtp = SmtpSettings(
        host=host, port=port, security=security, username=username, password=password, ca_file=ca_file,
        timeout=s.float("timeout", 60.0, 1.0, 3600.0),
        save_sent=s.bool("save_sent", False), sent_folder=s.str("sent_folder", "Sent"),
    )

    st = _Reader("storage", data.get("storage", {}), base)
    storage_dir = st.path("dir", "state")
    d = _Reader("database", data.get("database", {}), base)
    url = database_url(d.str("url", None), storage_dir, base)
    db_password = d.secret("password", required=False)
    if db_password.configured:
        if url.startswith("sqlite:"):
            raise ConfigError("database.password_env", "a password is only for a postgresql:// database")
        if urlsplit(url).password is not None:
            raise ConfigError("database.url", "the password is written in the URL and set by password_env/"
                                              "password_file: keep only password_env or password_file")

    ml = _Reader("mail", data.get("mail", {}), base)
    authserv = ml.str("trusted_authserv_id")
    if authserv is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,253}", authserv.strip()):
        raise ConfigError("mail.trusted_authserv_id", f"must be a host name (the authserv-id), got {authserv!r}")
    unsigned = tuple(x.strip().lower() for x in ml.strlist("unsigned_domains"))
    for dom in unsigned:
        if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]*\.[a-z]{2,}", dom):
            raise ConfigError("mail.unsigned_domains", f"must be domain names, got {dom!r}")
    mail = MailSettings(trusted_authserv_id=(authserv or "").strip() or None, unsigned_domains=unsigned)

    e = _Reader("escalation", data.get("escalation", {}), base)
    pattern = e.str("provinsi_ticket_pattern")
    if pattern:
        try:
            if re.compile(pattern).groups < 1:
                raise ConfigError("escalation.provinsi_ticket_pattern", "needs one capturing group for the number")
        except re.error as exc:
            raise ConfigError("escalation.provinsi_ticket_pattern", f"invalid regular expression: {exc}") from None
    roles = e.strlist("provinsi_roles", ("anggota-kpu", "ketua"))
    for role in roles:
        if role not in ROLES:
            raise ConfigError("escalation.provinsi_roles", f"unknown role {role!r}")
    escalation = EscalationSettings(
        anggota=e.emails("anggota"), provinsi=e.email("provinsi"),
        provinsi_ticket_pattern=pattern or None, provinsi_roles=roles,
    )

    rp = _Reader("reports", data.get("reports", {}), base)
    progress_at = rp.strlist("progress_at", ("08:00", "17:00"))
    for t in progress_at:
        if not _HHMM_RE.match(t):
            raise ConfigError("reports.progress_at", f"must be times HH:MM, got {t!r}")
    reports = ReportSettings(
        progress_at=progress_at, recap_at=rp.hhmm("recap_at", "17:05"),
        progress_to=rp.emails("progress_to"), recap_to=rp.emails("recap_to"),
        followup_at=rp.hhmm("followup_at", "17:01"),
    )

    officers_raw = data.get("officers", [])
    if not isinstance(officers_raw, list):
        raise ConfigError("officers", "must be an array of tables ([[officers]])")
    officers = []
    for n, o in enumerate(officers_raw, 1):
        if not isinstance(o, dict):
            raise ConfigError(f"officers[{n}]", "must be a table")
        for k in o:
            if k not in ("name", "email", "role"):
                raise ConfigError(f"officers[{n}].{k}", "unknown key")
        r = _Reader(f"officers[{n}]", o, base)
        role = r.str("role", "anggota-helpdesk")
        if role not in ROLES:
            raise ConfigError(f"officers[{n}].role", f"must be one of {', '.join(ROLES)}, got {role!r}")
        officers.append(Officer(name=r.str("name", required=True), email=r.email("email", required=True), role=role))

    p = _Reader("parties", data.get("parties", {}), base)
    registry = _existing("parties.registry", p.path("registry"))
    f = _Reader("faq", data.get("faq", {}), base)
    faq_file = _existing("faq.file", f.path("file"))
    lg = _Reader("logging", data.get("logging", {}), base)
    level = (lg.str("level", "INFO") or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("logging.level", f"must be DEBUG, INFO, WARNING or ERROR, got {level!r}")

    return Settings(
        path=path, helpdesk=helpdesk, imap=imap, smtp=smtp, database_url=url, storage_dir=storage_dir,
        escalation=escalation, reports=reports, officers=tuple(officers), parties_registry=registry,
        faq_file=faq_file, faq_threshold=f.float("threshold", DEFAULT_THRESHOLD, 0.0, 1.0), log_level=level,
        default_officer=h.str("default_officer"), mail=mail, database_password=db_password, raw=data,
    )
