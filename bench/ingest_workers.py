"""bench/ingest.py with a chosen `imap.workers` (issue 13 item 2: are the workers worth it?).

    python bench/ingest_workers.py --workers 0 --n 3000 --repeat 2

Runs bench/ingest.py unchanged except that the settings it writes carry `workers = W` in
`[imap]`, so the same corpus, baseline and ratio are measured with and without the forked
analysis workers.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest  # noqa: E402 - the bench next to this file


def main(argv: list[str]) -> int:
    workers = 2
    if "--workers" in argv:
        i = argv.index("--workers")
        workers = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    plain = ingest.settings_text

    def with_workers(*args, **kwargs) -> str:
        text = plain(*args, **kwargs)
        return text.replace("\n[smtp]\n", f"workers = {workers}\n\n[smtp]\n", 1)

    ingest.settings_text = with_workers
    print(f"imap.workers = {workers}")
    return ingest.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
