"""One poll: inbox, then spam, each fetched in UID batches and stored batch by batch.

Fetching runs one batch ahead in a helper thread (network waits overlap with parsing and
the database), but only the main thread touches the database, and batches are stored in
UID order so the high-water mark always describes a gap-free prefix of the folder.
"""
from __future__ import annotations

import logging
import queue
import threading
from contextlib import closing

from kpudesk.mailbox.errors import FolderMissing
from kpudesk.mailbox.imap import ImapSource
from kpudesk.tickets.ingest import FolderStats, PollStats
from kpudesk.tickets.models import Event, FolderState, db

from .analyst import AnalysisPipeline
from .lock import FileLock
from .wiring import App

log = logging.getLogger(__name__)

_DONE = object()


def poll(app: App, stats: PollStats | None = None, should_stop=lambda: False) -> PollStats:
    """Poll every configured folder once. Raises LockBusy when another poll is running.

    `should_stop` is checked between batches: a SIGTERM ends the poll after the batch in
    hand is committed, never in the middle of one.
    """
    stats = stats or PollStats()
    with FileLock(app.state_dir / "poll.lock", "poll"):
        with app.imap() as source, AnalysisPipeline(app.analyst_spec(), app.settings.imap.workers) as pipeline:
            spam = source.resolve_spam(app.settings.imap.spam)
            folders = [(app.settings.imap.inbox, False)]
            if spam is None:
                log.warning("no spam folder found (configured %r, no \\Junk folder)", app.settings.imap.spam)
            elif spam != app.settings.imap.inbox:
                folders.append((spam, True))
            for folder, is_spam in folders:
                if should_stop():
                    break
                _poll_folder(app, source, pipeline, folder, is_spam, stats, should_stop)
    return stats


def _poll_folder(app: App, source: ImapSource, pipeline: AnalysisPipeline, folder: str, is_spam: bool,
                 stats: PollStats, should_stop=lambda: False) -> None:
    try:
        status = source.examine(folder)
    except FolderMissing:
        if is_spam:
            log.warning("spam folder %r vanished; skipped", folder)
            return
        raise
    state = FolderState.get_or_none(FolderState.name == folder)
    last_uid = 0
    if state is not None:
        if state.uidvalidity == status.uidvalidity:
            last_uid = state.last_uid
        else:
            # The server renumbered the folder: read it all again; the message identity
            # (Message-ID + content) makes the re-read add nothing already stored.
            log.warning("UIDVALIDITY of %s changed %s -> %s: full re-read", folder, state.uidvalidity, status.uidvalidity)
            with db.atomic():
                Event.create(ticket=None, at=app.clock.now(), actor="system", kind="folder.uidvalidity_changed",
                             detail={"folder": folder, "old": state.uidvalidity, "new": status.uidvalidity})
    fstats = stats.folders.setdefault(folder, FolderStats(uidvalidity=status.uidvalidity, last_uid=last_uid))
    fstats.uidvalidity = status.uidvalidity
    uids = source.uids_above(status, last_uid)
    if not uids:
        return
    log.info("folder=%s uidvalidity=%s new=%d from_uid=%d", folder, status.uidvalidity, len(uids), last_uid + 1)
    stored: list[int] = []
    size = app.settings.imap.batch_size
    batches = pipeline.run(_prefetch(source.iter_batches(status, uids, size)), len(uids), size)
    with closing(batches):
        for batch, analyses in batches:
            app.ingestor.ingest_batch(folder, status.uidvalidity, batch, is_spam=is_spam, stats=stats,
                                      analyses=analyses)
            stored += [m.uid for m in batch]
            if should_stop():
                log.info("stop requested: %s left after UID %s", folder, stats.folders[folder].last_uid)
                break
    if app.settings.imap.mark_seen:  # only what is committed, and only after the commit
        source.mark_seen(folder, stored)


def _prefetch(batches, depth: int = 2):
    """Iterate `batches` in a helper thread, `depth` items ahead; re-raise its errors here."""
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
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        t.join(timeout=5)
