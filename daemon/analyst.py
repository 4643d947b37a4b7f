"""Message analysis one batch ahead of the database, in a worker process, for large polls.

The main process keeps every database write, so batches are still stored in UID order,
one transaction each. The worker turns raw bytes into `tickets.analysis.Analysis` (parse,
classify, identity guess, FAQ ranking, raw archive) for the batches after the one being
stored: on two cores, the analysis no longer waits for the database, nor it for the
analysis. A poll with fewer than `MIN_BATCHES` batches (the usual hourly handful) does
it all inline: starting a process costs more than it saves.

If the worker fails (killed, out of memory, a bug), the batches it owed are analysed
inline and the poll goes on; nothing is lost or stored twice, since the worker writes
nothing the database refers to until the main process commits.
"""
from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from kpudesk.mailbox.message import FetchedMail
from kpudesk.tickets.analysis import Analysis, AnalystSpec, start_worker, worker_batch

log = logging.getLogger(__name__)

MIN_BATCHES = 2  # below this many batches of new mail, analyse inline
AHEAD = 2  # batches submitted beyond the one being stored

Analysed = tuple[list[FetchedMail], list[Analysis | None] | None]


class AnalysisPipeline:
    """`run(batches)` yields each batch with its analyses (None: do it inline)."""

    # Analyse batches inline while the workers start, instead of waiting for them.
    # (Tests turn it off to be sure the workers do the work.)
    inline_while_starting = True

    def __init__(self, spec: AnalystSpec, workers: int) -> None:
        self.spec = spec
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._broken = False

    def run(self, batches: Iterable[list[FetchedMail]], expected: int, batch_size: int) -> Iterator[Analysed]:
        if self.workers < 1 or expected < MIN_BATCHES * batch_size:
            for batch in batches:
                yield batch, None
            return
        ready = self._start()
        ahead: deque[tuple[list[FetchedMail], Future | None]] = deque()
        try:
            for batch in batches:
                if not ahead and (ready is None or (self.inline_while_starting and not ready.done())):
                    # The workers are still starting (~0.2 s): analyse this one here
                    # rather than wait for them.
                    yield batch, None
                    continue
                ahead.append((batch, self._submit(batch)))
                if len(ahead) > AHEAD:
                    yield self._collect(*ahead.popleft())
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
                # spawn, not fork: the parent has threads (IMAP prefetch) and an open
                # database connection that a forked child must not inherit.
                self._pool = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=start_worker, initargs=(self.spec,))
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
