"""Issue 11 item 3 at full size: `kpudesk run` under a watchdog (WatchdogSec=120 by default)
polling 50 messages of 25 MB each plus 10 pathological ones (80,000 MIME parts; 5,000-deep
nesting; 4 MB header blocks) from a real Dovecot. Reports the poll's wall time, the longest
gap between WATCHDOG=1 pings, and the peak RSS (and PSS) of the daemon's process tree.

    python bench/bigmail.py [--big 50] [--mb 25] [--watchdog 120] [--workers 2]

systemd is not PID 1 here, so the harness of tests/e2e/test_watchdog.py plays it (the notify
socket, WATCHDOG_USEC, a kill when WATCHDOG=1 stops for WatchdogSec). Output: a report on
stdout and bench/out/bigmail-<timestamp>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.corpus.bigmail import attachment_mail, pathological  # noqa: E402
from tests.desk import Desk  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402
from tests.e2e.test_watchdog import FakeSystemd, _stored, _tree_rss  # noqa: E402

MB = 1024 * 1024


def tree_pss(pid: int) -> int:
    return _tree_rss(pid, "smaps_rollup", "Pss:")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, default=50)
    ap.add_argument("--mb", type=float, default=25)
    ap.add_argument("--watchdog", type=float, default=120)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    server = Dovecot().start()
    try:
        user = server.new_user()
        size = int(args.mb * MB) - 4096  # at the limit, not over it
        t = time.monotonic()
        user.append_many("INBOX", (attachment_mail(n, size) for n in range(args.big)), chunk_bytes=64 * MB)
        hostile = pathological(1000, scale=1.0)
        user.append_many("INBOX", hostile)
        load = time.monotonic() - t
        n = args.big + len(hostile)
        with tempfile.TemporaryDirectory(prefix="kpudesk-bigmail-") as tmp:
            tmp = Path(tmp)
            desk = Desk(tmp / "desk", user)
            text = desk.settings_path.read_text()
            desk.settings_path.write_text(text.replace("batch_size = 50", f"batch_size = 200\nworkers = {args.workers}", 1))
            fake = FakeSystemd(tmp, args.watchdog)
            proc = desk.spawn("run", cwd=desk.root, env={**os.environ, **desk.env, **fake.env()})
            peak_rss = peak_pss = 0
            samples = [0]

            def done() -> bool:
                nonlocal peak_rss, peak_pss
                samples[0] += 1
                peak_rss = max(peak_rss, _tree_rss(proc.pid))
                if samples[0] % 5 == 0:
                    peak_pss = max(peak_pss, tree_pss(proc.pid))
                return _stored(desk) >= n

            t0 = time.monotonic()
            outcome = fake.supervise(proc, done, limit=1800)
            took = time.monotonic() - t0
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=120)
            fake.close()
            pings = [t for t, m in fake.messages if "WATCHDOG=1" in m and t >= 0]
            ready = next((t for t, m in fake.messages if "READY=1" in m), None)
            marks = [ready or 0.0, *pings]
            gaps = [b - a for a, b in zip(marks, marks[1:])] or [took]
            report = {
                "messages": n, "big": args.big, "big_mb": args.mb, "watchdog_sec": args.watchdog,
                "workers": args.workers, "load_s": round(load, 1), "outcome": outcome,
                "poll_s": round(took, 1), "ready_after_s": ready, "max_ping_gap_s": round(max(gaps), 2),
                "peak_tree_rss_mb": round(peak_rss / MB, 1), "peak_tree_pss_mb": round(peak_pss / MB, 1),
                "exit": proc.returncode, "stderr_tail": err.decode(errors="replace")[-2000:],
            }
    finally:
        server.stop()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out_dir / f"bigmail-{stamp}.json").write_text(json.dumps(report, indent=2))
    for k, v in report.items():
        if k != "stderr_tail":
            print(f"{k:>18}: {v}")
    ok = outcome == "done" and report["peak_tree_rss_mb"] < 200
    print("goal (alive under the watchdog, peak RSS < 200 MB):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
