"""Reading one section of settings.toml: typed values (`Reader`), durations, existing
files and folders, each with a `ConfigError` that names the full key in Bahasa Indonesia.
The sections themselves are assembled in settings_read.py, settings_web.py and
settings_storage.py.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from kpudesk.tickets.errors import ConfigError

from .settings import Secret

_EMAIL_RE = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_DURATION_RE = re.compile(r"^(\d+)\s*(s|m|h)$")
_TYPE_NAMES = {"str": "teks", "int": "bilangan bulat", "float": "angka", "bool": "true/false",
               "list": "daftar", "dict": "tabel", "datetime": "tanggal-waktu", "date": "tanggal", "time": "jam"}


def type_name(value: Any) -> str:
    """A TOML value's type as a user of settings.toml would call it."""
    return _TYPE_NAMES.get(type(value).__name__, type(value).__name__)


class Reader:
    """Typed access to one section, with errors that name the full key."""

    def __init__(self, section: str, data: dict[str, Any], base: Path) -> None:
        self.section, self.data, self.base = section, data, base

    def key(self, name: str) -> str:
        return f"{self.section}.{name}"

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        if name not in self.data:
            if required:
                raise ConfigError(self.key(name), "wajib diisi")
            return default
        v = self.data[name]
        if not isinstance(v, str):
            raise ConfigError(self.key(name), f"harus berupa teks, bukan {type_name(v)}")
        if required and not v.strip():
            raise ConfigError(self.key(name), "tidak boleh kosong")
        return v

    def int(self, name: str, default: int, lo: int, hi: int) -> int:
        v = self.data.get(name, default)
        if not isinstance(v, int) or isinstance(v, bool):
            raise ConfigError(self.key(name), f"harus berupa bilangan bulat, bukan {type_name(v)}")
        if not lo <= v <= hi:
            raise ConfigError(self.key(name), f"harus antara {lo} dan {hi}, bukan {v}")
        return v

    def float(self, name: str, default: float | None, lo: float, hi: float) -> float | None:
        v = self.data.get(name, default)
        if v is None:
            return None
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise ConfigError(self.key(name), f"harus berupa angka, bukan {type_name(v)}")
        if not lo <= v <= hi:
            raise ConfigError(self.key(name), f"harus antara {lo:g} dan {hi:g}, bukan {v}")
        return float(v)

    def bool(self, name: str, default: bool) -> bool:
        v = self.data.get(name, default)
        if not isinstance(v, bool):
            raise ConfigError(self.key(name), "harus true atau false")
        return v

    def strlist(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        v = self.data.get(name, list(default))
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise ConfigError(self.key(name), "harus berupa daftar teks, mis. [\"a\", \"b\"]")
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
            raise ConfigError(self.key(name), f"bukan alamat surel: {v!r}")
        return v

    def emails(self, name: str) -> tuple[str, ...]:
        vs = self.strlist(name)
        for v in vs:
            if not _EMAIL_RE.match(v):
                raise ConfigError(self.key(name), f"bukan alamat surel: {v!r}")
        return vs

    def hhmm(self, name: str, default: str) -> str:
        v = self.str(name, default)
        if not HHMM_RE.match(v or ""):
            raise ConfigError(self.key(name), f"harus berupa jam JJ:MM, bukan {v!r}")
        return v

    def secret(self, prefix: str, *, required: bool) -> Secret:
        env = self.str(f"{prefix}_env")
        file = self.path(f"{prefix}_file")
        if prefix in self.data:
            raise ConfigError(self.key(prefix), NEVER_IN_FILE.format(k=prefix))
        if env and file:
            raise ConfigError(self.key(f"{prefix}_env"), f"isi salah satu saja: {prefix}_env atau {prefix}_file")
        if required and not (env or file):
            raise ConfigError(self.key(f"{prefix}_env"), f"isi {prefix}_env atau {prefix}_file")
        return Secret(self.key(prefix), env or None, file)


NEVER_IN_FILE = "rahasia tidak pernah ditulis di settings.toml: pakai {k}_env atau {k}_file"


def parse_duration(key: str, value: Any, lo: int = 10) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (m := _DURATION_RE.match(value.strip())):
        seconds = int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]
    else:
        raise ConfigError(key, f"harus berupa durasi seperti '1h', '30m' atau jumlah detik, bukan {value!r}")
    if not lo <= seconds <= 86400:
        low = f"{lo // 60} menit" if lo % 60 == 0 else f"{lo} detik"
        raise ConfigError(key, f"harus antara {low} dan 24 jam")
    return seconds


def existing(key: str, path: Path | None, kind: str = "berkas") -> Path | None:
    """`path` must be an existing file ("berkas") or folder ("folder"); one closed to this
    user is said to be so, not "not found" (what Path.is_file() answers for a file in an
    unreadable folder)."""
    if path is None:
        return None
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(key, f"{kind} tidak ditemukan: {path}") from None
    except PermissionError:
        raise ConfigError(key, f"izin ditolak: pengguna ini tidak dapat membaca {path} "
                               "(periksa pemilik dan mode berkas serta foldernya)") from None
    if (kind == "folder") != stat.S_ISDIR(st.st_mode):
        raise ConfigError(key, f"{kind} tidak ditemukan: {path}")
    return path
