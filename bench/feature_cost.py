"""What each step of ingest costs the poll: bench/ingest.py's poll with one step taken out.

    python bench/feature_cost.py [--n 10000] [--repeat 2] [--seed 20240214]

Run from the repository root. Same corpus, same throw-away Dovecot, same settings as
bench/ingest.py (two workers, batches of 200). Each round measures the fetch+parse
baseline, then one cold poll per variant, in turn (a neighbour's burst of load then shows
in one round, not in one variant):

- `as shipped`: `kpudesk poll` itself;
- `no acknowledgements`: `Replies.queue_ack` queues nothing (no renders, no out message,
  no outbox row, no event);
- `no FAQ ranking`: every FAQ search finds nothing (the worker's ranking and ingest's);
- `no identity guess`: the guess knows only the From address (no party, name, phone);
- `none of the three`.

The variants patch the poll process before it starts (its forked workers inherit the
patches); nothing of kpudesk changes. Reported: each variant's best poll and its ratio
against the best baseline, as bench/ingest.py reports it. This answers one question: what
the ratio goal (>= 0.6) would cost in features on this machine. It is not a test.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ingest import PASSWORD_ENV, baseline_pass, build_corpus, write_settings  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402

NO_ACK = (
    "from kpudesk.tickets.replies import Replies\n"
    "Replies.queue_ack = lambda self, *a, **k: None\n"
)
NO_FAQ = (
    "from kpudesk.tickets.faq import FaqBase\n"
    "FaqBase.search = lambda self, text, limit=3: []\n"
)
NO_IDENTITY = (
    "from kpudesk.tickets import analysis\n"
    "from kpudesk.tickets.identity import IdentityGuess\n"
    "analysis.guess_identity = lambda msg, registry, auth, body=None: IdentityGuess(\n"
    "    None, None, None, None, None, None, msg.from_addr.key if msg.from_addr else None, 'from-header')\n"
)
VARIANTS = {
    "as shipped": "",
    "no acknowledgements": NO_ACK,
    "no FAQ ranking": NO_FAQ,
    "no identity guess": NO_IDENTITY,
    "none of the three": NO_ACK + NO_FAQ + NO_IDENTITY,
}


def run_variant(patch: str, settings: Path, password: str) -> float:
    code = patch + "from kpudesk.daemon.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    cmd = [sys.executable, "-c", "import sys\n" + code, "--config", str(settings), "poll", "--json"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env={**os.environ, PASSWORD_ENV: password}, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"poll exited {out.returncode}:\n{out.stderr[-3000:]}")
    return wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20240214)
    args = ap.parse_args(argv)
    corpus, _ = build_corpus(args.n, args.seed)
    server = Dovecot()
    work = Path(tempfile.mkdtemp(prefix="kpd-cost-"))
    baselines: list[float] = []
    polls: dict[str, list[float]] = {name: [] for name in VARIANTS}
    try:
        server.start()
        user = server.new_user()
        user.append_many("INBOX", corpus)
        del corpus
        baseline_pass(user, parse=False)  # warm-up: Dovecot's index and cache
        for r in range(args.repeat):
            base = baseline_pass(user, parse=True)
            baselines.append(base["msg_per_s"])
            print(f"[{r + 1}/{args.repeat}] baseline fetch+parse {base['seconds']:6.2f}s", flush=True)
            for k, (name, patch) in enumerate(VARIANTS.items()):
                root = work / f"r{r}-v{k}"
                wall = run_variant(patch, write_settings(root, user), user.password)
                polls[name].append(wall)
                print(f"[{r + 1}/{args.repeat}] {name:<20} {wall:6.2f}s  ratio {args.n / wall / base['msg_per_s']:.3f}",
                      flush=True)
                shutil.rmtree(root, ignore_errors=True)
    finally:
        server.stop()
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    best = max(baselines)
    print(f"\n== what each step costs the poll, N={args.n}, repeat={args.repeat}, best baseline {best:.0f} msg/s ==")
    shipped = min(polls["as shipped"])
    for name, walls in polls.items():
        print(f"{name:<20} best {min(walls):6.2f}s  ratio {args.n / min(walls) / best:.3f}  "
              f"({min(walls) - shipped:+.2f}s against as shipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
