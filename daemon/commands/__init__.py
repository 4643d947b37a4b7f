"""Subcommands of `kpudesk`, one module per area; each exposes `register(subparsers)`."""
from __future__ import annotations

from . import mail, queue, reports, status, tickets


def register(sub) -> None:
    for module in (mail, tickets, queue, reports, status):
        module.register(sub)
