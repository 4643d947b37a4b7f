"""`kpudesk web [--listen HOST:PORT]`: serve the officers' web desk until SIGTERM.

A production WSGI server (waitress: pure Python, threaded, no C build, maintained by the
Pylons project) in front of the Flask app of `daemon/web/app.py`. Under systemd
(`systemd/kpudesk-web.service`, Type=notify) READY=1 is sent once the socket listens.
`open_desk` and `serve_until_stopped` are the two halves `kpudesk demo` reuses to serve
its own folder's desk the same way.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable

from kpudesk.tickets.errors import ConfigError

from ..config import Settings, load_settings, parse_listen
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


def open_desk(settings: Settings, host: str, port: int):
    """The desk's waitress server, already listening on host:port (port 0: a free one) but
    not yet answering; a port it cannot take is a ConfigError (exit 2, one Bahasa line)."""
    # Flask, waitress and the web modules load only for the commands that serve the desk.
    from waitress import create_server  # noqa: PLC0415 - lazy: only `kpudesk web` and the demo need the web stack

    from ..web.app import create_app  # noqa: PLC0415 - lazy: only `kpudesk web` and the demo need the web stack

    flask_app = create_app(build_app(settings))
    try:
        return create_server(flask_app, host=host, port=port, threads=THREADS, ident="kpudesk")
    except OSError as exc:
        raise ConfigError("web.listen", f"tidak bisa mendengarkan di {host}:{port}: {exc.strerror or exc}") from None


def desk_url(server) -> str:
    """http://HOST:PORT of the address the server actually listens on (IPv6 in brackets)."""
    host, port = server.socket.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve_until_stopped(server, ready: Callable[[], None]) -> int:
    """Answer requests until SIGTERM (systemd stop) or SIGINT (Ctrl+C); then close. `ready`
    runs once the stop signals are handled, so whoever it tells may stop us at once."""

    def stop(signum, frame):  # leave run() and close
        raise SystemExit(0)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        ready()
        notify("READY=1")
        server.run()
    except SystemExit:
        pass
    finally:
        notify("STOPPING=1")
        server.close()
        for sig, handler in previous.items():  # a caller with work after us (the demo) gets Ctrl+C back
            signal.signal(sig, handler)
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    settings = load_settings(config_path(args))
    configure_logging("DEBUG" if args.verbose else settings.log_level, settings.helpdesk.timezone)
    if args.listen:
        host, port = parse_listen("--listen", args.listen)
    else:
        host, port = settings.web.listen_host, settings.web.listen_port
    server = open_desk(settings, host, port)
    url = desk_url(server)

    def ready() -> None:
        print(f"listening on {url}", file=sys.stderr, flush=True)
        log.info("web desk listening on %s", url)

    return serve_until_stopped(server, ready)
