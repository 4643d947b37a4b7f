"""pytest fixtures: real SMTP servers on 127.0.0.1, the demo's own `MailSink`
(daemon/demo/smtp_sink.py) with the tests' banner.

Register with ``pytest_plugins = ["tests.smtp_fixtures"]`` in the root conftest.
Every fixture is function-scoped, yields a started `SmtpServer` and stops it (and deletes
its CA file) at teardown. Servers with AUTH accept ``SMTP_USER`` / ``SMTP_PASSWORD``
(also ``server.username`` / ``server.password``); TLS servers expose ``server.ca_file``.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from kpudesk.daemon.demo.smtp_sink import MailSink

SMTP_USER = "helpdesk@kpu-test.example"
SMTP_PASSWORD = "rahasia-uji-123"
SERVER_NAME = "kpudesk-test-smtp"  # banner/EHLO name; avoids socket.getfqdn() lookups


class SmtpServer(MailSink):
    """`MailSink` as the tests know it: their banner, and queue ids test-1, test-2, ..."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("server_hostname", SERVER_NAME)
        kwargs.setdefault("queue_prefix", "test-")
        super().__init__(**kwargs)


def _serve(server: SmtpServer) -> Iterator[SmtpServer]:
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Plain SMTP, no TLS, no AUTH."""
    yield from _serve(SmtpServer())


@pytest.fixture
def smtp_auth_server() -> Iterator[SmtpServer]:
    """Plain SMTP with AUTH required; AUTH over non-TLS allowed (loopback tests only)."""
    yield from _serve(SmtpServer(auth=(SMTP_USER, SMTP_PASSWORD), auth_require_tls=False))


@pytest.fixture
def smtp_starttls_server() -> Iterator[SmtpServer]:
    """STARTTLS required, then AUTH required. Trust ``server.ca_file``."""
    yield from _serve(SmtpServer(tls="starttls", auth=(SMTP_USER, SMTP_PASSWORD)))


@pytest.fixture
def smtp_tls_server() -> Iterator[SmtpServer]:
    """Implicit TLS (SMTPS), AUTH required. Trust ``server.ca_file``."""
    yield from _serve(SmtpServer(tls="implicit", auth=(SMTP_USER, SMTP_PASSWORD)))
