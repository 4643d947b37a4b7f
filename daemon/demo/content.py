"""What the demo's story is made of: the party mails, the answers, the settings, the progress data.

Every address uses an example domain (example.org / example.net), so nothing here can reach a
real mailbox. `_mail` builds a mail as the office's receiving server would hand it over, with
its SPF/DKIM/DMARC verdict on top; `dashboard_png` draws the Sipol dashboard screenshot that
the progress import attaches as evidence.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from zoneinfo import ZoneInfo

from ..settings_write import HELPDESK_ADDRESS, loopback_sections, settings_toml
from .servers import HOST

HELPDESK = HELPDESK_ADDRESS
ANGGOTA = "anggota@kpu-mesuji.example.org"
PROVINSI = "helpdesk@kpu-lampung.example.org"
KETUA = "ketua@kpu-mesuji.example.org"
SEKRETARIS = "sekretaris@kpu-mesuji.example.org"
RINA = "Rina Wulandari"     # anggota-helpdesk
AHMAD = "Ahmad Fauzi"       # anggota-kpu: may escalate to the Provinsi
PROVINSI_NUMBER = "7781"    # the Provinsi helpdesk's own ticket number
ZONE = ZoneInfo("Asia/Jakarta")


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


# The officers the story acts as (`--as`).
STORY_OFFICERS = (
    {"name": RINA, "email": "rina.wulandari@kpu-mesuji.example.org", "role": "anggota-helpdesk"},
    {"name": AHMAD, "email": "ahmad.fauzi@kpu-mesuji.example.org", "role": "anggota-kpu"},
)
# Added for the web desk, so a newcomer can log in as each kind of officer: the coordinator,
# the Anggota the story escalated to (an Anggota KPU sees only the tickets escalated to their
# own address, so this one is `[escalation] anggota`) and the chair (a report recipient).
DESK_OFFICERS = (
    {"name": "Dewi Lestari", "email": "dewi.lestari@kpu-mesuji.example.org", "role": "koordinator-harian"},
    {"name": "Hendra Saputra", "email": ANGGOTA, "role": "anggota-kpu"},
    {"name": "Bambang Hermawan", "email": KETUA, "role": "ketua"},
)


def settings_text(imap_port: int, smtp_port: int, *, desk_officers: tuple[dict, ...] = ()) -> str:
    """The demo's settings.toml; `desk_officers` (the demo passes DESK_OFFICERS) are added
    after the story's own two officers."""
    sections = loopback_sections(
        imap_host=HOST, imap_port=imap_port, smtp_host=HOST, smtp_port=smtp_port,
        password_file="imap-password",
        helpdesk={"timezone": "Asia/Jakarta", "default_officer": RINA}, imap={"inbox": "INBOX", "spam": "Spam"})
    return settings_toml(
        header=f"Pengaturan demo kpudesk — ditulis oleh `kpudesk demo` pada {datetime.now(ZONE):%Y-%m-%d %H:%M} WIB.\n"
               "Server IMAP dan SMTP demo hanya hidup selama demo berjalan. Sesudahnya perintah yang membaca\n"
               "basis data tetap dapat dipakai (tickets list/show, spam list, report ...); `poll` dan `send`\n"
               "akan melapor bahwa server tidak dapat dihubungi (kode 75).",
        notes={"imap.security": "tanpa TLS: hanya diizinkan untuk 127.0.0.1",
               "imap.password_file": "kata sandi acak milik server demo",
               "mail.trusted_authserv_id": "server penerima yang hasil SPF/DKIM/DMARC-nya dipercaya"},
        **sections,
        mail={"trusted_authserv_id": DEMO_MX},
        escalation={"anggota": [ANGGOTA], "provinsi": PROVINSI, "provinsi_ticket_pattern": r"\[Tiket#(\d+)\]"},
        reports={"progress_to": [KETUA, ANGGOTA], "recap_to": [KETUA, SEKRETARIS, ANGGOTA]},
        parties={"registry": "parties-local.toml"},
        logging={"level": "WARNING"},
        officers=[*STORY_OFFICERS, *desk_officers],
    )


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

