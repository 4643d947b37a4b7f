"""A throw-away, real PostgreSQL server for tests.

`Postgres` creates a private cluster with the Debian package's own binaries
(``/usr/lib/postgresql/<version>/bin/initdb`` and ``postgres``; package ``postgresql``)
in a temporary directory, starts it in the foreground on a free port on 127.0.0.1 and,
at the end, stops it and removes the directory. Nothing of the system installation is
used or touched: no ``/etc/postgresql``, no ``pg_ctlcluster``, no port 5432; a system
cluster may be running or not.

* Authentication is ``trust`` for 127.0.0.1 (and the private Unix socket in the temp
  dir), the superuser is ``kpudesk`` (`Postgres.user`); no password anywhere.
* Durability is off (``fsync``, ``synchronous_commit``, ``full_page_writes``): a test
  cluster does not survive a crash and does not need to; it makes it ~10x faster.
* PostgreSQL refuses to run as root. As root (the CI case) every server process runs as
  the system user ``postgres`` (created by the package; ``$KPUDESK_POSTGRES_USER``
  overrides it, ``nobody`` is the fallback) and the temp dir is handed to that user;
  otherwise everything runs as the current user. The switch is done by `subprocess`
  itself (``user=``/``group=``), i.e. what ``runuser -u postgres --`` does, minus PAM.
* The cluster is ``--locale=C --encoding=UTF8``: byte order, as SQLite compares.
* Files live under /dev/shm when it is a roomy tmpfs, like the test Dovecot.

Usage::

    with Postgres() as server:            # start() ... stop() + remove the temp dir
        url = server.new_database()       # postgresql://kpudesk@127.0.0.1:PORT/kpd_1_ab12cd
        ...                               # peewee's playhouse.db_url understands it

Set ``KPUDESK_KEEP_POSTGRES=1`` to keep the temporary directory (data, server log) after
the server stops; ``KPUDESK_POSTGRES_BINDIR`` overrides the binary folder.
"""
from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from tests.servers.common import ServerProcess, free_port, live_processes, scratch_dir, set_pdeathsig

INSTALL_HINT = (
    "run `.ci/run` from the repository root (it installs everything the tests need), "
    "or `apt-get install postgresql` (Debian/Ubuntu) and `pip install -e '.[test]'` (psycopg2-binary)"
)
SUPERUSER = "kpudesk"
_DB_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresError(RuntimeError):
    """The test PostgreSQL could not be started, stopped or used."""


class PostgresNotInstalled(PostgresError):
    pass


def find_bindir() -> Path | None:
    """$KPUDESK_POSTGRES_BINDIR, else the newest /usr/lib/postgresql/<ver>/bin with initdb and postgres."""
    explicit = os.environ.get("KPUDESK_POSTGRES_BINDIR")
    candidates = [explicit] if explicit else sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: _version_key(Path(p).parent.name), reverse=True)
    for c in candidates:
        d = Path(c)
        if all(os.access(d / exe, os.X_OK) for exe in ("initdb", "postgres")):
            return d
    return None


def _version_key(text: str) -> tuple:
    return tuple(int(x) if x.isdigit() else 0 for x in text.split("."))


def psycopg2_available() -> bool:
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return False
    return True


def postgres_available() -> bool:
    return find_bindir() is not None and psycopg2_available()


def missing_reason() -> str | None:
    """Why a `Postgres` cannot start here, with what to do about it; None when it can."""
    if find_bindir() is None:
        where = os.environ.get("KPUDESK_POSTGRES_BINDIR") or "/usr/lib/postgresql/*/bin"
        return f"PostgreSQL is required but no initdb/postgres was found in {where}: {INSTALL_HINT}"
    if not psycopg2_available():
        return "PostgreSQL tests need the psycopg2 driver (`pip install -e '.[test]'`, package psycopg2-binary)"
    return None


def default_tmpdir() -> str:
    return scratch_dir("KPUDESK_POSTGRES_TMPDIR")




def _server_processes(postmaster: int) -> list[int]:
    """Pids of the live (not zombie) postmaster and its children. Backends call setsid(),
    so a process group does not hold them: they are found by their parent pid."""
    return [pid for pid, parent, _ in live_processes() if postmaster in (pid, parent)]


class Postgres(ServerProcess):
    """A private PostgreSQL cluster on 127.0.0.1 (see the module docstring)."""

    def __init__(self, workdir: str | os.PathLike | None = None, *, bindir: str | os.PathLike | None = None,
                 host: str = "127.0.0.1", port: int | None = None, user: str = SUPERUSER,
                 start_timeout: float = 60.0) -> None:
        self.bindir = Path(bindir) if bindir else find_bindir()
        self.host = host
        self._fixed_port = port
        self.port: int = port or 0
        self.user = user
        self.start_timeout = start_timeout
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="kpd-postgres-", dir=default_tmpdir()))
        self.data_dir = self.workdir / "data"
        self.socket_dir = self.workdir / "run"
        self.log_path = self.workdir / "postgres.log"
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._atexit_registered = False
        self.run_uid, self.run_gid = self._run_as()

    # ------------------------------------------------------------------ lifecycle

    @property
    def version(self) -> str:
        return self.bindir.parent.name if self.bindir else "?"

    def start(self) -> "Postgres":
        """initdb (once), then start the server; return once it accepts connections."""
        if self.running:
            return self
        reason = missing_reason() if self.bindir is None or not psycopg2_available() else None
        if reason:
            raise PostgresNotInstalled(reason)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if os.getuid() == 0:
            for p in (self.workdir, self.socket_dir):
                os.chown(p, self.run_uid, self.run_gid)
        os.chmod(self.workdir, 0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            self.port = self._fixed_port or free_port(self.host)
            try:
                self._start_once()
                break
            except PostgresError as e:
                if attempt == attempts - 1 or "already in use" not in str(e):
                    raise
        if not self._atexit_registered:
            atexit.register(self._atexit)
            self._atexit_registered = True
        return self

    def _run_as(self) -> tuple[int, int]:
        if os.getuid() != 0:
            return os.getuid(), os.getgid()
        names = [os.environ.get("KPUDESK_POSTGRES_USER") or "postgres", "nobody"]
        for name in names:
            with contextlib.suppress(KeyError):
                pw = pwd.getpwnam(name)
                return pw.pw_uid, pw.pw_gid
        raise PostgresError("running as root but neither a `postgres` nor a `nobody` user exists")

    def _env(self) -> dict[str, str]:
        return {"PATH": f"{self.bindir}:/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "HOME": str(self.workdir),
                "TZ": "UTC"}

    def _as_server_user(self) -> dict:
        if os.getuid() != 0:
            return {}
        return {"user": self.run_uid, "group": self.run_gid, "extra_groups": []}

    def _initdb(self) -> None:
        cmd = [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", self.user, "--auth=trust",
               "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"]
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                                  cwd=self.workdir, env=self._env(), **self._as_server_user())
        except subprocess.TimeoutExpired as e:
            raise PostgresError(f"initdb timed out: {e}") from None
        if done.returncode != 0:
            raise PostgresError(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        # Trust, and only for the private socket and 127.0.0.1.
        (self.data_dir / "pg_hba.conf").write_text(
            "# kpudesk test cluster\n"
            "local all all trust\n"
            "host  all all 127.0.0.1/32 trust\n")

    def _start_once(self) -> None:
        cmd = [
            str(self.bindir / "postgres"), "-D", str(self.data_dir),
            "-c", f"listen_addresses={self.host}", "-c", f"port={self.port}",
            "-c", f"unix_socket_directories={self.socket_dir}",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200", "-c", "shared_buffers=64MB",
            "-c", "logging_collector=off", "-c", "log_min_messages=warning",
            "-c", "log_min_error_statement=error", "-c", "log_timezone=UTC", "-c", "timezone=UTC",
        ]
        with open(self.log_path, "ab") as log:
            log.write(f"--- kpudesk test: starting postgres on {self.host}:{self.port}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.workdir, env=self._env(),
                start_new_session=True,  # not in pytest's group: Ctrl-C goes to pytest only
                preexec_fn=set_pdeathsig, **self._as_server_user())
        deadline = time.monotonic() + self.start_timeout
        last = "no connection attempt"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                rc, self._proc = self._proc.returncode, None
                raise PostgresError(f"postgres exited with status {rc} during start\n{self.diagnostics()}")
            try:
                self.connect("postgres", connect_timeout=2).close()
                return
            except Exception as e:  # noqa: BLE001 - "starting up", connection refused, ...
                last = str(e).strip()
                time.sleep(0.05)
        self.stop()
        raise PostgresError(f"postgres did not accept connections on {self.host}:{self.port} within "
                            f"{self.start_timeout}s ({last})\n{self.diagnostics()}")

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT: ends sessions, checkpoints), then immediate (SIGQUIT), then
        SIGKILL to the postmaster and its children; returns when no server process is left."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        pid = proc.pid
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
            left = _server_processes(pid)
            if proc.poll() is not None and not left:
                break
            for p in ([pid] if sig != signal.SIGKILL else left or [pid]):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(p, sig)
            deadline = time.monotonic() + wait
            while (proc.poll() is None or _server_processes(pid)) and time.monotonic() < deadline:
                time.sleep(0.02)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)

    def cleanup(self) -> None:
        """Remove the temporary directory (unless KPUDESK_KEEP_POSTGRES=1). Call after stop()."""
        if self.running:
            raise PostgresError("cleanup() while the server runs; stop() first")
        if os.environ.get("KPUDESK_KEEP_POSTGRES") == "1":
            return
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _atexit(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
            self.cleanup()

    def diagnostics(self, lines: int = 40) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            tail = ["(no log)"]
        return f"--- {self.log_path} (last {lines} lines)\n" + "\n".join(tail)

    # ------------------------------------------------------------------ use

    def connect(self, dbname: str = "postgres", **kw):
        """A new psycopg2 connection as the superuser; the caller closes it."""
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname=dbname, **kw)

    def url(self, dbname: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def new_database(self, prefix: str = "kpd") -> str:
        """Create a fresh, empty database and return its URL (``postgresql://user@127.0.0.1:PORT/name``)."""
        if not self.running:
            raise PostgresError("the server is not running")
        with self._lock:
            name = f"{prefix}_{next(self._counter)}_{secrets.token_hex(3)}".lower()
        if not _DB_NAME_RE.match(name):
            raise ValueError(f"bad database name {name!r}")
        self.query("postgres", f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
        return self.url(name)

    def drop_database(self, url_or_name: str) -> None:
        """Drop a database made by `new_database`, ending any session still connected to it."""
        name = url_or_name.rsplit("/", 1)[-1]
        if not _DB_NAME_RE.match(name):
            raise ValueError(f"bad database name {name!r}")
        self.query("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def query(self, url_or_name: str, sql: str, params: tuple = ()) -> list[tuple]:
        """Run one statement in the given database (autocommit) and return its rows."""
        con = self.connect(url_or_name.rsplit("/", 1)[-1])
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        finally:
            con.close()
