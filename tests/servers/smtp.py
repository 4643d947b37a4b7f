"""A real, in-process SMTP server on 127.0.0.1 for tests (aiosmtpd), with failure injection.

`SmtpServer` runs an ``aiosmtpd.controller.Controller`` (its own event loop in a thread)
with a collecting handler. Every accepted message lands in ``server.messages`` as a
`ReceivedMessage` (envelope sender, recipients, raw bytes, parsed ``EmailMessage``,
whether the session was TLS and who was logged in).

Variants (constructor keywords):

* ``tls="none" | "starttls" | "implicit"`` -- certificates come from a private trustme
  CA; ``server.ca_file`` is its PEM (hand it to the client as ``ca_file``). The server
  certificate is valid for ``127.0.0.1`` and ``localhost`` (``cert_hosts=`` to change:
  a certificate for another name tests hostname verification). ``"starttls"`` sets
  ``require_starttls=True`` (no command but EHLO/HELO/NOOP/QUIT before STARTTLS).
* ``auth=(user, password)`` -- AUTH PLAIN/LOGIN required before MAIL. By default AUTH
  is only offered over TLS; ``auth_require_tls=False`` allows it over plain loopback
  (must be asked for explicitly). With ``tls="implicit"`` the whole connection is TLS,
  which aiosmtpd cannot see, so AUTH is allowed there automatically.
* ``reject={"rcpt@example.org": 550}`` -- that recipient is refused at RCPT with the code.
* ``fail_data_code=451`` -- every DATA is refused with that code (nothing stored).
* ``drop_after=N`` -- after N stored messages the server drops the connection (no reply)
  on the next MAIL FROM: a connection lost mid-batch.
* ``data_delay=seconds`` -- wait before answering the end of DATA (client timeouts).

Counters: ``connections`` (sessions that sent EHLO/HELO; the controller's own readiness
probe does not count, a STARTTLS upgrade is the same connection), ``auth_attempts``
(AUTH exchanges that reached the password check), ``helo_names``.

Outage: ``stop()`` closes the listener *and* every open connection; ``start()`` again
listens on the same port (asyncio binds with SO_REUSEADDR). ``stop()`` is idempotent.
Use as a context manager (start/stop + `cleanup`), or call ``cleanup()`` to delete the
temporary directory holding the CA file.

Usage::

    with SmtpServer(tls="starttls", auth=("user", "pw")) as server:
        sender = SmtpSender(server.host, server.port, "starttls", "user", "pw", ca_file=server.ca_file)
        ...
        assert server.messages[0].rcpt_tos == ["a@example.org"]
"""
from __future__ import annotations

import asyncio
import email
import shutil
import ssl
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from tests.servers.common import free_port  # noqa: F401 - re-exported for the tests

HOST = "127.0.0.1"
SERVER_NAME = "kpudesk-test-smtp"   # banner/EHLO name; avoids socket.getfqdn() lookups
TLS_MODES = ("none", "starttls", "implicit")


@dataclass
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage
    tls: bool
    login: str | None
    mail_options: list[str] = field(default_factory=list)



def _is_tls(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class _Handler:
    """aiosmtpd handler hooks; runs in the controller's thread, records into the owner."""

    def __init__(self, owner: "SmtpServer") -> None:
        self.owner = owner

    def _count(self, server: SMTP, hostname: str) -> None:
        if not getattr(server, "_kpudesk_counted", False):
            server._kpudesk_counted = True  # one per TCP connection, survives STARTTLS
            with self.owner._lock:
                self.owner.connections += 1
        with self.owner._lock:
            self.owner.helo_names.append(hostname)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self._count(server, hostname)
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        session.host_name = hostname
        self._count(server, hostname)
        return f"250 {server.hostname}"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        owner = self.owner
        if owner.drop_after is not None and len(owner.messages) >= owner.drop_after:
            server.transport.abort()   # the "outage": no reply at all
            return "421 4.3.0 dropped by test server"
        if owner.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.owner.reject.get(address.lower())
        if code is not None:
            enhanced = "5.1.1" if 500 <= code <= 599 else "4.2.0"
            return f"{code} {enhanced} <{address}> rejected by test server"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        owner = self.owner
        if owner.data_delay:
            await asyncio.sleep(owner.data_delay)
        if owner.fail_data_code is not None:
            code = owner.fail_data_code
            enhanced = "5.6.0" if 500 <= code <= 599 else "4.3.0"
            return f"{code} {enhanced} message refused by test server"
        data = envelope.original_content if envelope.original_content is not None else envelope.content
        if isinstance(data, str):  # only with decode_data=True, which we do not use
            data = data.encode("utf-8", "surrogateescape")
        parsed = email.message_from_bytes(data, policy=policy.default)
        auth_data = session.auth_data if session.authenticated else None
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else None
        received = ReceivedMessage(
            mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos), data=bytes(data),
            message=parsed, tls=_is_tls(server), login=login, mail_options=list(envelope.mail_options),
        )
        with owner._lock:
            owner.messages.append(received)
            number = len(owner.messages)
        return f"250 2.0.0 OK queued as test-{number}"


class _Controller(Controller):
    """Controller that remembers its connections so `stop()` can cut them (an outage)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.protocols: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def factory(self):
        smtp = super().factory()
        self.protocols.add(smtp)
        return smtp

    def drop_connections(self) -> None:
        if self._thread is None or self.loop.is_closed():
            return
        done = threading.Event()

        def _abort_all() -> None:
            try:
                for proto in list(self.protocols):
                    for transport in (proto.transport, getattr(proto, "_original_transport", None)):
                        if transport is not None and not transport.is_closing():
                            transport.abort()
            finally:
                done.set()

        self.loop.call_soon_threadsafe(_abort_all)
        done.wait(5)


class SmtpServer:
    def __init__(self, *, tls: str = "none", auth: tuple[str, str] | None = None,
                 auth_require_tls: bool | None = None, reject: dict[str, int] | None = None,
                 fail_data_code: int | None = None, drop_after: int | None = None,
                 data_delay: float = 0.0, host: str = HOST, port: int | None = None,
                 cert_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> None:
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {TLS_MODES}")
        self.tls = tls
        self.auth = auth
        if auth_require_tls is None:
            auth_require_tls = True
        if tls == "implicit":
            auth_require_tls = False  # the whole connection is TLS; aiosmtpd just cannot tell
        self.auth_require_tls = auth_require_tls
        self.reject = {addr.lower(): int(code) for addr, code in (reject or {}).items()}
        self.fail_data_code = fail_data_code
        self.drop_after = drop_after
        self.data_delay = data_delay
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.messages: list[ReceivedMessage] = []
        self.connections = 0
        self.auth_attempts = 0
        self.helo_names: list[str] = []
        self._lock = threading.Lock()
        self._controller: _Controller | None = None
        self._tmpdir = Path(tempfile.mkdtemp(prefix="kpudesk-smtp-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self._tmpdir), True)
        self.ca_file: Path | None = None
        self._server_ctx: ssl.SSLContext | None = None
        if tls != "none":
            ca = trustme.CA()
            cert = ca.issue_cert(*cert_hosts)
            self.ca_file = self._tmpdir / "ca.pem"
            ca.cert_pem.write_to_path(str(self.ca_file))
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(ctx)
            self._server_ctx = ctx

    # ---- lifecycle ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> "SmtpServer":
        if self._controller is not None:
            return self
        kwargs: dict = {
            "hostname": self.host, "port": self.port, "server_hostname": SERVER_NAME,
            "ready_timeout": 10.0,
        }
        if self.tls == "implicit":
            kwargs["ssl_context"] = self._server_ctx
        elif self.tls == "starttls":
            kwargs["tls_context"] = self._server_ctx
            kwargs["require_starttls"] = True
        if self.auth is not None:
            # AUTH is enforced in handle_MAIL (530, like aiosmtpd's own check); aiosmtpd's
            # auth_required=True would warn on every connection when auth_require_tls=False.
            kwargs["auth_required"] = self.auth_require_tls
            kwargs["authenticator"] = self._authenticate
        kwargs["auth_require_tls"] = self.auth_require_tls
        controller = _Controller(_Handler(self), **kwargs)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Close every connection and the listener. Safe to call twice."""
        controller, self._controller = self._controller, None
        if controller is None:
            return
        controller.drop_connections()
        controller.stop(no_assert=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        self._finalizer()

    def __enter__(self) -> "SmtpServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()

    # ---- inspection ---------------------------------------------------------------------

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.helo_names.clear()
            self.connections = 0
            self.auth_attempts = 0

    @property
    def username(self) -> str | None:
        return self.auth[0] if self.auth else None

    @property
    def password(self) -> str | None:
        return self.auth[1] if self.auth else None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        with self._lock:
            self.auth_attempts += 1
        if not isinstance(auth_data, LoginPassword) or self.auth is None:
            return AuthResult(success=False, handled=False)
        user, password = self.auth
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
