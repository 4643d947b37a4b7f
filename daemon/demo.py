"""`kpudesk demo`: the helpdesk's whole loop on this computer, with no mail server and no settings.

A new user runs ``pip install .`` and then ``kpudesk demo``. The demo makes a folder (a new
temporary one, or ``--dir``), writes a ``settings.toml`` there, starts a real IMAP server and a
real SMTP server in this process, bound to 127.0.0.1 only, and plays one working day of the
Mesuji helpdesk through the same CLI functions an officer uses (``kpudesk.daemon.cli.main``):
party mails arrive in the inbox and in the spam folder, ``poll`` turns them into tickets,
``send`` delivers the acknowledgements, an officer answers from the FAQ Sipol, a question that
is not in the FAQ goes to the commission member and then to the KPU Provinsi and the answers
thread back, a Sipol progress snapshot is imported with its evidence screenshot, the progress
report and the daily recap go out, and a party's reply reopens its answered ticket. Every step
checks what it expects (the demo tests its own story) and prints, in Indonesian, what happened.

Everything is written under the demo folder, which is kept so the user can look at it:
``settings.toml`` (valid afterwards for ``tickets list``, ``tickets show``, ``spam list``,
``report recap``), ``state/`` (the database and the archive), ``masuk/`` (the mails the parties
"sent"), ``terkirim/`` (every mail the SMTP server accepted, ``NNN.eml``) and ``laporan/`` (the
reports as text and HTML). ``--cleanup`` deletes the folder at the end.

Servers
-------
SMTP: ``aiosmtpd`` (its ``Controller`` runs the server in its own thread and event loop). The
handler keeps each accepted mail and writes it byte-exact to ``terkirim/NNN.eml``.

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
import io
import json
import os
import secrets
import shlex
import shutil
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import traceback
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

HOST = "127.0.0.1"
HELPDESK = "helpdesk@kpu-mesuji.example.org"
ANGGOTA = "anggota@kpu-mesuji.example.org"
PROVINSI = "helpdesk@kpu-lampung.example.org"
KETUA = "ketua@kpu-mesuji.example.org"
SEKRETARIS = "sekretaris@kpu-mesuji.example.org"
RINA = "Rina Wulandari"     # anggota-helpdesk
AHMAD = "Ahmad Fauzi"       # anggota-kpu: may escalate to the Provinsi
PROVINSI_NUMBER = "7781"    # the Provinsi helpdesk's own ticket number
ZONE = ZoneInfo("Asia/Jakarta")
TOTAL_STEPS = 10


class DemoFailed(Exception):
    """A step did not go as the story expects; the message says what, in Indonesian."""


def expect(condition: Any, what: str) -> None:
    if not condition:
        raise DemoFailed(what)


# --- the servers ---------------------------------------------------------------------------


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


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
        from argparse import Namespace

        from proxyprotocol.reader import ProxyProtocolReader
        from pymap.backend.dict import Config, Login
        from pymap.concurrent import Subsystem
        from pymap.imap import IMAPServer
        from pymap.user import Passwords, UserMetadata
        from pysasl.hashing import BuiltinHash

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
        import imapclient

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


@dataclass
class Received:
    number: int
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    path: Path
    message: EmailMessage = field(repr=False)


class _SmtpHandler:
    def __init__(self, owner: "DemoSmtpServer") -> None:
        self.owner = owner

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        data = envelope.original_content if envelope.original_content is not None else envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        r = self.owner.store(envelope.mail_from, list(envelope.rcpt_tos), bytes(data))
        return f"250 2.0.0 OK disimpan sebagai {r.path.name}"


class DemoSmtpServer:
    """aiosmtpd on 127.0.0.1 that keeps every accepted mail and writes it to `spool/NNN.eml`."""

    def __init__(self, spool: Path) -> None:
        self.spool = spool
        self.host = HOST
        self.port: int | None = None
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._controller = None

    def start(self) -> "DemoSmtpServer":
        from aiosmtpd.controller import Controller

        self.spool.mkdir(parents=True, exist_ok=True)
        last: Exception | None = None
        for _attempt in range(5):  # a free port can be taken between the probe and the bind
            port = free_port()
            controller = Controller(_SmtpHandler(self), hostname=HOST, port=port,
                                    server_hostname="smtp.demo.kpudesk.invalid", ready_timeout=10.0)
            try:
                controller.start()
            except Exception as exc:  # noqa: BLE001 - try another port
                last = exc
                with contextlib.suppress(Exception):
                    controller.stop(no_assert=True)
                continue
            self._controller, self.port = controller, port
            return self
        raise DemoFailed(f"server SMTP demo (aiosmtpd) gagal dimulai: {last!r}")

    @property
    def bound(self) -> list[tuple]:
        """The listening sockets' addresses."""
        server = getattr(self._controller, "server", None)
        return [sock.getsockname() for sock in (server.sockets if server is not None else ())]

    def store(self, mail_from: str, rcpt_tos: list[str], data: bytes) -> Received:
        with self._lock:
            number = len(self.messages) + 1
            path = self.spool / f"{number:03d}.eml"
            path.write_bytes(data)
            r = Received(number, mail_from, rcpt_tos, data, path,
                         message_from_bytes(data, policy=policy.default))
            self.messages.append(r)
            return r

    def since(self, n: int) -> list[Received]:
        with self._lock:
            return list(self.messages[n:])

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            with contextlib.suppress(Exception):
                controller.stop(no_assert=True)


# --- demo content --------------------------------------------------------------------------


# The office's receiving mail server, as the demo plays it: it checks each incoming mail
# (SPF/DKIM/DMARC) and writes its verdict on top, as Gmail or a Postfix with OpenDMARC does.
# The demo settings trust this authserv-id ([mail] trusted_authserv_id) and nothing else.
DEMO_MX = "mx.kpu-mesuji.example.org"


def _mail(from_addr: str, subject: str, body: str, *, to: str = HELPDESK, in_reply_to: str | None = None,
          references: str | None = None, extra: dict[str, str] | None = None,
          verdict: str = "dmarc=pass") -> bytes:
    """A mail as delivered to the helpdesk's mailbox, with the receiving server's verdict."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = from_addr
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(ZONE).replace(microsecond=0))
    domain = parseaddr(from_addr)[1].rpartition("@")[2] or "example.org"
    msg["Message-ID"] = make_msgid(domain=domain)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for k, v in (extra or {}).items():
        msg[k] = v
    msg.set_content(body)
    stamp = (f"Authentication-Results: {DEMO_MX};\r\n\t{verdict} header.from={domain}\r\n"
             f"Received: from mail.{domain} by {DEMO_MX} with ESMTPS;\r\n\t{msg['Date']}\r\n")
    return stamp.encode() + msg.as_bytes(policy=policy.SMTP)


@dataclass(frozen=True)
class PartyMail:
    key: str
    folder: str
    sender: str
    name: str
    party: str
    subject: str
    body: str
    note: str = ""


BUDI = "budi.santoso@pkb-mesuji.example.org"
DEDI = "dedi.kurniawan@gerindra-mesuji.example.org"
SITI = "siti.rahmawati@psi-mesuji.example.org"
WAYAN = "wayan.sudarta@nasdem-mesuji.example.org"
PROMO = "promo@hadiah-undian.example.net"

PARTY_MAILS = (
    PartyMail("budi", "INBOX", BUDI, "Budi Santoso", "PKB", "Batas akhir pendaftaran partai",
              "Selamat pagi,\n\nMohon info, kapan batas akhir pendaftaran partai politik calon peserta "
              "Pemilu 2024?\n\nTerima kasih,\nBudi Santoso (PKB)\n"),
    PartyMail("dedi", "INBOX", DEDI, "Dedi Kurniawan", "Gerindra", "Akun Sipol untuk pengurus DPC",
              "Selamat siang,\n\nBagaimana cara pengurus DPC mendapatkan akun Sipol? Apakah bisa minta "
              "langsung ke KPU Kabupaten Mesuji? Admin kami belum pernah bisa login.\n\nSalam,\n"
              "Dedi Kurniawan\nLO DPC Partai Gerindra Kabupaten Mesuji\n",
              note="alamat LO terdaftar di parties-local.toml"),
    PartyMail("siti", "INBOX", SITI, "Siti Rahmawati", "PSI", "Pengurus merangkap perangkat desa",
              "Yth. Helpdesk KPU Kabupaten Mesuji,\n\n"
              "Salah satu pengurus DPC kami diangkat menjadi perangkat desa (kaur) di Kecamatan Tanjung Raya. "
              "Apakah yang bersangkutan wajib mundur dari kepengurusan, dan apakah ini memengaruhi hasil "
              "verifikasi di Mesuji?\n\nHormat kami,\nSiti Rahmawati\nBendahara DPD PSI Kabupaten Mesuji\n"
              "0813-6677-8899\n"),
    PartyMail("wayan", "Spam", WAYAN, "Wayan Sudarta", "NasDem", "Unggah KTA gagal di Sipol",
              "Selamat pagi,\n\nSaat mengunggah KTA anggota di Sipol selalu muncul pesan gagal, padahal "
              "ukuran berkas sudah kecil. Mohon petunjuk.\n\nWayan Sudarta\nLO DPD Partai NasDem Mesuji\n",
              note="tersaring ke Spam; petugas memeriksa folder Spam dan melepaskannya"),
    PartyMail("promo", "Spam", PROMO, "Promo Undian", "-", "SELAMAT! Anda memenangkan undian Rp 50.000.000",
              "Klik tautan berikut dalam 24 jam untuk mengklaim hadiah Anda. Kirim nomor rekening dan PIN.\n",
              note="spam sungguhan"),
)

PARTIES_LOCAL = f"""# Alamat petugas penghubung (LO) partai di Kabupaten Mesuji — data demo (domain example.org).
# Surel dari alamat ini dikenali partainya dan diselamatkan bila tersaring ke folder Spam.

[[contact]]
email = "{DEDI}"
name = "Dedi Kurniawan"
phone = "0812-7001-2345"
party = "Gerindra"

[[contact]]
email = "{WAYAN}"
name = "Wayan Sudarta"
phone = "0813-6900-4411"
party = "NasDem"
"""

ANGGOTA_REPLY = ("Terima kasih, Bu Rina.\n\nPerangkat desa memang dilarang menjadi pengurus partai politik, tetapi "
                 "akibatnya pada verifikasi keanggotaan di Sipol perlu petunjuk resmi. Mohon Pak Ahmad "
                 "meneruskannya ke KPU Provinsi.\n\nHendra Saputra\nAnggota KPU Kabupaten Mesuji\n")
PROVINSI_ACK = (f"Pertanyaan Saudara telah kami terima dengan nomor tiket {PROVINSI_NUMBER} dan sedang diproses.\n\n"
                "Helpdesk KPU Provinsi Lampung\n")
PROVINSI_ANSWER = ("Perangkat desa tidak boleh menjadi pengurus partai politik. Partai diminta mengganti pengurus "
                   "yang bersangkutan dan memperbarui data kepengurusan di Sipol sebelum masa perbaikan berakhir; "
                   "data yang sudah diperbaiki diverifikasi seperti biasa.")
RELAY = ("Berikut jawaban KPU Provinsi Lampung atas pertanyaan Ibu (nomor tiket Provinsi "
         f"{PROVINSI_NUMBER}):\n\n{PROVINSI_ANSWER}")
WAYAN_ANSWER = ("Pesan gagal itu biasanya karena format berkas: unggah KTA sebagai JPG atau PDF, bukan HEIC, "
                "dan pastikan nama berkas tanpa tanda baca. Bila masih gagal, kirimkan tangkapan layarnya.")
BUDI_FOLLOWUP = ("Terima kasih atas jawabannya. Satu lagi: apakah dokumen yang sudah diunggah masih bisa "
                 "diperbaiki setelah tanggal tersebut?\n\nBudi Santoso\n")

PROGRESS_ROWS = (  # party, pengurus, anggota, kantor
    ("PKB", 45, 1234, 6), ("Gerindra", 50, 2015, 7), ("PDI Perjuangan", 51, 2890, 7),
    ("Golkar", 48, 1870, 6), ("NasDem", 39, 980, 5), ("PSI", 22, 615, 3),
)


def settings_text(imap_port: int, smtp_port: int) -> str:
    return f"""# Pengaturan demo kpudesk — ditulis oleh `kpudesk demo` pada {datetime.now(ZONE):%Y-%m-%d %H:%M} WIB.
# Server IMAP dan SMTP demo hanya hidup selama demo berjalan. Sesudahnya perintah yang membaca
# basis data tetap dapat dipakai (tickets list/show, spam list, report ...); `poll` dan `send`
# akan melapor bahwa server tidak dapat dihubungi (kode 75).

[helpdesk]
name = "Helpdesk KPU Kabupaten Mesuji"
address = "{HELPDESK}"
tag = "HD-MSJ"
timezone = "Asia/Jakarta"
default_officer = "{RINA}"

[imap]
host = "{HOST}"
port = {imap_port}
security = "none"                     # tanpa TLS: hanya diizinkan untuk 127.0.0.1
username = "{HELPDESK}"
password_file = "imap-password"       # kata sandi acak milik server demo
inbox = "INBOX"
spam = "Spam"

[smtp]
host = "{HOST}"
port = {smtp_port}
security = "none"

[database]
url = "sqlite:///state/kpudesk.db"

[storage]
dir = "state"

[mail]
trusted_authserv_id = "{DEMO_MX}"   # server penerima yang hasil SPF/DKIM/DMARC-nya dipercaya

[escalation]
anggota = ["{ANGGOTA}"]
provinsi = "{PROVINSI}"
provinsi_ticket_pattern = '\\[Tiket#(\\d+)\\]'

[reports]
progress_to = ["{KETUA}", "{ANGGOTA}"]
recap_to = ["{KETUA}", "{SEKRETARIS}", "{ANGGOTA}"]

[parties]
registry = "parties-local.toml"

[logging]
level = "WARNING"

[[officers]]
name = "{RINA}"
email = "rina.wulandari@kpu-mesuji.example.org"
role = "anggota-helpdesk"

[[officers]]
name = "{AHMAD}"
email = "ahmad.fauzi@kpu-mesuji.example.org"
role = "anggota-kpu"
"""


def progress_csv(taken_at: datetime) -> str:
    """The documented format (docs/progress-csv.md): Indonesian Excel, ';' and '1.234'."""
    when = taken_at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
    lines = ["partai;pengurus;anggota;kantor;waktu"]
    for party, officials, members, offices in PROGRESS_ROWS:
        lines.append(f"{party};{officials};{members:,};{offices};{when}".replace(",", "."))
    return "\n".join(lines) + "\n"


def dashboard_png(width: int = 360, height: int = 200) -> bytes:
    """A small stand-in for a Sipol dashboard screenshot: one bar per party (members)."""
    bg, axis = (245, 247, 250), (60, 60, 60)
    colours = [(0, 121, 64), (153, 27, 30), (206, 17, 38), (247, 199, 0), (0, 51, 153), (220, 0, 110)]
    top = max(r[2] for r in PROGRESS_ROWS)
    pixels = [[bg] * width for _ in range(height)]
    base, left = height - 20, 20
    for x in range(left, width - 10):
        pixels[base][x] = axis
    slot = (width - left - 20) // len(PROGRESS_ROWS)
    for i, row in enumerate(PROGRESS_ROWS):
        h = int((base - 20) * row[2] / top)
        x0 = left + 10 + i * slot
        for y in range(base - h, base):
            for x in range(x0, x0 + slot - 14):
                pixels[y][x] = colours[i % len(colours)]
    raw = b"".join(b"\x00" + bytes(c for px in line for c in px) for line in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


# --- the story ----------------------------------------------------------------------------


@dataclass
class CliResult:
    code: int
    out: str
    err: str


class Story:
    def __init__(self, folder: Path, out: TextIO, imap: DemoImapServer, smtp: DemoSmtpServer) -> None:
        self.folder, self.out, self.imap, self.smtp = folder, out, imap, smtp
        self.settings = folder / "settings.toml"
        self.step_no = 0
        self.step_title = "persiapan"
        self.delivered = 0
        self.tickets: dict[str, dict] = {}   # story key -> ticket summary
        self.reports: list[Path] = []
        self.recap_date: date | None = None
        self.started_on = datetime.now(ZONE).date()

    # output
    def step(self, title: str) -> None:
        self.step_no += 1
        self.step_title = title
        print(f"\n[{self.step_no}/{TOTAL_STEPS}] {title}", file=self.out)

    def say(self, text: str = "") -> None:
        print(f"  {text}" if text else "", file=self.out)

    def cmd(self, args: tuple[str, ...]) -> None:
        prefix = f"{self.folder}{os.sep}"
        words = []
        for a in args:
            if a == "--json":
                continue
            a = a.replace(prefix, "")
            if len(a) > 60:  # long --message texts: the start is enough on screen
                a = a[:57].rstrip() + "..."
            words.append(a if a and " " not in a and '"' not in a and "\n" not in a
                         else json.dumps(a, ensure_ascii=False))
        shown = " ".join(words)
        print(f"  $ kpudesk {shown}", file=self.out)

    def show(self, text: str) -> None:
        for line in text.rstrip("\n").splitlines():
            print(f"    | {line}", file=self.out)

    # the CLI, in this process
    def run(self, *args: str, quiet: bool = False) -> CliResult:
        from .cli import main

        if not quiet:
            self.cmd(args)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(["--config", str(self.settings), *args])
            except SystemExit as exc:
                code = int(exc.code or 0)
        r = CliResult(code, out.getvalue(), err.getvalue())
        expect(r.code == 0, f"`kpudesk {' '.join(args)}` keluar dengan kode {r.code}: {r.err.strip() or r.out.strip()}")
        return r

    def json(self, *args: str, quiet: bool = False) -> Any:
        r = self.run(*args, "--json", quiet=quiet)
        try:
            return json.loads(r.out)
        except ValueError:
            raise DemoFailed(f"`kpudesk {' '.join(args)} --json` tidak mengeluarkan JSON: {r.out[:200]!r}") from None

    def deliver(self, folder: str, raw: bytes) -> None:
        self.imap.deliver(folder, raw)
        self.delivered += 1
        inbox = self.folder / "masuk"
        inbox.mkdir(exist_ok=True)
        (inbox / f"{self.delivered:03d}-{folder.lower()}.eml").write_bytes(raw)

    def poll(self, **expected: int) -> dict:
        stats = self.json("poll")
        for key, value in expected.items():
            expect(stats.get(key) == value, f"poll: {key} diharapkan {value}, ternyata {stats.get(key)} ({stats})")
        return stats

    def send(self, expected: int) -> list[Received]:
        before = len(self.smtp.messages)
        stats = self.json("send")
        expect(stats["sent"] == expected and stats["pending"] == 0 and stats["failed"] == 0,
               f"send: diharapkan {expected} surel terkirim dan antrean kosong, ternyata {stats}")
        got = self.smtp.since(before)
        expect(len(got) == expected, f"server SMTP menerima {len(got)} surel, diharapkan {expected}")
        return got

    def ticket(self, key: str) -> dict:
        return self.json("tickets", "show", str(self.tickets[key]["id"]), quiet=True)

    def to(self, received: list[Received], addr: str) -> list[Received]:
        return [r for r in received if addr in r.rcpt_tos]

    # -----------------------------------------------------------------------------------

    def play(self) -> None:
        self.prepare()
        self.arrive()
        self.first_poll()
        self.acknowledgements()
        self.answers()
        self.escalate_anggota()
        self.escalate_provinsi()
        self.party_reply()
        self.progress()
        self.reports_step()

    def prepare(self) -> None:
        self.step("Menyiapkan folder demo dan server surel lokal (hanya 127.0.0.1)")
        self.say(f"Folder demo : {self.folder}")
        self.say(f"Server IMAP : {self.imap.host}:{self.imap.port} (pymap, kotak surat di memori; "
                 f"folder INBOX dan Spam)")
        self.say(f"Server SMTP : {self.smtp.host}:{self.smtp.port} (aiosmtpd; tiap surel yang diterima "
                 f"disimpan di terkirim/NNN.eml)")
        self.say("Ditulis     : settings.toml, parties-local.toml (alamat LO partai), imap-password")
        self.say("Semua alamat memakai domain contoh (example.org); tidak ada surel yang keluar dari komputer ini.")
        r = self.run("check")
        self.show(r.out)
        expect("login berhasil" in r.out, "`kpudesk check` tidak melaporkan login IMAP yang berhasil")

    def arrive(self) -> None:
        self.step("Surel partai masuk ke kotak surat helpdesk")
        for m in PARTY_MAILS:
            frm = f"{m.name} <{m.sender}>"
            verdict = "spf=softfail dkim=none dmarc=fail" if m.key == "promo" else "dmarc=pass"
            self.deliver(m.folder, _mail(frm, m.subject, m.body, verdict=verdict))
            where = "INBOX" if m.folder == "INBOX" else "Spam "
            note = f"  [{m.note}]" if m.note else ""
            self.say(f"{where} <- {frm}: \u201c{m.subject}\u201d{note}")
        self.say(f"{len(PARTY_MAILS)} surel dikirim ke server IMAP (APPEND), salinannya di masuk/.")

    def first_poll(self) -> None:
        self.step("kpudesk poll: surel menjadi tiket (INBOX lalu Spam)")
        stats = self.poll(fetched=5, tickets_created=3, spam_rescued=0, spam_held=2, quarantined=0)
        self.say(f"Diambil {stats['fetched']} surel: {stats['tickets_created']} tiket baru, "
                 f"{stats['spam_held']} ditahan di folder Spam (tidak ada yang dibalas).")
        # The SOP: officers check the spam folder too. A new mail is never rescued from
        # spam by its From: line alone (anyone can write one): an officer releases it.
        held = self.json("spam", "list", quiet=True)
        expect(sorted(h["from"] for h in held) == sorted([WAYAN, PROMO]), f"spam yang ditahan: {held}")
        (wayan_held,) = [h for h in held if h["from"] == WAYAN]
        r = self.run("spam", "release", str(wayan_held["id"]), "--as", RINA)
        self.show(r.out)
        self.say(f"Petugas memeriksa folder Spam: surel LO NasDem dilepas menjadi tiket; {PROMO} tetap ditahan.")
        listing = self.json("tickets", "list", quiet=True)
        by_requester = {t["requester"]: t for t in listing}
        for m in PARTY_MAILS:
            if m.key != "promo":
                expect(m.sender in by_requester, f"tidak ada tiket untuk {m.sender}")
                self.tickets[m.key] = by_requester[m.sender]
        expect(len(listing) == 4, f"diharapkan 4 tiket, ternyata {len(listing)}")
        for m in PARTY_MAILS:
            t = self.tickets.get(m.key)
            if t is None:
                continue
            expect(t["status"] == "baru", f"{t['ref']}: status {t['status']}, diharapkan baru")
            faq = t["flags"].get("faq") or []
            hint = "tidak ada di FAQ" if t["flags"].get("faq_miss") else f"saran FAQ {faq[0]['id']}" if faq else ""
            extra = ", dari folder Spam" if t.get("from_spam") else ""
            self.say(f"  tiket baru {t['ref']}  {t['party'] or '-':<9} {m.name:<15} \u201c{t['subject']}\u201d "
                     f"({hint}{extra})")
        expect(self.tickets["wayan"]["party"] == "NasDem" and self.tickets["wayan"]["from_spam"],
               "surel LO NasDem yang dilepas dari Spam seharusnya menjadi tiket dan dikenali partainya")
        expect(self.tickets["dedi"]["party"] == "Gerindra", "LO Gerindra terdaftar seharusnya dikenali partainya")
        held = self.json("spam", "list")
        expect([h["from"] for h in held] == [PROMO], f"spam yang ditahan: {[h['from'] for h in held]}")
        self.say(f"1 spam ditahan (tanpa tiket, tanpa balasan): {PROMO}")

    def acknowledgements(self) -> None:
        self.step("kpudesk send: tanda terima untuk setiap tiket baru")
        got = self.send(4)
        for key, t in self.tickets.items():
            acks = self.to(got, t["requester"])
            expect(len(acks) == 1, f"{t['ref']}: diharapkan 1 tanda terima, ternyata {len(acks)}")
            ack = acks[0].message
            expect(ack["Auto-Submitted"] == "auto-replied" and t["ref"] in str(ack["Subject"]),
                   f"{t['ref']}: tanda terima tanpa Auto-Submitted atau tanpa nomor tiket di subjek")
            self.say(f"  {acks[0].path.name} -> {t['requester']}: \u201c{ack['Subject']}\u201d")
        expect(not self.to(self.smtp.messages, PROMO), "spam yang ditahan tidak boleh dibalas")
        self.say("4 tanda terima terkirim (satu per tiket baru); spam tidak dibalas.")

    def answers(self) -> None:
        self.step("Petugas menjawab: dari FAQ Sipol, dan satu jawaban langsung lalu ditutup")
        budi = self.tickets["budi"]
        shown = self.ticket("budi")
        self.cmd(("tickets", "show", str(budi["id"])))
        expect(shown["faq_covered"] and shown["faq_suggestions"],
               f"{budi['ref']}: pertanyaan ini seharusnya ada di FAQ Sipol")
        top = shown["faq_suggestions"][0]
        self.say(f"Saran FAQ teratas untuk {budi['ref']}: {top['id']} (skor {top['score']:.2f}) "
                 f"\u201c{top['question']}\u201d")
        self.run("tickets", "reply", str(budi["id"]), "--faq", top["id"], "--as", RINA,
                 "--message", "Terima kasih atas pertanyaannya, Pak Budi. Berikut jawaban dari FAQ Sipol:")
        wayan = self.tickets["wayan"]
        self.run("tickets", "reply", str(wayan["id"]), "--as", RINA, "--message", WAYAN_ANSWER)
        self.run("tickets", "close", str(wayan["id"]), "--as", RINA,
                 "--reason", "LO mengonfirmasi lewat telepon bahwa unggahan berhasil")
        got = self.send(2)
        (answer,) = self.to(got, BUDI)
        expect(answer.message["Auto-Submitted"] is None, "jawaban petugas tidak boleh bertanda Auto-Submitted")
        text = answer.message.get_body(("plain",)).get_content()
        expect(top["id"] in text, f"jawaban {budi['ref']} seharusnya menyebut entri FAQ {top['id']}")
        self.budi_answer_id = answer.message["Message-ID"]
        expect(self.ticket("budi")["status"] == "dijawab", f"{budi['ref']} seharusnya berstatus dijawab")
        expect(self.ticket("wayan")["status"] == "selesai", f"{wayan['ref']} seharusnya berstatus selesai")
        self.say(f"Jawaban {budi['ref']} ({answer.path.name}) dan {wayan['ref']} terkirim; "
                 f"status: {budi['ref']} dijawab, {wayan['ref']} selesai.")

    def escalate_anggota(self) -> None:
        self.step("Pertanyaan di luar FAQ: eskalasi ke Anggota KPU Kabupaten")
        siti = self.tickets["siti"]
        expect(siti["flags"].get("faq_miss"), f"{siti['ref']}: seharusnya tidak ada di FAQ Sipol")
        self.say(f"{siti['ref']} \u201c{siti['subject']}\u201d: tidak ada di FAQ Sipol -> eskalasi (SOP).")
        self.run("tickets", "escalate", str(siti["id"]), "--to", "anggota", "--as", RINA,
                 "--message", "Mohon arahan: pengurus partai diangkat menjadi perangkat desa.")
        expect(self.ticket("siti")["status"] == "eskalasi-anggota", "status seharusnya eskalasi-anggota")
        got = self.send(1)
        (esc,) = self.to(got, ANGGOTA)
        self.say(f"Surel eskalasi ke {ANGGOTA} ({esc.path.name}): \u201c{esc.message['Subject']}\u201d")
        # The member answers from Outlook: "RE:" and our Message-ID in In-Reply-To.
        self.deliver("INBOX", _mail(f"Hendra Saputra <{ANGGOTA}>", f"RE: {esc.message['Subject']}", ANGGOTA_REPLY,
                                    in_reply_to=esc.message["Message-ID"], references=esc.message["Message-ID"]))
        self.say("Anggota KPU membalas (In-Reply-To = Message-ID surel eskalasi kita).")
        self.poll(fetched=1, tickets_created=0, messages_added=1)
        shown = self.ticket("siti")
        internal = [m for m in shown["messages"] if m["direction"] == "internal" and m["from"] == ANGGOTA]
        expect(len(internal) == 1 and shown["flags"].get("escalation_answer") == "anggota",
               "balasan Anggota KPU seharusnya masuk ke tiket yang sama sebagai pesan internal")
        self.say(f"Balasan Anggota masuk ke {siti['ref']} sebagai pesan internal (tidak diteruskan otomatis "
                 f"ke partai); status kembali \u201c{shown['status']}\u201d: tiket menunggu tindak lanjut petugas.")

    def escalate_provinsi(self) -> None:
        self.step("Eskalasi ke KPU Provinsi, jawaban Provinsi, dan petugas meneruskannya")
        siti = self.tickets["siti"]
        self.run("tickets", "escalate", str(siti["id"]), "--to", "provinsi", "--as", AHMAD,
                 "--message", "Mohon petunjuk KPU Provinsi atas pertanyaan berikut.")
        expect(self.ticket("siti")["status"] == "eskalasi-provinsi", "status seharusnya eskalasi-provinsi")
        got = self.send(2)
        (esc,) = self.to(got, PROVINSI)
        (notice,) = self.to(got, SITI)
        self.say(f"Eskalasi oleh {AHMAD} (peran anggota-kpu) ke {PROVINSI} ({esc.path.name}); "
                 f"pemberitahuan singkat ke partai ({notice.path.name}).")
        self.deliver("INBOX", _mail(f"Helpdesk KPU Provinsi Lampung <{PROVINSI}>",
                                    f"[Tiket#{PROVINSI_NUMBER}] RE: {esc.message['Subject']}", PROVINSI_ACK,
                                    in_reply_to=esc.message["Message-ID"]))
        self.poll(fetched=1, tickets_created=0, messages_added=1)
        shown = self.ticket("siti")
        prov = [e for e in shown["escalations"] if e["to"] == "provinsi"]
        expect(prov and prov[0]["external_ref"] == PROVINSI_NUMBER,
               f"nomor tiket Provinsi {PROVINSI_NUMBER} seharusnya tercatat pada eskalasi")
        self.say(f"Provinsi membalas dengan nomor tiketnya sendiri [Tiket#{PROVINSI_NUMBER}]; nomor itu dicatat.")
        # The final answer carries only the Provinsi's number: no In-Reply-To, no [HD-MSJ #n].
        self.deliver("INBOX", _mail(f"Helpdesk KPU Provinsi Lampung <{PROVINSI}>",
                                    f"[Tiket#{PROVINSI_NUMBER}] Jawaban: pengurus merangkap perangkat desa",
                                    PROVINSI_ANSWER + "\n\nHelpdesk KPU Provinsi Lampung\n"))
        self.poll(fetched=1, tickets_created=0, messages_added=1)
        shown = self.ticket("siti")
        expect(any(PROVINSI_ANSWER[:40] in m["text"] for m in shown["messages"] if m["direction"] == "internal"),
               "jawaban Provinsi seharusnya masuk ke tiket lewat nomor tiket Provinsi")
        expect(shown["flags"].get("escalation_answer") == "provinsi", "tiket seharusnya ditandai: jawaban Provinsi diterima")
        self.say(f"Jawaban Provinsi (hanya membawa [Tiket#{PROVINSI_NUMBER}]) masuk ke {siti['ref']}.")
        self.run("tickets", "reply", str(siti["id"]), "--as", RINA, "--message", RELAY)
        got = self.send(1)
        (relay,) = self.to(got, SITI)
        expect(self.ticket("siti")["status"] == "dijawab", f"{siti['ref']} seharusnya berstatus dijawab")
        self.say(f"Jawaban diteruskan ke {SITI} ({relay.path.name}); status {siti['ref']}: dijawab.")

    def party_reply(self) -> None:
        self.step("Partai membalas jawaban: tiket dibuka kembali")
        budi = self.tickets["budi"]
        self.deliver("INBOX", _mail(f"Budi Santoso <{BUDI}>", f"Re: [{budi['ref']}] {budi['subject']}", BUDI_FOLLOWUP,
                                    in_reply_to=self.budi_answer_id, references=self.budi_answer_id))
        self.poll(fetched=1, tickets_created=0, messages_added=1)
        shown = self.ticket("budi")
        expect(shown["status"] == "baru", f"{budi['ref']}: status {shown['status']}, diharapkan baru (dibuka kembali)")
        expect(any(e["kind"] == "ticket.reopened" for e in shown["events"]),
               f"{budi['ref']}: riwayat seharusnya mencatat ticket.reopened")
        self.say(f"Balasan Budi masuk ke {budi['ref']} (bukan tiket baru); status dijawab -> baru, "
                 f"kembali ke antrean petugas.")

    def progress(self) -> None:
        self.step("Impor progres pengisian data Sipol (CSV + tangkapan layar dasbor)")
        csv_path = self.folder / "progres-sipol.csv"
        png_path = self.folder / "dasbor-sipol.png"
        csv_path.write_text(progress_csv(datetime.now(ZONE) - timedelta(minutes=15)), encoding="utf-8")
        png_path.write_bytes(dashboard_png())
        self.say(f"Ditulis: {csv_path.name} ({len(PROGRESS_ROWS)} partai, format docs/progress-csv.md) "
                 f"dan {png_path.name}")
        imp = self.json("progress", "import", str(csv_path), "--evidence", str(png_path), "--as", RINA)
        expect(imp["rows"] == len(PROGRESS_ROWS) and len(imp["evidence"]) == 1,
               f"impor progres: {imp['rows']} baris dan {len(imp['evidence'])} bukti, diharapkan "
               f"{len(PROGRESS_ROWS)} dan 1")
        self.say(f"Impor progres #{imp['id']}: {imp['rows']} partai, 1 bukti ({imp['evidence'][0]['size']} bita, "
                 f"sha256 {imp['evidence'][0]['sha256'][:12]}...).")

    def reports_step(self) -> None:
        self.step("Laporan progres Sipol dan rekapitulasi harian")
        p = self.json("report", "progress", "--send")
        r = self.json("report", "recap", "--send")
        got = self.send(2)
        out_dir = self.folder / "laporan"
        out_dir.mkdir(exist_ok=True)
        for item, name in ((p, "progres"), (r, "rekap")):
            matches = [g for g in got if str(g.message["Subject"]) == item["subject"]]
            expect(len(matches) == 1, f"laporan \u201c{item['subject']}\u201d tidak sampai di server SMTP")
            msg = matches[0].message
            text = msg.get_body(("plain",))
            html = msg.get_body(("html",))
            expect(text is not None and html is not None, f"laporan {name} seharusnya berisi teks dan HTML")
            (out_dir / f"{name}.txt").write_text(text.get_content(), encoding="utf-8")
            (out_dir / f"{name}.html").write_text(html.get_content(), encoding="utf-8")
            self.reports += [out_dir / f"{name}.txt", out_dir / f"{name}.html"]
            attached = [a.get_filename() for a in msg.iter_attachments() if a.get_filename()]
            extra = f"; lampiran: {', '.join(attached)}" if attached else ""
            self.say(f"{matches[0].path.name} -> {', '.join(item['to'])}: \u201c{item['subject']}\u201d{extra}")
            if name == "progres":
                expect("dasbor-sipol.png" in attached, "laporan progres seharusnya melampirkan bukti dasbor")
        self.recap_date = datetime.now(ZONE).date()
        recap = self.json("report", "recap", "--date", self.recap_date.isoformat(), quiet=True)
        t = recap["totals"]
        self.say(f"Rekap hari ini: {t['new']} tiket baru, {t['answered']} tiket dijawab, {t['escalated']} "
                 f"dieskalasi, {t['closed']} selesai, {t['reopened']} dibuka kembali.")
        if self.recap_date == self.started_on:  # a demo that runs across midnight WIB splits its day
            expect(t["new"] == 4 and t["escalated"] == 1 and t["closed"] == 1 and t["reopened"] == 1,
                   f"rekap: angka tidak sesuai cerita demo: {t}")
        self.say("Laporan juga disimpan sebagai teks dan HTML di laporan/.")


def summary(story: Story, out: TextIO, elapsed: float, *, keep: bool = True) -> None:
    folder = story.folder
    listing = story.run("tickets", "list", quiet=True).out
    statuses = {k: story.ticket(k)["status"] for k in story.tickets}
    expected = {"budi": "baru", "dedi": "baru", "siti": "dijawab", "wayan": "selesai"}
    expect(statuses == expected, f"status akhir tiket {statuses}, diharapkan {expected}")
    sent = sorted((folder / "terkirim").glob("*.eml"))
    expect(len(sent) == len(story.smtp.messages) == 12,
           f"diharapkan 12 surel terkirim, server SMTP menerima {len(story.smtp.messages)}")
    print("\nRingkasan", file=out)
    print("  $ kpudesk tickets list", file=out)
    for line in listing.rstrip("\n").splitlines():
        print(f"    | {line}", file=out)
    print(f"  {len(story.tickets)} tiket, {len(sent)} surel terkirim (4 tanda terima, 4 jawaban/pemberitahuan, "
          f"2 eskalasi, 2 laporan), 1 spam ditahan. Selesai dalam {elapsed:.1f} detik.", file=out)
    if not keep:
        return
    print(f"\nLihat hasilnya di: {folder}", file=out)
    rows = [
        ("settings.toml", "pengaturan demo (valid; dipakai perintah di bawah)"),
        ("state/kpudesk.db", "basis data tiket (SQLite); state/archive/ berisi surel mentah dan bukti"),
        ("masuk/", f"{story.delivered} surel yang dikirim partai, Anggota, dan Provinsi"),
        ("terkirim/", f"{len(sent)} surel yang dikirim helpdesk (001.eml ... {len(sent):03d}.eml)"),
        ("laporan/", "laporan progres dan rekap harian (.txt dan .html)"),
        ("progres-sipol.csv, dasbor-sipol.png", "data progres yang diimpor"),
    ]
    width = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"  {a:<{width}}  {b}", file=out)
    cfg = shlex.quote(str(folder / "settings.toml"))
    first = story.tickets["budi"]["id"]
    print("\nJelajahi dengan:", file=out)
    for c in ("tickets list", f"tickets show {first}", f"tickets show {story.tickets['siti']['id']}", "spam list",
              f"report recap --date {story.recap_date.isoformat() if story.recap_date else date.today().isoformat()}",
              "report progress"):
        print(f"  kpudesk --config {cfg} {c}", file=out)
    print("Server demo sudah dimatikan: `poll` dan `send` pada folder ini akan melapor server tidak dapat "
          "dihubungi (kode 75).", file=out)


def _prepare_folder(directory: Path | None) -> Path:
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="kpudesk-demo-")).resolve()
    folder = directory.expanduser().resolve()
    if folder.exists():
        if not folder.is_dir():
            raise DemoFailed(f"{folder} bukan folder")
        if any(folder.iterdir()):
            raise DemoFailed(f"folder {folder} tidak kosong; pilih folder baru atau kosong untuk --dir")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_demo(keep: bool = True, out: TextIO = sys.stdout, directory: Path | str | None = None) -> int:
    """Run the whole demonstration; 0 when every step went as expected, 1 otherwise.

    The folder is kept by default (the point is to look at it); `keep=False` deletes it.
    """
    from .logsetup import configure_logging

    started = time.monotonic()
    print("Demo kpudesk: satu hari helpdesk Sipol KPU Kabupaten Mesuji, dari surel masuk sampai laporan.",
          file=out)
    print("Semua data fiktif. Tidak perlu settings.toml, server surel, maupun hak root.", file=out)
    try:
        folder = _prepare_folder(Path(directory) if directory is not None else None)
    except (DemoFailed, OSError) as exc:
        print(f"\nkpudesk demo: {exc}", file=out)
        return 1
    story: Story | None = None
    code = 0
    with contextlib.ExitStack() as stack:
        try:
            password = secrets.token_urlsafe(18)
            pw_file = folder / "imap-password"
            pw_file.write_text(password + "\n", encoding="utf-8")
            os.chmod(pw_file, 0o600)
            (folder / "parties-local.toml").write_text(PARTIES_LOCAL, encoding="utf-8")
            imap = DemoImapServer(HELPDESK, password)
            stack.callback(imap.stop)
            imap.start()
            imap.create_folder("Spam")
            smtp = DemoSmtpServer(folder / "terkirim")
            stack.callback(smtp.stop)
            smtp.start()
            (folder / "settings.toml").write_text(settings_text(imap.port, smtp.port), encoding="utf-8")
            story = Story(folder, out, imap, smtp)
            story.play()
            summary(story, out, time.monotonic() - started, keep=keep)
        except DemoFailed as exc:
            where = f"langkah {story.step_no} ({story.step_title})" if story else "persiapan"
            print(f"\nDEMO GAGAL pada {where}: {exc}", file=out)
            code = 1
        except Exception as exc:  # noqa: BLE001 - a bug or an environment problem: say what
            where = f"langkah {story.step_no} ({story.step_title})" if story else "persiapan"
            print(f"\nDEMO GAGAL pada {where}: galat tak terduga {type(exc).__name__}: {exc}", file=out)
            traceback.print_exc(file=sys.stderr)
            code = 1
        finally:
            configure_logging("WARNING")  # the CLI calls above pointed logging at their captured stderr
    if code:
        print(f"Folder demo dibiarkan untuk diperiksa: {folder}", file=out)
    elif not keep:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"\nFolder demo dihapus (--cleanup): {folder}", file=out)
    return code
