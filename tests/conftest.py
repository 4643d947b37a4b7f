"""Shared pytest fixtures. The server logic lives in tests/servers/; keep this file thin."""
from __future__ import annotations

pytest_plugins = ["tests.smtp_fixtures"]

from collections.abc import Iterator

import pytest

from tests.servers.dovecot import DOVECOT_BIN, INSTALL_HINT, Dovecot, ImapUser, dovecot_available
from tests.servers.postgres import Postgres, missing_reason


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A real Dovecot IMAP server on 127.0.0.1, shared by the whole session.

    Missing Dovecot is an error, never a skip: the suite must not pass without IMAP."""
    if not dovecot_available():
        pytest.fail(f"Dovecot is required but {DOVECOT_BIN} is missing: {INSTALL_HINT}", pytrace=False)
    with Dovecot() as server:
        yield server


@pytest.fixture
def imap_user(dovecot: Dovecot) -> ImapUser:
    """A fresh user (INBOX, Sent, Spam=\\Junk) on the session Dovecot.

    Has .name .password .host .port and bound helpers: connect(), session(), append(),
    append_many(), create_folder(), uidvalidity(), reset_uidvalidity(), folder_path()."""
    return dovecot.new_user()


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """One private PostgreSQL cluster per test module (tests/servers/postgres.py); every
    test makes its own database in it. Missing PostgreSQL is an error, never a skip."""
    reason = missing_reason()
    if reason:
        pytest.fail(reason, pytrace=False)
    with Postgres() as server:
        yield server
