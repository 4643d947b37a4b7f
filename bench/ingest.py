"""Ingest throughput, memory and idle-poll cost of `kpudesk poll` against a real Dovecot.

    python bench/ingest.py [--n 10000] [--repeat 1] [--seed 20240214] [--profile] [--keep]

Run from the repository root (the script puts it on sys.path for `tests.*`). What it does:

1. starts a throw-away Dovecot (tests/servers/dovecot.py), creates a user and loads N
   generated messages into INBOX with MULTIAPPEND. The corpus is deterministic (fixed
   seed): Indonesian party questions from N/5 senders at the 18 national parties' domains, bodies
   1-20 KB (log-uniform, so most mail is small), ~20 % replies with In-Reply-To/References
   to an earlier message of the corpus (quoting it), ~2 % with a small PDF/JPEG attachment,
   ~3 % auto-replies (Auto-Submitted: auto-replied);
2. baseline, same run, same mailbox: raw imapclient -- login, EXAMINE INBOX, UID FETCH
   BODY.PEEK[] in batches of 200 -- timed alone ("fetch"), then again with
   `mailparser.parse_from_bytes` on every message ("fetch+parse");
3. `python -m kpudesk.daemon --config <tmp> poll --json` as a subprocess (settings as in
   tests/desk.py, batch_size 200, SQLite + archive in a fresh temp dir): wall time,
   CPU time, peak RSS (GNU time %M; see run_poll for why not ru_maxrss) and the JSON, which
   must say fetched == N; then, not counted in the poll's time, the first
   `kpudesk tickets list --search` after it, which builds the search index of the polled
   tickets (ingest only notes them as due), timed against a second identical search;
4. idle poll bytes: after a mailbox of 100 messages and the N mailbox have each been
   polled once, one more poll of each through a counting TCP proxy on 127.0.0.1 (kpudesk
   connects to the proxy, the proxy to Dovecot); TCP payload bytes both ways, plus the
   transcript, written to bench/out/;
5. a report on stdout and bench/out/ingest-<timestamp>.json. Dovecot is always stopped.

--repeat R runs R rounds, each the baseline passes then a cold poll (fresh state each
time), keeps the best of each (median is recorded too), and also reports each round's
own poll / fetch+parse ratio. --profile also runs one extra cold poll under
cProfile (bench/out/poll-<N>.prof; main thread only -- the IMAP prefetch thread is not
profiled) and prints the top functions by cumulative and by own time.

Goals (bench/README.md): poll msg/s >= 0.6 x baseline fetch+parse msg/s at N=10,000; peak
RSS <= 200 MB; idle poll bytes independent of the mailbox size.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import pstats
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import mailparser  # noqa: E402
from imapclient import IMAPClient  # noqa: E402

from tests.corpus.hostile import party_mail  # noqa: E402
from tests.desk import settings_text  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402

OUT = ROOT / "bench" / "out"
WIB = timezone(timedelta(hours=7), "WIB")
BATCH = 200
GOAL_RATIO = 0.6
GOAL_RSS_MB = 200
PASSWORD_ENV = "KPUDESK_BENCH_IMAP_PASSWORD"

# --------------------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------------------

PARTIES = [
    ("pkb", "Partai Kebangkitan Bangsa", "PKB"), ("gerindra", "Partai Gerakan Indonesia Raya", "Gerindra"),
    ("pdiperjuangan", "Partai Demokrasi Indonesia Perjuangan", "PDI Perjuangan"),
    ("golkar", "Partai Golongan Karya", "Golkar"), ("nasdem", "Partai Nasional Demokrat", "NasDem"),
    ("partaiburuh", "Partai Buruh", "Partai Buruh"), ("gelora", "Partai Gelombang Rakyat Indonesia", "Gelora"),
    ("pks", "Partai Keadilan Sejahtera", "PKS"), ("pkn", "Partai Kebangkitan Nusantara", "PKN"),
    ("hanura", "Partai Hati Nurani Rakyat", "Hanura"), ("garuda", "Partai Garda Perubahan Indonesia", "Garuda"),
    ("pan", "Partai Amanat Nasional", "PAN"), ("pbb", "Partai Bulan Bintang", "PBB"),
    ("demokrat", "Partai Demokrat", "Demokrat"), ("psi", "Partai Solidaritas Indonesia", "PSI"),
    ("perindo", "Partai Persatuan Indonesia", "Perindo"), ("ppp", "Partai Persatuan Pembangunan", "PPP"),
    ("ummat", "Partai Ummat", "Ummat"),
]
FIRST = ["Budi", "Siti", "Ahmad", "Dewi", "Rina", "Agus", "Sri", "Hendra", "Yuli", "Eko", "Nur", "Wahyu",
         "Fitri", "Rudi", "Ani", "Joko", "Lestari", "Bambang", "Ratna", "Imam", "Dian", "Slamet", "Putri",
         "Andi", "Kartika", "Teguh", "Maya", "Arif", "Indah", "Yusuf", "Nining", "Dedi", "Wulan", "Fajar"]
LAST = ["Santoso", "Rahmawati", "Hidayat", "Lestari", "Saputra", "Wijaya", "Kurniawan", "Pratama", "Susanti",
        "Setiawan", "Nugroho", "Handayani", "Gunawan", "Purnama", "Siregar", "Harahap", "Nasution",
        "Simanjuntak", "Syahputra", "Maulana", "Ramadhan", "Fauzi", "Hasibuan", "Utami"]
ROLES = ["Sekretaris DPC", "Ketua DPC", "Admin Sipol", "LO", "Bendahara DPC", "Wakil Sekretaris",
         "Operator Sipol", "Staf Sekretariat"]
QUESTIONS = [
    ("Tidak bisa login Sipol", "Kami tidak bisa login ke Sipol sejak pagi, muncul pesan kata sandi salah "
     "padahal sudah benar. Mohon bantuan reset akun admin kami."),
    ("Unggah KTA gagal", "Setiap kali mengunggah KTA anggota ke Sipol muncul galat ukuran berkas. Berapa "
     "ukuran maksimal berkas KTA yang diterima?"),
    ("Pertanyaan kantor tetap", "Apakah kantor tetap DPC harus milik sendiri atau boleh sewa? Dokumen apa "
     "yang perlu diunggah sebagai bukti?"),
    ("Jadwal verifikasi faktual", "Kapan jadwal verifikasi faktual keanggotaan di Kabupaten Mesuji? Apakah "
     "sampel anggota diberitahukan sebelumnya?"),
    ("Anggota ganda", "Di Sipol ada anggota kami yang tercatat ganda dengan partai lain. Bagaimana cara "
     "menyelesaikannya dan apa dokumen klarifikasinya?"),
    ("Keterwakilan perempuan", "Berapa persen keterwakilan perempuan yang wajib di kepengurusan tingkat "
     "kabupaten, dan bagaimana cara menghitungnya?"),
    ("Perbaikan data kepengurusan", "Kami ingin mengganti sekretaris DPC di Sipol. Apakah perlu SK baru dari "
     "DPP dan bagaimana prosedurnya?"),
    ("Status Belum Memenuhi Syarat", "Sebagian anggota kami berstatus BMS di Sipol. Apa arti status ini dan "
     "apa yang harus kami lakukan pada masa perbaikan?"),
    ("Surat penunjukan LO", "Mohon informasi format surat penunjukan petugas penghubung (LO) untuk KPU "
     "Kabupaten Mesuji."),
    ("Berita acara verifikasi", "Kapan kami bisa menerima salinan berita acara hasil verifikasi administrasi "
     "tingkat kabupaten?"),
    ("Akun Sipol terkunci", "Akun operator Sipol kami terkunci setelah tiga kali salah memasukkan kode OTP. "
     "Siapa yang bisa membuka kuncinya?"),
    ("Domisili anggota", "Anggota kami pindah domisili ke kabupaten lain. Apakah tetap dihitung untuk "
     "keanggotaan di Mesuji?"),
    ("Pengumuman hasil verifikasi", "Di mana kami bisa melihat pengumuman resmi hasil verifikasi partai "
     "politik untuk Kabupaten Mesuji?"),
    ("Dokumen rekening partai", "Apakah rekening atas nama partai harus dibuka di tingkat kabupaten atau cukup "
     "rekening DPP?"),
]
FILLER = [
    "Kami sudah mencoba beberapa kali pada jam yang berbeda namun hasilnya tetap sama.",
    "Sebagai informasi, pengurus kami di kecamatan juga mengalami kendala serupa minggu lalu.",
    "Kami khawatir tenggat tahapan sudah dekat sehingga mohon dapat ditindaklanjuti segera.",
    "Data yang kami masukkan sudah sesuai dengan KTP-el dan kartu tanda anggota yang berlaku.",
    "Operator kami sudah mengikuti bimbingan teknis yang diadakan KPU Provinsi Lampung.",
    "Jika diperlukan, kami siap datang ke kantor KPU Kabupaten Mesuji untuk berkonsultasi langsung.",
    "Kami lampirkan keterangan tambahan di bawah ini agar petugas dapat memahami persoalannya.",
    "Mohon maaf apabila pertanyaan ini sudah pernah dijawab sebelumnya di grup koordinasi.",
    "Beberapa anggota kami tinggal di desa yang jauh sehingga sulit dihubungi untuk klarifikasi.",
    "Kami juga ingin memastikan apakah ketentuan ini sama dengan pemilu sebelumnya atau sudah berubah.",
    "Selain itu, tampilan dasbor Sipol kami tidak menampilkan jumlah anggota yang sudah diverifikasi.",
    "Kami mencatat nomor tiket dari helpdesk KPU RI tetapi belum ada tanggapan sampai hari ini.",
    "Daftar anggota sudah kami cetak dan tanda tangani oleh ketua serta sekretaris DPC.",
    "Kami berharap ada penjelasan tertulis agar dapat kami sampaikan kepada pengurus di kecamatan.",
    "Perlu kami sampaikan bahwa koneksi internet di sekretariat kami kadang tidak stabil.",
    "Kami menggunakan peramban Chrome versi terbaru dan sudah menghapus cache serta cookie.",
    "Berkas pindaian kami buat dengan resolusi 300 dpi dalam format PDF sesuai petunjuk.",
    "Terima kasih atas kerja sama dan pendampingan KPU selama tahapan pendaftaran ini.",
    "Rekan kami dari partai lain menyarankan agar kami menghubungi helpdesk melalui surel ini.",
    "Kami tetap memantau pengumuman di laman resmi KPU setiap hari untuk informasi terbaru.",
]
AUTO_REPLY_BODIES = [
    "Terima kasih atas surel Anda. Saya sedang dinas luar sampai hari Senin dan akan membalas setelahnya.",
    "Pesan ini dibalas otomatis. Sekretariat DPC sedang libur; untuk hal mendesak hubungi kantor.",
    "I am out of the office. / Saya sedang cuti dan akses surel terbatas.",
]


@dataclass
class Sender:
    name: str
    email: str
    party: str
    short: str
    role: str
    phone: str


@dataclass
class CorpusInfo:
    n: int
    seed: int
    senders: int
    bytes: int
    replies: int = 0
    attachments: int = 0
    auto_replies: int = 0
    min_size: int = 0
    median_size: int = 0
    max_size: int = 0
    non_ascii: int = 0
    sizes: list[int] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d.pop("sizes")
        return d


def _senders(rng: random.Random, count: int) -> list[Sender]:
    out, seen = [], set()
    while len(out) < count:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        slug, party, short = rng.choice(PARTIES)
        local = f"{first}.{last}".lower() + (str(rng.randint(1, 99)) if rng.random() < 0.4 else "")
        domain = rng.choice([f"{slug}.example.org", f"dpc-{slug}-mesuji.example.org", "gmail.example.com"])
        email = f"{local}@{domain}"
        if email in seen:
            continue
        seen.add(email)
        phone = f"08{rng.choice('1235')}{rng.randint(1, 9)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
        out.append(Sender(f"{first} {last}", email, party, short, rng.choice(ROLES), phone))
    return out


def _body(rng: random.Random, s: Sender, question: str, target: int, *, quote: str | None = None) -> str:
    intro = rng.choice([
        f"Yth. Helpdesk KPU Kabupaten Mesuji,\n\nSaya {s.name}, {s.role} {s.party} Kabupaten Mesuji.",
        f"Selamat siang Bapak/Ibu petugas helpdesk,\n\nPerkenalkan, saya {s.name} dari {s.short}.",
        f"Assalamualaikum wr. wb.\n\nDengan hormat, kami dari {s.party} ingin bertanya.",
        "Dengan hormat,",
    ])
    closing = (f"\n\nTerima kasih.\n\nSalam,\n{s.name}\n{s.role} {s.short} Kab. Mesuji\n"
               f"HP/WA {s.phone}\n")
    paras = [intro, textwrap.fill(question, 72)]
    size = sum(len(p) for p in paras) + len(closing) + (len(quote) if quote else 0)
    while size < target:
        para = " ".join(rng.choice(FILLER) for _ in range(rng.randint(2, 5)))
        if rng.random() < 0.05:
            para += " Contoh nama berkas: “Daftar Anggota — Kecamatan Way Serdang.pdf”."
        para = textwrap.fill(para, 72)
        paras.append(para)
        size += len(para) + 2
    text = "\n\n".join(paras) + closing
    if quote:
        text += "\n" + quote
    return text


def _quote(date: datetime, sender: Sender, body: str, limit: int) -> str:
    lines = body.splitlines()
    quoted = "\n".join("> " + ln if ln else ">" for ln in lines)[:limit]
    when = date.strftime("%d/%m/%Y %H.%M")
    return f"Pada {when}, {sender.name} <{sender.email}> menulis:\n{quoted}\n"


def _with_attachment(raw: bytes, rng: random.Random, boundary: str) -> bytes:
    msg = message_from_bytes(raw, _class=EmailMessage, policy=SMTP)
    if rng.random() < 0.5:
        data = b"%PDF-1.4\n" + rng.randbytes(rng.randint(1500, 6000)) + b"\n%%EOF\n"
        msg.add_attachment(data, maintype="application", subtype="pdf", filename="surat-penunjukan-lo.pdf")
    else:
        data = b"\xff\xd8\xff\xe0" + rng.randbytes(rng.randint(1500, 6000)) + b"\xff\xd9"
        msg.add_attachment(data, maintype="image", subtype="jpeg", filename="tangkapan-layar-sipol.jpg")
    msg.set_boundary(boundary)  # the email package would pick a random one
    return msg.as_bytes(policy=SMTP)


def build_corpus(n: int, seed: int) -> tuple[list[bytes], CorpusInfo]:
    """N deterministic messages (same bytes for the same n and seed)."""
    rng = random.Random(seed)
    senders = _senders(rng, max(60, n // 5))
    start = datetime(2024, 2, 1, 7, 0, tzinfo=WIB)
    # earlier originals a reply may point at: (msgid, references, subject, sender, date, body)
    history: list[tuple[str, tuple[str, ...], str, Sender, datetime, str]] = []
    out: list[bytes] = []
    info = CorpusInfo(n=n, seed=seed, senders=len(senders), bytes=0)
    for i in range(n):
        date = start + timedelta(seconds=37 * i + rng.randint(0, 30))
        target = int(1024 * 20 ** rng.random())  # log-uniform 1-20 KB
        roll = rng.random()
        if roll < 0.03:  # auto-reply (out-of-office) to our own earlier mail
            s = rng.choice(senders)
            domain = s.email.rpartition("@")[2]
            raw = party_mail(
                f"{s.name} <{s.email}>", "Balasan otomatis: [HD-MSJ] Pertanyaan Anda telah kami terima",
                rng.choice(AUTO_REPLY_BODIES) + "\n", message_id=f"<bench-{seed}-{i}@{domain}>",
                in_reply_to=f"<ack-{rng.randint(1, 10**6)}@kpu-mesuji.example.org>", date=date,
                extra_headers=[("Auto-Submitted", "auto-replied"), ("X-Autoreply", "yes")])
            info.auto_replies += 1
        elif roll < 0.23 and history:  # a reply in an existing thread
            pid, prefs, psubj, ps, pdate, pbody = history[rng.randrange(max(0, len(history) - 2000), len(history))]
            s = ps if rng.random() < 0.85 else rng.choice(senders)
            domain = s.email.rpartition("@")[2]
            quote = _quote(pdate, ps, pbody, max(200, target // 3))
            question = rng.choice(["Menindaklanjuti pertanyaan kami sebelumnya,",
                                   "Mohon maaf, kami ingin menambahkan keterangan:",
                                   "Sampai hari ini masalahnya belum selesai."]) + " " + rng.choice(QUESTIONS)[1]
            body = _body(rng, s, question, target, quote=quote)
            msgid = f"<bench-{seed}-{i}@{domain}>"
            refs = (prefs + (pid,))[-10:]
            subject = psubj if psubj.startswith("Re: ") else f"Re: {psubj}"
            raw = party_mail(f"{s.name} <{s.email}>", subject, body, message_id=msgid,
                             in_reply_to=pid, references=refs, date=date)
            history.append((msgid, refs, subject, s, date, body))
            info.replies += 1
        else:  # a new question
            s = rng.choice(senders)
            domain = s.email.rpartition("@")[2]
            subj, question = rng.choice(QUESTIONS)
            if rng.random() < 0.5:
                subj = f"{subj} - {s.short} Mesuji"
            body = _body(rng, s, question, target)
            msgid = f"<bench-{seed}-{i}@{domain}>"
            raw = party_mail(f"{s.name} <{s.email}>", subj, body, message_id=msgid, date=date)
            if rng.random() < 0.02:
                raw = _with_attachment(raw, rng, f"=_bench_{seed}_{i}")
                info.attachments += 1
            history.append((msgid, (), subj, s, date, body))
        out.append(raw)
        info.sizes.append(len(raw))
        info.non_ascii += not raw.isascii()
    info.bytes = sum(info.sizes)
    ordered = sorted(info.sizes)
    info.min_size, info.median_size, info.max_size = ordered[0], ordered[len(ordered) // 2], ordered[-1]
    return out, info


# --------------------------------------------------------------------------------------
# counting TCP proxy
# --------------------------------------------------------------------------------------


@dataclass
class ProxiedConnection:
    up: int = 0  # client -> server payload bytes
    down: int = 0  # server -> client payload bytes
    transcript: list[tuple[str, bytes]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


class CountingProxy:
    """127.0.0.1:port -> target; counts TCP payload bytes of every connection both ways."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections: list[ProxiedConnection] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            conn = ProxiedConnection()
            with self._lock:
                self.connections.append(conn)
            remaining = [2]

            def pump(src: socket.socket, dst: socket.socket, direction: str) -> None:
                try:
                    while True:
                        data = src.recv(65536)
                        if not data:
                            break
                        with self._lock:
                            if direction == "C":
                                conn.up += len(data)
                            else:
                                conn.down += len(data)
                            conn.transcript.append((direction, data))
                        dst.sendall(data)
                except OSError:
                    pass
                finally:
                    for s in (dst,):
                        try:
                            s.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                    with self._lock:
                        remaining[0] -= 1
                        last = remaining[0] == 0
                    if last:
                        client.close()
                        server.close()
                        conn.done.set()

            threading.Thread(target=pump, args=(client, server, "C"), daemon=True).start()
            threading.Thread(target=pump, args=(server, client, "S"), daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.connections = []

    def wait_closed(self, timeout: float = 10.0) -> list[ProxiedConnection]:
        deadline = time.monotonic() + timeout
        for c in list(self.connections):
            c.done.wait(max(0.0, deadline - time.monotonic()))
        return list(self.connections)

    def close(self) -> None:
        self._closed = True
        self.sock.close()


_LOGIN_RE = re.compile(r"^(\S+ LOGIN \S+ ).*$", re.IGNORECASE)
_TAG_RE = re.compile(r"^[A-Za-z0-9]+ ")


def transcript_lines(conn: ProxiedConnection) -> list[str]:
    """The session as "C: ..." / "S: ..." lines (the LOGIN password is masked)."""
    out = []
    for direction, data in conn.transcript:
        for ln in data.decode("utf-8", "replace").splitlines():
            if direction == "C":
                ln = _LOGIN_RE.sub(r"\1***", ln)
            out.append(("C: " if direction == "C" else "S: ") + ln)
    return out


_TIMING_RE = re.compile(r" \([0-9.+ ]+ secs\)")


def server_shape(conn: ProxiedConnection) -> list[str]:
    """Server lines with numbers and Dovecot's "(0.001 + 0.000 secs)" timings blanked out."""
    return [re.sub(r"\d+", "N", _TIMING_RE.sub("", _TAG_RE.sub("", ln[3:], count=1)))
            for ln in transcript_lines(conn) if ln.startswith("S: ")]


def client_commands(conn: ProxiedConnection) -> list[str]:
    """The client's commands without their tags, e.g. ['CAPABILITY', 'LOGIN ...', 'EXAMINE "INBOX"']."""
    cmds = []
    for ln in transcript_lines(conn):
        if ln.startswith("C: "):
            cmd = _TAG_RE.sub("", ln[3:], count=1)
            if cmd.upper().startswith("LOGIN "):
                cmd = "LOGIN ***"
            cmds.append(cmd)
    return cmds


# --------------------------------------------------------------------------------------
# baseline: raw imapclient (+ mail-parser)
# --------------------------------------------------------------------------------------


def baseline_pass(user, *, parse: bool) -> dict:
    t0 = time.perf_counter()
    client = IMAPClient(user.host, user.port, ssl=False, timeout=120)
    client.login(user.name, user.password)
    client.select_folder("INBOX", readonly=True)
    uids = sorted(client.search(["ALL"]))
    count = nbytes = 0
    parse_s = 0.0
    for i in range(0, len(uids), BATCH):
        data = client.fetch(uids[i:i + BATCH], [b"BODY.PEEK[]"])
        for uid in sorted(data):
            raw = data[uid][b"BODY[]"]
            count += 1
            nbytes += len(raw)
            if parse:
                p0 = time.perf_counter()
                mailparser.parse_from_bytes(raw)
                parse_s += time.perf_counter() - p0
    client.logout()
    wall = time.perf_counter() - t0
    return {"messages": count, "bytes": nbytes, "seconds": wall, "msg_per_s": count / wall,
            "parse_seconds": parse_s if parse else None}


# --------------------------------------------------------------------------------------
# kpudesk poll in a subprocess
# --------------------------------------------------------------------------------------


WORKERS = 2  # `--workers`: a bench mailbox is a bulk import, the case imap.workers is for


def write_settings(root: Path, user, port: int | None = None, name: str = "settings.toml") -> Path:
    """Settings like tests/desk.py, with the production batch size and `imap.workers`."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    text = settings_text(user, imap_port=port, batch_size=BATCH, password_env=PASSWORD_ENV)
    text = text.replace("\n[smtp]\n", f"workers = {WORKERS}\n\n[smtp]\n", 1)  # the end of [imap]
    path.write_text(text, encoding="utf-8")
    return path


TIME_BIN = "/usr/bin/time"


def _vmhwm_sampler(pid: int, box: list[int], stop: threading.Event) -> None:
    """Fallback without GNU time: sample the child's VmHWM (kB) until it exits."""
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/status") as fh:
                for ln in fh:
                    if ln.startswith("VmHWM:"):
                        box[0] = max(box[0], int(ln.split()[1]))
        except (OSError, ValueError):
            pass
        stop.wait(0.02)


def compile_package() -> str:
    """Write kpudesk's .pyc files, as `pip install` does for an installed package.

    A source checkout run with PYTHONDONTWRITEBYTECODE set (this workplace's machines set
    it) otherwise recompiles every edited module in every poll process, ~0.08 s of CPU a
    start that no deployment pays."""
    import compileall

    ok = all(compileall.compile_dir(ROOT / part, quiet=1) for part in ("daemon", "mailbox", "tickets"))
    return "ok" if ok else "with errors"


def run_poll(settings: Path, user, *, profile_to: Path | None = None) -> dict:
    """`kpudesk poll --json` as a child process: wall seconds, peak RSS, CPU time, its JSON.

    Peak RSS must not come from the child's ru_maxrss (os.wait4 / RUSAGE_CHILDREN): Linux
    starts a child's maxrss at the high-water mark of the memory it was forked from, i.e.
    this bench process with the whole corpus in memory (a 300 MB parent makes `python -c
    pass` report 313 MB). GNU time forks from its own tiny image, so its %M is the poll's
    own peak; without it, the child's /proc VmHWM (its own mm) is sampled every 20 ms.
    """
    cmd = [sys.executable]
    if profile_to is not None:
        cmd += ["-m", "cProfile", "-o", str(profile_to)]
    cmd += ["-m", "kpudesk.daemon", "--config", str(settings), "poll", "--json"]
    use_time = os.access(TIME_BIN, os.X_OK)
    env = {**os.environ, PASSWORD_ENV: user.password}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        if use_time:
            cmd = [TIME_BIN, "-f", "%M", "-o", tf.name, *cmd]
        hwm, stop = [0], threading.Event()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        sampler = None
        if not use_time:
            sampler = threading.Thread(target=_vmhwm_sampler, args=(proc.pid, hwm, stop), daemon=True)
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)  # CPU times include what GNU time reaped
        wall = time.perf_counter() - t0
        stop.set()
        if sampler is not None:
            sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        peak_kb = int(tf.read().split()[-1]) if use_time and proc.returncode == 0 else hwm[0]
    if proc.returncode != 0:
        raise RuntimeError(f"kpudesk poll exited {proc.returncode}:\n{stderr[-4000:]}")
    stdout_json = stdout[stdout.find("{"):]
    return {"seconds": wall, "peak_rss_mb": peak_kb / 1024,
            "rss_method": "GNU time %M" if use_time else "sampled /proc VmHWM",
            "user_s": usage.ru_utime, "sys_s": usage.ru_stime, "stats": json.loads(stdout_json),
            "stderr_lines": stderr.count("\n"), "stderr_tail": stderr[-2000:]}


def run_first_search(settings: Path, user, word: str = "sipol") -> dict:
    """The first search after the poll, as an officer's `kpudesk tickets list --search`: it
    indexes the tickets the poll left due (tickets/search.py `catch_up`) before it reads.
    Wall seconds of the whole command, and of an empty command (start-up) for comparison."""
    env = {**os.environ, PASSWORD_ENV: user.password}
    base = [sys.executable, "-m", "kpudesk.daemon", "--config", str(settings), "tickets", "list", "--json"]
    t0 = time.perf_counter()
    first = subprocess.run([*base, "--search", word], capture_output=True, text=True, env=env, cwd=ROOT)
    first_s = time.perf_counter() - t0
    if first.returncode != 0:
        raise RuntimeError(f"kpudesk tickets list --search exited {first.returncode}:\n{first.stderr[-4000:]}")
    t0 = time.perf_counter()
    again = subprocess.run([*base, "--search", word], capture_output=True, text=True, env=env, cwd=ROOT)
    again_s = time.perf_counter() - t0
    return {"seconds": first_s, "again_seconds": again_s, "index_seconds": max(first_s - again_s, 0.0),
            "hits": len(json.loads(first.stdout)), "hits_again": len(json.loads(again.stdout))}


def db_counts(state: Path) -> dict:
    import sqlite3

    con = sqlite3.connect(state / "kpudesk.db")
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        out = {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in sorted(tables)}
    finally:
        con.close()
    out["db_bytes"] = (state / "kpudesk.db").stat().st_size
    return out


def summarize_profile(path: Path, top: int = 25) -> str:
    buf = io.StringIO()
    st = pstats.Stats(str(path), stream=buf)
    st.strip_dirs().sort_stats("cumulative").print_stats(top)
    st.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def git_state() -> dict:
    """HEAD and the files that differ from it: the figures belong to that working tree."""
    def run(*cmd: str) -> str:
        try:
            return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"head": run("rev-parse", "--short", "HEAD"),
            "dirty": [ln for ln in run("status", "--porcelain").splitlines() if ln]}


def best_and_median(runs: list[dict], key: str) -> tuple[float, float]:
    values = [r[key] for r in runs]
    return max(values), statistics.median(values)


def main(argv: list[str] | None = None) -> int:
    global WORKERS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="messages in the big mailbox (default 10000)")
    ap.add_argument("--workers", type=int, default=WORKERS,
                    help="imap.workers of the polls (default 2: a bulk import; 0: all in the main process)")
    ap.add_argument("--repeat", type=int, default=1, help="repeat the timed passes, keep the best")
    ap.add_argument("--seed", type=int, default=20240214)
    ap.add_argument("--idle-small", type=int, default=100, help="messages in the small idle-poll mailbox")
    ap.add_argument("--profile", action="store_true", help="also run one cold poll under cProfile")
    ap.add_argument("--keep", action="store_true", help="keep the kpudesk temp dirs (paths are printed)")
    args = ap.parse_args(argv)
    if args.idle_small > args.n:
        ap.error("--idle-small must not exceed --n")
    WORKERS = args.workers

    OUT.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    work = Path(tempfile.mkdtemp(prefix="kpd-bench-"))
    result: dict = {"started": datetime.now().astimezone().isoformat(timespec="seconds"),
                    "host": {"python": platform.python_version(), "cpus": os.cpu_count(),
                             "machine": platform.machine(), "kernel": platform.release()},
                    "args": vars(args), "work_dir": str(work), "git": git_state()}
    log = print

    t = time.perf_counter()
    corpus, info = build_corpus(args.n, args.seed)
    compiled = compile_package()
    log(f"byte-compiled kpudesk as an install does ({compiled})")
    log(f"corpus: {info.n} messages, {info.bytes / 2**20:.1f} MiB, {info.senders} senders, "
        f"{info.replies} replies, {info.attachments} with attachments, {info.auto_replies} auto-replies, "
        f"size min/median/max {info.min_size}/{info.median_size}/{info.max_size} B "
        f"({time.perf_counter() - t:.1f}s)")
    result["corpus"] = info.as_dict()

    server = Dovecot()
    proxy: CountingProxy | None = None
    try:
        server.start()
        log(f"dovecot: 127.0.0.1:{server.port} ({server.workdir})")
        big = server.new_user()
        small = server.new_user()
        t = time.perf_counter()
        uids = big.append_many("INBOX", corpus)
        small.append_many("INBOX", corpus[: args.idle_small])
        assert len(uids) == args.n, (len(uids), args.n)
        log(f"loaded INBOX of {big.name} ({args.n}) and {small.name} ({args.idle_small}) "
            f"in {time.perf_counter() - t:.1f}s")
        del corpus

        # warm-up: Dovecot builds its index/cache on first access; not timed
        t = time.perf_counter()
        baseline_pass(big, parse=False)
        log(f"warm-up fetch pass: {time.perf_counter() - t:.1f}s")

        # Each round measures the baseline and then the poll, back to back: a burst of load
        # from a neighbour on a shared machine then shows in one round's pair, not in
        # every poll against quiet baselines (or the reverse).
        fetch_runs, parse_runs, poll_runs = [], [], []
        big_root = None
        for r in range(args.repeat):
            f = baseline_pass(big, parse=False)
            fetch_runs.append(f)
            log(f"[{r + 1}/{args.repeat}] baseline fetch:       {f['seconds']:7.2f}s  {f['msg_per_s']:8.0f} msg/s")
            p = baseline_pass(big, parse=True)
            parse_runs.append(p)
            log(f"[{r + 1}/{args.repeat}] baseline fetch+parse: {p['seconds']:7.2f}s  {p['msg_per_s']:8.0f} msg/s "
                f"(parse {p['parse_seconds']:.2f}s)")
            root = work / f"poll-{r + 1}"
            settings = write_settings(root, big)
            res = run_poll(settings, big)
            fetched = res["stats"]["fetched"]
            if fetched != args.n:
                raise RuntimeError(f"poll fetched {fetched}, expected {args.n}: {res['stats']}")
            res["msg_per_s"] = fetched / res["seconds"]
            res["ratio_in_round"] = res["msg_per_s"] / p["msg_per_s"]
            res["db"] = db_counts(root / "state")
            # Not part of the poll: the search index of the polled tickets, built by the
            # first search (or the daemon's next tick) -- reported beside it.
            res["first_search"] = run_first_search(settings, big)
            with_index = res["seconds"] + res["first_search"]["index_seconds"]
            res["ratio_in_round_with_index"] = fetched / with_index / p["msg_per_s"]
            poll_runs.append(res)
            log(f"[{r + 1}/{args.repeat}] kpudesk poll:         {res['seconds']:7.2f}s  {res['msg_per_s']:8.0f} msg/s "
                f"peak RSS {res['peak_rss_mb']:.0f} MB [{res['rss_method']}] (user {res['user_s']:.1f}s "
                f"sys {res['sys_s']:.1f}s, {res['stderr_lines']} stderr lines); "
                f"ratio in this round {res['ratio_in_round']:.3f}")
            fs = res["first_search"]
            log(f"[{r + 1}/{args.repeat}] first search after it: {fs['seconds']:6.2f}s ({fs['hits']} hits; "
                f"again {fs['again_seconds']:.2f}s: indexing the {res['db'].get('search_pending', 0)} due tickets "
                f"~{fs['index_seconds']:.2f}s); ratio with the index {res['ratio_in_round_with_index']:.3f}")
            if big_root is None:
                big_root = root
            elif not args.keep:
                shutil.rmtree(root, ignore_errors=True)

        # idle polls: poll the small mailbox once, then one more poll of each through the proxy
        small_root = work / "idle-small"
        first_small = run_poll(write_settings(small_root, small), small)
        if first_small["stats"]["fetched"] != args.idle_small:
            raise RuntimeError(f"small mailbox poll fetched {first_small['stats']['fetched']}")
        proxy = CountingProxy(server.host, server.port)
        idle = {}
        for label, root, user, expect in (("small", small_root, small, args.idle_small),
                                          ("big", big_root, big, args.n)):
            proxy.reset()
            res = run_poll(write_settings(root, user, port=proxy.port, name="settings-proxy.toml"), user)
            conns = proxy.wait_closed()
            if res["stats"]["fetched"] != 0:
                raise RuntimeError(f"idle poll of {label} fetched {res['stats']['fetched']}")
            tx = OUT / f"ingest-{stamp}-idle-{expect}.txt"
            tx.write_text("".join("\n".join(transcript_lines(c)) + "\n" for c in conns), encoding="utf-8")
            idle[label] = {"messages": expect, "connections": len(conns),
                           "bytes_up": sum(c.up for c in conns), "bytes_down": sum(c.down for c in conns),
                           "commands": [cmd for c in conns for cmd in client_commands(c)],
                           "server_shape": [ln for c in conns for ln in server_shape(c)],
                           "seconds": res["seconds"], "transcript": str(tx.relative_to(ROOT))}
            idle[label]["bytes_total"] = idle[label]["bytes_up"] + idle[label]["bytes_down"]
            log(f"idle poll, {expect:>6} messages: {idle[label]['bytes_total']} bytes "
                f"(client {idle[label]['bytes_up']}, server {idle[label]['bytes_down']}, "
                f"{len(conns)} connection(s), {res['seconds']:.2f}s): {' / '.join(idle[label]['commands'])}")

        profile_text = None
        if args.profile:
            prof = OUT / f"poll-{args.n}.prof"
            root = work / "profile"
            res = run_poll(write_settings(root, big), big, profile_to=prof)
            profile_text = summarize_profile(prof)
            (OUT / f"poll-{args.n}-profile.txt").write_text(profile_text, encoding="utf-8")
            result["profile"] = {"file": str(prof.relative_to(ROOT)), "seconds": res["seconds"],
                                 "summary": str((OUT / f"poll-{args.n}-profile.txt").relative_to(ROOT))}
            log(f"profiled poll: {res['seconds']:.1f}s -> {prof.relative_to(ROOT)}")
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        if proxy is not None:
            proxy.close()
        server.stop()
        server.cleanup()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    fetch_best, fetch_med = best_and_median(fetch_runs, "msg_per_s")
    parse_best, parse_med = best_and_median(parse_runs, "msg_per_s")
    poll_best, poll_med = best_and_median(poll_runs, "msg_per_s")
    rss = max(r["peak_rss_mb"] for r in poll_runs)
    ratio = poll_best / parse_best
    round_ratios = [r["ratio_in_round"] for r in poll_runs]
    # fixed cost of a poll process (interpreter, imports, build_app, login): the idle poll
    fixed = idle["small"]["seconds"]
    result.update({
        "baseline_fetch": {"best_msg_per_s": fetch_best, "median_msg_per_s": fetch_med, "runs": fetch_runs},
        "baseline_fetch_parse": {"best_msg_per_s": parse_best, "median_msg_per_s": parse_med, "runs": parse_runs},
        "poll": {"best_msg_per_s": poll_best, "median_msg_per_s": poll_med, "peak_rss_mb": rss,
                 "runs": [{k: v for k, v in r.items() if k != "stderr_tail"} for r in poll_runs]},
        "idle_poll": idle,
        "ratio_poll_vs_fetch_parse": ratio,
        "ratio_per_round": round_ratios,
        "ratio_median_of_rounds": statistics.median(round_ratios),
        "ratio_per_round_with_index": [r["ratio_in_round_with_index"] for r in poll_runs],
        "goals": {"ratio_min": GOAL_RATIO, "ratio_ok": ratio >= GOAL_RATIO,
                  "rss_max_mb": GOAL_RSS_MB, "rss_ok": rss <= GOAL_RSS_MB,
                  "idle_bytes_equal": idle["small"]["bytes_total"] == idle["big"]["bytes_total"],
                  "idle_client_bytes_equal": idle["small"]["bytes_up"] == idle["big"]["bytes_up"],
                  "idle_same_commands": idle["small"]["commands"] == idle["big"]["commands"],
                  "idle_same_server_lines_modulo_numbers": idle["small"]["server_shape"] == idle["big"]["server_shape"]},
        "finished": datetime.now().astimezone().isoformat(timespec="seconds"),
        "git_at_finish": git_state(),  # differs from "git" when the tree changed during the run
    })
    out_path = OUT / f"ingest-{stamp}.json"
    out_path.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")

    ok = lambda b: "OK" if b else "MISSED"  # noqa: E731
    st = poll_runs[0]["stats"]
    print()
    print(f"== kpudesk ingest bench, N={args.n}, repeat={args.repeat} "
          f"({platform.python_version()}, {os.cpu_count()} CPUs) ==")
    ms = lambda rate: 1000 / rate  # noqa: E731
    print(f"baseline fetch (imapclient BODY.PEEK[], batches of {BATCH}): {fetch_best:8.0f} msg/s "
          f"({ms(fetch_best):.3f} ms/msg)")
    print(f"baseline fetch+parse (+ mailparser.parse_from_bytes):  {parse_best:8.0f} msg/s "
          f"({ms(parse_best):.3f} ms/msg)")
    print(f"kpudesk poll (subprocess, wall incl. start-up):        {poll_best:8.0f} msg/s "
          f"({ms(poll_best):.3f} ms/msg; {min(r['seconds'] for r in poll_runs):.2f}s, "
          f"of which ~{fixed:.2f}s is the fixed cost of a poll process = the idle poll)")
    print(f"ratio poll / (fetch+parse): {ratio:.2f}   goal >= {GOAL_RATIO}  {ok(ratio >= GOAL_RATIO)}  "
          f"(best poll / best baseline; per round: {', '.join(f'{x:.3f}' for x in round_ratios)}, "
          f"median {statistics.median(round_ratios):.3f})")
    print("ratio with the search index (poll + what the first search spends indexing): "
          + ", ".join(f"{r['ratio_in_round_with_index']:.3f}" for r in poll_runs))
    print(f"peak RSS of poll:           {rss:.0f} MB  goal <= {GOAL_RSS_MB} MB  {ok(rss <= GOAL_RSS_MB)}")
    g = result["goals"]
    print(f"idle poll bytes: {idle['small']['bytes_total']} at {args.idle_small} messages, "
          f"{idle['big']['bytes_total']} at {args.n} messages "
          f"(client {idle['small']['bytes_up']} vs {idle['big']['bytes_up']}, "
          f"server {idle['small']['bytes_down']} vs {idle['big']['bytes_down']})")
    print(f"  same commands: {'yes' if g['idle_same_commands'] else 'NO'} "
          f"({' / '.join(idle['big']['commands'])}); "
          + ("bytes equal" if g["idle_bytes_equal"] else
             "server replies identical except numbers (EXISTS/RECENT/UIDNEXT/UIDVALIDITY digits) and "
             "Dovecot's own timing texts" if g["idle_same_server_lines_modulo_numbers"] else
             "server replies DIFFER beyond numbers -- see the transcripts"))
    print(f"poll stats: tickets {st['tickets_created']}, added {st['messages_added']}, ignored {st['ignored']}, "
          f"auto-replies {st['auto_replies']}, duplicates {st['duplicates']}, quarantined {st['quarantined']}")
    if profile_text:
        print()
        print(profile_text)
    print(f"results: {out_path.relative_to(ROOT)}")
    if args.keep:
        print(f"kept: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
