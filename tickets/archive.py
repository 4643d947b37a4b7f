"""Content-addressed, byte-exact storage for raw messages, attachments and evidence files.

Fetched messages are appended to pack files (see `append`); other files (attachments,
evidence, quarantined mail) live at `<dir>/<kind>/<aa>/<sha256><suffix>` (archives written before 2026-11 also
have `<kind>/<aa>/<bb>/...` files; rows keep the path they were given, and `put` finds the
old place too). One level of 256 folders: a new folder per message, as the two-level
layout made for the first tens of thousands, doubled the cost of storing one. Writing the
same bytes twice is a no-op, so re-ingesting never duplicates anything. Writes go to a temporary name and are
renamed into place; `sync()` makes every file written since the last call durable (fsync of
the files and their directories) and must be called *before* the database commit that
refers to them — so a committed row never points at a file a power cut could lose.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import secrets
from pathlib import Path

try:  # syncfs(2): one call makes a whole batch durable, instead of an fsync per file
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    _syncfs = _libc.syncfs
except (OSError, AttributeError):  # not Linux/glibc: fall back to fsync per file
    _syncfs = None


class Archive:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._pending_files: list[Path] = []
        self._pending_dirs: set[Path] = set()
        self._made_dirs: set[Path] = set()
        self._pack: tuple[bytearray, str] | None = None  # (bytes, its path) until sync() writes them

    def put(self, data: bytes, kind: str = "raw", suffix: str = ".eml") -> tuple[str, str]:
        """Store bytes; return (sha256 hex, path relative to the archive root)."""
        digest = hashlib.sha256(data).hexdigest()
        rel = Path(kind) / digest[:2] / f"{digest}{suffix}"
        path = self.root / rel
        if not path.exists():
            legacy = Path(kind) / digest[:2] / digest[2:4] / f"{digest}{suffix}"
            if (self.root / legacy).exists():
                return digest, legacy.as_posix()
            if path.parent not in self._made_dirs:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._made_dirs.add(path.parent)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
            self._pending_files.append(path)
            self._pending_dirs.add(path.parent)
        return digest, rel.as_posix()

    def append(self, data: bytes, sha256: str | None = None) -> tuple[str, str]:
        """Store a fetched message in the current pack; return (sha256 hex, its path).

        A pack is one file per `sync()` cycle (per ingest batch), the messages laid end to
        end, written by `sync()` in one piece: storing a message costs a copy, not a file (creating ~10,000 files was a
        fifth of a large poll). The path names the pack, the offset and the length:
        `raw/packs/<name>.pack#<offset>:<length>`; `read` takes it like any other path.
        `sha256`: the digest when the caller has it already (the parser computes it).
        """
        if self._pack is None:
            self._pack = (bytearray(), f"raw/packs/{secrets.token_hex(8)}.pack")
        buf, rel = self._pack
        offset = len(buf)
        buf += data  # written in one piece by sync(): many small writes cost ~10x more
        return sha256 or hashlib.sha256(data).hexdigest(), f"{rel}#{offset}:{len(data)}"

    def sync(self) -> None:
        """Make everything written since the last sync durable (and close the pack)."""
        if self._pack is not None:
            buf, rel = self._pack
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as fh:
                fh.write(buf)
            self._pending_files.append(path)
            self._pending_dirs.add(path.parent)
            self._pack = None
        if self._pending_files and _syncfs is not None:
            fd = os.open(self.root, os.O_RDONLY)
            try:
                if _syncfs(fd) == 0:
                    self._pending_files.clear()
                    self._pending_dirs.clear()
                    return
            finally:
                os.close(fd)
        for path in [*self._pending_files, *self._pending_dirs]:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._pending_files.clear()
        self._pending_dirs.clear()

    def read(self, rel: str) -> bytes:
        name, _, span = rel.partition("#")
        if not span:
            return (self.root / rel).read_bytes()
        start, _, size = span.partition(":")
        offset, length = int(start), int(size)
        if self._pack is not None and self._pack[1] == name:  # appended, not yet synced
            data = bytes(self._pack[0][offset:offset + length])
        else:
            with open(self.root / name, "rb") as fh:
                fh.seek(offset)
                data = fh.read(length)
        if len(data) != length:
            raise OSError(f"{name}: truncated at {offset}+{length}")
        return data

    def path(self, rel: str) -> Path:
        """The file holding `rel` (for a packed message: its pack)."""
        return self.root / rel.partition("#")[0]

    def verify(self, rel: str, sha256: str) -> bool:
        return hashlib.sha256(self.read(rel)).hexdigest() == sha256
