"""Push for `kpudesk run`: with `[imap] idle = true`, a thread keeps an IMAP IDLE watch on
the inbox (mailbox/imap_idle.py) and wakes the main loop when mail arrives.

The thread only watches. The poll (its lock, its database connection) and the flush of the
acknowledgements stay in the main loop, which waits on `wake` instead of sleeping a whole
tick; so new mail is acknowledged within seconds while the SOP's hourly pass over inbox and
spam still runs on its own cadence and catches whatever IDLE missed.

A dropped connection (server restart, network) is re-opened after retry_delay's schedule
read in seconds instead of minutes (1 s, 2 s, 5 s ... at most 60 s): one IMAP session
costs the server little, and an acknowledgement should not wait a minute after a restart.
Refused credentials back off in minutes, as the poll does, so a wrong password is not tried
every few seconds. A server without IDLE is logged once; then only the poll runs.
"""
from __future__ import annotations

import logging
import threading
import time

from kpudesk.mailbox.errors import AuthenticationFailed, MailServerError
from kpudesk.mailbox.imap_idle import IdleUnsupported, IdleWatcher
from kpudesk.tickets.backoff import retry_delay
from kpudesk.tickets.errors import ConfigError

from .wiring import App

log = logging.getLogger(__name__)

SECONDS_PER_STEP = 60  # retry_delay(n) minutes -> the same number of seconds
HEALTHY_SECONDS = 60.0  # a session that lasted this long resets the failure count
CHECK_SECONDS = 1.0  # how often a blocked idle_check looks at the stop flag


def reconnect_delay(failures: int, *, auth: bool = False) -> float:
    """Seconds to wait before reconnecting after `failures` failures in a row."""
    delay = retry_delay(failures).total_seconds()
    return delay if auth else delay / SECONDS_PER_STEP


class IdleWatch:
    """The watcher thread. `wake` is set on new mail (and after each (re)connect, so mail
    that arrived while the connection was down is polled at once); `stop` ends it."""

    def __init__(self, app: App, stop: threading.Event, wake: threading.Event) -> None:
        self.app, self.stop, self.wake = app, stop, wake
        self.unsupported = False
        self.connects = 0
        self._thread: threading.Thread | None = None

    def start(self) -> "IdleWatch":
        self._thread = threading.Thread(target=self._run, name="imap-idle", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _ready(self) -> None:
        self.connects += 1
        if self.connects == 1:
            log.info("IMAP IDLE: watching %s (renewed every %ss)", self.app.settings.imap.inbox,
                     self.app.settings.imap.idle_renew)
        else:
            log.info("IMAP IDLE: reconnected; polling for mail that came meanwhile")
        self.wake.set()

    def _run(self) -> None:
        s = self.app.settings.imap
        failures = 0
        while not self.stop.is_set():
            started = time.monotonic()
            watcher = IdleWatcher(self.app.imap(), s.inbox, renew=s.idle_renew, on_new=self.wake.set,
                                  should_stop=self.stop.is_set, check=CHECK_SECONDS, on_ready=self._ready)
            auth = False
            try:
                watcher.run()
                return  # stop requested
            except IdleUnsupported as exc:
                self.unsupported = True
                log.warning("%s: new mail waits for the regular poll (every %ss)", exc, s.poll_every)
                return
            except (AuthenticationFailed, ConfigError) as exc:  # e.g. OAuth2: no refresh token stored (yet)
                auth, problem = True, exc
            except MailServerError as exc:
                problem = exc
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive any one failure
                log.exception("IMAP IDLE failed")
                problem = exc
            if time.monotonic() - started >= HEALTHY_SECONDS:
                failures = 0
            failures += 1
            wait = reconnect_delay(failures, auth=auth)
            log.warning("IMAP IDLE: %s; reconnecting in %.0fs", problem, wait)
            self.stop.wait(wait)
