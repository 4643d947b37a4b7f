"""sd_notify without a dependency: READY, WATCHDOG and STOPPING datagrams to $NOTIFY_SOCKET,
and the `Heartbeat` that feeds the watchdog while the daemon makes progress.

Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time

log = logging.getLogger(__name__)


def notify(state: str) -> bool:
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):  # abstract namespace socket
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(path)
            s.sendall(state.encode())
        return True
    except OSError:
        return False


def watchdog_timeout() -> float | None:
    """The watchdog timeout systemd set for us (WatchdogSec), in seconds, or None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec) / 1_000_000
    except ValueError:
        return None
    return value if value > 0 else None


def watchdog_interval() -> float | None:
    """Half the watchdog timeout systemd set for us, in seconds, or None."""
    timeout = watchdog_timeout()
    return timeout / 2 if timeout else None


class Heartbeat:
    """Feeds systemd's watchdog from a thread, but only while the daemon makes progress.

    Why a thread: a poll of large mail runs for minutes in the main loop, which could only
    ping between jobs (or from inside every slow step). Why not a thread that simply pings
    on a timer: it would keep a hung daemon (a deadlock, a server that stops answering
    mid-FETCH) alive for ever, defeating the watchdog. So the main loop and the poll call
    `beat()` whenever they get something done (each loop turn, each fetch, each stored
    batch); the thread pings every `interval` seconds only while the last beat is at most
    `stall` seconds old. A daemon stuck in one step stops being fed `stall` seconds after its
    last progress and systemd kills it `WatchdogSec` later, while any step shorter than
    `stall` (one batch of at most 8 MB, one message's parse) never trips it.
    """

    def __init__(self, interval: float, stall: float) -> None:
        self.interval, self.stall = interval, stall
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.starved = False  # the last check found no progress (the watchdog is not fed)

    def beat(self) -> None:
        """Progress was made (any thread; a plain store, so cheap enough per message)."""
        self._last = time.monotonic()

    def start(self) -> "Heartbeat":
        t = threading.Thread(target=self._run, name="watchdog-heartbeat", daemon=True)
        t.fork_safe = True  # see daemon/workers.py start_method_now: holds no lock a child needs
        t.start()
        self._thread = t
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            quiet = time.monotonic() - self._last
            if quiet <= self.stall:
                self.starved = False
                notify("WATCHDOG=1")
            elif not self.starved:
                self.starved = True
                log.error("no progress for %.0f s: no longer feeding the systemd watchdog", quiet)
