"""`kpudesk tickets answer` and `kpudesk tickets void`: officer actions beyond mail."""
from __future__ import annotations


def register(tsub) -> None:
    """Add the subcommands to `kpudesk tickets`."""
