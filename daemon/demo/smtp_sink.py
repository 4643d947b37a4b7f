"""The SMTP server of the demo and of the tests: `MailSink`, aiosmtpd on 127.0.0.1.

aiosmtpd's ``Controller`` runs the server in its own thread and event loop; the handler
keeps every accepted mail (envelope, raw bytes, parsed message, TLS and login of the
session) and, given a spool folder, writes it byte-exact to ``NNN.eml`` (the demo's
``terkirim/``). The tests (tests/smtp_fixtures.py) add TLS from a private CA, AUTH (a
password, or OAuth2 bearer tokens: smtp_oauth2.py), and failures to inject: refused
recipients, refused DATA, dropped connections, slow answers.
"""
from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
import tempfile
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from .smtp_oauth2 import OAUTH2_MECHANISMS, LongAuthSMTP, OAuth2Login, OAuth2Mechanisms

HOST = "127.0.0.1"
TLS_MODES = ("none", "starttls", "implicit")


class DemoFailed(Exception):
    """A step did not go as the story expects (or a demo server did not start); the message
    says what, in Indonesian."""


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    """One accepted mail: envelope, raw bytes, parsed message, and how the session went."""

    number: int
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage = field(repr=False)
    tls: bool = False
    login: str | None = None
    mail_options: list[str] = field(default_factory=list)
    mechanism: str | None = None  # the SASL mechanism of an OAuth2 login (XOAUTH2, OAUTHBEARER)
    path: Path | None = None  # with a spool: where its bytes were written


def _is_tls(server) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class _SinkHandler(OAuth2Mechanisms):
    """aiosmtpd's handler hooks; run in the controller's thread, recorded into the sink."""

    def __init__(self, sink: "MailSink") -> None:
        self.sink = sink

    def _count(self, server, hostname: str) -> None:
        sink = self.sink
        with sink._lock:
            if not getattr(server, "_kpudesk_counted", False):
                server._kpudesk_counted = True  # one per TCP connection, survives STARTTLS
                sink.connections += 1
            sink.helo_names.append(hostname)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 - aiosmtpd's hook name
        session.host_name = hostname
        self._count(server, hostname)
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):  # noqa: N802 - aiosmtpd's hook name
        session.host_name = hostname
        self._count(server, hostname)
        return f"250 {server.hostname}"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802 - aiosmtpd's hook name
        sink = self.sink
        if sink.drop_after is not None and len(sink.messages) >= sink.drop_after:
            server.transport.abort()  # an outage: no reply at all
            return "421 4.3.0 connection dropped"
        if (sink.auth is not None or sink.oauth2 is not None) and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's hook name
        code = self.sink.reject.get(address.lower())
        if code is not None:
            return f"{code} {'5.1.1' if 500 <= code <= 599 else '4.2.0'} <{address}> rejected"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        sink = self.sink
        if sink.data_delay:
            await asyncio.sleep(sink.data_delay)
        if sink.fail_data_code is not None:
            code = sink.fail_data_code
            return f"{code} {'5.6.0' if 500 <= code <= 599 else '4.3.0'} message refused"
        data = envelope.original_content if envelope.original_content is not None else envelope.content
        if isinstance(data, str):  # only with decode_data=True, which is not used
            data = data.encode("utf-8", "surrogateescape")
        auth_data = session.auth_data if session.authenticated else None
        login = auth_data.login.decode() if isinstance(auth_data, (LoginPassword, OAuth2Login)) else None
        r = sink.store(envelope.mail_from, list(envelope.rcpt_tos), bytes(data), tls=_is_tls(server),
                       login=login, mail_options=list(envelope.mail_options),
                       mechanism=getattr(auth_data, "mechanism", None))
        return f"250 2.0.0 OK queued as {r.path.name if r.path else f'{sink.queue_prefix}{r.number}'}"


class _SinkController(Controller):
    """A Controller that remembers its connections, so `stop()` can cut them (an outage)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.protocols: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def factory(self):
        if self.handler.sink.oauth2 is not None:
            smtp = LongAuthSMTP(self.handler, **self.SMTP_kwargs)
        else:
            smtp = super().factory()
        self.protocols.add(smtp)
        return smtp

    def drop_connections(self) -> None:
        if self._thread is None or self.loop.is_closed():
            return
        done = threading.Event()

        def abort_all() -> None:
            try:
                for proto in list(self.protocols):
                    for transport in (proto.transport, getattr(proto, "_original_transport", None)):
                        if transport is not None and not transport.is_closing():
                            transport.abort()
            finally:
                done.set()

        self.loop.call_soon_threadsafe(abort_all)
        done.wait(5)


class MailSink:
    """aiosmtpd on 127.0.0.1 (its `Controller`: a thread with its own event loop) keeping
    every accepted mail in `messages`, and with `spool`, writing it byte-exact to NNN.eml.
    The demo's SMTP server and the tests' (tests/smtp_fixtures.py).

    * ``tls="none" | "starttls" | "implicit"``: a certificate from a private trustme CA
      (the test extra: the demo runs without TLS) for `cert_hosts`; `ca_file` is its PEM.
      ``"starttls"`` requires STARTTLS before anything but EHLO/HELO/NOOP/QUIT.
    * ``auth=(user, password)``: AUTH PLAIN/LOGIN required before MAIL; offered only over
      TLS unless ``auth_require_tls=False`` (implicit TLS counts as TLS).
    * ``oauth2=lambda user, token: bool``: AUTH XOAUTH2 and OAUTHBEARER (``oauth2_mechanisms``
      limits them, e.g. ``("XOAUTH2",)`` like Microsoft 365) required before MAIL, the same
      TLS rule. A refused token gets Gmail's answer: the error challenge (334, base64 of
      ``{"status": "invalid_token", ...}``), then 535 once the client acknowledged it.
    * Failures to inject: ``reject={"rcpt@x": 550}`` refuses that recipient at RCPT,
      ``fail_data_code=451`` refuses every DATA, ``drop_after=N`` drops the connection at
      the MAIL after N stored mails, ``data_delay`` waits before answering DATA.

    Counters: `connections` (EHLO/HELO sessions; the controller's readiness probe does not
    count), `auth_attempts`, `helo_names`. `stop()` closes the listener and every open
    connection (an outage); `start()` again listens on the same port.
    """

    def __init__(self, spool: Path | None = None, *, tls: str = "none", auth: tuple[str, str] | None = None,
                 auth_require_tls: bool | None = None, reject: dict[str, int] | None = None,
                 fail_data_code: int | None = None, drop_after: int | None = None, data_delay: float = 0.0,
                 host: str = HOST, port: int | None = None, cert_hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
                 server_hostname: str = "smtp.demo.kpudesk.invalid", queue_prefix: str = "sink-",
                 oauth2: Callable[[str, str], bool] | None = None,
                 oauth2_mechanisms: tuple[str, ...] = OAUTH2_MECHANISMS, oauth2_scope: str = "mail") -> None:
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {TLS_MODES}")
        if not set(oauth2_mechanisms) <= set(OAUTH2_MECHANISMS):
            raise ValueError(f"oauth2_mechanisms must be among {OAUTH2_MECHANISMS}")
        self.spool, self.tls, self.auth = spool, tls, auth
        self.oauth2, self.oauth2_mechanisms, self.oauth2_scope = oauth2, tuple(oauth2_mechanisms), oauth2_scope
        # Implicit TLS: the whole connection is TLS, which aiosmtpd cannot see.
        self.auth_require_tls = False if tls == "implicit" else (True if auth_require_tls is None else auth_require_tls)
        self.reject = {addr.lower(): int(code) for addr, code in (reject or {}).items()}
        self.fail_data_code, self.drop_after, self.data_delay = fail_data_code, drop_after, data_delay
        self.host, self.server_hostname, self.queue_prefix = host, server_hostname, queue_prefix
        self._port_given = port is not None
        self.port = port if port is not None else free_port(host)
        self.messages: list[Received] = []
        self.connections = 0
        self.auth_attempts = 0
        self.helo_names: list[str] = []
        self._lock = threading.Lock()
        self._controller = None
        self._started_once = False
        self.ca_file: Path | None = None
        self._server_ctx: ssl.SSLContext | None = None
        self._tmpdir: Path | None = None
        if tls != "none":
            self._make_certificate(cert_hosts)

    def _make_certificate(self, cert_hosts: tuple[str, ...]) -> None:
        import trustme  # noqa: PLC0415 - lazy: the test extra; only a TLS sink needs it (the demo has none)

        ca = trustme.CA()
        self._tmpdir = Path(tempfile.mkdtemp(prefix="kpudesk-smtp-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self._tmpdir), True)
        self.ca_file = self._tmpdir / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(*cert_hosts).configure_cert(ctx)
        self._server_ctx = ctx

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> "MailSink":
        if self._controller is not None:
            return self
        if self.spool is not None:
            self.spool.mkdir(parents=True, exist_ok=True)
        last: Exception | None = None
        # A port we picked can be taken between the probe and the bind: pick another, but
        # only before the first start (a restart after an outage keeps its port).
        for _attempt in range(1 if self._port_given or self._started_once else 5):
            controller = _SinkController(_SinkHandler(self), **self._controller_kwargs())
            try:
                controller.start()
            except Exception as exc:  # noqa: BLE001 - try another port
                last = exc
                with contextlib.suppress(Exception):
                    controller.stop(no_assert=True)
                self.port = free_port(self.host)
                continue
            self._controller, self._started_once = controller, True
            return self
        raise DemoFailed(f"server SMTP (aiosmtpd) gagal dimulai: {last!r}")

    def _controller_kwargs(self) -> dict:
        def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
            with self._lock:
                self.auth_attempts += 1
            if not isinstance(auth_data, LoginPassword) or self.auth is None:
                return AuthResult(success=False, handled=False)
            user, password = self.auth
            ok = auth_data.login == user.encode() and auth_data.password == password.encode()
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        kwargs: dict = {"hostname": self.host, "port": self.port, "server_hostname": self.server_hostname,
                        "ready_timeout": 10.0, "auth_require_tls": self.auth_require_tls}
        if self.tls == "implicit":
            kwargs["ssl_context"] = self._server_ctx
        elif self.tls == "starttls":
            kwargs["tls_context"] = self._server_ctx
            kwargs["require_starttls"] = True
        if self.auth is not None or self.oauth2 is not None:
            # AUTH is enforced in handle_MAIL (530, like aiosmtpd's own check): its
            # auth_required=True would warn on every connection when auth_require_tls=False.
            kwargs["auth_required"] = self.auth_require_tls
            kwargs["authenticator"] = authenticate
        offered = self.oauth2_mechanisms if self.oauth2 is not None else ()
        kwargs["auth_exclude_mechanism"] = [m for m in OAUTH2_MECHANISMS if m not in offered]
        return kwargs

    def stop(self) -> None:
        """Close every connection and the listener. Safe to call twice."""
        controller, self._controller = self._controller, None
        if controller is None:
            return
        controller.drop_connections()
        with contextlib.suppress(Exception):
            controller.stop(no_assert=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop, and delete the CA file's folder."""
        self.stop()
        if self._tmpdir is not None:
            self._finalizer()

    def __enter__(self) -> "MailSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()

    # --- what arrived -------------------------------------------------------------------

    @property
    def bound(self) -> list[tuple]:
        """The listening sockets' addresses."""
        server = getattr(self._controller, "server", None)
        return [sock.getsockname() for sock in (server.sockets if server is not None else ())]

    @property
    def username(self) -> str | None:
        return self.auth[0] if self.auth else None

    @property
    def password(self) -> str | None:
        return self.auth[1] if self.auth else None

    def store(self, mail_from: str, rcpt_tos: list[str], data: bytes, **session) -> Received:
        with self._lock:
            number = len(self.messages) + 1
            path = None
            if self.spool is not None:
                path = self.spool / f"{number:03d}.eml"
                path.write_bytes(data)
            r = Received(number, mail_from, rcpt_tos, data, message_from_bytes(data, policy=policy.default),
                         path=path, **session)
            self.messages.append(r)
            return r

    def since(self, n: int) -> list[Received]:
        with self._lock:
            return list(self.messages[n:])

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.helo_names.clear()
            self.connections = 0
            self.auth_attempts = 0
