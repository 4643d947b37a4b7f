"""Security headers on every response of the web desk (issue 14 item 8).

Everything the desk shows came from strangers' mail, so the browser is told to run no
script but our own files, load nothing from other origins, never frame the desk elsewhere,
keep the address of a ticket page to itself, and trust the declared type of every download.
Pages and downloads carry personal data: no cache keeps them (`no-store`); only `/static/`
may be cached.

A view that needs something different for one response (the sandboxed frame that shows a
sanitised HTML mail may be framed by the desk itself: `frame-ancestors 'self'`, X-Frame-Options
SAMEORIGIN) sets that header on its response; the defaults below then leave it alone.
"""
from __future__ import annotations

from flask import Flask, Response, request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_headers)
