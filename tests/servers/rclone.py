"""A real cloud folder on loopback for tests: `rclone serve webdav` over a temporary folder.

`WebdavRemote(root)` serves `root/served` on 127.0.0.1 at a free port and writes an rclone
config (`root/rclone.conf`) with the remote `[kpudesk-test]` (type webdav, vendor other: a
WebDAV server that offers no hashes, so the desk's `hashsum --download` check is the one
used). The server logs every request (`-vv`) to `log_path`: `puts(path)` counts the uploads
of one file. As root (the CI case) the server runs as `nobody`, so file permissions in the
served folder apply (a read-only folder refuses uploads, as a remote out of rights does).

    with WebdavRemote() as remote:   # files in a new temporary folder, removed at the end
        remote.remote            # "kpudesk-test:kpu" for [storage] mirror
        remote.stop(); remote.start()   # an outage, the same port again
"""
from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .common import ServerProcess, free_port, port_accepts, scratch_dir, set_pdeathsig

REMOTE_NAME = "kpudesk-test"


class WebdavRemote(ServerProcess):
    def __init__(self, folder: str = "kpu") -> None:
        # Not under pytest's tmp_path: its folders are 0700, which `nobody` cannot enter.
        self.root = Path(tempfile.mkdtemp(prefix="kpudesk-webdav-", dir=scratch_dir("KPUDESK_WEBDAV_DIR")))
        self.root.chmod(0o711)
        self.served = self.root / "served"
        self.folder = folder
        self.port = free_port()
        self.config = self.root / "rclone.conf"
        self.log_dir = self.root / "log"
        self.log_path = self.log_dir / "webdav.log"
        self._user = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
        self.served.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(f"[{REMOTE_NAME}]\ntype = webdav\nurl = http://127.0.0.1:{self.port}\n"
                               "vendor = other\n", encoding="utf-8")
        self.own(self.served)
        self.own(self.log_dir)

    @property
    def remote(self) -> str:
        return f"{REMOTE_NAME}:{self.folder}"

    @property
    def top(self) -> Path:
        """The folder `[storage] mirror` names, inside the served folder."""
        return self.served / self.folder

    def own(self, path: Path) -> None:
        """Give a path in the served folder to the server's user (as root)."""
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def start(self) -> "WebdavRemote":
        kwargs = {}
        if self._user is not None:
            kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid}
        self._proc = subprocess.Popen(
            [shutil.which("rclone") or "rclone", "serve", "webdav", "--config", "/dev/null",
             "--addr", f"127.0.0.1:{self.port}", str(self.served), "-vv", "--log-file", str(self.log_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.log_dir)},
            preexec_fn=set_pdeathsig, **kwargs)
        deadline = time.monotonic() + 10
        while not port_accepts("127.0.0.1", self.port, 0.2):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rclone serve webdav did not start: {self.log_text()[-500:]}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def cleanup(self) -> None:
        # A read-only folder a test made must not stop the removal.
        for p in self.root.rglob("*"):
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
        shutil.rmtree(self.root, ignore_errors=True)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def puts(self, remote_path: str) -> int:
        """How many uploads (HTTP PUT) of `<folder>/<remote_path>` the server received."""
        needle = f": /{self.folder}/{remote_path}: PUT from "
        return self.log_text().count(needle)

    def files(self) -> dict[str, str]:
        """Every file under the mirror's folder: relative path → SHA-256 of its bytes."""
        if not self.top.exists():
            return {}
        return {p.relative_to(self.top).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(self.top.rglob("*")) if p.is_file()}
