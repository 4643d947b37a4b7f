"""What `kpudesk check` decides without contacting anything: every secret and file is
readable by the user running it (under systemd: the service user), and which valid settings
are weaker than they should be (warnings, in Bahasa Indonesia)."""
from __future__ import annotations

import os
import pwd
from pathlib import Path
from urllib.parse import urlsplit

from kpudesk.tickets.errors import ConfigError

from .oauth2 import read_refresh_token
from .settings import SOP_RECEIVE_SECONDS, WEB_SECRET_FILE, Secret, Settings

# Environment variables kpudesk reads itself; any other KPUDESK_* one is meant as a secret.
_NOT_SECRETS = {"KPUDESK_CONFIG", "KPUDESK_LOG_LEVEL"}


def settings_warnings(settings: Settings) -> list[str]:
    """What `kpudesk check` warns about: valid, but weaker than it should be (Indonesian)."""
    warnings = []
    if urlsplit(settings.database_url).password is not None:
        warnings.append("kata sandi basis data tertulis di database.url; pindahkan ke [database] password_env "
                        "atau password_file")
    if not settings.mail.trusted_authserv_id:
        warnings.append("mail.trusted_authserv_id tidak diatur: DKIM dan DMARC diperiksa sendiri oleh kpudesk "
                        "(atur authserv-id server penerima kantor, lihat README \"Keamanan pengirim\")")
    if settings.mail.unsigned_domains:
        warnings.append("mail.unsigned_domains melonggarkan pemeriksaan pengirim untuk "
                        + ", ".join(settings.mail.unsigned_domains)
                        + ": surel dari domain ini yang tidak gagal eksplisit dianggap asli")
    storage = settings.storage_dir
    if storage.is_dir() and storage.stat().st_mode & 0o077:
        # Files made before kpudesk set its umask (0644 packs, a 0755 folder) stay readable
        # through a folder others may enter.
        warnings.append(f"folder penyimpanan {storage} dapat dibuka pengguna lain "
                        f"(mode {storage.stat().st_mode & 0o777:o}); jalankan `chmod 700 {storage}`")
    t = settings.helpdesk.templates_dir
    if t is not None and any(p.stat().st_mode & 0o002 for p in (t, *t.rglob("*"))):
        warnings.append(f"folder templat {t} dapat ditulis siapa saja; batasi ke root dan pengguna layanan")
    db_file = sqlite_path(settings)
    if db_file is not None and not _inside(db_file, storage):
        warnings.append(f"basis data {db_file} tidak berada di folder penyimpanan {storage} (storage.dir): "
                        "arsip surel dan basis data terpisah; hapus database.url agar basis data berada di "
                        f"{storage / 'kpudesk.db'}")
    warnings += unused_secret_variables(settings, os.environ)
    for oauth2 in (settings.imap.oauth2, settings.smtp.oauth2):
        f = oauth2.refresh_token_file if oauth2 is not None else None
        if f is not None and f.is_file() and f.stat().st_mode & 0o077:
            warnings.append(f"refresh token OAuth2 {f} dapat dibaca pengguna lain (mode {f.stat().st_mode & 0o777:o}); "
                            f"jalankan `chmod 600 {f}`")
    if settings.imap.poll_every > SOP_RECEIVE_SECONDS:
        warnings.append(f"imap.poll_every {_minutes(settings.imap.poll_every)} melebihi standar SOP \"menerima\" "
                        f"{_minutes(SOP_RECEIVE_SECONDS)}: surel bisa menunggu selama itu sebelum menjadi tiket. "
                        "Turunkan ke \"10m\" (paling kecil \"2m\"; kunci poll mencegah dua poll bersamaan) "
                        "dengan biaya login IMAP yang lebih sering")
    return warnings


def _minutes(seconds: int) -> str:
    return f"{seconds // 3600} jam" if seconds % 3600 == 0 else f"{seconds / 60:g} menit"


def sqlite_path(settings: Settings) -> Path | None:
    url = settings.database_url
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    return Path(url[len("sqlite:///"):])


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def unused_secret_variables(settings: Settings, environ) -> list[str]:
    """A KPUDESK_* variable that is set but named by no *_env setting: usually a settings
    file that still has `secret_env`/`password_env` commented out, so the value is ignored."""
    used = {s.env for s in _secrets(settings) if s.env}
    return [f"variabel lingkungan {name} diatur tetapi tidak dipakai pengaturan mana pun "
            "(mis. helpdesk.secret_env, web.secret_env atau imap.password_env masih dikomentari); nilainya diabaikan"
            for name in sorted(environ) if name.startswith("KPUDESK_") and name not in _NOT_SECRETS
            and name not in used]


def _secrets(settings: Settings) -> tuple[Secret, ...]:
    """Every secret the settings may name, in the order `check` reads them."""
    clients = tuple(o.client_secret for o in (settings.imap.oauth2, settings.smtp.oauth2) if o is not None)
    return (settings.imap.password, settings.smtp.password, *clients, settings.helpdesk.secret,
            settings.database_password, settings.web.secret)


def validate_secrets(settings: Settings) -> None:
    """Read every configured secret once: an unset variable or unreadable file is a
    ConfigError naming its key now, not a failure at the first poll."""
    for secret in _secrets(settings):
        if secret.configured and (secret is not settings.smtp.password or settings.smtp.username):
            secret.read()
    for oauth2 in (settings.imap.oauth2, settings.smtp.oauth2):
        if oauth2 is not None:
            read_refresh_token(oauth2)  # missing: a ConfigError naming `kpudesk auth oauth2 ...`


def _who() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def validate_access(settings: Settings) -> None:
    """Every file the daemon reads is readable, and the storage folder writable, by the user
    running `check` (ExecStartPre runs it as the service user): a ConfigError naming the
    file, not a traceback or "file not found" for a file that is there but closed to us."""
    who = _who()
    files = [(s.key + "_file", s.file) for s in _secrets(settings) if s.file]
    files += [("imap.ca_file", settings.imap.ca_file), ("smtp.ca_file", settings.smtp.ca_file),
              ("parties.registry", settings.parties_registry), ("faq.file", settings.faq_file)]
    for key, path in files:
        if path is not None and not os.access(path, os.R_OK):
            raise ConfigError(key, f"pengguna {who} tidak dapat membaca {path}"
                                   f"{'' if path.exists() else ' (tidak ditemukan)'}; periksa pemilik dan izinnya")
    t = settings.helpdesk.templates_dir
    if t is not None and not os.access(t, os.R_OK | os.X_OK):
        raise ConfigError("helpdesk.templates_dir", f"pengguna {who} tidak dapat membaca folder {t}")
    storage = settings.storage_dir
    if storage.exists():
        if not os.access(storage, os.W_OK | os.X_OK):
            raise ConfigError("storage.dir", f"pengguna {who} tidak dapat menulis ke folder penyimpanan {storage}; "
                                             f"jalankan `chown -R {who} {storage}`")
    else:
        parent = next((p for p in storage.parents if p.exists()), None)
        if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError("storage.dir", f"folder penyimpanan {storage} belum ada dan pengguna {who} tidak "
                                             f"dapat membuatnya di {parent}")
    web_key = storage / WEB_SECRET_FILE  # made by the first `kpudesk web`, perhaps as root
    if not settings.web.secret.configured and web_key.exists() and not os.access(web_key, os.R_OK):
        raise ConfigError("storage.dir", f"pengguna {who} tidak dapat membaca kunci sesi web {web_key}; "
                                         f"jalankan `chown {who} {web_key}`")
    db_file = sqlite_path(settings)
    if db_file is not None and db_file.exists() and not os.access(db_file, os.R_OK | os.W_OK):
        raise ConfigError("database.url", f"pengguna {who} tidak dapat membaca dan menulis basis data {db_file}")
