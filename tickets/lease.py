"""Leases on queue rows (the outbox's mail, the cloud folder's files): which process may
work on a row now, claimed with one compare-and-swap UPDATE so that of two workers only one
wins.

A holder is "host:pid:start" (the process's start time guards against pid reuse). A lease is
taken over at once when its holder ran on this host and is gone (a SIGKILLed or zombie
process); a live holder on this host keeps its rows however long it takes; a holder on
another host cannot be checked and keeps them until `lease_until`. "This host" is the host
name: workers sharing a database must not share a host name across pid namespaces.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta

import peewee as pw

# How long a claimed row stays reserved for a sender on another host (one on this host is
# checked directly: see the module docstring).
LEASE = timedelta(minutes=5)


_PROC = os.path.exists("/proc/self/stat")


def proc_stat(pid: int) -> tuple[bytes, str] | None:
    """(state, start time in clock ticks since boot) of a process, from /proc; None when it
    is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    return fields[0], fields[19].decode()


HOST = os.uname().nodename  # the host name, as gethostname() says it (no socket module here)
_holder: tuple[int, str] | None = None  # (pid, holder text), computed again after a fork


def holder() -> str:
    """This process as a lease holder: "host:pid:start"."""
    global _holder
    pid = os.getpid()
    if _holder is None or _holder[0] != pid:
        stat = proc_stat(pid) if _PROC else None
        _holder = (pid, f"{HOST}:{pid}:{stat[1] if stat else ''}")
    return _holder[1]


def holder_alive(text: str) -> bool | None:
    """Whether a lease holder still runs: True/False on this host, None (unknown) on another."""
    host, _, rest = text.partition(":")
    pid_text, _, token = rest.partition(":")
    if host != HOST or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    if not _PROC:
        return True  # no /proc to tell a reused pid: the process exists
    stat = proc_stat(pid)
    # A zombie (SIGKILLed, not yet reaped) holds nothing any more; another start time is
    # another process that got the same pid.
    return stat is not None and stat[0] not in (b"Z", b"X") and (not token or token == stat[1])


def takeable(lease_until: datetime | None, lease_holder: str | None, now: datetime) -> bool:
    if lease_until is None:
        return True
    if lease_holder is None or lease_holder == holder():
        return lease_until < now  # a v2 lease, or this process's own (kept while it lives anyway)
    alive = holder_alive(lease_holder)
    if alive is None:
        return lease_until < now  # another host: only the clock can tell
    return not alive




def claim(model: type[pw.Model], row_id: int, now: datetime, until: datetime) -> bool:
    """Reserve a pending row of `model` (a queue with status, lease_until, lease_holder)
    until `until` for this process, in its own statement: the lease seen is compared and
    swapped in one UPDATE."""
    seen = model.select(model.status, model.lease_until, model.lease_holder).where(model.id == row_id).first()
    if seen is None or seen.status != "pending" or not takeable(seen.lease_until, seen.lease_holder, now):
        return False
    same_lease = ((model.lease_until.is_null() if seen.lease_until is None else model.lease_until == seen.lease_until)
                  & (model.lease_holder.is_null() if seen.lease_holder is None
                     else model.lease_holder == seen.lease_holder))
    return model.update(lease_until=until, lease_holder=holder()).where(
        (model.id == row_id) & (model.status == "pending") & same_lease).execute() == 1
