"""The test seam for time: run kpudesk at a chosen moment, in-process or as a subprocess.

Production reads only the system clock (KPUDESK_NOW is ignored); tests move time by
installing a `FrozenClock` in the process itself:

* in-process (`Desk.run`): ``freeze(monkeypatch, "2026-11-27T09:00:00+07:00")``, undone
  when the test ends; call it again to move time;
* a subprocess: ``python -m tests.frozen_kpudesk WHEN --config settings.toml poll`` installs
  the clock from argv, then runs the ordinary CLI (`kpudesk.daemon.cli.main`).
"""
from __future__ import annotations

import sys
from datetime import datetime

from kpudesk.tickets import clock as clock_module
from kpudesk.tickets.clock import FrozenClock, install_test_clock


def frozen_at(when: str | datetime) -> FrozenClock:
    moment = datetime.fromisoformat(when) if isinstance(when, str) else when
    if moment.tzinfo is None:
        raise ValueError(f"a frozen moment needs an offset, e.g. 2026-11-27T09:00:00+07:00, got {when!r}")
    return FrozenClock(moment)


def freeze(monkeypatch, when: str | datetime) -> FrozenClock:
    """Every app built in this process from now on runs at `when` (until the test ends)."""
    clock = frozen_at(when)
    monkeypatch.setattr(clock_module, "_test_clock", clock)
    return clock


def command(when: str, *args: str) -> list[str]:
    """The argv of a kpudesk subprocess running at `when`."""
    return [sys.executable, "-m", "tests.frozen_kpudesk", when, *args]


if __name__ == "__main__":
    from kpudesk.daemon.cli import main

    install_test_clock(frozen_at(sys.argv[1]))
    sys.exit(main(sys.argv[2:]))
