"""One poll: inbox, then spam, each fetched in UID batches and stored batch by batch.

Fetching runs one batch ahead in a helper thread (network waits overlap with parsing and
the database), but only the main thread touches the database, and batches are stored in
UID order so the high-water mark always describes a gap-free prefix of the folder.

Memory follows bytes, not message counts: new mail is listed with its RFC822.SIZE; mail
over `imap.max_message_mb` is quarantined by its header without being downloaded; the
rest is cut into batches of at most BATCH_BYTES, and the fetch thread holds back while
more than BUDGET_BYTES of fetched mail wait to be stored (`ByteBudget`). `progress` is
called after every fetch and every stored batch (the daemon's watchdog heartbeat).
"""
from __future__ import annotations

import logging
import queue
import threading
from contextlib import closing

from kpudesk.mailbox.errors import FolderMissing
from kpudesk.mailbox.imap import FolderStatus, ImapSource, plan_batches
from kpudesk.tickets.bookkeeping import resume_uid
from kpudesk.tickets.ingest import FolderStats, PollStats
from kpudesk.tickets.poll_log import record_poll
from kpudesk.tickets.quarantine import MB, record_oversized

from .workers import AnalysisPipeline
from .lock import FileLock
from .wiring import App

log = logging.getLogger(__name__)

_DONE = object()
# A batch is one transaction and, for the fetch thread, one FETCH: 8 MB keeps both short
# on a slow link (the watchdog hears of progress per batch) while ordinary mail (~5 KB)
# still fills batch_size. A message over 8 MB (up to max_message_mb) is a batch alone.
BATCH_BYTES = 8 * MB
# Fetched but not yet stored: the fetch thread waits beyond this, so two 25 MB messages are
# never in memory at once, while batches of small mail still flow one or two ahead.
BUDGET_BYTES = 40 * MB
OVERSIZED_CHUNK = 20  # header fetches per command for mail over the limit


def _nothing() -> None:
    pass


def _malloc_returns_big_buffers() -> None:
    """Large buffers (a fetched message, its decoded attachment) mmapped and given back to
    the system when freed. glibc raises its mmap threshold to the size of each big block
    freed (up to 32 MB), after which 25 MB messages come from the heap, whose freed
    space stays resident: 228 MB instead of 175 MB for a poll of three 25 MB messages."""
    try:
        import ctypes  # noqa: PLC0415 - lazy: glibc only; a failure is tolerated
        import ctypes.util  # noqa: PLC0415 - lazy: glibc only; a failure is tolerated

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 1024 * 1024)  # M_MMAP_THRESHOLD = 1 MB (fixes it: no dynamic raise)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def poll(app: App, stats: PollStats | None = None, should_stop=lambda: False, progress=_nothing) -> PollStats:
    """Poll every configured folder once. Raises LockBusy when another poll is running.

    `should_stop` is checked between batches: a SIGTERM ends the poll after the batch in
    hand is committed, never in the middle of one. `progress()` (thread-safe, cheap) is
    called whenever a fetch or a batch is done.
    """
    stats = stats or PollStats()
    _malloc_returns_big_buffers()
    with FileLock(app.state_dir / "poll.lock", "poll"):
        with app.imap() as source, AnalysisPipeline(app.analyst_spec(), app.settings.imap.workers) as pipeline:
            spam = source.resolve_spam(app.settings.imap.spam)
            folders = [(app.settings.imap.inbox, False)]
            if spam is None:
                log.warning("no spam folder found (configured %r, none flagged \\Junk, no common name)", app.settings.imap.spam)
            elif spam != app.settings.imap.inbox:
                folders.append((spam, True))
            for folder, is_spam in folders:
                if should_stop():
                    break
                _poll_folder(app, source, pipeline, folder, is_spam, stats, should_stop, progress)
        record_poll(app.clock.now())  # the CLI's poll and the daemon's alike (`kpudesk status`)
    return stats


def _poll_folder(app: App, source: ImapSource, pipeline: AnalysisPipeline, folder: str, is_spam: bool,
                 stats: PollStats, should_stop=lambda: False, progress=_nothing) -> None:
    try:
        status = source.examine(folder)
    except FolderMissing:
        if is_spam:
            log.warning("spam folder %r vanished; skipped", folder)
            return
        raise
    last_uid = resume_uid(folder, status.uidvalidity, app.clock.now())  # 0 after a renumbering: all again
    fstats = stats.folders.setdefault(folder, FolderStats(uidvalidity=status.uidvalidity, last_uid=last_uid))
    fstats.uidvalidity = status.uidvalidity
    sizes = source.sizes_above(status, last_uid)
    if not sizes:
        return
    uids = sorted(sizes)
    log.info("folder=%s uidvalidity=%s new=%d from_uid=%d", folder, status.uidvalidity, len(uids), last_uid + 1)
    limit = app.settings.imap.max_message_mb * MB
    small = [u for u in uids if sizes[u] <= limit]
    if len(small) < len(uids):
        # Before any batch: the rows are idempotent, and the mark moves past these UIDs
        # with the batch after them (or the empty batch below).
        _quarantine_oversized(app, source, status, [u for u in uids if sizes[u] > limit], sizes, is_spam,
                              stats, progress)
    plan = plan_batches(small, sizes, app.settings.imap.batch_size, BATCH_BYTES)
    if not plan:
        app.ingestor.ingest_batch(folder, status.uidvalidity, [], is_spam=is_spam, stats=stats, high_uid=uids[-1])
        return
    # Each batch's mark reaches up to the next batch: the oversized UIDs between are done.
    highs = [nxt[0] - 1 for nxt in plan[1:]] + [uids[-1]]
    planned = [sum(sizes[u] for u in chunk) for chunk in plan]
    budget = ByteBudget(BUDGET_BYTES)
    stored: list[int] = []

    def fetch_all():
        for chunk, nbytes, high in zip(plan, planned, highs, strict=True):
            budget.take(nbytes)
            batch = Batch(source.fetch(status.name, status.uidvalidity, chunk))
            batch.nbytes, batch.high_uid = nbytes, high
            progress()
            yield batch
            del batch  # not held while the next one waits for the budget

    size = app.settings.imap.batch_size
    batches = pipeline.run(_prefetch(fetch_all(), budget=budget), len(small), size)
    with closing(batches):
        for batch, analyses in batches:
            app.ingestor.ingest_batch(folder, status.uidvalidity, batch, is_spam=is_spam, stats=stats,
                                      analyses=analyses, high_uid=batch.high_uid)
            budget.give(batch.nbytes)
            progress()
            stored += [m.uid for m in batch]
            del batch, analyses  # not held while the next batch is fetched and parsed
            if should_stop():
                log.info("stop requested: %s left after UID %s", folder, stats.folders[folder].last_uid)
                break
    if app.settings.imap.mark_seen:  # only what is committed, and only after the commit
        source.mark_seen(folder, stored)


class Batch(list):
    """Fetched mail of one batch, with its planned bytes and the UID its mark may reach."""

    nbytes: int = 0
    high_uid: int | None = None


def _quarantine_oversized(app: App, source: ImapSource, status: FolderStatus, uids: list[int],
                          sizes: dict[int, int], is_spam: bool, stats: PollStats, progress) -> None:
    limit_mb = app.settings.imap.max_message_mb
    fstats = stats.folders[status.name]
    for i in range(0, len(uids), OVERSIZED_CHUNK):
        for header in source.fetch_headers(status.name, status.uidvalidity, uids[i:i + OVERSIZED_CHUNK]):
            if record_oversized(app.archive, app.clock, header, sizes[header.uid], limit_mb):
                log.warning("quarantined folder=%s uid=%s: %.1f MB over imap.max_message_mb=%d; not downloaded",
                            status.name, header.uid, sizes[header.uid] / MB, limit_mb)
            # Counted in every poll that meets it, as the design's sum requires
            # (fetched = added + ignored + duplicates + spam_held + quarantined).
            stats.quarantined += 1
            stats.fetched += 1
            fstats.fetched += 1
        progress()


class ByteBudget:
    """Bytes fetched and not yet stored; `take` waits while over the limit.

    Never deadlocks: a lone batch larger than the limit passes when nothing else is in
    flight, and the consumer's `hungry` (it waits on an empty queue, so it holds nothing
    it could release) lets the next batch through whatever the count says.
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.used, self.hungry, self.closed = limit, 0, False, False
        self._cv = threading.Condition()

    def take(self, n: int) -> None:
        with self._cv:
            self._cv.wait_for(lambda: self.closed or self.hungry or self.used == 0 or self.used + n <= self.limit)
            self.used += n

    def give(self, n: int) -> None:
        with self._cv:
            self.used -= n
            self._cv.notify_all()

    def set_hungry(self, value: bool) -> None:
        with self._cv:
            self.hungry = value
            self._cv.notify_all()

    def close(self) -> None:
        with self._cv:
            self.closed = True
            self._cv.notify_all()


def _prefetch(batches, depth: int = 2, budget: ByteBudget | None = None):
    """Iterate `batches` in a helper thread, `depth` items ahead (and, with a budget, no
    more bytes ahead than it allows); re-raise its errors here."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            for item in batches:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)

    t = threading.Thread(target=run, name="imap-prefetch", daemon=True)
    t.start()
    try:
        while True:
            try:
                item = q.get_nowait()
            except queue.Empty:
                if budget is not None:
                    budget.set_hungry(True)
                item = q.get()
                if budget is not None:
                    budget.set_hungry(False)
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            del item  # the consumer is done with it: not held while waiting for the next
    finally:
        stop.set()
        if budget is not None:
            budget.close()
        t.join(timeout=5)
