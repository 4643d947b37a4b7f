"""Message analysis a few batches ahead of the database, in worker processes: an opt-in
for bulk imports (a first poll of a large mailbox, a migration).

`imap.workers = 2` (on two cores) turns it on; with 0 every message is analysed in the
main process, which is all the usual hourly poll of a handful of messages needs. Measured
2026-12-04 (bench/README.md, N = 3000): the ingest ratio against the fetch+parse floor
is about 0.53 with two workers and 0.29 with none.

The main process keeps every database write, so batches are still stored in UID order,
one transaction each. The workers (`imap.workers`, forked when the process is
single-threaded, else spawned: see `start_method_now`) turn raw bytes into
`tickets.analysis.Analysis` (parse, classify, identity guess, FAQ ranking) for the
batches after the one being stored: on two cores, the analysis no longer waits for the
database, nor it for the analysis. A poll with fewer than `MIN_BATCHES` batches (the
usual hourly handful) does it all inline: starting processes costs more than it saves.

If a worker fails (killed, out of memory, a bug), the batches it owed are analysed
inline and the poll goes on; nothing is lost or stored twice, since the workers write
nothing at all. If the main process dies (SIGKILL, OOM), the workers notice within half
a second and exit.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from kpudesk.mailbox.message import FetchedMail
from kpudesk.tickets.analysis import Analysis, AnalystSpec, start_worker, worker_batch

log = logging.getLogger(__name__)

MIN_BATCHES = 2  # below this many batches of new mail, analyse inline
AHEAD = 2  # batches submitted beyond the one being stored
AHEAD_BYTES = 16 * 1024 * 1024  # ... and no more bytes of mail than this held ahead
# A batch this large is analysed inline: sent to a worker its bytes would be in memory
# twice more (the pickle, the worker's copy), and the parse's own working set a third time.
WORKER_MAX_BYTES = 4 * 1024 * 1024

Analysed = tuple[list[FetchedMail], list[Analysis | None] | None]


class AnalysisPipeline:
    """`run(batches)` yields each batch with its analyses (None: do it inline)."""

    # Analyse batches inline while the workers start, instead of waiting for them.
    # (Tests turn it off to be sure the workers do the work.)
    inline_while_starting = True
    start_method: str | None = None  # None: see `start_method_now`; tests force one

    def __init__(self, spec: AnalystSpec, workers: int) -> None:
        self.spec = spec
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._broken = False

    def run(self, batches: Iterable[list[FetchedMail]], expected: int, batch_size: int) -> Iterator[Analysed]:
        if self.workers < 1 or expected < MIN_BATCHES * batch_size:
            for batch in batches:
                yield batch, None
                del batch  # stored: not held while the next is fetched
            return
        ready = self._start()
        ahead: deque[tuple[list[FetchedMail], Future | None]] = deque()
        held = 0  # bytes of the batches in `ahead`
        try:
            for batch in batches:
                if not ahead and (ready is None or (self.inline_while_starting and not ready.done())):
                    # The workers are still starting (~0.2 s): analyse this one here
                    # rather than wait for them.
                    yield batch, None
                    del batch
                    continue
                nbytes = sum(len(m.raw) for m in batch)
                ahead.append((batch, self._submit(batch) if nbytes <= WORKER_MAX_BYTES else None))
                held += nbytes
                while ahead and (len(ahead) > AHEAD or held > AHEAD_BYTES):
                    done = ahead.popleft()
                    held -= sum(len(m.raw) for m in done[0])
                    yield self._collect(*done)
                    del done
            while ahead:
                yield self._collect(*ahead.popleft())
        finally:
            for _, future in ahead:
                if future is not None:
                    future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> AnalysisPipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> Future | None:
        """Start the workers; the future is done when one of them is ready."""
        try:
            if self._pool is None:
                method = self.start_method or start_method_now()
                if method == "fork":
                    _flush_std_streams()
                self._pool = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context(method),
                    initializer=_worker_init, initargs=(self.spec, os.getpid()))
            return self._pool.submit(worker_batch, [])
        except Exception as exc:  # noqa: BLE001 - analysis ahead is an optimisation only
            self._give_up(exc)
            return None

    def _submit(self, batch: list[FetchedMail]) -> Future | None:
        if self._broken or self._pool is None:
            return None
        try:
            return self._pool.submit(worker_batch, [(m.raw, m.internaldate) for m in batch])
        except Exception as exc:  # noqa: BLE001 - analysis ahead is an optimisation only
            self._give_up(exc)
            return None

    def _collect(self, batch: list[FetchedMail], future: Future | None) -> Analysed:
        if future is None:
            return batch, None
        try:
            analyses = future.result()
        except Exception as exc:  # noqa: BLE001
            self._give_up(exc)
            return batch, None
        return batch, analyses

    def _give_up(self, exc: BaseException) -> None:
        if not self._broken:
            log.warning("analysis worker failed (%s: %s); analysing inline", type(exc).__name__, exc)
        self._broken = True


def start_method_now() -> str:
    """fork when this process runs a single thread (not counting threads marked
    `fork_safe`, such as the watchdog heartbeat), else spawn.

    A spawned worker is a new interpreter that imports the whole CLI again: ~0.25 s of
    CPU each, plus a resource-tracker process, a few percent of a 10,000-message poll on
    two cores. A forked one is ready in milliseconds. But fork copies only the calling
    thread: a lock another thread held at that moment (the demo's IMAP server, a logging
    handler) stays held in the child for ever, so with more than one thread, spawn.
    The poll forks before its prefetch thread starts. What a forked worker inherits
    and must not use, it never touches: the database connection, the IMAP socket; the
    poll lock's descriptor it closes (daemon/lock.py). It ends with os._exit, so nothing
    of the parent's is flushed or finalised twice. A `fork_safe` thread holds no lock the
    child could need (daemon/notify.py's heartbeat: its own Event, a fresh socket per ping).
    """
    others = [t for t in threading.enumerate()
              if t is not threading.current_thread() and not getattr(t, "fork_safe", False)]
    if "fork" in multiprocessing.get_all_start_methods() and not others:
        return "fork"
    return "spawn"


def _flush_std_streams() -> None:
    """A forked child flushes what it inherited when it ends: it must inherit nothing. (A
    stream may be None, closed at start-up, or a broken pipe: none of that may stop a fork.)"""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            try:
                stream.flush()
            except (OSError, ValueError):
                pass


def _worker_init(spec: AnalystSpec, parent: int) -> None:
    # Shutdown is the parent's decision: it finishes the batch in hand, then closes us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True).start()
    start_worker(spec)


def _exit_with_parent(parent: int) -> None:
    """A parent killed outright never closes the pool, and a worker waiting for its next
    batch would wait for ever (it holds a copy of the queue's write end, so no EOF)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
