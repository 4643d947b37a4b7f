"""Small helpers every throw-away test server shares: ports, scratch space, child cleanup."""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import tempfile


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, 0))
        return s.getsockname()[1]


def port_accepts(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def scratch_dir(env_var: str) -> str:
    """Where a server keeps its files: $env_var, else /dev/shm when it is a roomy (>= 1 GiB
    free) tmpfs -- ten thousand Maildir files are created and deleted ~10x faster there than
    on ext4 -- else the usual temporary directory."""
    explicit = os.environ.get(env_var)
    if explicit:
        return explicit
    with contextlib.suppress(OSError):
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize >= 1 << 30 and os.access("/dev/shm", os.W_OK | os.X_OK):
            return "/dev/shm"
    return tempfile.gettempdir()


def set_pdeathsig() -> None:  # runs in the child between fork and exec
    """Ask Linux to SIGTERM the server if the Python process that started it dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - not Linux
        pass


def live_processes() -> list[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every live (not zombie) process, from /proc.
    Raises OSError without procfs."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # it ended meanwhile
        fields = stat[stat.rfind(b")") + 2:].split()  # state, ppid, pgrp, ...
        if len(fields) > 2 and fields[0] not in (b"Z", b"X"):
            out.append((int(entry), int(fields[1]), int(fields[2])))
    return out


class ServerProcess:
    """Lifecycle shared by the throw-away servers: `with Server(...) as s:` starts it and
    always stops it and removes its files, also when starting fails halfway."""

    _proc = None  # subprocess.Popen of the server, set by start(), cleared by stop()

    def start(self):
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def cleanup(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()  # a half-started server: stop() is a no-op when nothing runs
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        finally:
            self.cleanup()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None
