"""The tests' stand-in for the daemon's token source: the ``oauth2(force) -> access token``
callable the mail adapters take (mailbox/sasl.py `TokenCallable`), backed by a real
refresh at a `FakeProvider`'s /token endpoint over HTTP.

It keeps the last access token and hands it out again until asked with ``force=True``
(what an adapter does after the server refused the token) or until it has none; then it
refreshes with its refresh token. A refresh the provider refuses (revoked, MFA now
required) raises `AuthenticationFailed` with the provider's error, as the daemon's own
source does. ``calls`` records every ``force`` it was asked with, ``refreshes`` counts the
refreshes that reached the provider. `FixedToken`, `raising` and `secret_forms` serve the
tests of tokens that stay dead, callables that fail, and tokens that must leak nowhere.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from kpudesk.mailbox import sasl
from kpudesk.mailbox.errors import AuthenticationFailed
from kpudesk.tickets.clock import FrozenClock

from tests.servers.oauth_provider import FakeProvider

LIFETIME = 300  # seconds an access token lives at the fake provider of `provider`


@pytest.fixture(scope="module")
def clock() -> FrozenClock:
    """The module's clock, starting at the real time: Dovecot may compare an introspection
    answer's "exp" with its own clock. Tests "wait an hour" by moving it."""
    return FrozenClock(datetime.now(UTC))


@pytest.fixture(scope="module")
def provider(clock: FrozenClock) -> Iterator[FakeProvider]:
    """A FakeProvider on `clock`, issuing access tokens that live LIFETIME seconds."""
    with FakeProvider(access_lifetime=LIFETIME, clock=clock) as p:
        yield p


class TokenSource:
    def __init__(self, provider: FakeProvider, user: str, scope: str = "mail") -> None:
        self.provider, self.user = provider, user
        self.refresh_token = provider.add_refresh_token(user, scope)
        self.access: str | None = None
        self.calls: list[bool] = []
        self.refreshes = 0

    def __call__(self, force: bool) -> str:
        self.calls.append(force)
        if force or self.access is None:
            self.access = self._refresh()
        return self.access

    def _refresh(self) -> str:
        form = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": self.refresh_token,
                                       "client_id": self.provider.client_id}).encode()
        self.refreshes += 1
        try:
            with urllib.request.urlopen(self.provider.token_url, data=form, timeout=10) as answer:
                return json.load(answer)["access_token"]
        except urllib.error.HTTPError as exc:
            error = json.load(exc)
            raise AuthenticationFailed(f"token refresh refused: {error['error']}: "
                                       f"{error.get('error_description', '')}") from None


class FixedToken:
    """A token callable that answers the same token whatever it is asked (a dead one stays
    dead), recording each ``force`` in ``calls``."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[bool] = []

    def __call__(self, force: bool) -> str:
        self.calls.append(force)
        return self.token


def raising(exc: BaseException) -> Callable[[bool], str]:
    """A token callable that raises `exc` (a revoked grant, a token endpoint down)."""
    def token(force: bool) -> str:
        raise exc
    return token


def secret_forms(user: str, token: str) -> list[str]:
    """The token and the base64 first messages that carry it: what no log line and no error
    message may contain."""
    return [token] + [sasl.b64(sasl.initial_response(m, sasl.Bearer(user, token)))
                      for m in (sasl.OAUTHBEARER, sasl.XOAUTH2)]
