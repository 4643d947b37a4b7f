"""IMAP IDLE: from APPEND to the acknowledgement accepted by the SMTP server, and the
daemon's CPU while nothing happens (issue 16 item 2).

    python bench/idle.py [--n 200] [--min 0.1] [--max 1.5] [--quiet 60] [--seed 16] [--no-baseline]

Run from the repository root (the script puts it on sys.path for `tests.*`). What it does:

1. starts a throw-away Dovecot (tests/servers/dovecot.py) and the tests' SMTP server, which
   stamps (time.monotonic) each mail it accepts (tests/servers/idle_rig.py StampedSmtp);
2. `kpudesk run` as a subprocess with `[imap] idle = true`, poll_every = 1h (so only IDLE
   can explain an acknowledgement within seconds), SQLite + archive in a temp dir;
3. APPENDs N party mails (distinct senders and Message-IDs) to INBOX, one at a time, at
   random intervals uniform in [min, max] s; each mail's latency is from just before its
   APPEND to the SMTP server's acceptance of the acknowledgement that answers it
   (In-Reply-To); every mail must be acknowledged exactly once (SMTP server and database);
4. then `--quiet` seconds of an idle mailbox: the daemon's utime+stime (/proc, all threads)
   over that stretch, reported as CPU seconds per minute; unless --no-baseline, the same
   stretch for a daemon with `idle = false`, for comparison;
5. a report on stdout and bench/out/idle-<timestamp>.json.

Goals (bench/README.md): median latency < 5 s, p95 < 10 s; idle CPU near zero.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.corpus.hostile import party_mail  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402
from tests.servers.idle_rig import IdleDaemon, StampedSmtp, wait_until  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def quiet_cpu(daemon: IdleDaemon, seconds: float) -> float:
    """CPU seconds per minute the daemon spends over `seconds` of an idle mailbox."""
    c0, t0 = daemon.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return (daemon.cpu_seconds() - c0) / (time.monotonic() - t0) * 60


def started(daemon: IdleDaemon, idle: bool) -> IdleDaemon:
    daemon.start()
    marker = "IMAP IDLE: watching" if idle else "report followup"
    if not daemon.wait_log(marker, timeout=60):
        raise SystemExit("the daemon did not start:\n" + "\n".join(daemon.log))
    time.sleep(2)  # the start-up tick (its poll, its reports) is over
    return daemon


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--min", type=float, default=0.1)
    ap.add_argument("--max", type=float, default=1.5)
    ap.add_argument("--quiet", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(exist_ok=True)
    report: dict = {"n": args.n, "interval_s": [args.min, args.max], "quiet_s": args.quiet, "seed": args.seed}
    with Dovecot() as server, StampedSmtp() as smtp, tempfile.TemporaryDirectory(prefix="kpd-idle-") as tmp:
        user = server.new_user()
        daemon = started(IdleDaemon(Path(tmp) / "desk", user, smtp, idle=True), idle=True)
        try:
            appended: dict[str, float] = {}
            t_start = time.monotonic()
            for i in range(args.n):
                msgid = f"<idle{i}@p{i % 18}.example.org>"
                raw = party_mail(f"pemilih{i}@p{i % 18}.example.org", f"Pertanyaan nomor {i}",
                                 "Apakah nama saya sudah terdaftar di DPT?", message_id=msgid)
                appended[msgid] = time.monotonic()
                user.append("INBOX", raw)
                time.sleep(rnd.uniform(args.min, args.max))
            load_s = time.monotonic() - t_start
            wait_until(lambda: len(smtp.messages) >= args.n, 60)
            time.sleep(2)  # a duplicate would come now
            replies = smtp.replies_to()
            in_db = daemon.acks_in_db()
            latencies = [replies[m][0] - t for m, t in appended.items() if m in replies]
            missing = [m for m in appended if m not in replies]
            twice = [m for m in appended if len(replies.get(m, [])) > 1 or in_db.get(m.strip("<>"), 0) > 1]
            report.update({
                "append_s": round(load_s, 1), "acknowledged": len(latencies), "missing": len(missing),
                "twice": len(twice), "db_not_once": sum(in_db.get(m.strip("<>"), 0) != 1 for m in appended),
                "latency_median_s": round(statistics.median(latencies), 3),
                "latency_p95_s": round(pct(latencies, 0.95), 3),
                "latency_max_s": round(max(latencies), 3), "latency_min_s": round(min(latencies), 3),
            })
            report["idle_cpu_s_per_min"] = round(quiet_cpu(daemon, args.quiet), 4)
        finally:
            report["exit"] = daemon.stop()
            report["log_warnings"] = [line for line in daemon.log if " WARNING " in line or " ERROR " in line][:20]
        if not args.no_baseline:
            base = started(IdleDaemon(Path(tmp) / "base", server.new_user(), smtp, idle=False), idle=False)
            try:
                report["poll_only_cpu_s_per_min"] = round(quiet_cpu(base, args.quiet), 4)
            finally:
                base.stop()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out_dir / f"idle-{stamp}.json").write_text(json.dumps(report, indent=2))
    for k, v in report.items():
        print(f"{k:>24}: {v}")
    ok = (report.get("missing") == 0 and report.get("twice") == 0 and report.get("db_not_once") == 0
          and report["latency_median_s"] < 5 and report["latency_p95_s"] < 10)
    print("goal (each once; median < 5 s, p95 < 10 s):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
