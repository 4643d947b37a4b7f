"""A throw-away, real Dovecot IMAP server for tests and benchmarks.

`Dovecot` writes its own configuration into a private temporary directory and starts
``/usr/sbin/dovecot -F -c <that config>`` (Debian 12 package ``dovecot-imapd``, Dovecot
2.3). Nothing from ``/etc/dovecot`` is included and nothing outside the temporary
directory is touched: own ``base_dir`` (sockets, pid file), own ``state_dir``, own log
file, Maildir++ storage under ``<workdir>/mail/<user>/Maildir``, users in a
``passwd-file`` with plaintext passwords. The server listens on 127.0.0.1 only, on a
free port, without TLS (``ssl = no``, ``disable_plaintext_auth = no`` -- the 2.3 name
of 2.4's ``auth_allow_cleartext = yes``).

Every user gets ``INBOX`` plus ``Sent`` (special-use ``\\Sent``) and ``Spam``
(special-use ``\\Junk``); Dovecot 2.3 advertises ``MOVE``, ``UIDPLUS``,
``MULTIAPPEND``, ``SPECIAL-USE`` and ``THREAD=REFERENCES`` by default.

Works as root (the CI case: Dovecot never touches mail as root, so the mail belongs to
the system user ``mail`` -- or ``nobody``, or $KPUDESK_DOVECOT_MAIL_USER -- and the
login/internal processes run as the package's ``dovenull``/``dovecot`` users) and as an
ordinary user ("rootless" Dovecot: every process runs as that user, chroots off).
Files live under /dev/shm when it is a roomy tmpfs (see `default_tmpdir`).

UIDVALIDITY reset (`Dovecot.reset_uidvalidity`) needs no doveadm: the folder's
``dovecot-uidlist`` is rewritten under Dovecot's dotlock with UIDVALIDITY old + 1 and
(by default) the UIDs renumbered 1..n; then a SELECT makes Dovecot notice and rebuild its
index. Messages and flags are kept. Sessions that had the folder selected get
``* BYE IMAP session state is inconsistent, please relogin.``, as on a real server.

NUL bytes: APPEND accepts them, but Dovecot returns them as 0x80 in FETCH BODY[]/RFC822.

Usage::

    with Dovecot() as server:            # start() ... stop() + remove the temp dir
        user = server.new_user()         # fresh user with INBOX, Sent, Spam
        uid = user.append("INBOX", raw_bytes)
        with user.session() as client:   # logged-in imapclient.IMAPClient
            client.select_folder("INBOX")

TLS mode (``Dovecot(tls=True)``; the default is plain IMAP only, exactly as described
above): a private ``trustme`` CA issues a server certificate for `cert_hosts` (default
``127.0.0.1`` and ``localhost``; pass another name to test host-name verification).
``ca_file`` is the CA's PEM (written by start() under ``<workdir>/tls``): hand it to the
client. Two free ports on 127.0.0.1: ``tls_port`` (implicit TLS, "imaps") and ``port``
(plain IMAP offering STARTTLS). ``ssl_mode="required"`` (default) means ``ssl =
required`` + ``disable_plaintext_auth = yes``: no LOGIN/AUTHENTICATE before STARTTLS;
``ssl_mode="yes"`` offers TLS but still accepts plaintext logins. The helpers
(``connect``, ``session``, ``append`` ...) use implicit TLS on ``tls_port``, trusting
only ``ca_file``.

Dovecot 2.3 counts a connection whose remote IP equals its local IP as "secured"
(login-common ``client_alloc``), so 127.0.0.1 -> 127.0.0.1 could log in without TLS
despite ``ssl = required``. So that ``port`` behaves like a real server's, in TLS mode it
belongs to a small forwarder that relays to Dovecot's own plain listener
(``direct_port``) from source address ``plain_source`` (default 127.0.0.2): Dovecot
sees a non-local client and enforces TLS. ``plain_source=None`` drops the forwarder
(``port == direct_port``; plaintext logins from loopback then succeed).

Set ``KPUDESK_KEEP_DOVECOT=1`` to keep the temporary directory (config, log, mail)
after the server stops; ``KPUDESK_DOVECOT`` overrides the binary path.
"""
from __future__ import annotations

import atexit
import contextlib
import grp
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tests.servers.proxy import Proxy
from tests.servers.common import (  # noqa: F401 - free_port, port_accepts: re-exported for the tests
    ServerProcess, free_port, live_processes, port_accepts, scratch_dir, set_pdeathsig)
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from imapclient import IMAPClient, imap_utf7
from imapclient.exceptions import LoginError

if TYPE_CHECKING:
    import ssl as _ssl

DOVECOT_BIN = os.environ.get("KPUDESK_DOVECOT", "/usr/sbin/dovecot")
INSTALL_HINT = (
    "run `bash tests/setup.sh` from the repository root (it installs everything the tests need), "
    "or `apt-get install dovecot-imapd` (Debian/Ubuntu)"
)
DEFAULT_FOLDERS = ("INBOX", "Sent", "Spam")
DEFAULT_CERT_HOSTS = ("127.0.0.1", "localhost")
SSL_MODES = ("yes", "required")
USER_POOL_BATCH = 200

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
_APPENDUID_RE = re.compile(rb"\[APPENDUID (\d+) ([0-9:,]+)\]", re.IGNORECASE)


class DovecotError(RuntimeError):
    """The test Dovecot could not be started, stopped or used."""


class DovecotNotInstalled(DovecotError):
    pass


def dovecot_available(binary: str = DOVECOT_BIN) -> bool:
    return os.path.isfile(binary) and os.access(binary, os.X_OK)


def default_tmpdir() -> str:
    return scratch_dir("KPUDESK_DOVECOT_TMPDIR")




def parse_uid_set(text: str) -> list[int]:
    """Expand an IMAP uid-set such as ``"1:3,7"`` (as in APPENDUID) to ``[1, 2, 3, 7]``."""
    out: list[int] = []
    for part in text.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":", 1))
            lo, hi = min(a, b), max(a, b)
            out.extend(range(lo, hi + 1))
        else:
            out.append(int(part))
    return out


def _live_group_members(pgid: int) -> list[int]:
    """Pids of live (not zombie) processes in process group `pgid`."""
    try:
        return [pid for pid, _, group in live_processes() if group == pgid]
    except OSError:  # pragma: no cover - no procfs: fall back to "is the group non-empty"
        try:
            os.killpg(pgid, 0)
            return [pgid]
        except (ProcessLookupError, PermissionError):
            return []


@contextlib.contextmanager
def _dotlock(path: Path, timeout: float = 10.0) -> Iterator[None]:
    """Hold a Dovecot-style dotlock (O_EXCL-created file) for the duration of the block."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise DovecotError(f"{path} stays locked") from None
            time.sleep(0.02)
    try:
        os.write(fd, f"{os.getpid()}:{socket.gethostname()}\n".encode())
        os.close(fd)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)



@dataclass(frozen=True)
class ImapUser:
    """One mailbox on a test `Dovecot`; the helper methods are bound to this user."""

    server: "Dovecot"
    name: str
    password: str

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def tls_port(self) -> int | None:
        return self.server.tls_port

    @property
    def ca_file(self) -> Path | None:
        return self.server.ca_file

    def connect(self) -> IMAPClient:
        """A new logged-in `IMAPClient`; the caller logs out."""
        return self.server.connect(self.name)

    def session(self) -> contextlib.AbstractContextManager[IMAPClient]:
        return self.server.session(self.name)

    def append(
        self,
        folder: str,
        raw: bytes,
        flags: Sequence[str | bytes] = (),
        internaldate: datetime | None = None,
    ) -> int:
        return self.server.append(self.name, folder, raw, flags, internaldate)

    def append_many(self, folder: str, messages: Iterable[bytes], **kw) -> list[int]:
        return self.server.append_many(self.name, folder, messages, **kw)

    def create_folder(self, name: str) -> None:
        self.server.create_folder(self.name, name)

    def uidvalidity(self, folder: str) -> int:
        return self.server.uidvalidity(self.name, folder)

    def reset_uidvalidity(self, folder: str, *, renumber: bool = True) -> int:
        return self.server.reset_uidvalidity(self.name, folder, renumber=renumber)

    def folder_path(self, folder: str) -> Path:
        return self.server.folder_path(self.name, folder)


class Dovecot(ServerProcess):
    """A private Dovecot IMAP server on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        workdir: str | os.PathLike | None = None,
        *,
        binary: str = DOVECOT_BIN,
        host: str = "127.0.0.1",
        port: int | None = None,
        start_timeout: float = 10.0,
        tls: bool = False,
        ssl_mode: str = "required",
        cert_hosts: Sequence[str] = DEFAULT_CERT_HOSTS,
        plain_source: str | None = "127.0.0.2",
    ) -> None:
        if ssl_mode not in SSL_MODES:
            raise ValueError(f"ssl_mode must be one of {SSL_MODES}, got {ssl_mode!r}")
        self.binary = binary
        self.host = host
        self._fixed_port = port
        self.port: int = port or 0
        self.tls = tls
        self.ssl_mode = ssl_mode
        self.cert_hosts = tuple(cert_hosts)
        self.tls_port: int | None = None  # implicit-TLS (imaps) port, TLS mode only
        # Dovecot's own plain listener. Equal to `port` unless TLS mode put the
        # `plain_source` forwarder in front of it (see the module docstring).
        self.direct_port: int = self.port
        self.plain_source = plain_source if tls else None
        self._forwarder: Proxy | None = None
        self.start_timeout = start_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="kpd-dovecot-", dir=default_tmpdir()))
        self.config_path = self.workdir / "dovecot.conf"
        self.passwd_path = self.workdir / "passwd"
        self.log_path = self.workdir / "dovecot.log"
        self.stderr_path = self.workdir / "dovecot.stderr"
        self.base_dir = self.workdir / "run"
        self.state_dir = self.workdir / "state"
        self.mail_dir = self.workdir / "mail"
        self.tls_dir = self.workdir / "tls"
        self.ca_file: Path | None = self.tls_dir / "ca.pem" if tls else None
        self.cert_path = self.tls_dir / "server-cert.pem"
        self.key_path = self.tls_dir / "server-key.pem"
        self._ca = None  # trustme.CA, created at the first start() in TLS mode
        self.users: dict[str, str] = {}
        self._proc: subprocess.Popen | None = None
        self._lock = threading.RLock()
        self._pool: list[tuple[str, str]] = []
        self._counter = itertools.count(1)
        self._passwd_mtime = 0
        self._atexit_registered = False
        self.uid = os.getuid()
        self.gid = os.getgid()
        self.mail_uid, self.mail_gid = self._mail_owner()

    # ------------------------------------------------------------------ lifecycle

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> "Dovecot":
        """Start Dovecot; return once the IMAP greeting arrives (else raise with the log)."""
        if self.running:
            return self
        if not dovecot_available(self.binary):
            raise DovecotNotInstalled(f"{self.binary} is missing: {INSTALL_HINT}")
        self._check_version()
        for d in (self.workdir, self.state_dir, self.mail_dir):
            d.mkdir(parents=True, exist_ok=True)
        # Dovecot's unprivileged processes (auth as `dovecot`, login as `dovenull`) must be
        # able to traverse to base_dir and read the passwd-file; mkdtemp made it 0700.
        os.chmod(self.workdir, 0o755)
        if self.uid == 0:
            os.chown(self.mail_dir, self.mail_uid, self.mail_gid)
            os.chmod(self.mail_dir, 0o700)
        if self._pool:
            self._write_passwd()
        else:
            self._extend_pool()  # not running yet: no wait
        if self.tls:
            self._write_tls_files()
        attempts = 1 if self._fixed_port else 3
        last: DovecotError | None = None
        for _ in range(attempts):
            if self.plain_source:  # `port` belongs to the forwarder, started below
                self.direct_port = free_port(self.host)
                self.tls_port = self._free_port_other_than(self.direct_port)
            else:
                self.port = self.direct_port = self._fixed_port or free_port(self.host)
                if self.tls:
                    self.tls_port = self._free_port_other_than(self.port)
            try:
                self._start_once()
                break
            except DovecotError as e:
                last = e
                if "Address already in use" not in str(e):
                    raise
        else:
            raise last  # type: ignore[misc]
        if self.plain_source:
            fwd = Proxy(self.host, self.direct_port, host=self.host, port=self._fixed_port or 0,
                        source_ip=self.plain_source)
            self._forwarder = fwd
            try:
                try:
                    fwd.start()
                except OSError as e:
                    raise DovecotError(f"plain-port forwarder cannot listen on {self.host}:{fwd.port}: {e}") from e
                self.port = fwd.port
                greeting = self._read_greeting(self.start_timeout, port=self.port)
                if not greeting.startswith(b"* OK"):
                    raise DovecotError(f"unexpected greeting {greeting!r}")
            except (OSError, DovecotError) as e:
                self.stop()
                raise DovecotError(
                    f"no IMAP greeting via the forwarder {self.host}:{self.port} -> "
                    f"{self.direct_port} from {self.plain_source} ({e!r}); "
                    f"try plain_source=None\n{self.diagnostics()}"
                ) from e
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        return self

    def _start_once(self) -> None:
        self.config_path.write_text(self._config())
        with open(self.log_path, "a") as log:
            log.write(f"--- kpudesk test: starting dovecot on {self.host}:{self.direct_port}\n")
        stderr = open(self.stderr_path, "ab")
        try:
            self._proc = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # own process group: stop() can reap every child
                preexec_fn=set_pdeathsig,
                cwd=self.workdir,
            )
        finally:
            stderr.close()
        deadline = time.monotonic() + self.start_timeout
        last_err = "no connection attempt"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                rc = self._proc.returncode
                self._proc = None
                raise DovecotError(f"dovecot exited with status {rc} during start\n{self.diagnostics()}")
            try:
                greeting = self._read_greeting(max(0.2, deadline - time.monotonic()))
            except OSError as e:
                last_err = repr(e)
                time.sleep(0.05)
                continue
            if greeting.startswith(b"* OK"):
                if not self.tls:
                    return
                try:  # the imaps listener must complete a verified handshake too
                    greeting = self._read_greeting(max(0.2, deadline - time.monotonic()), tls=True)
                except OSError as e:  # ssl.SSLError is an OSError
                    last_err = f"imaps port {self.tls_port}: {e!r}"
                    time.sleep(0.05)
                    continue
                if greeting.startswith(b"* OK"):
                    return
            last_err = f"unexpected greeting {greeting!r}"
            time.sleep(0.05)
        self.stop()
        raise DovecotError(
            f"dovecot did not greet on {self.host}:{self.direct_port} within {self.start_timeout}s "
            f"({last_err})\n{self.diagnostics()}"
        )

    def _read_greeting(self, timeout: float, *, tls: bool = False, port: int | None = None) -> bytes:
        if port is None:
            port = self.tls_port if tls else self.direct_port
        with contextlib.ExitStack() as stack:
            s = stack.enter_context(socket.create_connection((self.host, port), timeout=min(timeout, 2.0)))
            if tls:
                s = stack.enter_context(self.client_ssl_context().wrap_socket(s, server_hostname=self.host))
            buf = b""
            while b"\r\n" not in buf:
                chunk = s.recv(1024)
                if not chunk:
                    break
                buf += chunk
            with contextlib.suppress(OSError):
                s.sendall(b"x LOGOUT\r\n")
            return buf

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server this object started and wait until all its processes are gone.

        SIGTERM to the master first (it closes the listeners and tells its children; this
        normally takes ~1 s), then SIGTERM and finally SIGKILL to the process group the
        master leads -- children linger otherwise (imap with open sessions ~10 s, a login
        process in its stats handshake ~5 s). Only processes this object started are in that
        group (``start_new_session=True``)."""
        fwd, self._forwarder = self._forwarder, None
        if fwd is not None:
            fwd.stop()
        proc, self._proc = self._proc, None
        if proc is None:
            return
        pgid = proc.pid
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(1.5)
            except subprocess.TimeoutExpired:
                pass
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, timeout)):
            if proc.poll() is not None and not _live_group_members(pgid):
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
            deadline = time.monotonic() + wait
            while (proc.poll() is None or _live_group_members(pgid)) and time.monotonic() < deadline:
                time.sleep(0.02)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
        deadline = time.monotonic() + 5.0
        for port in (self.direct_port, self.tls_port):
            while port and port_accepts(self.host, port, 0.2) and time.monotonic() < deadline:
                time.sleep(0.05)

    def cleanup(self) -> None:
        """Remove the temporary directory (unless KPUDESK_KEEP_DOVECOT=1). Call after stop()."""
        if self.running:
            raise DovecotError("cleanup() while dovecot is running; call stop() first")
        if self._own_workdir and not os.environ.get("KPUDESK_KEEP_DOVECOT"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def diagnostics(self) -> str:
        parts = [f"config: {self.config_path}"]
        for label, path in (("stderr", self.stderr_path), ("log", self.log_path)):
            try:
                text = path.read_text(errors="replace")
            except FileNotFoundError:
                text = "(none)"
            parts.append(f"--- dovecot {label} ({path}):\n{text[-8000:]}")
        return "\n".join(parts)

    def _check_version(self) -> None:
        try:
            out = subprocess.run(
                [self.binary, "--version"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError) as e:
            raise DovecotError(f"cannot run {self.binary} --version: {e}") from e
        m = re.match(r"(\d+)\.(\d+)", out)
        if not m or (int(m.group(1)), int(m.group(2))) != (2, 3):
            raise DovecotError(
                f"{self.binary} is version {out!r}; this helper writes a Dovecot 2.3 config "
                f"(Debian 12's dovecot-imapd)"
            )

    # ------------------------------------------------------------------ TLS

    def _free_port_other_than(self, port: int) -> int:
        while True:
            other = free_port(self.host)
            if other != port:
                return other

    def _write_tls_files(self) -> None:
        """CA + server certificate/key (trustme) under tls_dir; the same CA across restarts."""
        import trustme  # only TLS mode needs it

        if self._ca is None:
            self._ca = trustme.CA(organization_name="kpudesk test dovecot CA")
            self._server_cert = self._ca.issue_cert(*self.cert_hosts)
        self.tls_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.tls_dir, 0o700)  # read by Dovecot's config process (root or us)
        self._ca.cert_pem.write_to_path(str(self.ca_file))
        with open(self.cert_path, "wb") as f:
            for pem in self._server_cert.cert_chain_pems:  # leaf first, then intermediates
                f.write(pem.bytes())
        self._server_cert.private_key_pem.write_to_path(str(self.key_path))
        os.chmod(self.key_path, 0o600)

    def client_ssl_context(self) -> "_ssl.SSLContext":
        """A verifying client context trusting only this server's CA (TLS mode). Host-name
        checking is on when `host` is one of the certificate's names, so the helpers still
        work for a server whose certificate deliberately names another host."""
        import ssl

        if self.ca_file is None:
            raise DovecotError("this Dovecot was not started with tls=True")
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.check_hostname = self.host in self.cert_hosts
        return ctx

    def _ssl_config(self) -> str:
        if not self.tls:
            return "ssl = no\ndisable_plaintext_auth = no\n"
        return (
            f"ssl = {self.ssl_mode}\n"
            f"ssl_cert = <{self.cert_path}\n"
            f"ssl_key = <{self.key_path}\n"
            "ssl_min_protocol = TLSv1.2\n"
            f"disable_plaintext_auth = {'yes' if self.ssl_mode == 'required' else 'no'}\n"
        )

    def _imaps_listener(self) -> str:
        if not self.tls:
            return "  inet_listener imaps {\n    port = 0\n  }\n"
        return (
            "  inet_listener imaps {\n"
            f"    address = {self.host}\n"
            f"    port = {self.tls_port}\n"
            "    ssl = yes\n"
            "  }\n"
        )

    # ------------------------------------------------------------------ configuration

    def _mail_owner(self) -> tuple[int, int]:
        """(uid, gid) that owns the mail. Dovecot never accesses mail as root, so as root
        this is the system user `mail` (else `nobody`), or $KPUDESK_DOVECOT_MAIL_USER."""
        if self.uid != 0:
            return self.uid, self.gid
        names = [os.environ.get("KPUDESK_DOVECOT_MAIL_USER") or "", "mail", "nobody"]
        for n in filter(None, names):
            with contextlib.suppress(KeyError):
                pw = pwd.getpwnam(n)
                if pw.pw_uid != 0:
                    return pw.pw_uid, pw.pw_gid
        raise DovecotError("running as root but no unprivileged `mail` or `nobody` user exists")

    def _process_users(self) -> tuple[str, str, str, bool]:
        """(default_internal_user, default_internal_group, default_login_user, rootless)."""
        if self.uid == 0:

            def first(*names: str) -> str | None:
                for n in names:
                    with contextlib.suppress(KeyError):
                        pwd.getpwnam(n)
                        return n
                return None

            internal = first("dovecot", "nobody")
            login = first("dovenull", "nobody")
            if not internal or not login:
                raise DovecotError("running as root but neither `dovecot`/`dovenull` nor `nobody` exist")
            group = grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name
            return internal, group, login, False
        try:
            me = pwd.getpwuid(self.uid).pw_name
            group = grp.getgrgid(self.gid).gr_name
        except KeyError as e:
            raise DovecotError(
                f"uid {self.uid}/gid {self.gid} has no passwd/group entry; rootless Dovecot needs one"
            ) from e
        return me, group, me, True

    def _config(self) -> str:
        internal, internal_group, login, rootless = self._process_users()
        nochroot = "  chroot =\n" if rootless else ""
        return f"""\
# Generated by tests/servers/dovecot.py: a throw-away test instance. No system config.
instance_name = kpudesk-test-{os.getpid()}-{self.direct_port}
base_dir = {self.base_dir}
state_dir = {self.state_dir}
log_path = {self.log_path}
info_log_path = {self.log_path}
debug_log_path = {self.log_path}
log_timestamp = "%Y-%m-%d %H:%M:%S "
login_greeting = kpudesk test dovecot ready.

protocols = imap
listen = {self.host}
{self._ssl_config()}auth_mechanisms = plain login
auth_verbose = yes
auth_cache_size = 0
# Tests log in with wrong passwords on purpose: no 2 s failure delay (a failed login still
# takes ~0.5 s, Dovecot's check interval), and no per-IP penalty -- that would slow down
# every later login from 127.0.0.1, good ones included, by up to 15 s.
auth_failure_delay = 0

default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
mail_uid = {self.mail_uid}
mail_gid = {self.mail_gid}
first_valid_uid = {self.mail_uid}
last_valid_uid = 0
first_valid_gid = {self.mail_gid}
last_valid_gid = 0
mail_location = maildir:~/Maildir
mail_fsync = never
mail_max_userip_connections = 1000
default_client_limit = 1000
default_process_limit = 200
imap_max_line_length = 1M

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd_path}
}}
userdb {{
  driver = static
  args = uid={self.mail_uid} gid={self.mail_gid} home={self.mail_dir}/%u
}}

namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Spam {{
    special_use = \\Junk
    auto = subscribe
  }}
}}

service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.direct_port}
  }}
{self._imaps_listener()}{nochroot}}}
service imap-urlauth-login {{
{nochroot}}}
service anvil {{
{nochroot}  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

    # ------------------------------------------------------------------ users

    def add_user(self, name: str, password: str) -> None:
        """Add (or re-password) a user; works before and after start().

        Dovecot re-reads the passwd-file when its mtime/size change, but looks at it at
        most once per second; when running, this waits (<= ~1 s, only when needed) until
        the new credentials are accepted."""
        if not _NAME_RE.match(name):
            raise ValueError(f"unsupported test user name {name!r}")
        if any(c in password for c in ":\r\n\0") or not password:
            raise ValueError("password must be non-empty and contain no ':', CR, LF or NUL")
        with self._lock:
            self.users[name] = password
            self._write_passwd()
        if self.running:
            self._await_login(name, password)

    def _write_passwd(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = "".join(f"{n}:{{PLAIN}}{p}::::::\n" for n, p in self.users.items())
        tmp = self.passwd_path.with_suffix(".tmp")
        tmp.write_text(lines)
        os.chmod(tmp, 0o644)
        # Dovecot compares mtime (seconds) and size: force a strictly newer mtime so that a
        # same-length password change inside one second is still noticed.
        stamp = max(int(time.time()), self._passwd_mtime + 1)
        os.utime(tmp, (stamp, stamp))
        self._passwd_mtime = stamp
        os.replace(tmp, self.passwd_path)

    def _await_login(self, name: str, password: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect(name, password, timeout=10).logout()
                return
            except LoginError:
                if time.monotonic() > deadline:
                    raise DovecotError(
                        f"dovecot does not accept the new credentials of {name!r}\n{self.diagnostics()}"
                    ) from None
                time.sleep(1.02 - (time.time() % 1.0))  # into the next second: Dovecot re-stats

    def _extend_pool(self, n: int = USER_POOL_BATCH) -> None:
        """Pre-register `n` users in one passwd-file write (one wait at most)."""
        with self._lock:
            batch = []
            while len(batch) < n:
                name = f"user{next(self._counter):04d}"
                if name not in self.users:
                    batch.append((name, "pw-" + secrets.token_urlsafe(12)))
            self.users.update(batch)
            self._pool.extend(batch)
            self._write_passwd()
        if self.running:
            self._await_login(*batch[-1])

    def new_user(self, folders: Sequence[str] = DEFAULT_FOLDERS) -> ImapUser:
        """A fresh user (never handed out before) with `folders` created; server must run.

        Users come from a pre-registered pool so that the passwd-file is rewritten (and
        waited for) once per USER_POOL_BATCH users, not once per test."""
        if not self.running:
            raise DovecotError("dovecot is not running")
        while True:
            with self._lock:
                if self._pool:
                    name, password = self._pool.pop(0)
                    break
            self._extend_pool()
        with self.session(name) as c:
            existing = {f[2] for f in c.list_folders()}
            for folder in folders:
                if folder not in existing:
                    c.create_folder(folder)
                c.subscribe_folder(folder)
        return ImapUser(self, name, password)

    # ------------------------------------------------------------------ IMAP helpers

    def connect(self, user: str, password: str | None = None, timeout: float = 60.0) -> IMAPClient:
        if not self.running:
            raise DovecotError("dovecot is not running")
        if self.tls:  # implicit TLS: works whatever ssl_mode says about the plain port
            client = IMAPClient(self.host, self.tls_port, ssl=True,
                                ssl_context=self.client_ssl_context(), timeout=timeout)
        else:
            client = IMAPClient(self.host, self.port, ssl=False, timeout=timeout)
        try:
            client.login(user, password if password is not None else self.users[user])
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    @contextlib.contextmanager
    def session(self, user: str) -> Iterator[IMAPClient]:
        client = self.connect(user)
        try:
            yield client
        finally:
            try:
                client.logout()
            except Exception:
                with contextlib.suppress(Exception):
                    client.shutdown()

    def append(
        self,
        user: str,
        folder: str,
        raw: bytes,
        flags: Sequence[str | bytes] = (),
        internaldate: datetime | None = None,
    ) -> int:
        """APPEND one message; return its UID (from UIDPLUS' APPENDUID)."""
        if not isinstance(raw, (bytes, bytearray)):
            raise TypeError("raw must be bytes")
        with self.session(user) as c:
            resp = c.append(folder, bytes(raw), flags=flags, msg_time=internaldate)
        return self._appenduid(resp)[0]

    def append_many(
        self,
        user: str,
        folder: str,
        messages: Iterable[bytes | dict],
        *,
        chunk_size: int = 1000,
        chunk_bytes: int = 16 * 1024 * 1024,
    ) -> list[int]:
        """Append many messages over one connection with MULTIAPPEND (RFC 3502), in chunks
        of at most `chunk_size` messages / `chunk_bytes` bytes. Items are raw bytes or dicts
        ``{"msg": bytes, "flags": [...], "date": datetime}``. Returns the UIDs in order."""
        uids: list[int] = []
        with self.session(user) as c:
            batch: list[bytes | dict] = []
            size = 0

            def flush() -> None:
                nonlocal size
                if batch:
                    uids.extend(self._appenduid(c.multiappend(folder, batch)))
                    batch.clear()
                    size = 0

            for m in messages:
                raw = m["msg"] if isinstance(m, dict) else m
                if not isinstance(raw, (bytes, bytearray)):
                    raise TypeError("messages must be bytes (or dicts with a bytes 'msg')")
                if batch and (len(batch) >= chunk_size or size + len(raw) > chunk_bytes):
                    flush()
                batch.append(m)
                size += len(raw)
            flush()
        return uids

    @staticmethod
    def _appenduid(resp) -> list[int]:
        if isinstance(resp, tuple):  # multiappend returns imaplib's (typ, data)
            typ, data = resp
            if typ != "OK":
                raise DovecotError(f"MULTIAPPEND failed: {typ} {data!r}")
            resp = b" ".join(x if isinstance(x, bytes) else str(x).encode() for x in data if x)
        if isinstance(resp, str):
            resp = resp.encode()
        m = _APPENDUID_RE.search(resp or b"")
        if not m:
            raise DovecotError(f"no APPENDUID in APPEND response {resp!r}")
        return parse_uid_set(m.group(2).decode())

    def create_folder(self, user: str, name: str) -> None:
        """Create and subscribe a folder (hierarchy separator "/"); no-op if it exists."""
        with self.session(user) as c:
            if not c.folder_exists(name):
                c.create_folder(name)
            c.subscribe_folder(name)

    def uidvalidity(self, user: str, folder: str) -> int:
        with self.session(user) as c:
            return int(c.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def folder_path(self, user: str, folder: str) -> Path:
        """The Maildir++ directory of a folder: INBOX is the root, ``A/B`` is ``.A.B``."""
        root = self.mail_dir / user / "Maildir"
        if folder.upper() == "INBOX":
            return root
        encoded = imap_utf7.encode(folder)
        encoded = encoded.decode("ascii") if isinstance(encoded, bytes) else encoded
        return root / ("." + encoded.replace("/", "."))

    def reset_uidvalidity(self, user: str, folder: str, *, renumber: bool = True) -> int:
        """Force a new UIDVALIDITY on `folder` (INBOX included) and return it.

        Rewrites the folder's ``dovecot-uidlist`` under Dovecot's own dotlock: the header's
        ``V`` (UIDVALIDITY) becomes old + 1 and, with `renumber` (default), the UIDs are
        reassigned 1..n in their current order with UIDNEXT n + 1 -- what a server that
        rebuilt its UID list or a migrated mailbox looks like. All messages and flags stay.
        A fresh session then SELECTs the folder, so Dovecot notices ("Maildir UIDVALIDITY
        changed" in its log) and resets its index. Other sessions with the folder selected
        get ``* BYE IMAP session state is inconsistent, please relogin.`` at their next
        command or IDLE wake-up, exactly like on a real Dovecot; a re-SELECT reports the
        new value."""
        path = self.folder_path(user, folder)
        uidlist = path / "dovecot-uidlist"
        with self.session(user) as c:
            old = int(c.select_folder(folder)[b"UIDVALIDITY"])  # make sure the uidlist exists
            c.unselect_folder()  # not CLOSE: that would expunge \\Deleted mail
        if not (path / "cur").is_dir():
            raise DovecotError(f"folder {folder!r} of {user!r} has no Maildir at {path}")
        new = old + 1
        with _dotlock(path / "dovecot-uidlist.lock"):
            try:
                lines = uidlist.read_bytes().split(b"\n")
                st = uidlist.stat()
                owner, mode = (st.st_uid, st.st_gid), st.st_mode & 0o777
            except FileNotFoundError:  # empty folder never synced to a uidlist
                lines, owner, mode = [b"3 V0 N1"], (self.mail_uid, self.mail_gid), 0o600
            header, records = lines[0].split(b" "), [ln for ln in lines[1:] if ln.strip()]
            if header[0] != b"3":
                raise DovecotError(f"unsupported dovecot-uidlist version in {uidlist}: {lines[0]!r}")
            if renumber:
                # Expunged mail can linger in the uidlist until Dovecot's next rewrite: keep
                # only records whose file exists, so the new UIDs really are 1..n.
                present = {
                    f.split(":", 1)[0].encode()
                    for sub in ("cur", "new")
                    for f in os.listdir(path / sub)
                }
                records = [r for r in records if r.partition(b":")[2].split(b":", 1)[0] in present]
                records = [
                    b"%d%s" % (i, rec[len(rec.split(b" ", 1)[0]) :])
                    for i, rec in enumerate(sorted(records, key=lambda r: int(r.split(b" ", 1)[0])), 1)
                ]
            for i, field in enumerate(header):
                if field.startswith(b"V"):
                    header[i] = b"V%d" % new
                elif field.startswith(b"N") and renumber:
                    header[i] = b"N%d" % (len(records) + 1)
            tmp = path / "dovecot-uidlist.kpudesk-tmp"
            tmp.write_bytes(b"\n".join([b" ".join(header), *records]) + b"\n")
            os.chmod(tmp, mode)
            if self.uid == 0:
                os.chown(tmp, *owner)
            os.replace(tmp, uidlist)
        with self.session(user) as c:
            got = int(c.select_folder(folder)[b"UIDVALIDITY"])
            c.unselect_folder()  # not CLOSE: that would expunge \\Deleted mail
        if got != new:
            raise DovecotError(f"UIDVALIDITY of {folder!r} is {got}, expected {new} (was {old})")
        return new
