"""Subcommands of `kpudesk`, one module per area; each exposes `register(subparsers)`."""
from __future__ import annotations

from . import auth, mail, officers, queue, reports, status, storage, tickets, webdesk


def register(sub) -> None:
    for module in (mail, tickets, queue, reports, status, storage, officers, webdesk, auth):
        module.register(sub)
