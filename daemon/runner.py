"""The long-running service: what runs when, in the helpdesk's time zone.

`schedule` provides the cadence (a tick every few seconds); every decision is taken in
`tick(now)` from the injected clock, so tests drive a whole day minute by minute and the
host's TZ never matters. Report slots are claimed in the database (UNIQUE kind/date/time):
a slot missed while the daemon was down is sent once at start, marked late, and never twice,
even with two daemons racing. Each job is guarded: an exception is logged and the loop goes
on (schedule 1.2 would otherwise let it escape `run_pending`). Server outages back off.
After the acknowledgements are sent, each tick indexes for search the tickets the poll
stored (`search.catch_up`: one read when nothing is due).

The cloud folder (`[storage] mirror`) is pushed every `MIRROR_EVERY` in a thread of its own:
an upload of a large recording takes minutes, and mail must not wait for it. One pass at a
time; the rows' leases keep it apart from a manual `kpudesk storage sync`; an unreachable
remote backs the pass off (retry_delay, at most `MIRROR_EVERY`), each file's refusals back
that file off (tickets/mirror.py).

With `[imap] idle = true` a watcher thread (daemon/idle.py) holds an IMAP IDLE connection
and sets `wake` on new mail; the loop waits on `wake` rather than sleeping, then polls and
flushes at once (`_pushed`), in this thread: the poll's lock and database stay here.
"""
from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import schedule

from kpudesk.mailbox.errors import MailServerError
from kpudesk.tickets import reports, search
from kpudesk.tickets.errors import ConfigError, TempFailure
from kpudesk.tickets.followups import queue_followups
from kpudesk.tickets.backoff import retry_delay
from kpudesk.tickets.bookkeeping import daemon_since
from kpudesk.tickets.models import db
from kpudesk.tickets.schema import is_locked

from . import notify
from .lock import FileLock, LockBusy
from .mirror_sync import sync as mirror_sync
from .poller import poll
from .idle import IdleWatch
from .sender import flush
from .wiring import App

log = logging.getLogger(__name__)

TICK_SECONDS = 15
FLUSH_EVERY = timedelta(minutes=1)
MIRROR_EVERY = timedelta(minutes=5)


@dataclass
class Cadence:
    """When a recurring job last ran and, after failures, when it may try again.

    With a zone, runs are aligned to the local clock (every hour on the hour, as officers
    expect: 08:00, 09:00, ...), plus one at start; without, they follow the last run.
    """

    every: timedelta
    zone: ZoneInfo | None = None
    last: datetime | None = None
    failures: int = 0
    retry_at: datetime | None = None

    def due(self, now: datetime) -> bool:
        if self.retry_at is not None:
            return now >= self.retry_at
        if self.last is None:
            return True
        if self.zone is None:
            return now - self.last >= self.every
        return now >= self._next_aligned(self.last)

    def _next_aligned(self, after: datetime) -> datetime:
        local = after.astimezone(self.zone)
        midnight = datetime.combine(local.date(), datetime.min.time(), tzinfo=self.zone)
        slots = (local - midnight) // self.every + 1
        return (midnight + slots * self.every).astimezone(UTC)

    def ok(self, now: datetime) -> None:
        self.last, self.failures, self.retry_at = now, 0, None

    def failed(self, now: datetime) -> timedelta:
        wait = min(retry_delay(self.failures + 1), self.every)
        self.failures += 1
        self.last, self.retry_at = now, now + wait
        return wait


@dataclass
class Runner:
    app: App
    stop: threading.Event = field(default_factory=threading.Event)
    started: bool = False
    heartbeat: notify.Heartbeat | None = None  # set by run_forever under a systemd watchdog
    wake: threading.Event = field(default_factory=threading.Event)  # IDLE saw new mail, or stop

    def __post_init__(self) -> None:
        s = self.app.settings
        self.poll_cadence = Cadence(timedelta(seconds=s.imap.poll_every), zone=s.zone)
        self.flush_cadence = Cadence(FLUSH_EVERY)
        self.mirror_cadence = Cadence(MIRROR_EVERY)
        self._mirror_thread: threading.Thread | None = None
        self.zone = s.zone
        self._slot_retry: dict[tuple[str, str, str], datetime] = {}
        self._since_at: datetime | None = None

    # --- one step -------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[str]:
        """Run whatever is due at `now`; returns the names of the jobs that ran."""
        now = now or self.app.clock.now()
        ran = []
        if self.poll_cadence.due(now) and not self.stop.is_set():
            self._guard("poll", self._poll, now) and ran.append("poll")
        for kind, times in (("progress", self.app.settings.reports.progress_at),
                            ("recap", (self.app.settings.reports.recap_at,)),
                            ("followup", (self.app.settings.reports.followup_at,))):
            if self.stop.is_set():
                break
            for d, t, late in self._due_slots(kind, times, now):
                key = (kind, d, t)
                if self._slot_retry.get(key, now) > now:
                    continue
                if self._guard(f"{kind} {d} {t}", self._slot, kind, d, t, late, now):
                    ran.append(f"{kind}:{t}{' late' if late else ''}")
                else:
                    # e.g. no recipients configured: say so every few minutes, not every tick
                    self._slot_retry[key] = now + timedelta(minutes=5)
        if self.flush_cadence.due(now) and not self.stop.is_set():
            self._guard("send", self._flush, now) and ran.append("send")
        if not self.stop.is_set():  # after the acknowledgements: a party waits for those
            self._guard("index", self._index) and ran.append("index")
        if self._mirror_due(now):
            self._mirror_thread = threading.Thread(target=self._mirror_pass, args=(now,), name="mirror", daemon=True)
            self._mirror_thread.start()
            ran.append("mirror")
        self.started = True
        return ran

    def _due_slots(self, kind: str, times, now: datetime) -> list[tuple[str, str, bool]]:
        """At start: the most recent missed slot (late). Afterwards: slots that just came due."""
        since = self._since(now)  # a slot from before the daemon first ran is not "missed"
        if not self.started:
            one = reports.latest_missed_slot(kind, times, now, self.zone)
            return [one] if one and reports.slot_instant(one[0], one[1], self.zone) >= since else []
        return [(d, t, reports.is_late(d, t, now, self.zone)) for d, t in
                reports.missed_slots(kind, times, now, self.zone, lookback_days=0)
                if reports.slot_instant(d, t, self.zone) >= since]

    def _since(self, now: datetime) -> datetime:
        """When the daemon first ran against this database (recorded once, then cached)."""
        if self._since_at is None:
            self._since_at = daemon_since(now)
        return self._since_at

    def _guard(self, name: str, fn, *args) -> bool:
        try:
            return fn(*args) is not False
        except ConfigError as exc:
            log.error("%s: settings problem: %s", name, exc)
        except MailServerError as exc:
            log.warning("%s: mail server problem: %s", name, exc)
        except TempFailure as exc:  # e.g. the archive could not be written (disk full)
            log.error("%s: %s", name, exc)
        except LockBusy as exc:
            log.warning("%s: another %s is running; skipped", name, exc)
        except Exception:  # noqa: BLE001 - one failing job must not stop the daemon
            log.exception("%s failed", name)
        return False

    # --- the jobs ---------------------------------------------------------------------

    def _beat(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.beat()

    def _poll(self, now: datetime) -> None:
        try:
            stats = poll(self.app, should_stop=self.stop.is_set, progress=self._beat)
        except (MailServerError, LockBusy, TempFailure):
            wait = self.poll_cadence.failed(now)
            log.warning("poll failed; next try in %s", wait)
            raise
        self.poll_cadence.ok(now)
        if stats.fetched:
            log.info("poll: fetched=%d tickets_created=%d quarantined=%d spam_held=%d",
                     stats.fetched, stats.tickets_created, stats.quarantined, stats.spam_held)

    def _pushed(self, now: datetime) -> None:
        """New mail announced by IMAP IDLE: poll now and send its acknowledgements at once.
        The hourly cadence is left alone: the SOP's pass still runs on the hour."""
        stats = poll(self.app, should_stop=self.stop.is_set, progress=self._beat)
        if stats.fetched:
            log.info("poll (IDLE): fetched=%d tickets_created=%d quarantined=%d spam_held=%d",
                     stats.fetched, stats.tickets_created, stats.quarantined, stats.spam_held)
        self._flush(now)
        self._index()

    def _flush(self, now: datetime) -> None:
        stats, unreachable = flush(self.app, ignore_backoff=False, progress=self._beat)
        if unreachable:
            wait = self.flush_cadence.failed(now)
            log.warning("SMTP unreachable; %d mail(s) wait; next try in %s", stats.pending, wait)
        else:
            self.flush_cadence.ok(now)
        if stats.sent or stats.failed:
            log.info("send: sent=%d deferred=%d failed=%d pending=%d", stats.sent, stats.deferred, stats.failed,
                     stats.pending)

    def _index(self) -> bool:
        """The search index for the mail polled since the last tick (tickets/search.py);
        False when nothing was due (one read)."""
        try:
            done = search.catch_up(progress=self._beat)
        except Exception as exc:
            if not is_locked(exc):
                raise
            log.info("search index: the database is busy (%s); next tick", exc)  # all stays due
            return False
        if done:
            log.info("search index: %d ticket(s) indexed", done)
        return done > 0

    def _mirror_due(self, now: datetime) -> bool:
        return (self.app.settings.mirror.configured and not self.stop.is_set() and self.mirror_cadence.due(now)
                and (self._mirror_thread is None or not self._mirror_thread.is_alive()))

    def _mirror_pass(self, now: datetime) -> None:
        """The thread's body: one guarded pass; its database connection is its own."""
        try:
            if not self._guard("mirror", self._mirror, now):
                self.mirror_cadence.failed(now)  # e.g. rclone missing: say so every few minutes, not every tick
        finally:
            db.close()

    def _mirror(self, now: datetime) -> None:
        stats, unreachable = mirror_sync(self.app, ignore_backoff=False, should_stop=self.stop.is_set)
        if unreachable:
            wait = self.mirror_cadence.failed(now)
            log.warning("cloud folder unreachable; %d file(s) wait; next try in %s", stats.pending, wait)
        else:
            self.mirror_cadence.ok(now)
        if stats.uploaded or stats.found or stats.deferred:
            log.info("mirror: uploaded=%d found=%d deferred=%d pending=%d failed=%d", stats.uploaded, stats.found,
                     stats.deferred, stats.pending, stats.failed)

    def wait_mirror(self, timeout: float | None = None) -> None:
        """Until the running cloud-folder pass ends (tests; shutdown)."""
        if self._mirror_thread is not None:
            self._mirror_thread.join(timeout)

    def _slot(self, kind: str, local_date: str, hhmm: str, late: bool, now: datetime) -> bool:
        app, s = self.app, self.app.settings
        if kind == "progress":
            send = lambda slot: reports.send_progress_report(  # noqa: E731
                replies=app.replies, archive=app.archive, clock=app.clock, zone=self.zone,
                recipients=s.reports.progress_to, slot=slot)
        elif kind == "recap":
            send = lambda slot: reports.send_recap(  # noqa: E731
                replies=app.replies, clock=app.clock, zone=self.zone, calendar=app.calendar,
                recipients=s.reports.recap_to, slot=slot)
        else:
            with db.atomic():
                slot = reports.claim_slot(kind, local_date, hhmm, now=now, late=late)
                if slot is not None:
                    queue_followups(app.replies, app.clock, app.calendar, slot=slot)
            return slot is not None
        # False: another daemon had claimed the slot
        return reports.run_slot(kind, local_date, hhmm, now=now, late=late, send=send) is not None

    # --- the service ------------------------------------------------------------------

    def run_forever(self) -> int:
        with FileLock(self.app.state_dir / "daemon.lock", "daemon"):
            self._install_signals()
            scheduler = schedule.Scheduler()  # our own instance, not the module default
            scheduler.every(TICK_SECONDS).seconds.do(self.tick)
            timeout = notify.watchdog_timeout()
            if timeout:
                # Ping four times per WatchdogSec while progress is at most WatchdogSec old:
                # a hung daemon is killed within 2 x WatchdogSec (see notify.Heartbeat).
                self.heartbeat = notify.Heartbeat(interval=timeout / 4, stall=timeout).start()
            log.info("kpudesk daemon started: poll every %ss, reports at %s, recap at %s (%s)",
                     self.app.settings.imap.poll_every, ",".join(self.app.settings.reports.progress_at),
                     self.app.settings.reports.recap_at, self.app.settings.helpdesk.timezone)
            # Ready before the first poll: start-up is done (settings, database, lock); a
            # first poll of a large backlog may take long, and the heartbeat covers it.
            notify.notify("READY=1")
            watch = IdleWatch(self.app, self.stop, self.wake).start() if self.app.settings.imap.idle else None
            try:
                self.tick()
                while not self.stop.is_set():
                    self._beat()  # the loop turns at least every TICK_SECONDS
                    scheduler.run_pending()
                    if self.wake.is_set() and not self.stop.is_set():
                        self.wake.clear()  # before the poll: mail arriving during it wakes us again
                        self._guard("poll (IDLE)", self._pushed, self.app.clock.now())
                    idle = scheduler.idle_seconds
                    self.wake.wait(min(max(idle or 1, 0.2), TICK_SECONDS))
            finally:
                if watch is not None:
                    watch.join(timeout=10)  # it sees `stop` within a second and logs out
                self.wait_mirror(timeout=60)  # a file in flight: its row is recorded, or its lease ends with us
                if self.heartbeat is not None:
                    self.heartbeat.stop()
            notify.notify("STOPPING=1")
            log.info("kpudesk daemon stopped")
        return 0

    def _install_signals(self) -> None:
        def handler(signum, _frame):
            log.info("signal %s: finishing the current step, then stopping", signal.Signals(signum).name)
            self.stop.set()
            self.wake.set()  # the loop waits on `wake`

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
