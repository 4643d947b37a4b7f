"""Mail-side commands: init, check, poll, send, run, demo.

Nothing here prints a credential: the database is shown by `Settings.database_location()`
(no password), and secrets are only read, never echoed."""
from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import resources
from pathlib import Path

import peewee as pw
from kpudesk.mailbox.errors import FolderMissing
from kpudesk.mailbox.folders import FolderChoice, folder_line, names_text
from kpudesk.mailbox.imap import ImapSource
from kpudesk.mailbox.render import Renderer
from kpudesk.mailbox.template_samples import SAMPLES
from kpudesk.tickets.labels import poll_summary
from kpudesk.tickets.errors import ConfigError, TempFailure, UserError

from .common import config_path, emit_json
from ..runner import Runner
from ..config import Settings, load_settings
from ..logsetup import configure_logging
from ..mirror_sync import check_remote
from ..poller import poll
from ..sender import flush
from ..settings_check import settings_warnings, validate_access, validate_secrets
from ..wiring import build_app
from .common import app_from_args

EXAMPLE_SETTINGS = "settings.example.toml"
STORAGE_LINE = 'dir = "state"                               # '  # in [storage] of the example


def register(sub) -> None:
    p = sub.add_parser("init", help="tulis settings.toml awal dan buat basis data")
    p.add_argument("dir", nargs="?", default=".", help="folder tujuan (bawaan: folder ini)")
    p.add_argument("--storage", metavar="FOLDER",
                   help="folder penyimpanan (storage.dir: basis data, arsip surel, kunci); bawaan: DIR/state. "
                        "Untuk systemd: /var/lib/kpudesk")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("check", help="periksa pengaturan dan login ke server IMAP dan SMTP")
    p.add_argument("--offline", action="store_true",
                   help="periksa pengaturan saja (kata sandi terbaca, templat), tanpa menghubungi server "
                        "atau basis data (untuk ExecStartPre)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("run", help="jalankan layanan (daemon): baca surel tiap jam, kirim laporan terjadwal")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("send", help="kirim surel yang menunggu di antrean (sekali jalan)")
    p.add_argument("--json", action="store_true", help="keluaran JSON")
    p.set_defaults(func=cmd_send)

    p = sub.add_parser("poll", help="baca kotak masuk dan folder spam satu kali")
    p.add_argument("--json", action="store_true", help="keluaran JSON")
    p.set_defaults(func=cmd_poll)

    p = sub.add_parser("demo", help="demonstrasi lengkap tanpa persiapan (server surel lokal, folder sementara, "
                                    "meja layanan web)",
                       description="Menjalankan satu hari kerja helpdesk dari awal sampai akhir dengan server IMAP "
                                   "dan SMTP lokal (hanya 127.0.0.1) di folder demo, lalu membuka meja layanan web "
                                   "di 127.0.0.1 dengan akun demo sampai Ctrl+C. Tidak perlu settings.toml.")
    p.add_argument("--dir", metavar="FOLDER", help="folder demo (bawaan: folder sementara baru); harus baru atau kosong")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--keep", action="store_true", help="simpan folder demo sesudahnya (bawaan)")
    g.add_argument("--cleanup", action="store_true", help="hapus folder demo sesudahnya")
    w = p.add_mutually_exclusive_group()
    w.add_argument("--listen", metavar="HOST:PORT",
                   help="alamat meja layanan web (bawaan: 127.0.0.1 dengan port bebas); hanya alamat loopback")
    w.add_argument("--no-web", action="store_true",
                   help="tanpa meja layanan web: keluar sesudah cerita demo (untuk skrip dan CI)")
    p.set_defaults(func=cmd_demo)


def example_settings_text() -> str:
    return resources.files("kpudesk.daemon").joinpath(EXAMPLE_SETTINGS).read_text(encoding="utf-8")


def cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.dir)
    target.mkdir(parents=True, exist_ok=True)
    path = target / "settings.toml"
    # 0600: the settings name where the secrets are and who may act; an administrator who
    # installs them for the service group (/etc/kpudesk) gives the group read (0640).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UserError(f"{path} sudah ada; tidak ditimpa") from None
    text = example_settings_text()
    if args.storage:
        storage = Path(args.storage).absolute()
        if STORAGE_LINE not in text:  # pragma: no cover - the example's [storage] line changed
            raise ConfigError("storage.dir", "settings.example.toml tidak memuat baris storage untuk diisi")
        text = text.replace(STORAGE_LINE, f"dir = {json.dumps(str(storage))}" + STORAGE_LINE[len('dir = "state"'):], 1)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    settings = load_settings(path)
    build_app(settings, create=True)
    _give_to_storage_owner(settings.storage_dir)
    print(f"Pengaturan awal ditulis ke {path}")
    print(f"Penyimpanan: {settings.storage_dir}")
    print(f"Basis data dibuat: {settings.database_location()}")
    print("Langkah berikut: isi [helpdesk], [imap] dan [smtp], simpan kata sandi di variabel")
    print("lingkungan yang disebut password_env, lalu jalankan `kpudesk check`.")
    return 0


def _give_to_storage_owner(storage: Path) -> None:
    """root running `init --storage /var/lib/kpudesk` for a folder the service user owns:
    the new database and key belong to that user, or the daemon could not write them."""
    if os.geteuid() != 0 or not storage.is_dir():
        return
    owner = storage.stat()
    if owner.st_uid == 0:
        return
    for p in storage.rglob("*"):
        if p.lstat().st_uid == 0:
            os.chown(p, owner.st_uid, owner.st_gid, follow_symlinks=False)


def cmd_check(args: argparse.Namespace) -> int:
    settings = load_settings(config_path(args))
    # Everything that needs no server first: only then is the file called valid.
    validate_secrets(settings)
    validate_access(settings)
    renderer = Renderer(settings.helpdesk.templates_dir, settings.helpdesk.timezone)
    check_templates(renderer)
    print(f"Pengaturan valid: {settings.path}")
    print(f"Basis data: {settings.database_location()}")
    print(f"Templat: {len(SAMPLES)} templat dirender tanpa galat"
          + (f" (termasuk pengganti dari {settings.helpdesk.templates_dir})" if settings.helpdesk.templates_dir else ""))
    for warning in settings_warnings(settings):
        print(f"Peringatan: {warning}")
    if args.offline:
        print("Pemeriksaan luring: server IMAP, SMTP dan basis data tidak dihubungi.")
        return 0
    check_servers(settings)
    return 0


def check_servers(settings: Settings) -> None:
    try:
        app = build_app(settings)
    except pw.OperationalError as exc:  # the driver's message names host and port, never the password
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TempFailure(f"basis data {settings.database_location()}: {reason}") from None
    print("Basis data: tersambung, skema terkini")
    with app.imap() as source:
        print(f"IMAP {settings.imap.host}:{settings.imap.port} ({settings.imap.security}): login berhasil sebagai {settings.imap.username}")
        check_folders(settings, source)
    banner = app.smtp().check()
    print(f"SMTP {settings.smtp.host}:{settings.smtp.port} ({settings.smtp.security}): tersambung"
          + (f", login sebagai {settings.smtp.username}" if settings.smtp.username else "") + f" — {banner}")
    print(check_remote(settings))  # the cloud folder: reachable, or TempFailure (exit 75)


def check_folders(settings: Settings, source: ImapSource, limit: int = 40) -> None:
    """The account's folders and which one serves as inbox, spam and Sent, and why. A
    configured inbox, or a spam folder neither configured nor found, missing on the server
    is a settings error naming the folders the server has."""
    listed, chosen = source.choose_folders(settings.imap.inbox, settings.imap.spam, settings.smtp.sent_folder)
    print(f"  Folder di server ({len(listed)}):")
    for f in sorted(listed, key=lambda f: (f.name.upper() != "INBOX", f.name.casefold()))[:limit]:
        print(f"    {folder_line(f)}")
    if len(listed) > limit:
        print(f"    ... dan {len(listed) - limit} folder lain")
    inbox, spam, sent = chosen["inbox"], chosen["spam"], chosen["sent"]
    if inbox.name is None:
        raise FolderMissing(f"imap.inbox = {q(settings.imap.inbox)} tidak ada. Folder di server: {names_text(listed)}")
    st = source.examine(inbox.name)
    print(f"  Kotak masuk: {st.name} ({st.exists} pesan) — {inbox.reason}")
    if spam.name is None:
        raise FolderMissing(f"folder spam tidak ditemukan: imap.spam = {q(settings.imap.spam)} tidak ada, tidak ada folder "
                            f"bertanda \\Junk dan tidak ada nama umum (Spam, Junk, Junk Email, [Gmail]/Spam ...). "
                            f"Folder di server: {names_text(listed)}. Atur imap.spam dengan salah satunya.")
    st = source.examine(spam.name)
    print(f"  Folder spam: {st.name} ({st.exists} pesan) — {spam.reason}")
    if spam.configured_missing:
        print(f"Peringatan: imap.spam = {q(settings.imap.spam)} tidak ada di server; dipakai {q(spam.name)} "
              f"({spam.reason}). Atur imap.spam = {q(spam.name)} (atau \"\" untuk mencari sendiri) agar "
              "peringatan ini hilang.")
    print("  " + sent_line(settings, sent, source.is_gmail()))


def q(name: str) -> str:
    """A folder name as it is written in settings.toml."""
    return json.dumps(name, ensure_ascii=False)


def sent_line(settings: Settings, sent: FolderChoice, gmail: bool) -> str:
    if gmail:
        return (f"Folder terkirim: {sent.name or '-'} — Gmail (X-GM-EXT-1): salinan surel terkirim tidak disimpan, "
                "Gmail menyimpan sendiri surel yang dikirim lewat SMTP-nya")
    if not settings.smtp.save_sent:
        return f"Folder terkirim: tidak dipakai (smtp.save_sent = false){f'; ditemukan {sent.name} ({sent.reason})' if sent.name else ''}"
    if sent.name is None:
        return (f"Folder terkirim: TIDAK DITEMUKAN (smtp.sent_folder = {q(settings.smtp.sent_folder)} tidak ada, tidak ada "
                "folder bertanda \\Sent); salinan surel terkirim tidak disimpan. Atur smtp.sent_folder")
    missing = f"; smtp.sent_folder = {q(settings.smtp.sent_folder)} tidak ada" if sent.configured_missing else ""
    return f"Folder terkirim: {sent.name} — {sent.reason}{missing}; salinan surel terkirim disimpan di sini"


def check_templates(renderer: Renderer) -> None:
    """A missing variable, a syntax error or an unsafe construct in any template is a
    settings error now, not a blank (or worse) in a mail later."""
    problems = renderer.check(SAMPLES)
    if problems:
        raise ConfigError("helpdesk.templates_dir", "; ".join(problems))


def cmd_poll(args: argparse.Namespace) -> int:
    app = _desk_app(args)
    stats = poll(app)
    if args.json:
        emit_json(stats.as_dict())
        return 0
    print(poll_summary(stats.counters()))
    for name, f in stats.folders.items():
        print(f"  folder {name}: {f.fetched} surel diambil (UIDVALIDITY {f.uidvalidity}, UID terakhir {f.last_uid})")
    if stats.quarantined:
        print("Periksa pesan karantina dengan `kpudesk quarantine list`.", file=sys.stderr)
    return 0


def _desk_app(args: argparse.Namespace):
    """`app_from_args` for a command that may start the desk: the first poll creates the
    database and the Message-ID key in storage.dir when `init` did not."""
    settings = load_settings(config_path(args))
    if not args.verbose:
        configure_logging(settings.log_level if settings.log_level != "INFO" else "WARNING", settings.helpdesk.timezone)
    return build_app(settings, create=True)


def cmd_send(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    # A manual send tries every pending row now, like `postqueue -f`.
    stats, unreachable = flush(app, ignore_backoff=True)
    if args.json:
        emit_json(stats.as_dict())
    else:
        print(f"Terkirim {stats.sent}, ditunda {stats.deferred}, gagal {stats.failed}, masih di antrean {stats.pending}.")
        if unreachable:
            print("Server SMTP tidak dapat dihubungi; surel tetap di antrean dan dicoba lagi.", file=sys.stderr)
    return 75 if unreachable and stats.pending else 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings(config_path(args))
    configure_logging("DEBUG" if args.verbose else settings.log_level, settings.helpdesk.timezone)
    app = build_app(settings, create=True)
    check_templates(app.replies.renderer)
    return Runner(app).run_forever()


def cmd_demo(args: argparse.Namespace) -> int:
    # Needs no settings file: --config and $KPUDESK_CONFIG are not read.
    from ..demo import loopback_listen, run_demo  # noqa: PLC0415 - lazy: the demo (pymap, aiosmtpd) loads only for `kpudesk demo`

    listen = None if args.no_web else loopback_listen(args.listen)  # a wrong --listen stops before the story
    return run_demo(keep=not args.cleanup, out=sys.stdout, directory=args.dir, listen=listen)
