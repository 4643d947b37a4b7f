"""The party table kept equal to the party registry (tickets.parties) at every start."""
from __future__ import annotations

from .models import Party, db
from .parties import PartyRegistry


def sync_parties(registry: PartyRegistry) -> None:
    """Make the party table match the registry. Read first and write only what differs:
    every command starts here, and a read-only one (`tickets list`) must not wait for the
    write lock a poll holds."""
    stored = {r.number: (r.name, r.short) for r in Party.select(Party.number, Party.name, Party.short)}
    todo = [p for p in registry.parties if stored.get(p.number) != (p.name, p.short)]
    if not todo:
        return
    with db.atomic():
        for p in todo:
            row = Party.get_or_none(Party.number == p.number)
            if row is None:
                Party.create(number=p.number, name=p.name, short=p.short)
            elif (row.name, row.short) != (p.name, p.short):
                row.name, row.short = p.name, p.short
                row.save(only=[Party.name, Party.short])
