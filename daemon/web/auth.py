"""Login, logout and sessions of the web desk; `current_officer()` and `require(action)`.

Officers are the `[[officers]]` of the settings; their passwords live in the database
(`tickets.accounts`, Argon2id). The session is Flask's signed cookie holding the officer's
email, their session generation (`session_epoch`: bumped by a new password or "end all
sessions", which voids every older cookie) and the time of their last request (idle expiry
after `[web] session_hours`, measured on the desk's clock so tests can move it).

Every page but `/login`, `/healthz` and `/static/…` needs a session; without one the browser
is sent (303) to `/login?next=<the page>`. `next` is followed only when it is a path on this
site. Every login, failed login and logout is an `Event` (no ticket; never the password).
"""
from __future__ import annotations

import functools
from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for

from kpudesk.tickets import accounts
from kpudesk.tickets.models import Event
from kpudesk.tickets.permissions import allowed

bp = Blueprint("auth", __name__)

# Endpoints reachable without a session.
PUBLIC = frozenset({"auth.login", "static", "health.healthz"})


def current_officer():
    """The logged-in officer (`daemon.config.Officer`: name, email, role), or None."""
    return g.get("officer")


def require(action: str):
    """Decorator: 403 (a Bahasa page) unless the officer's role allows `action`."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            officer = current_officer()
            if officer is None or not allowed(officer.role, action):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorate


def safe_next(value: str | None) -> str:
    """`next` if it is a path on this site, else "/". Browsers read `\\` as `/`, so
    `/\\evil` and `\\\\evil` are other sites too; control characters are refused whole."""
    if not value or len(value) > 2000 or not value.startswith("/") or "\\" in value:
        return "/"
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or value.startswith("//"):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def _officer_by_email(email: str):
    email = email.strip().lower()
    return next((o for o in g.app.settings.officers if o.email.lower() == email), None)


def _client() -> str:
    return request.remote_addr or "-"


def _printable(text: str, limit: int = 320) -> str:
    """An attempted email as it may appear in the audit trail: no control characters, bounded."""
    return "".join(c for c in text if c.isprintable())[:limit]


def load_session() -> object | None:
    """`before_request`: put the session's officer in `g.officer`, or send the browser to the
    login page. Expired, foreign-epoch or unknown-officer sessions are cleared."""
    g.officer = None
    email = session.get("officer")
    if email:
        officer = _officer_by_email(email)
        now = g.app.clock.now().timestamp()
        idle_limit = g.app.settings.web.session_hours * 3600
        if officer is None or session.get("epoch") != accounts.session_epoch(officer.email):
            session.clear()
        elif now - float(session.get("seen", 0)) > idle_limit:
            session.clear()
            if request.endpoint not in PUBLIC:
                flash("Sesi Anda berakhir karena lama tidak aktif; silakan masuk lagi.", "error")
        else:
            g.officer = officer
            if now - float(session.get("seen", 0)) >= 60:  # refresh the idle clock, not on every request
                session["seen"] = now
    if g.officer is None and request.endpoint not in PUBLIC:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")), code=303)
    return None


def _event(kind: str, actor: str, now: datetime, **detail) -> None:
    Event.create(ticket=None, at=now, actor=actor, kind=kind, detail=detail)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if current_officer() is not None:
            return redirect(safe_next(request.args.get("next")), code=303)
        return render_template("login.html", next=safe_next(request.args.get("next")), email="")
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    target = safe_next(request.form.get("next"))
    client = _client()
    now = g.app.clock.now()
    shown = _printable(email.lower())

    def refuse(message: str, status: int):
        flash(message, "error")
        return render_template("login.html", next=target, email=email[:320]), status

    brake = accounts.throttle(email, client, now)
    if brake.refused:
        _event("web.login_failed", shown or "-", now, client=client, reason="throttled")
        return refuse(f"Terlalu banyak percobaan masuk; coba lagi dalam {brake.minutes} menit.", 429)
    officer = _officer_by_email(email)
    # verify_password runs even for unknown emails: both answers take the same time.
    ok = accounts.verify_password(email, password) and officer is not None
    if not ok:
        accounts.record_failure(email, client, now)
        _event("web.login_failed", shown or "-", now, client=client,
               reason="wrong_password" if officer is not None else "unknown_email")
        return refuse("Email atau kata sandi salah.", 401)
    accounts.clear_failures(officer.email)
    session.clear()  # a fresh session (and CSRF token) at every login: no fixation
    session.permanent = True
    session.update(officer=officer.email.lower(), epoch=accounts.session_epoch(officer.email),
                   seen=now.timestamp())
    _event("web.login", officer.email.lower(), now, client=client)
    return redirect(target, code=303)


@bp.post("/logout")
def logout():
    officer = current_officer()
    now = g.app.clock.now()
    if request.form.get("all") == "1":
        accounts.end_sessions(officer.email, now, actor=officer.email.lower())
    _event("web.logout", officer.email.lower(), now, client=_client(), all=request.form.get("all") == "1")
    session.clear()
    flash("Anda telah keluar.", "ok")
    return redirect(url_for("auth.login"), code=303)
