"""What `kpudesk check` decides without contacting anything: every secret is readable, and
which valid settings are weaker than they should be (warnings, in Bahasa Indonesia)."""
from __future__ import annotations

from urllib.parse import urlsplit

from .config import Settings


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
    return warnings


def validate_secrets(settings: Settings) -> None:
    """Read every configured secret once: an unset variable or unreadable file is a
    ConfigError naming its key now, not a failure at the first poll."""
    for secret in (settings.imap.password, settings.smtp.password if settings.smtp.username else None,
                   settings.helpdesk.secret, settings.database_password):
        if secret is not None and secret.configured:
            secret.read()
