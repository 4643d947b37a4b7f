"""`GET /healthz`: is the desk alive — for monitoring, without login and without personal data.

200 with {"ok": true, "database": "ok", "last_poll": ISO|null, "outbox_pending": N,
"mirror_pending": N, "mirror_failed": N} (the cloud folder's queue: counts only) when the
database answers; 503 with "ok": false and "database": "error" when it does not (the reason
goes to the log, not to an unauthenticated client).
"""
from __future__ import annotations

import logging

import peewee as pw
from flask import Blueprint, jsonify

from kpudesk.tickets import mirror, outbox
from kpudesk.tickets.poll_log import last_poll

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        last = last_poll()
        pending = outbox.counts().get("pending", 0)
        files = mirror.counts()
    except pw.PeeweeException as exc:  # OperationalError, InterfaceError: the database is not there
        log.error("healthz: database check failed: %s", exc)
        body = {"ok": False, "database": "error", "last_poll": None, "outbox_pending": None,
                "mirror_pending": None, "mirror_failed": None}
        return jsonify(body), 503, {"Cache-Control": "no-store"}
    body = {"ok": True, "database": "ok",
            "last_poll": last.isoformat().replace("+00:00", "Z") if last else None,
            "outbox_pending": pending, "mirror_pending": files.get("pending", 0),
            "mirror_failed": files.get("failed", 0)}
    return jsonify(body), 200, {"Cache-Control": "no-store"}
