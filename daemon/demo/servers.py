"""The demo's two mail servers, on 127.0.0.1 only, each in its own thread and event loop.

Servers
-------
SMTP: `MailSink` (daemon/demo/smtp_sink.py, aiosmtpd), which keeps each accepted mail and
writes it byte-exact to ``terkirim/NNN.eml``; the tests use the same class.

IMAP: ``pymap`` 0.36 with its in-memory ``dict`` backend, started here in a background thread
with its own event loop (not through its command-line entry point). Why pymap and not a server
of our own:

* It is a complete IMAP4rev1 server (plus UIDPLUS, LITERAL+, MOVE, IDLE, ...) that real clients
  are tested against: kpudesk's ``ImapSource`` talks to it exactly as to Dovecot: LOGIN, LIST,
  CREATE, EXAMINE with UIDVALIDITY/UIDNEXT/EXISTS, ``UID SEARCH UID n:*``, ``UID FETCH
  (BODY.PEEK[] INTERNALDATE)``, APPEND, LOGOUT. A hand-written demo server would test kpudesk
  only against our own reading of the RFC.
* It is small and pure Python: it brings ``pysasl``, ``proxy-protocol`` and
  ``typing-extensions`` (MIT licensed, about 3 MB installed), needs no root, no files, no
  compiler, and starts in well under a second.
* What we rely on beyond its public classes: ``Config.from_args`` with an ``argparse.Namespace``
  (its own CLI does the same), ``Login``/``UserMetadata``/``Passwords`` to add the one demo user,
  and ``IMAPServer`` as the ``asyncio.start_server`` callback. We bind the listening socket
  ourselves (port 0 on 127.0.0.1, so no port race), override the greeting (pymap's default calls
  ``socket.getfqdn()``, a DNS lookup on every connection), disable STARTTLS (loopback, security
  "none" in settings), hash the throwaway demo password with few PBKDF2 rounds, and run password
  checks on the event loop instead of a thread pool.
* Limits seen: UIDs start at 101 in a new folder (legal: UIDs need only ascend), and UIDVALIDITY
  changes on every start, which a demo that starts afresh does not notice.
"""
from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading

from .smtp_sink import HOST, DemoFailed, MailSink, Received, free_port

__all__ = ["HOST", "DemoFailed", "DemoImapServer", "DemoSmtpServer", "MailSink", "Received", "free_port"]

DemoSmtpServer = MailSink  # the demo's name for it: MailSink(spool) writes terkirim/NNN.eml


class DemoImapServer:
    """pymap's in-memory IMAP server on 127.0.0.1 with one user, in its own thread and loop."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.host = HOST
        self.port: int | None = None
        self.bound: list[tuple] = []  # the listening sockets' addresses
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    def start(self) -> "DemoImapServer":
        self._thread = threading.Thread(target=self._run, name="demo-imap", daemon=True)
        self._thread.start()
        if not self._ready.wait(20):
            raise DemoFailed("server IMAP demo (pymap) tidak siap dalam 20 detik")
        if self._error is not None:
            raise DemoFailed(f"server IMAP demo (pymap) gagal dimulai: {self._error!r}")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except ImportError as exc:
            self._error = RuntimeError(f"{exc}; pasang ulang kpudesk beserta dependensinya (pip install .)")
            self._ready.set()
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        from argparse import Namespace  # noqa: PLC0415 - lazy: pymap loads only when the demo's IMAP server starts

        from proxyprotocol.reader import ProxyProtocolReader  # noqa: PLC0415 - lazy: pymap loads only when the demo's IMAP server starts
        from pymap.backend.dict import Config, Login  # noqa: PLC0415 - lazy: pymap loads only when the demo's IMAP server starts
        from pymap.concurrent import Subsystem  # noqa: PLC0415 - lazy: pymap loads only when the demo's IMAP server starts
        from pymap.imap import IMAPServer  # noqa: PLC0415 - lazy: pymap loads only when the demo's IMAP server starts
        from pymap.user import Passwords, UserMetadata  # noqa: PLC0415 - lazy: pymap loads only when the demo's IMAP server starts
        from pysasl.hashing import BuiltinHash  # noqa: PLC0415 - lazy: pymap loads only when the demo's IMAP server starts

        class DemoConfig(Config):
            @property
            def greeting(self) -> bytes:
                return b"kpudesk demo IMAP (pymap) siap"

        args = Namespace(host=HOST, port=0, debug=False, cert=None, key=None, tls=False,
                         demo_data=False, demo_user=self.user, demo_password=self.password,
                         passlib_cfg=None, proxy_protocol=None, inherited_sockets=None)
        config = DemoConfig.from_args(
            args, hash_context=BuiltinHash(rounds=1000), cpu_subsystem=Subsystem.for_asyncio(),
            ssl_context=ssl.create_default_context(ssl.Purpose.CLIENT_AUTH),
            invalid_user_sleep=0.0, reject_dnsbl=False)
        config.apply_context()
        login = Login(config)
        hashed = await Passwords(config).hash_password(self.password)
        await login.demo_user_identity.set(UserMetadata(config, self.user, password=hashed))
        callback = ProxyProtocolReader(config.proxy_protocol).get_callback(IMAPServer(login, config))
        server = await asyncio.start_server(callback, host=HOST, port=0)
        self.bound = [sock.getsockname() for sock in server.sockets]
        self.port = self.bound[0][1]
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 3)

    def stop(self) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(10)
        self._loop = self._stop = self._thread = None

    # The mail provider's side: deliver into a folder over IMAP (APPEND), as an MTA would.

    def _client(self):
        import imapclient  # noqa: PLC0415 - lazy: the demo's MTA side only

        client = imapclient.IMAPClient(self.host, port=self.port, ssl=False, timeout=20)
        client.login(self.user, self.password)
        return client

    def create_folder(self, name: str) -> None:
        client = self._client()
        try:
            client.create_folder(name)
        finally:
            client.logout()

    def deliver(self, folder: str, raw: bytes) -> None:
        client = self._client()
        try:
            client.append(folder, raw)
        finally:
            client.logout()
