"""`kpudesk web [--listen HOST:PORT]`: serve the officers' web desk until SIGTERM.

A production WSGI server (waitress: pure Python, threaded, no C build, maintained by the
Pylons project) in front of the Flask app of `daemon/web/app.py`. Under systemd
(`systemd/kpudesk-web.service`, Type=notify) READY=1 is sent once the socket listens.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys

from kpudesk.tickets.errors import ConfigError

from ..config import load_settings, parse_listen
from ..logsetup import configure_logging
from ..notify import notify
from ..wiring import build_app
from .common import config_path

log = logging.getLogger(__name__)

# Threads answering requests: officers of one office (a handful at a time) plus the
# monitoring probe; SQLite serialises writes anyway.
THREADS = 8


def register(sub) -> None:
    p = sub.add_parser("web", help="jalankan meja kerja web petugas (sampai dihentikan)")
    p.add_argument("--listen", metavar="HOST:PORT", help="alamat dan port (bawaan: [web] listen)")
    p.set_defaults(func=cmd_web)


def cmd_web(args: argparse.Namespace) -> int:
    # Flask, waitress and the web modules load only for this command.
    from waitress import create_server  # noqa: PLC0415 - lazy: only `kpudesk web` needs the web stack

    from ..web.app import create_app  # noqa: PLC0415 - lazy: only `kpudesk web` needs the web stack

    settings = load_settings(config_path(args))
    configure_logging("DEBUG" if args.verbose else settings.log_level, settings.helpdesk.timezone)
    if args.listen:
        host, port = parse_listen("--listen", args.listen)
    else:
        host, port = settings.web.listen_host, settings.web.listen_port
    app = build_app(settings)
    flask_app = create_app(app)
    try:
        server = create_server(flask_app, host=host, port=port, threads=THREADS, ident="kpudesk")
    except OSError as exc:
        raise ConfigError("web.listen", f"tidak bisa mendengarkan di {host}:{port}: {exc.strerror or exc}") from None

    def stop(signum, frame):  # SIGTERM (systemd stop) and SIGINT: leave run() and close
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bound_host, bound_port = server.socket.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    print(f"listening on http://{shown}:{bound_port}", file=sys.stderr, flush=True)
    log.info("web desk listening on %s:%s", bound_host, bound_port)
    notify("READY=1")
    try:
        server.run()
    except SystemExit:
        pass
    finally:
        notify("STOPPING=1")
        server.close()
    return 0
