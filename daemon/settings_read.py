"""settings.toml → the typed, validated, frozen `Settings` of settings.py. Parsed once,
passed explicitly.

Every problem is a `ConfigError` naming the key, in Bahasa Indonesia
(`imap.port: harus antara 1 dan 65535, bukan 0`), which the CLI prints as one line and
exits 2. Secrets never live in the file: passwords and keys come from an environment
variable (`*_env`) or a file (`*_file`).
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kpudesk.tickets.errors import ConfigError
from kpudesk.tickets.faq import DEFAULT_THRESHOLD

from .dburl import database_url
from .settings import (
    MIN_POLL_SECONDS,
    ROLES,
    SECURITY,
    EscalationSettings,
    HelpdeskSettings,
    ImapSettings,
    MailSettings,
    Officer,
    ReportSettings,
    Settings,
    SmtpSettings,
    os_problem,
)
from .settings_oauth2 import KEYS as OAUTH2_KEYS
from .settings_oauth2 import auth_kind, read_oauth2
from .settings_storage import read_storage
from .settings_values import HHMM_RE, NEVER_IN_FILE, Reader, existing, parse_duration
from .settings_web import read_web

_SECTIONS: dict[str, set[str]] = {
    "helpdesk": {"name", "address", "tag", "timezone", "service_hours", "service_days", "closures",
                 "language", "msgid_domain", "secret_env", "secret_file", "templates_dir",
                 "ack_per_hour", "ack_per_day", "default_officer"},
    "imap": {"host", "port", "security", "username", "password_env", "password_file", "ca_file",
             "inbox", "spam", "poll_every", "batch_size", "mark_seen", "timeout", "workers", "idle", "idle_renew",
             "max_message_mb", *OAUTH2_KEYS},
    "smtp": {"host", "port", "security", "username", "password_env", "password_file", "ca_file",
             "timeout", "save_sent", "sent_folder", *OAUTH2_KEYS},
    "database": {"url", "password_env", "password_file"},
    "mail": {"trusted_authserv_id", "unsigned_domains"},
    "storage": {"dir", "mirror", "mirror_config", "mirror_rclone", "mirror_timeout"},
    "escalation": {"anggota", "provinsi", "provinsi_ticket_pattern", "provinsi_roles"},
    "reports": {"progress_at", "recap_at", "progress_to", "recap_to", "followup_at"},
    "parties": {"registry"},
    "faq": {"file", "threshold"},
    "logging": {"level"},
    "web": {"listen", "base_url", "secret_env", "secret_file", "session_hours", "max_upload_mb"},
}
_REQUIRED = ("helpdesk", "imap", "smtp")


def _idle_renew(value: Any) -> int:
    """RFC 2177: a server may drop an IDLE after 30 minutes; re-issue it well before."""
    seconds = parse_duration("imap.idle_renew", value, 60)
    if seconds > 29 * 60:
        raise ConfigError("imap.idle_renew", "harus paling lama 29 menit (server boleh memutus IDLE setelah 30 menit)")
    return seconds


def _server(r: Reader, default_ports: dict[str, int], storage_dir: Path, *, need_user: bool) -> tuple:
    host = r.str("host", required=True)
    oauth2 = auth_kind(r) == "oauth2"
    security = r.str("security", "tls")
    if security not in SECURITY:
        raise ConfigError(r.key("security"), f"harus salah satu dari {', '.join(SECURITY)}, bukan {security!r}")
    if security == "none" and host not in ("127.0.0.1", "::1", "localhost"):
        raise ConfigError(r.key("security"), "'none' (tanpa TLS) hanya diizinkan untuk 127.0.0.1")
    port = r.int("port", default_ports[security], 1, 65535)
    username = r.str("username", required=need_user or oauth2)  # OAuth2: the SASL user the token is for
    password = r.secret("password", required=bool(username) and not oauth2)
    ca_file = existing(r.key("ca_file"), r.path("ca_file"))
    return host, port, security, username, password, ca_file, read_oauth2(r, storage_dir) if oauth2 else None


def load_settings(path: Path | str) -> Settings:
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "berkas pengaturan tidak ditemukan (buat dengan `kpudesk init`)") from None
    except OSError as exc:
        raise ConfigError(str(path), f"pengguna ini tidak dapat membaca berkas pengaturan: {os_problem(exc)}") from None
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(str(path), "bukan teks UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"TOML tidak sah: {_toml_problem(exc)}") from None
    return settings_from_dict(data, base=path.resolve().parent, path=path.resolve())


def _toml_problem(exc: tomllib.TOMLDecodeError) -> str:
    """tomllib's message is English ("Invalid value (at line 3, column 7)"): keep where."""
    m = re.search(r"line (\d+), column (\d+)", str(exc))
    where = f"baris {m.group(1)}, kolom {m.group(2)}" if m else "lihat berkasnya"
    return f"{where} ({exc})"


def _check_shape(data: dict[str, Any]) -> None:
    for section, value in data.items():
        if section == "officers":
            continue
        if section not in _SECTIONS:
            raise ConfigError(section, "bagian (section) tidak dikenal")
        if not isinstance(value, dict):
            raise ConfigError(section, "harus berupa tabel ([bagian])")
        for k in value:
            if k in ("password", "secret") or k.endswith(("_password", "_secret")):  # e.g. oauth2_client_secret
                raise ConfigError(f"{section}.{k}", NEVER_IN_FILE.format(k=k))
            if k not in _SECTIONS[section]:
                raise ConfigError(f"{section}.{k}", "kunci tidak dikenal")
    for section in _REQUIRED:
        if section not in data:
            raise ConfigError(section, "bagian ini wajib ada")


def _helpdesk(h: Reader) -> HelpdeskSettings:
    address = h.email("address", required=True)
    tz = h.str("timezone", "Asia/Jakarta")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("helpdesk.timezone", f"zona waktu tidak dikenal: {tz!r}") from None
    tag = h.str("tag", "HD-MSJ")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,30}", tag):
        raise ConfigError("helpdesk.tag", "harus huruf, angka dan tanda hubung, diawali huruf")
    hours = h.str("service_hours", "08:00-17:00")
    m = re.fullmatch(r"(\d\d:\d\d)-(\d\d:\d\d)", hours)
    if not m or not all(HHMM_RE.match(x) for x in m.groups()) or m.group(1) >= m.group(2):
        raise ConfigError("helpdesk.service_hours", f"harus seperti '08:00-17:00', bukan {hours!r}")
    closures = h.strlist("closures")
    for c in closures:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", c):
            raise ConfigError("helpdesk.closures", f"tanggal harus TTTT-BB-HH, bukan {c!r}")
    if h.str("language", "id") != "id":
        raise ConfigError("helpdesk.language", "hanya 'id' (Bahasa Indonesia) yang tersedia")
    return HelpdeskSettings(
        name=h.str("name", "Helpdesk KPU Kabupaten Mesuji"),
        address=address,
        tag=tag,
        timezone=tz,
        service_hours=hours,
        service_days=h.str("service_days", "mon-sun"),
        closures=closures,
        msgid_domain=h.str("msgid_domain", address.rsplit("@", 1)[1].lower()),
        secret=h.secret("secret", required=False),
        templates_dir=existing("helpdesk.templates_dir", h.path("templates_dir"), "folder"),
        ack_per_hour=h.int("ack_per_hour", 3, 0, 1000),
        ack_per_day=h.int("ack_per_day", 10, 0, 10000),
    )


def _mail(ml: Reader) -> MailSettings:
    authserv = ml.str("trusted_authserv_id")
    if authserv is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,253}", authserv.strip()):
        raise ConfigError("mail.trusted_authserv_id", f"harus berupa nama host (authserv-id), bukan {authserv!r}")
    unsigned = tuple(x.strip().lower() for x in ml.strlist("unsigned_domains"))
    for dom in unsigned:
        if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]*\.[a-z]{2,}", dom):
            raise ConfigError("mail.unsigned_domains", f"harus berupa nama domain, bukan {dom!r}")
    return MailSettings(trusted_authserv_id=(authserv or "").strip() or None, unsigned_domains=unsigned)


def _escalation(e: Reader) -> EscalationSettings:
    pattern = e.str("provinsi_ticket_pattern")
    if pattern:
        try:
            if re.compile(pattern).groups < 1:
                raise ConfigError("escalation.provinsi_ticket_pattern", "perlu satu grup tangkap (...) untuk nomornya")
        except re.error as exc:
            raise ConfigError("escalation.provinsi_ticket_pattern",
                              f"ekspresi reguler tidak sah (posisi {exc.pos})") from None
    roles = e.strlist("provinsi_roles", ("anggota-kpu", "ketua"))
    for role in roles:
        if role not in ROLES:
            raise ConfigError("escalation.provinsi_roles", f"peran tidak dikenal: {role!r}")
    return EscalationSettings(anggota=e.emails("anggota"), provinsi=e.email("provinsi"),
                              provinsi_ticket_pattern=pattern or None, provinsi_roles=roles)


def _reports(rp: Reader) -> ReportSettings:
    progress_at = rp.strlist("progress_at", ("08:00", "17:00"))
    for t in progress_at:
        if not HHMM_RE.match(t):
            raise ConfigError("reports.progress_at", f"harus berupa jam JJ:MM, bukan {t!r}")
    return ReportSettings(progress_at=progress_at, recap_at=rp.hhmm("recap_at", "17:05"),
                          progress_to=rp.emails("progress_to"), recap_to=rp.emails("recap_to"),
                          followup_at=rp.hhmm("followup_at", "17:01"))


def _officers(officers_raw: Any, base: Path) -> tuple[Officer, ...]:
    if not isinstance(officers_raw, list):
        raise ConfigError("officers", "harus berupa daftar tabel ([[officers]])")
    officers = []
    for n, o in enumerate(officers_raw, 1):
        if not isinstance(o, dict):
            raise ConfigError(f"officers[{n}]", "harus berupa tabel")
        for k in o:
            if k not in ("name", "email", "role"):
                raise ConfigError(f"officers[{n}].{k}", "kunci tidak dikenal")
        r = Reader(f"officers[{n}]", o, base)
        role = r.str("role", "anggota-helpdesk")
        if role not in ROLES:
            raise ConfigError(f"officers[{n}].role", f"harus salah satu dari {', '.join(ROLES)}, bukan {role!r}")
        officers.append(Officer(name=r.str("name", required=True), email=r.email("email", required=True), role=role))
    return tuple(officers)


def settings_from_dict(data: dict[str, Any], *, base: Path, path: Path | None = None) -> Settings:
    _check_shape(data)
    h = Reader("helpdesk", data["helpdesk"], base)
    helpdesk = _helpdesk(h)

    storage_dir, mirror = read_storage(Reader("storage", data.get("storage", {}), base))
    i = Reader("imap", data["imap"], base)
    host, port, security, username, password, ca_file, oauth2 = _server(
        i, {"tls": 993, "starttls": 143, "none": 143}, storage_dir, need_user=True)
    imap = ImapSettings(
        host=host, port=port, security=security, username=username, password=password, ca_file=ca_file, oauth2=oauth2,
        inbox=i.str("inbox", "INBOX"), spam=i.str("spam", "Spam"),
        poll_every=parse_duration("imap.poll_every", i.data.get("poll_every", "1h"), MIN_POLL_SECONDS),
        batch_size=i.int("batch_size", 200, 1, 5000),
        mark_seen=i.bool("mark_seen", False),
        timeout=i.float("timeout", 60.0, 1.0, 3600.0),
        workers=i.int("workers", 0, 0, 8),
        max_message_mb=i.int("max_message_mb", 25, 1, 2048),
        idle=i.bool("idle", False),
        idle_renew=_idle_renew(i.data.get("idle_renew", "25m")),
    )

    s = Reader("smtp", data["smtp"], base)
    host, port, security, username, password, ca_file, oauth2 = _server(
        s, {"tls": 465, "starttls": 587, "none": 25}, storage_dir, need_user=False)
    smtp = SmtpSettings(
        host=host, port=port, security=security, username=username, password=password, ca_file=ca_file, oauth2=oauth2,
        timeout=s.float("timeout", 60.0, 1.0, 3600.0),
        save_sent=s.bool("save_sent", False), sent_folder=s.str("sent_folder", "Sent"),
    )

    d = Reader("database", data.get("database", {}), base)
    url = database_url(d.str("url", None), storage_dir, base)
    db_password = d.secret("password", required=False)
    if db_password.configured:
        if url.startswith("sqlite:"):
            raise ConfigError("database.password_env", "kata sandi hanya untuk basis data postgresql://")
        if urlsplit(url).password is not None:
            raise ConfigError("database.url", "kata sandi tertulis di URL dan juga diatur lewat password_env/"
                                              "password_file: pertahankan password_env atau password_file saja")

    p, f = Reader("parties", data.get("parties", {}), base), Reader("faq", data.get("faq", {}), base)
    level = (Reader("logging", data.get("logging", {}), base).str("level", "INFO") or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("logging.level", f"harus DEBUG, INFO, WARNING atau ERROR, bukan {level!r}")

    return Settings(
        path=path, helpdesk=helpdesk, imap=imap, smtp=smtp, database_url=url, storage_dir=storage_dir,
        escalation=_escalation(Reader("escalation", data.get("escalation", {}), base)),
        reports=_reports(Reader("reports", data.get("reports", {}), base)),
        officers=_officers(data.get("officers", []), base),
        parties_registry=existing("parties.registry", p.path("registry")),
        faq_file=existing("faq.file", f.path("file")),
        faq_threshold=f.float("threshold", DEFAULT_THRESHOLD, 0.0, 1.0), log_level=level,
        default_officer=h.str("default_officer"), mail=_mail(Reader("mail", data.get("mail", {}), base)),
        database_password=db_password, web=read_web(Reader("web", data.get("web", {}), base)), mirror=mirror, raw=data,
    )
