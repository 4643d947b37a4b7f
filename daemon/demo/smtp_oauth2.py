"""OAuth2 on the demo's and the tests' SMTP server (`MailSink`, smtp_sink.py): SASL XOAUTH2
and OAUTHBEARER as Gmail and Microsoft 365 answer them, on aiosmtpd.

`OAuth2Mechanisms` is a mixin for the aiosmtpd handler: aiosmtpd offers a handler's
``auth_<NAME>`` methods as AUTH mechanisms (MailSink excludes them unless it was given
``oauth2``). A good token -> 235; a bad one -> the RFC 7628 error challenge (334 + base64
JSON ``{"status": "invalid_token", ...}``), the client's acknowledgement, then 535.
`LongAuthSMTP` lets the AUTH lines be as long as a real token needs.
"""
from __future__ import annotations

import base64
import binascii
import collections
import json
from dataclasses import dataclass

from aiosmtpd.smtp import MISSING, SMTP, AuthResult

from kpudesk.mailbox import sasl

OAUTH2_MECHANISMS = (sasl.XOAUTH2, sasl.OAUTHBEARER)
AUTH_LINE_LIMIT = 12288  # RFC 4954 section 4: what a server must accept on an AUTH line
# What the client must answer the error challenge with: RFC 7628 section 3.2.3 (%x01), and
# Google's XOAUTH2 document (an empty line). Written out here, not taken from mailbox/sasl.py,
# so that the server checks the client rather than agreeing with it.
_ERROR_ACK = {sasl.OAUTHBEARER: b"\x01", sasl.XOAUTH2: b""}
# Gmail's final answer to a refused token, after the error challenge was acknowledged
OAUTH2_REFUSED = "535 5.7.8 Username and Password not accepted"


@dataclass(frozen=True, slots=True)
class OAuth2Login:
    """auth_data of a session that logged in with a token (never the token itself)."""

    login: bytes
    mechanism: str


class OAuth2Mechanisms:
    """aiosmtpd AUTH hooks; the handler using it has ``sink`` (a MailSink with ``oauth2``)."""

    async def auth_XOAUTH2(self, server, args):  # noqa: N802 - aiosmtpd's mechanism hook name
        return await self._oauth2(server, args, sasl.XOAUTH2)

    async def auth_OAUTHBEARER(self, server, args):  # noqa: N802 - aiosmtpd's mechanism hook name
        return await self._oauth2(server, args, sasl.OAUTHBEARER)

    async def _oauth2(self, server, args: list[str], mechanism: str) -> AuthResult:
        sink = self.sink
        with sink._lock:
            sink.auth_attempts += 1
        if len(args) > 1:  # the initial response on the AUTH line (RFC 4954 SASL-IR)
            try:
                blob = base64.b64decode(args[1], validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        else:  # "334 " and the client's first message on the next line
            blob = await server.challenge_auth("")
            if blob is MISSING:  # "*" or bad base64: challenge_auth has answered 501
                return AuthResult(success=False, handled=True)
        try:
            bearer = sasl.parse_initial_response(mechanism, blob)
        except ValueError as exc:
            await server.push(f"501 5.5.2 {exc}")
            return AuthResult(success=False, handled=True)
        if sink.oauth2(bearer.user, bearer.token):
            return AuthResult(success=True, auth_data=OAuth2Login(bearer.user.encode(), mechanism))
        error = json.dumps({"status": "invalid_token", "schemes": "bearer", "scope": sink.oauth2_scope})
        ack = await server.challenge_auth(error)
        if ack is MISSING:
            return AuthResult(success=False, handled=True)
        if ack != _ERROR_ACK[mechanism]:
            await server.push("501 5.5.2 Expected the acknowledgement of the error challenge")
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message=OAUTH2_REFUSED)


class LongAuthSMTP(SMTP):
    """aiosmtpd reading AUTH lines up to RFC 4954's 12288 octets: a bearer token is 2-3 KB
    of base64 (Microsoft), past aiosmtpd's 1001-octet read limit and 512-octet command
    limit. Other commands keep 512, DATA lines RFC 5321's 1001."""

    line_length_limit = AUTH_LINE_LIMIT + 2  # read by SMTP.__init__ for its StreamReader

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.line_length_limit = SMTP.line_length_limit  # what DATA checks its lines against
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit, AUTH=AUTH_LINE_LIMIT)
