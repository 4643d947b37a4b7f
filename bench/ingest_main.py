"""The ingest main thread's own cost, in-process: what `kpudesk poll` spends storing mail.

    python bench/ingest_main.py [--n 3000] [--repeat 3] [--seed 20240214] [--profile]

Run from the repository root (the script puts it on sys.path for `tests.*`). The corpus is
bench/ingest.py's (same n and seed, same bytes). The analyses are made first and untimed,
as the poll's workers make them; then `Ingestor.ingest_batch` stores the corpus in batches
of 200 on a fresh SQLite file (the desk of `tests.feeder.Feeder`, frozen clock), and the
main thread's CPU time (`time.thread_time`) and the wall time of that are reported, per
round and per message. No Dovecot, no workers, no other thread: back-to-back rounds agree
within a few per cent where the ingest bench's polls vary by 15 %, so it resolves changes
of the main thread that bench/ingest.py cannot. The host's speed still drifts by tens of
per cent over an hour (shared VM): compare two trees in alternating runs, minutes apart.

The poll's main thread does this work and nothing else of weight, so its CPU time here is a
floor for the poll's wall time: at N = 10,000 the ratio goal of bench/ingest.py (≥ 0.6 of
fetch+parse, ~2,400 msg/s on the 2-core VM) leaves ~7 s for the whole poll.
`--profile` writes bench/out/ingest-main-<N>.prof (cProfile of one more round, which
roughly doubles its time: read its shares) and prints the top 25 by own time.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ingest import BATCH, OUT, build_corpus  # noqa: E402
from kpudesk.mailbox.message import FetchedMail  # noqa: E402
from kpudesk.tickets.analysis import Analyst  # noqa: E402
from kpudesk.tickets.ingest import PollStats  # noqa: E402
from tests.feeder import UIDVALIDITY, Feeder  # noqa: E402

ARRIVED = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # the Feeder's clock: Monday, in service hours


def one_round(corpus: list[bytes], profile: cProfile.Profile | None = None) -> dict:
    """Store the corpus on a fresh desk; the main thread's CPU and wall time of the storing."""
    work = Path(tempfile.mkdtemp(prefix="kpd-ingest-main-"))
    try:
        desk = Feeder(work, extra={"database": {"url": f"sqlite:///{work}/kpudesk.db"}})
        mails = [FetchedMail("INBOX", UIDVALIDITY, uid, raw, ARRIVED) for uid, raw in enumerate(corpus, 1)]
        analyses = Analyst(desk.app.analyst_spec()).batch([(m.raw, m.internaldate) for m in mails])
        stats = PollStats()
        cpu, wall = time.thread_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        for k in range(0, len(mails), BATCH):
            desk.app.ingestor.ingest_batch("INBOX", UIDVALIDITY, mails[k:k + BATCH], is_spam=False, stats=stats,
                                           analyses=analyses[k:k + BATCH])
        if profile is not None:
            profile.disable()
        return {"cpu_s": time.thread_time() - cpu, "wall_s": time.perf_counter() - wall,
                "stats": {"fetched": stats.fetched, "tickets_created": stats.tickets_created,
                          "messages_added": stats.messages_added, "ignored": stats.ignored}}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=3000, help="messages (default 3000)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds, each on a fresh database")
    ap.add_argument("--seed", type=int, default=20240214)
    ap.add_argument("--profile", action="store_true", help="also one round under cProfile")
    args = ap.parse_args(argv)
    corpus, _info = build_corpus(args.n, args.seed)
    cpus = []
    for r in range(args.repeat):
        res = one_round(corpus)
        cpus.append(res["cpu_s"])
        print(f"[{r + 1}/{args.repeat}] main thread {res['cpu_s']:6.2f}s CPU ({res['cpu_s'] / args.n * 1e6:5.0f} µs/msg), "
              f"wall {res['wall_s']:6.2f}s; {res['stats']}", flush=True)
    print(f"main thread CPU, N={args.n}: best {min(cpus):.2f}s, median {statistics.median(cpus):.2f}s "
          f"({statistics.median(cpus) / args.n * 1e6:.0f} µs/msg)")
    if args.profile:
        OUT.mkdir(parents=True, exist_ok=True)
        prof = cProfile.Profile()
        one_round(corpus, prof)
        path = OUT / f"ingest-main-{args.n}.prof"
        prof.dump_stats(str(path))
        text = io.StringIO()
        pstats.Stats(str(path), stream=text).sort_stats("tottime").print_stats(25)
        print(text.getvalue())
        print(f"profile: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
