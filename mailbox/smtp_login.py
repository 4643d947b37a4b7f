"""SMTP AUTH for SmtpSender (mailbox/smtp.py): by password, or by an OAuth2 bearer token
(SASL OAUTHBEARER or XOAUTH2, mailbox/sasl.py).

Errors: credentials refused (5xx) or no usable mechanism -> AuthenticationFailed; a 4xx or a
lost connection -> ServerUnavailable; an OAuth2 token refused (535, or an RFC 7628 error
challenge) -> sasl.Refused, so the sender can refresh the token once and try again on a
new connection. Messages carry the server's words, never a password or a token.
"""
from __future__ import annotations

import aiosmtplib
from aiosmtplib import SMTPAuthenticationError, SMTPException, SMTPResponseException

from . import sasl
from .errors import AuthenticationFailed, ServerUnavailable

# Failures that mean the connection is gone (SMTPServerDisconnected, SMTPTimeoutError and
# ssl.SSLError are subclasses of these).
CONNECTION_ERRORS = (OSError, TimeoutError, EOFError)


def is_permanent(code: int | None) -> bool:
    return code is not None and 500 <= code <= 599


async def password(client: aiosmtplib.SMTP, where: str, username: str, secret: str | None) -> None:
    """AUTH with a password (aiosmtplib picks the mechanism); errors as the module says."""
    try:
        await client.login(username, secret or "")
    except SMTPAuthenticationError as exc:
        if is_permanent(exc.code):
            raise AuthenticationFailed(
                f"{where}: login as {username} refused: {exc.code} {exc.message}"
            ) from exc
        raise ServerUnavailable(f"{where}: login as {username}: {exc.code} {exc.message}") from exc
    except CONNECTION_ERRORS as exc:
        raise ServerUnavailable(f"{where}: {exc}") from exc
    except SMTPResponseException as exc:
        raise ServerUnavailable(f"{where}: {exc.code} {exc.message}") from exc
    except SMTPException as exc:  # no AUTH offered / no usable mechanism: settings problem
        raise AuthenticationFailed(f"{where}: cannot log in as {username}: {exc}") from exc


async def oauth2(client: aiosmtplib.SMTP, where: str, username: str, tokens: sasl.TokenCallable,
                 force: bool) -> None:
    """AUTH OAUTHBEARER|XOAUTH2; a refused token -> sasl.Refused with the server's words.

    Our first message goes on the line after "334", not on the AUTH line: a Microsoft
    token is 2-3 KB of base64, and command lines are often capped (aiosmtpd: 512)."""
    mechanism = sasl.choose_mechanism(client.server_auth_methods)
    if mechanism is None:
        raise AuthenticationFailed(f"{where} offers no OAuth2 mechanism (XOAUTH2 or OAUTHBEARER); "
                                   f"it offers: {' '.join(client.server_auth_methods).upper() or 'no AUTH'}")
    # Asked for only now, on a session that can carry it. The callable is synchronous (it
    # may refresh over HTTPS); nothing else runs on this loop meanwhile.
    bearer = sasl.Bearer(username, tokens(force))
    challenge: bytes | None = None
    try:
        reply = await client.execute_command(b"AUTH", mechanism.encode("ascii"))
        if reply.code == 334:
            first = sasl.b64(sasl.initial_response(mechanism, bearer))
            reply = await client.execute_command(first.encode("ascii"))
        if reply.code == 334:  # RFC 7628 3.2.2: the error challenge, to be acknowledged
            challenge = sasl.decode_challenge(reply.message)
            reply = await client.execute_command(sasl.b64(sasl.ERROR_ACK[mechanism]).encode("ascii"))
    except (SMTPException, *CONNECTION_ERRORS) as exc:
        raise ServerUnavailable(f"{where}: {exc}") from exc
    if reply.code == 235:
        return
    words = sasl.reason(f"{reply.code} {reply.message}", challenge, bearer.token)
    if reply.code == 535 or challenge is not None:
        raise sasl.Refused(words)
    if is_permanent(reply.code):  # e.g. 504 mechanism refused, 538 encryption required
        raise AuthenticationFailed(f"{where}: OAuth2 login as {username} refused: {words}")
    raise ServerUnavailable(f"{where}: OAuth2 login as {username}: {words}")
