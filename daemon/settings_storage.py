"""The `[storage]` section of settings.toml: the local folder (database, archive, keys) and
the optional cloud folder it is mirrored to with rclone (issue 15, docs/mirror.md).

`mirror = "remote:path"` names a remote the office configured with `rclone config`; the
remote's secrets (tokens, passwords) live in rclone's config file (`mirror_config`, or
rclone's own default), never in settings.toml, and are never logged.
"""
from __future__ import annotations

import re
from pathlib import Path

from kpudesk.tickets.errors import ConfigError

from .settings import MirrorSettings

# rclone's remote names: letters, digits, "_", "-", ".", "+", "@" and spaces (not first)
_REMOTE_RE = re.compile(r"^([A-Za-z0-9_+@][A-Za-z0-9_.+@ -]*):(.*)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


def parse_mirror(key: str, value: str) -> str:
    """"remote:path" → the same text, trailing "/" removed; anything else a ConfigError."""
    text = value.strip()
    if text.startswith(":"):
        raise ConfigError(key, "pakai nama remote dari `rclone config` (mis. \"kpu-drive:helpdesk\"), bukan "
                               "remote langsung \":jenis,...:\" (rahasianya akan tertulis di settings.toml)")
    m = _REMOTE_RE.match(text)
    if not m:
        raise ConfigError(key, f"harus berbentuk \"remote:folder\" dengan nama remote dari `rclone config`, "
                               f"mis. \"kpu-drive:helpdesk\", bukan {value!r} (tanpa titik dua)")
    path = m.group(2)
    if _CONTROL.search(text):
        raise ConfigError(key, "tidak boleh memuat garis miring terbalik atau karakter kendali")
    if ".." in path.split("/"):
        raise ConfigError(key, f"folder tidak boleh memuat \"..\": {value!r}")
    return text.rstrip("/") if path.strip("/") else f"{m.group(1)}:{path}"


def read_storage(r) -> tuple[Path, MirrorSettings]:
    """`[storage]` read with a settings_read.Reader: (storage.dir, the mirror)."""
    storage_dir = r.path("dir", "state")
    remote = r.str("mirror")
    config = r.path("mirror_config")
    rclone = r.str("mirror_rclone", "rclone")
    if not remote and config:
        raise ConfigError(r.key("mirror"), "mirror_config diatur tetapi mirror belum: "
                                           "isi mirror = \"remote:folder\" atau hapus mirror_config")
    if config is not None and not config.is_file():
        raise ConfigError(r.key("mirror_config"), f"berkas konfigurasi rclone {config} tidak ditemukan")
    if not rclone or not rclone.strip():
        raise ConfigError(r.key("mirror_rclone"), "tidak boleh kosong")
    return storage_dir, MirrorSettings(
        remote=parse_mirror(r.key("mirror"), remote) if remote else None, config=config, rclone=rclone.strip(),
        timeout=r.int("mirror_timeout", 60, 5, 3600))
