"""What every report template gets, whichever report it is: the helpdesk block, ISO strings
turned back into datetimes, and status labels."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .status import LABELS as STATUS_LABELS
from .status import Status


def status_label(status: str) -> str:
    try:
        return STATUS_LABELS[Status(status)]
    except ValueError:
        return status


def helpdesk_context(replies) -> dict:
    me, cal = replies.me, replies.calendar
    return {"name": me.name, "address": me.address, "tag": me.tag,
            "service_hours": cal.hours_label(), "days": cal.days_label()}


def revive(data: Any) -> Any:
    """The report data for templates: ISO strings under `*_at` / `since` keys become datetimes."""
    if isinstance(data, dict):
        return {k: (datetime.fromisoformat(v) if isinstance(v, str) and (k.endswith("_at") or k == "since")
                    else revive(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [revive(v) for v in data]
    return data
