"""One pass over the cloud folder's queue (tickets/mirror.py): copy due files with rclone,
then check them on the remote by size and hash before recording them `stored`.

For each claimed row: the archive's file is checked against the row (size, SHA-256; a file
gone or changed fails the row: the local archive is the source of truth). Then the remote is
asked first whether it already holds the file with the same size and hash — a pass that
crashed after copying and before recording finds it there and records it without copying it
again — and only otherwise `rclone copyto` copies it, and the remote is asked again.
The hash compared is the remote's own when it offers SHA-256, SHA-1 or MD5 (`lsjson
--hash`), else `hashsum sha256 --download` (rclone reads the file back).

rclone's exit codes (its documentation, "Exit Code"): 0 success, 1 an error not otherwise
categorised, 2 syntax or usage, 3 directory not found, 4 file not found, 5 temporary, 6 less
serious (not retried), 7 fatal (e.g. an account suspended), 8 transfer limit reached, 9 no
files transferred. A failure is first told apart from an unreachable remote by asking the
remote's root again (`lsf --max-depth 1`): unreachable → the row is given back untouched and
the pass stops (nothing lost, the caller backs off); reachable → a refusal of this file:
1, 5, 8 and a timeout back off and fail once the schedule is exhausted, 2, 3, 4, 6, 7, 9 fail now.

The remote's secrets live in rclone's config file; this module never reads or logs it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from kpudesk.tickets import mirror
from kpudesk.tickets.errors import ConfigError, TempFailure
from kpudesk.tickets.models import MirrorItem

from .settings import MirrorSettings
from .wiring import App

log = logging.getLogger(__name__)

EXIT_TEXT = {1: "galat lain", 2: "galat sintaks atau pemakaian", 3: "folder tidak ditemukan",
             4: "berkas tidak ditemukan", 5: "galat sementara", 6: "galat yang tidak dicoba ulang",
             7: "galat fatal (mis. akun ditangguhkan atau kuota habis)", 8: "batas transfer tercapai",
             9: "tidak ada berkas yang terkirim"}
PERMANENT = frozenset({2, 3, 4, 6, 7, 9})
# Tests only: SIGKILL this process right after a copy, before it is checked and recorded,
# to prove the next pass records the file without copying it again (tests/e2e/test_mirror.py).
CRASH_AFTER_COPY_ENV = "KPUDESK_TEST_KILL_AFTER_MIRROR_COPY"
_STAMP = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (?:[A-Z]+\s*:\s*)?")
_NO_REMOTE = "didn't find section in config file"
_CREDENTIALS = re.compile(r"://[^/@\s]+@")


class RcloneError(Exception):
    """rclone exited with an error: its exit code (None: it ran out of time) and last words."""

    def __init__(self, code: int | None, text: str) -> None:
        super().__init__(f"rclone {code}: {text}")
        self.code, self.text = code, text

    def label(self) -> str:
        """The reason in Bahasa first (for the ticket page), rclone's own words after."""
        what = "waktu habis" if self.code is None else f"{EXIT_TEXT.get(self.code, 'galat')}, kode rclone {self.code}"
        return f"ditolak folder awan ({what}): {self.text}"[:600]


def _last_words(stderr: str) -> str:
    """rclone's last line, without its time stamp and without any user:password@ of a URL."""
    lines = [_STAMP.sub("", x).strip() for x in stderr.strip().splitlines() if x.strip()]
    return _CREDENTIALS.sub("://***@", lines[-1] if lines else "tanpa keterangan")[:300]


@dataclass
class Rclone:
    """The rclone program, run for one remote folder (`[storage] mirror`)."""

    settings: MirrorSettings

    def target(self, rel: str) -> str:
        root = self.settings.remote or ""
        return f"{root}{rel}" if root.endswith(":") else f"{root}/{rel}"

    def run(self, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
        s = self.settings
        cmd = [s.rclone, *args, "--contimeout", f"{min(s.timeout, 30)}s", "--timeout", f"{s.timeout}s",
               "--retries", "1", "--low-level-retries", "2", "--ask-password=false", "-q"]
        if s.config is not None:
            cmd += ["--config", str(s.config)]
        try:
            return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
                                  timeout=timeout or s.timeout * 2 + 30)
        except FileNotFoundError:
            raise ConfigError("storage.mirror_rclone", f"program rclone tidak ditemukan: {s.rclone!r} "
                                                       "(pasang paket rclone atau atur mirror_rclone)") from None
        except subprocess.TimeoutExpired:
            raise RcloneError(None, f"rclone {args[0]} tidak selesai dalam waktunya") from None

    def probe(self) -> str | None:
        """None when the remote answers (its folder may not exist yet: rclone says 3), else why not."""
        try:
            done = self.run("lsf", "--max-depth", "1", self.settings.remote or "")
        except RcloneError as exc:
            return exc.text
        if done.returncode in (0, 3):
            return None
        words = _last_words(done.stderr)
        if _NO_REMOTE in done.stderr:
            remote = (self.settings.remote or "").partition(":")[0]
            raise ConfigError("storage.mirror", f"remote {remote!r} tidak ada di konfigurasi rclone "
                                                "(buat dengan `rclone config` atau periksa mirror_config)")
        return words

    def stat(self, rel: str) -> dict | None:
        """The remote's entry of a file (Size, Hashes when it offers any); None when absent."""
        # Only the hashes compared: a local or SFTP remote would compute every kind it knows.
        done = self.run("lsjson", "--stat", "--hash-type", "sha256", "--hash-type", "sha1", "--hash-type", "md5",
                        "--files-only", self.target(rel))
        if done.returncode in (3, 4):
            return None
        if done.returncode != 0:
            raise RcloneError(done.returncode, _last_words(done.stderr))
        return json.loads(done.stdout or "null")

    def copy(self, local: Path, rel: str, size: int) -> None:
        # A slow line: at least 50 kB/s before the program is stopped (rclone's own
        # --timeout stops a stalled connection much earlier). --ignore-times: we know the
        # remote's copy is not this file (a damaged one of the same size on a remote
        # without modification times would otherwise be skipped).
        done = self.run("copyto", "--ignore-times", str(local), self.target(rel),
                        timeout=_copy_time(self.settings, size).total_seconds())
        if done.returncode != 0:
            raise RcloneError(done.returncode, _last_words(done.stderr))

    def sha256(self, rel: str, size: int) -> str | None:
        done = self.run("hashsum", "sha256", "--download", self.target(rel),
                        timeout=_copy_time(self.settings, size).total_seconds())
        if done.returncode in (3, 4):
            return None
        if done.returncode != 0:
            raise RcloneError(done.returncode, _last_words(done.stderr))
        return (done.stdout.split() or [""])[0].lower() or None


def _copy_time(s: MirrorSettings, size: int) -> timedelta:
    """The longest one rclone call on a file may take: a slow line, at least 50 kB/s."""
    return timedelta(seconds=s.timeout * 2 + 30 + size / 50_000)


def _file_hash(path: Path, name: str) -> str:
    h = hashlib.new(name)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def on_remote(remote: Rclone, item: MirrorItem, local: Path) -> bool:
    """Whether the remote holds this very file: same size, and the same hash."""
    entry = remote.stat(item.remote_path)
    if not entry or entry.get("Size") != item.size:
        return False
    hashes = {k.lower(): v.lower() for k, v in (entry.get("Hashes") or {}).items() if v}
    for name in ("sha256", "sha1", "md5"):
        if name in hashes:
            return hashes[name] == (item.sha256 if name == "sha256" else _file_hash(local, name))
    return remote.sha256(item.remote_path, item.size) == item.sha256


def _local_problem(local: Path, item: MirrorItem) -> str | None:
    try:
        if local.stat().st_size != item.size or _file_hash(local, "sha256") != item.sha256:
            return f"berkas arsip {item.path} berubah sejak diarsipkan (ukuran/hash tidak cocok); tidak diunggah"
    except FileNotFoundError:
        return f"berkas arsip {item.path} tidak ditemukan"
    except OSError as exc:
        return f"berkas arsip {item.path} tidak dapat dibaca: {exc.strerror}"
    return None


def sync(app: App, *, ignore_backoff: bool, progress=lambda: None,
         should_stop=lambda: False) -> tuple[mirror.SyncStats, bool]:
    """Returns (stats, remote_unreachable). Without `[storage] mirror` nothing is copied
    (rows stay queued for the day a cloud folder is configured)."""
    stats = mirror.SyncStats()
    if app.settings.mirror.configured:
        remote = Rclone(app.settings.mirror)
        unreachable = _pass(app, remote, stats, ignore_backoff=ignore_backoff, progress=progress,
                            should_stop=should_stop)
    else:
        unreachable = False
    counts = mirror.counts()
    stats.pending, stats.failed = counts.get("pending", 0), counts.get("failed", 0)
    return stats, unreachable


def _pass(app: App, remote: Rclone, stats: mirror.SyncStats, *, ignore_backoff: bool, progress,
          should_stop) -> bool:
    items = mirror.due(app.clock.now(), ignore_backoff=ignore_backoff)
    if not items:
        return False
    why = remote.probe()
    if why is not None:
        log.warning("cloud folder %s unreachable: %s", app.settings.mirror.remote, why)
        return True
    while items:
        for item in items:
            if should_stop():
                return False
            if not mirror.claim(item.id, app.clock.now(), lease=_copy_time(app.settings.mirror, item.size) * 3):
                continue  # another uploader has it
            if not _one(app, remote, item, stats):
                mirror.release(item.id)
                return True
            progress()
        items = mirror.due(app.clock.now(), ignore_backoff=ignore_backoff, after=items[-1].id)
    return False


def _one(app: App, remote: Rclone, item: MirrorItem, stats: mirror.SyncStats) -> bool:
    """Copy and check one claimed row; False when the remote turned out unreachable."""
    local = app.archive.root / item.path
    problem = _local_problem(local, item)
    if problem:
        mirror.mark_permanent(item.id, app.clock.now(), problem)
        return True
    try:
        if on_remote(remote, item, local):
            mirror.mark_stored(item.id, app.clock.now())
            stats.found += 1
            log.info("mirror item=%s already on the remote: %s", item.id, item.remote_path)
            return True
        remote.copy(local, item.remote_path, item.size)
        if os.environ.get(CRASH_AFTER_COPY_ENV) == "1":
            os.kill(os.getpid(), signal.SIGKILL)
        if on_remote(remote, item, local):
            mirror.mark_stored(item.id, app.clock.now())
            stats.uploaded += 1
            return True
        error = "sesudah diunggah, ukuran atau hash di folder awan tidak cocok dengan arsip"
        permanent = False
    except RcloneError as exc:
        if remote.probe() is not None:
            return False
        error, permanent = exc.label(), exc.code in PERMANENT
    if permanent:
        mirror.mark_permanent(item.id, app.clock.now(), error)
    elif not mirror.mark_temporary(item.id, app.clock.now(), error):
        stats.deferred += 1
    log.warning("mirror item=%s %s: %s", item.id, item.remote_path, error)
    return True


def check_remote(settings) -> str:
    """`kpudesk check`: one line on the cloud folder; TempFailure when it cannot be reached."""
    m = settings.mirror
    if not m.configured:
        return "Folder awan: belum diatur ([storage] mirror); berkas tetap di arsip lokal dan menunggu di antrean"
    why = Rclone(m).probe()
    if why is not None:
        raise TempFailure(f"folder awan {m.remote} tidak dapat dihubungi: {why}")
    return f"Folder awan {m.remote}: dapat dihubungi"
