"""`kpudesk auth oauth2 imap|smtp`: sign the helpdesk mailbox in once and store the refresh
token (issue 16; design.md "auth oauth2").

The flow follows the provider: the device code (RFC 8628) where the settings name a device
endpoint (Microsoft 365), else the authorization code with PKCE and a pasted-back address
(Google); `--flow` chooses. The refresh token goes to `oauth2_refresh_token_file` (0600,
replaced atomically); run as root, the file is given to the owner of the storage folder,
the service user. The new token is then tried on the server itself, so a mailbox without
IMAP/SMTP enabled shows now, not at the first poll. No token is printed.
"""
from __future__ import annotations

import argparse
import os
import pwd
import sys
from pathlib import Path

from kpudesk.mailbox.errors import AuthenticationFailed, ServerUnavailable
from kpudesk.tickets.clock import default_clock
from kpudesk.tickets.errors import ConfigError, UserError

from ..config import load_settings
from ..mail_adapters import imap_source, smtp_sender
from ..oauth2 import TokenSource, renewal_lock, store_refresh_token
from ..oauth2_grant import code_flow, device_flow
from ..settings import Settings
from .common import config_path

SECTIONS = ("imap", "smtp")


def register(sub) -> None:
    p = sub.add_parser("auth", help="masuk ke kotak surat helpdesk lewat OAuth2 (Gmail, Microsoft 365)")
    kinds = p.add_subparsers(dest="auth_kind", required=True, metavar="oauth2")
    o = kinds.add_parser("oauth2", help="dapatkan dan simpan refresh token OAuth2 untuk IMAP atau SMTP")
    o.add_argument("server", choices=SECTIONS, help="bagian settings.toml yang memakai token ini")
    o.add_argument("--flow", choices=("device", "code"),
                   help="device: kode perangkat (bawaan bila penyedia punya oauth2_device_url, mis. Microsoft); "
                        "code: alamat masuk + tempel alamat balik (bawaan untuk Google)")
    o.set_defaults(func=cmd_auth_oauth2)


def _say(text: str) -> None:
    print(text, flush=True)


def _ask(prompt: str) -> str:
    print(prompt, end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        raise UserError("masukan berakhir sebelum alamat ditempel; jalankan perintah ini di terminal")
    return line


def cmd_auth_oauth2(args: argparse.Namespace) -> int:
    settings = load_settings(config_path(args))
    section = args.server
    server = settings.imap if section == "imap" else settings.smtp
    cfg = server.oauth2
    if cfg is None:
        raise ConfigError(f"{section}.auth", f'belum "oauth2": atur auth = "oauth2" dan oauth2_provider, '
                                             f"oauth2_client_id di [{section}] (lihat README \"OAuth2\")")
    flow = args.flow or ("device" if cfg.device_url else "code")
    if flow == "device" and not cfg.device_url:
        raise ConfigError(f"{section}.oauth2_device_url", "penyedia ini tidak punya alamat kode perangkat; "
                                                          "pakai --flow code atau isi oauth2_device_url")
    if flow == "code" and not cfg.auth_url:
        raise ConfigError(f"{section}.oauth2_auth_url", "isi oauth2_auth_url, atau pakai --flow device")
    _say(f"Masuk OAuth2 untuk [{section}] {server.host} ({cfg.provider}), akun {server.username}.")
    if flow == "device":
        answer = device_flow(cfg, server.username, _say)
    else:
        answer = code_flow(cfg, server.username, _say, _ask)
    refresh = answer.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        raise UserError("penyedia tidak memberi refresh token: untuk Microsoft scope harus memuat offline_access; "
                        "untuk Google hapus akses kpudesk di myaccount.google.com/permissions lalu ulangi")
    with renewal_lock(cfg):
        store_refresh_token(cfg.refresh_token_file, refresh)
    owner = _give_to_service_user(settings, cfg.refresh_token_file)
    _say(f"Refresh token disimpan di {cfg.refresh_token_file} (mode 600, milik {owner}).")
    tokens = TokenSource(cfg, default_clock())
    tokens.prime(str(answer.get("access_token") or ""), answer.get("expires_in"))
    return _try_login(settings, section, tokens)


def _give_to_service_user(settings: Settings, path: Path) -> str:
    """Run as root: the token file (and its folder, when inside storage) belong to the
    storage folder's owner, the service user; the name of the file's owner."""
    storage = settings.storage_dir
    if os.geteuid() == 0 and storage.is_dir() and storage.stat().st_uid != 0:
        uid, gid = storage.stat().st_uid, storage.stat().st_gid
        if path.parent.resolve().is_relative_to(storage.resolve()):
            os.chown(path.parent, uid, gid)
        os.chown(path, uid, gid)
    try:
        return pwd.getpwuid(path.stat().st_uid).pw_name
    except KeyError:
        return f"uid {path.stat().st_uid}"


def _try_login(settings: Settings, section: str, tokens: TokenSource) -> int:
    server = settings.imap if section == "imap" else settings.smtp
    where = f"{section.upper()} {server.host}:{server.port}"
    try:
        if section == "imap":
            with imap_source(settings, tokens):
                pass
        else:
            smtp_sender(settings, tokens).check()
    except ServerUnavailable as exc:
        _say(f"Peringatan: token tersimpan, tetapi {where} tidak dapat dihubungi untuk mencobanya ({exc}); "
             "jalankan `kpudesk check` nanti.")
        return 0
    except AuthenticationFailed as exc:
        where_to_look = ("Gmail: Setelan, Penerusan dan POP/IMAP; Microsoft 365: Exchange admin center, "
                         "Manage email apps, IMAP" if section == "imap" else
                         "Microsoft 365: Exchange admin center, Manage email apps, Authenticated SMTP")
        raise AuthenticationFailed(
            f"token tersimpan, tetapi {where} menolaknya: {exc}. Periksa bahwa {section.upper()} diaktifkan untuk "
            f"kotak surat {server.username} ({where_to_look})") from None
    _say(f"Login {where} dengan token baru: berhasil.")
    return 0
