"""The tests' SMTP server: the demo's `MailSink` (daemon/demo/smtp_sink.py) with the tests'
banner and queue ids, as tests/smtp_fixtures.py defines it. Kept for the tests that import it."""
from __future__ import annotations

from kpudesk.daemon.demo.smtp_sink import HOST, TLS_MODES  # noqa: F401 - re-exported for the tests
from kpudesk.daemon.demo.smtp_sink import Received as ReceivedMessage  # noqa: F401 - re-exported for the tests
from tests.servers.common import free_port  # noqa: F401 - re-exported for the tests
from tests.smtp_fixtures import SERVER_NAME, SmtpServer  # noqa: F401 - re-exported for the tests
