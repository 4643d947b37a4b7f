"""A TCP forwarder on loopback: a server outage on demand (stop, start again on the same
port), byte counts, and — with `source_ip` — upstream connections from another loopback
address (Dovecot treats 127.0.0.1 -> 127.0.0.1 as "secured" and would waive ``ssl =
required``; from 127.0.0.2 it applies its real rules). Bytes are relayed unchanged, so
STARTTLS and half-closes pass through."""
from __future__ import annotations

import contextlib
import socket
import threading

from tests.servers.common import free_port


class Proxy:
    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1", port: int = 0,
                 source_ip: str | None = None) -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = port or free_port(host)  # fixed now, so a restart listens on the same port
        self.source_ip = source_ip
        self.bytes_in = 0  # server -> client
        self.bytes_out = 0  # client -> server
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> "Proxy":
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((self.host, self.port))
            ls.listen(64)
        except OSError:
            ls.close()
            raise
        self._listener = ls
        self._thread = threading.Thread(target=self._accept, args=(ls,), name="test-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Refuse new connections and cut the open ones, like a server going away."""
        ls, self._listener = self._listener, None
        if ls is not None:
            with contextlib.suppress(OSError):
                ls.shutdown(socket.SHUT_RDWR)  # wakes accept()
            ls.close()
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> "Proxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _accept(self, ls: socket.socket) -> None:
        while True:
            try:
                client, _ = ls.accept()
            except OSError:
                return
            try:
                source = (self.source_ip, 0) if self.source_ip else None
                upstream = socket.create_connection(self.target, timeout=5, source_address=source)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not ls:  # stopped meanwhile
                    client.close()
                    upstream.close()
                    return
                self._conns.update((client, upstream))
            pending = [2]
            for src, dst, outward in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(src, dst, outward, client, upstream, pending),
                                 daemon=True).start()

    def _pump(self, src, dst, outward: bool, client, upstream, pending) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)  # pass the half-close on
                    break
                if outward:
                    self.bytes_out += len(data)
                else:
                    self.bytes_in += len(data)
                dst.sendall(data)
        except OSError:
            for c in (client, upstream):
                with contextlib.suppress(OSError):
                    c.shutdown(socket.SHUT_RDWR)
        with self._lock:
            pending[0] -= 1
            done = pending[0] == 0
            if done:
                self._conns.difference_update((client, upstream))
        if done:
            client.close()
            upstream.close()
