"""The web desk's Flask application: `create_app(app)` wires the kpudesk App into Flask.

Flask because its request model is synchronous like peewee's, and its mature extensions
cover what a desk needs (Flask-WTF's CSRFProtect here). One database connection per request
(peewee's connections are per thread, waitress answers on several threads), closed when the
request ends. Pages are Jinja2 templates from the package's `templates/web/`, with the same
Indonesian date filters as the mail templates and autoescaping on.

Blueprints: `auth` (login/logout), `health` (`/healthz`), and the desk's own areas: `desk`
(queue, ticket page, actions), `review` (spam, quarantine), `desk_bulk` (merge, bulk
actions), `canned` (saved replies), `guestbook` (Buku Tamu, the day's register),
`consultations` (the Laporan Hasil Konsultasi) and `dashboards` (progress, escalations,
overview).
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, g, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from kpudesk.mailbox.render import BUILTIN_DIR, jam, tanggal, tgl
from kpudesk.tickets.models import db
from kpudesk.tickets.permissions import allowed

from ..settings import web_secret
from ..wiring import App
from . import auth, canned, consultations, dashboards, desk, desk_bulk, guestbook, health, review, security
from .presence import Presence

TEMPLATES = BUILTIN_DIR / "web"

# The desk's areas, written alongside this module; registered when present (so the app
# runs while they are being written, and a deployment without one still starts).

ERROR_TEXT = {
    400: ("Permintaan tidak sah", "Formulir tidak dapat diproses. Muat ulang halaman lalu coba lagi."),
    403: ("Tidak diizinkan", "Peran Anda tidak mengizinkan tindakan ini. Tidak ada yang diubah."),
    404: ("Tidak ditemukan", "Halaman atau tiket yang Anda cari tidak ada."),
    405: ("Metode tidak diizinkan", "Tindakan ini hanya dapat dilakukan melalui tombol di halaman."),
    413: ("Terlalu besar", "Berkas yang dikirim melebihi batas ukuran."),
    429: ("Terlalu banyak permintaan", "Coba lagi beberapa saat lagi."),
    500: ("Terjadi kesalahan", "Terjadi kesalahan di server. Tindakan Anda mungkin tidak tersimpan; coba lagi."),
}
CSRF_TEXT = "Formulir kedaluwarsa atau tidak sah (token CSRF). Muat ulang halaman lalu coba lagi; tidak ada yang diubah."


def _add_filters(flask_app: Flask, zone) -> None:
    flask_app.jinja_env.filters.update(
        tanggal=lambda v: tanggal(v, zone),
        tgl=lambda v: tgl(v, zone),
        jam=lambda v: jam(v, zone),
        waktu=lambda v: f"{tgl(v, zone)} {jam(v, zone)}",  # "4 Desember 2026 14.05 WIB"
    )


def _register_blueprints(flask_app: Flask) -> None:
    for module in (auth, health, desk, desk_bulk, review, canned, guestbook, consultations, dashboards):
        flask_app.register_blueprint(module.bp)


def _error_page(code: int, text: str | None = None):
    title, default = ERROR_TEXT.get(code, (f"Galat {code}", "Permintaan tidak dapat diproses."))
    return render_template("error.html", code=code, title=title, message=text or default), code


def create_app(app: App) -> Flask:
    flask_app = Flask(__name__, template_folder=str(TEMPLATES))
    settings = app.settings
    flask_app.config.update(
        SECRET_KEY=web_secret(settings),  # [web] secret_env | secret_file, else <storage>/web-secret
        SESSION_COOKIE_NAME="kpudesk_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.web.https,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.web.session_hours),
        # The attachments' limit plus room for the form's text fields.
        MAX_CONTENT_LENGTH=settings.web.max_upload_mb * 1024 * 1024 + 256 * 1024,
        # The token lives as long as the session: an officer's page left open over lunch still posts.
        WTF_CSRF_TIME_LIMIT=None,
    )
    flask_app.extensions["kpudesk"] = app
    flask_app.extensions["kpudesk_presence"] = Presence()  # who has which ticket open (this process)
    _add_filters(flask_app, settings.zone)

    @flask_app.before_request
    def open_request():
        g.app = app
        db.connect(reuse_if_open=True)
        return auth.load_session()

    @flask_app.teardown_request
    def close_request(exc):
        # An in-memory SQLite database (tests) lives only as long as its connection.
        if not db.is_closed() and getattr(db.obj, "database", None) != ":memory:":
            db.close()

    @flask_app.context_processor
    def officer_context():
        officer = auth.current_officer()
        return {"officer": officer,
                "can": lambda action: officer is not None and allowed(officer.role, action),
                "helpdesk_name": settings.helpdesk.name}

    CSRFProtect(flask_app)
    security.init_app(flask_app)

    @flask_app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _error_page(400, CSRF_TEXT)

    @flask_app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code is None or exc.code < 400:  # routing redirects (e.g. a missing trailing slash)
            return exc
        return _error_page(exc.code)

    @flask_app.errorhandler(Exception)
    def server_error(exc):
        flask_app.logger.exception("unhandled error")
        return _error_page(500)

    _register_blueprints(flask_app)
    if settings.web.https:
        # waitress speaks no TLS: an https base_url means a reverse proxy in front, and every
        # request then comes from its address. The client's own (for the login brake and the
        # events) is the one the proxy appends to X-Forwarded-For; without a proxy that
        # header is the client's to forge, so it is read only here.
        flask_app.wsgi_app = ProxyFix(flask_app.wsgi_app, x_for=1, x_proto=0, x_host=0)
    return flask_app
