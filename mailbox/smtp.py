"""SMTP I/O: batched sending with aiosmtplib (with smtp_login.py, the only importers of aiosmtplib
and asyncio; AUTH by password or OAuth2 token lives there).

`SmtpSender.send_batch` is a synchronous facade: one ``asyncio.run()`` per batch, one
connection per batch (connect, EHLO, STARTTLS when asked, AUTH when a username is set),
then one mail transaction per `Envelope`, then a polite QUIT.

Errors
------
* The session cannot be set up (refused/unreachable, greeting not 220, timeout, TLS
  handshake or certificate verification failure, the server not offering STARTTLS while
  ``security="starttls"``) -> `ServerUnavailable`; no mail was attempted. TLS is never
  silently downgraded: STARTTLS missing is an error, not a plaintext fallback.
* The server refuses our credentials (5xx to AUTH), offers no AUTH at all, or answers
  530/538 "authentication/encryption required" to the first transaction of the batch ->
  `AuthenticationFailed`; no mail was accepted. A 4xx to AUTH is `ServerUnavailable`.
* With ``oauth2`` (``force -> access token``) AUTH is SASL OAUTHBEARER, else XOAUTH2
  (mailbox/sasl.py). A refused token (535 or an error challenge) is refreshed once,
  ``oauth2(True)``, on a new connection; refused again -> `AuthenticationFailed` in the
  server's words. What the callable raises reaches the caller unchanged. Tokens go only
  over TLS or to loopback (else AuthenticationFailed before connecting), never into a log.
* Once the session is up, `send_batch` never raises for a single message: every envelope
  gets a `SendResult`, in input order:
    - accepted -> ``ok=True`` (code 250, message = the server's reply to DATA). When some
      but not all recipients were refused the mail still counts as sent; the refused
      addresses and their codes are appended to ``message``.
    - a 5xx reply (MAIL, all RCPTs, DATA), an unusable address, SMTPUTF8 needed but not
      offered, no recipients -> ``ok=False, permanent=True``.
    - a 4xx reply -> ``ok=False, permanent=False`` (retry later). If every recipient was
      refused and at least one refusal was 4xx, the result is temporary too.
    - the connection is lost (disconnect, socket error, command timeout, the batch
      deadline) -> that envelope and every later one get ``ok=False, permanent=False``
      and nothing more is tried. Note: a connection lost *after* the message body was
      sent but before the server's reply arrived may still have delivered the mail; SMTP
      cannot tell, so it is reported as a temporary failure (a retry may duplicate it).

Logging: INFO per batch (count, server), WARNING per failed message (key, code, server
reply). Message bodies are never logged.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
from aiosmtplib import (
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
)

from . import sasl, smtp_login
from .errors import AuthenticationFailed, ServerUnavailable
from .imap import tls_context
from .smtp_login import CONNECTION_ERRORS as _CONNECTION_ERRORS
from .smtp_login import is_permanent as _is_permanent

log = logging.getLogger(__name__)

SECURITY_MODES = ("tls", "starttls", "none")
PER_MESSAGE_BUDGET = 30.0   # seconds added to the batch deadline per envelope
QUIT_TIMEOUT = 10.0
CLOSE_WAIT = 2.0          # seconds to let a closed connection finish closing
_AUTH_REQUIRED_CODES = (530, 538)  # "authentication required" / "encryption required"


@dataclass(frozen=True, slots=True)
class Envelope:
    key: int                      # caller's id, echoed in the SendResult
    sender: str                   # MAIL FROM
    recipients: tuple[str, ...]   # RCPT TO
    data: bytes                   # the complete RFC 5322 message


@dataclass(frozen=True, slots=True)
class SendResult:
    key: int
    ok: bool
    permanent: bool               # only meaningful when not ok
    code: int | None              # SMTP reply code, None when no reply applies
    message: str
    attempted: bool = True        # False: `before_send` declined it; nothing was sent


class _ConnectionLost(Exception):
    """Internal: the session died while sending one envelope."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def _cert_hint(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return " (TLS certificate not trusted: is ca_file set?)"
        seen = seen.__cause__ or seen.__context__
    return ""


class SmtpSender:
    """Sends batches of envelopes through one SMTP server. Holds no connection between calls."""

    def __init__(self, host: str, port: int, security: str, username: str | None, password: str | None,
                 ca_file: Path | None = None, timeout: float = 60.0, local_hostname: str | None = None, *,
                 oauth2: sasl.TokenCallable | None = None) -> None:
        if security not in SECURITY_MODES:
            raise ValueError(f"SMTP security must be one of {', '.join(SECURITY_MODES)}, not {security!r}")
        if timeout <= 0:
            raise ValueError("SMTP timeout must be positive")
        if oauth2 is not None and not username:
            raise ValueError("SMTP OAuth2 needs the username the token was issued for")
        self.host, self.port, self.security = host, int(port), security
        self.username, self._password, self._oauth2 = username, password, oauth2
        self.ca_file, self.timeout, self.local_hostname = ca_file, float(timeout), local_hostname

    def __repr__(self) -> str:  # never shows the password or a token
        how = ", oauth2" if self._oauth2 is not None else ""
        return f"SmtpSender({self.host}:{self.port}, security={self.security}, username={self.username!r}{how})"

    @property
    def _where(self) -> str:
        return f"SMTP {self.host}:{self.port}"

    # ---- public, synchronous -------------------------------------------------------------

    def send_batch(self, envelopes: list[Envelope],
                   on_result: Callable[[SendResult], None] | None = None,
                   before_send: Callable[[Envelope], bool] | None = None) -> list[SendResult]:
        """Send every envelope over one connection; one result per envelope, in order.

        `on_result` is called with each result as soon as it is known (before the next mail
        is sent), so the caller can record "sent" right after the server's 250 and a crash
        loses at most the record of the one mail in flight. `before_send` is asked right
        before each mail goes out (e.g. to claim it); False skips it.
        Raises ServerUnavailable / AuthenticationFailed only when no mail was accepted.
        """
        envelopes = list(envelopes)
        if not envelopes:
            return []
        log.info("%s: sending %d message(s)", self._where, len(envelopes))
        results = asyncio.run(self._send_batch(envelopes, on_result or (lambda r: None),
                                               before_send or (lambda e: True)))
        sent = sum(1 for r in results if r.ok)
        log.info("%s: %d of %d message(s) accepted", self._where, sent, len(results))
        return results

    def check(self) -> str:
        """Connect, EHLO, STARTTLS/AUTH as configured, QUIT. Returns the greeting line ("220 ...")."""
        return asyncio.run(self._check())

    # ---- async internals ----------------------------------------------------------------

    def _deadline(self, count: int) -> float:
        setup = 2 * self.timeout
        return setup + max(self.timeout, PER_MESSAGE_BUDGET * count)

    def _client(self) -> aiosmtplib.SMTP:
        ctx = tls_context(self.ca_file) if self.security != "none" else None
        return aiosmtplib.SMTP(
            hostname=self.host, port=self.port, local_hostname=self.local_hostname, timeout=self.timeout,
            use_tls=self.security == "tls",
            start_tls=False,   # STARTTLS is done by hand below: required, never opportunistic
            tls_context=ctx,
        )

    async def _check(self) -> str:
        try:
            async with asyncio.timeout(2 * self.timeout):
                client, greeting = await self._open()
        except TimeoutError as exc:
            raise ServerUnavailable(f"{self._where}: session setup timed out") from exc
        await self._quit(client)
        return greeting

    async def _open(self) -> tuple[aiosmtplib.SMTP, str]:
        """A ready session: connected, EHLO done, TLS and AUTH as configured."""
        if self._oauth2 is None:
            return await self._session(
                lambda client: smtp_login.password(client, self._where, self.username, self._password))
        sasl.refuse_plaintext(self._where, "smtp", self.security, self.host)
        refused: sasl.Refused | None = None
        for force in (False, True):
            try:
                return await self._session(lambda client, force=force: smtp_login.oauth2(
                    client, self._where, self.username, self._oauth2, force))
            except sasl.Refused as exc:  # _session has closed that connection
                refused = exc
                if not force:
                    log.info("%s refused the access token for %s (%s); refreshing it once",
                             self._where, self.username, exc.reason)
        raise AuthenticationFailed(f"{self._where}: OAuth2 login as {self.username} refused: {refused.reason}")

    async def _session(self, login: Callable[[aiosmtplib.SMTP], Awaitable[None]]) -> tuple[aiosmtplib.SMTP, str]:
        client = self._client()
        try:
            try:
                response = await client.connect()
                greeting = f"{response.code} {_first_line(response.message)}"
                await client.ehlo()
                if self.security == "starttls":
                    if not client.supports_extension("starttls"):
                        raise ServerUnavailable(
                            f"{self._where}: server does not offer STARTTLS; "
                            "refusing to continue without TLS"
                        )
                    await client.starttls()
                    await client.ehlo()   # capabilities learned before TLS are discarded
            except (SMTPException, *_CONNECTION_ERRORS) as exc:
                raise ServerUnavailable(f"{self._where}: {exc}{_cert_hint(exc)}") from exc
            if self.username is not None:
                await login(client)
        except BaseException:
            await self._quit(client)
            raise
        return client, greeting

    async def _quit(self, client: aiosmtplib.SMTP) -> None:
        transport = client.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        try:
            if client.is_connected:
                await client.quit(timeout=min(self.timeout, QUIT_TIMEOUT))
        except Exception:  # noqa: BLE001 - saying goodbye is best effort
            pass
        finally:
            client.close()
        # Closing (a TLS close_notify in particular) finishes in later loop iterations; give
        # it a moment before asyncio.run() closes the loop, or the socket is leaked.
        if sock is not None:
            loop = asyncio.get_running_loop()
            give_up = loop.time() + CLOSE_WAIT
            while sock.fileno() != -1 and loop.time() < give_up:
                await asyncio.sleep(0.01)

    async def _send_batch(self, envelopes: list[Envelope], on_result: Callable[[SendResult], None],
                          before_send: Callable[[Envelope], bool]) -> list[SendResult]:
        results: list[SendResult] = []
        client: aiosmtplib.SMTP | None = None
        lost: str | None = None
        lost_code: int | None = None
        try:
            async with asyncio.timeout(self._deadline(len(envelopes))):
                client, _greeting = await self._open()
                for env in envelopes:
                    if not client.is_connected:
                        lost = "connection closed by the server"
                        break
                    if not before_send(env):
                        results.append(SendResult(env.key, False, False, None, "skipped", attempted=False))
                        continue
                    try:
                        result = await self._send_one(client, env, first=not any(r.attempted for r in results))
                        results.append(result)
                        on_result(result)
                    except _ConnectionLost as exc:
                        lost, lost_code = str(exc), exc.code
                        break
        except TimeoutError as exc:
            if client is None:
                raise ServerUnavailable(f"{self._where}: session setup timed out") from exc
            lost = f"batch deadline of {self._deadline(len(envelopes)):.0f}s exceeded"
        finally:
            if client is not None:
                await self._quit(client)
        if len(results) < len(envelopes):
            lost = lost or "connection lost"
            current, *rest = envelopes[len(results):]
            tail = [self._failed(current, False, lost_code, lost)]
            tail += [SendResult(env.key, False, False, None, f"not attempted: {lost}") for env in rest]
            for result in tail:
                results.append(result)
                on_result(result)
            if rest:
                log.warning("%s: %d further message(s) not attempted: %s", self._where, len(rest), lost)
        return results

    def _failed(self, env: Envelope, permanent: bool, code: int | None, message: str) -> SendResult:
        log.warning("%s: message %s %s failed: %s %s", self._where, env.key,
                    "permanently" if permanent else "temporarily", code if code is not None else "-", message)
        return SendResult(env.key, False, permanent, code, message)

    async def _send_one(self, client: aiosmtplib.SMTP, env: Envelope, first: bool) -> SendResult:
        """One mail transaction. Raises _ConnectionLost when the session is gone."""
        if not env.recipients:
            return self._failed(env, True, None, "no recipients")
        addresses = (env.sender, *env.recipients)
        mail_options: list[str] = []
        if not all(a.isascii() for a in addresses):
            mail_options.append("SMTPUTF8")   # aiosmtplib refuses (SMTPNotSupported) if not offered
        if not env.data.isascii() and client.supports_extension("8bitmime"):
            mail_options.append("BODY=8BITMIME")
        try:
            refused, reply = await client.sendmail(env.sender, list(env.recipients), env.data,
                                                   mail_options=mail_options)
        except SMTPRecipientsRefused as exc:  # every recipient refused
            codes = [r.code for r in exc.recipients]
            detail = "; ".join(f"{r.recipient}: {r.code} {_first_line(r.message)}" for r in exc.recipients)
            if codes and all(c in _AUTH_REQUIRED_CODES for c in codes):
                self._auth_required(first, codes[0], detail)
                return self._failed(env, False, codes[0], f"server requires authentication: {detail}")
            permanent = bool(codes) and all(_is_permanent(c) for c in codes)
            code = next((c for c in codes if not _is_permanent(c)), codes[0] if codes else None)
            return self._failed(env, permanent, code, f"all recipients refused: {detail}")
        except SMTPSenderRefused as exc:
            if exc.code in _AUTH_REQUIRED_CODES:
                self._auth_required(first, exc.code, _first_line(exc.message))
                return self._failed(env, False, exc.code,
                                    f"server requires authentication: {_first_line(exc.message)}")
            return self._failed(env, _is_permanent(exc.code), exc.code, f"sender refused: {_first_line(exc.message)}")
        except SMTPResponseException as exc:  # DATA refused, or another reply code
            if not client.is_connected and not _is_permanent(exc.code):
                raise _ConnectionLost(f"connection closed by the server: {_first_line(exc.message)}",
                                      exc.code) from exc
            return self._failed(env, _is_permanent(exc.code), exc.code, _first_line(exc.message))
        except SMTPNotSupported as exc:
            return self._failed(env, True, None, str(exc))
        except ValueError as exc:  # an address that cannot be put on the command line
            return self._failed(env, True, None, f"unusable address: {exc}")
        except _CONNECTION_ERRORS as exc:
            raise _ConnectionLost(f"connection lost: {exc or type(exc).__name__}") from exc
        except SMTPException as exc:
            if not client.is_connected:
                raise _ConnectionLost(f"connection lost: {exc}") from exc
            return self._failed(env, False, None, str(exc))
        message = _first_line(reply)
        if refused:
            message += "; refused: " + ", ".join(
                f"{rcpt} ({resp.code} {_first_line(resp.message)})" for rcpt, resp in refused.items()
            )
            log.warning("%s: message %s sent, but some recipients refused: %s", self._where, env.key,
                        ", ".join(f"{rcpt} {resp.code}" for rcpt, resp in refused.items()))
        return SendResult(env.key, True, False, 250, message)

    def _auth_required(self, first: bool, code: int, detail: str) -> None:
        """530/538 to a transaction: the settings lack (or misuse) AUTH.

        Raised as AuthenticationFailed when it is the batch's first transaction (nothing was
        accepted); later in a batch it is reported as a temporary failure instead.
        """
        if first:
            raise AuthenticationFailed(f"{self._where}: server requires authentication: {code} {detail}")
