"""Process locks (flock on a file in the state directory): one poll, one daemon per mailbox.

The kernel drops an flock when its holder dies, so a SIGKILLed poll never leaves a stale lock.
An flock belongs to the open file, which a forked child (an analysis worker) shares: so
children close their copies at once, or a child outliving its parent would keep the lock.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path


_held: set[int] = set()  # descriptors of the locks this process holds


def _close_in_child() -> None:
    # Close, never LOCK_UN: unlocking through the shared open file would unlock the parent.
    for fd in _held:
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)


class LockBusy(Exception):
    """Another process holds the lock."""


class FileLock:
    def __init__(self, path: Path, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> "FileLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockBusy(self.what) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        _held.add(fd)
        return self

    def release(self) -> None:
        if self._fd is not None:
            _held.discard(self._fd)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "FileLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
