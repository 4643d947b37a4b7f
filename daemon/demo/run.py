"""`kpudesk demo` from start to end: the folder, the two servers, the story, the summary, the desk.

`run_demo` makes (or checks) the demo folder, writes the IMAP password and the LO registry,
starts both servers, writes ``settings.toml`` with their ports, plays the story, sets the demo
officers' web-desk passwords, prints the summary and, when asked to (`listen`), serves the web
desk until Ctrl+C; it always stops the servers, whether the story succeeded or not.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from datetime import date
from pathlib import Path
from typing import TextIO

from kpudesk.tickets.errors import ConfigError

from . import desk
from .content import DESK_OFFICERS, HELPDESK, PARTIES_LOCAL, settings_text
from .servers import DemoFailed, DemoImapServer, DemoSmtpServer
from .story import Story, expect
from ..logsetup import configure_logging


def summary(story: Story, out: TextIO, elapsed: float, *, keep: bool = True, web: bool = False) -> None:
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
    if web:
        return
    print(f"  kpudesk --config {cfg} web    (meja layanan web di http://127.0.0.1:8080; akun di bawah)", file=out)
    print("Akun demo untuk meja layanan web:", file=out)
    desk.print_logins(out)
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


def run_demo(keep: bool = True, out: TextIO = sys.stdout, directory: Path | str | None = None,
             listen: tuple[str, int] | None = None) -> int:
    """Run the whole demonstration; 0 when every step went as expected (and, with `listen`, the
    web desk was stopped by Ctrl+C or SIGTERM), 1 when a step did not, 2 when the desk could
    not listen.

    `listen` (host, port; port 0 for a free one): after the story, serve the demo folder's web
    desk there until stopped, with the mail servers still up; None: exit after the summary.
    The folder is kept by default (the point is to look at it); `keep=False` deletes it.
    """

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
            (folder / "settings.toml").write_text(settings_text(imap.port, smtp.port, desk_officers=DESK_OFFICERS),
                                                  encoding="utf-8")
            story = Story(folder, out, imap, smtp)
            story.play()
            desk.set_passwords(story)
            configure_logging("WARNING")  # the CLI calls above pointed logging at their captured stderr
            summary(story, out, time.monotonic() - started, keep=keep, web=listen is not None)
            if listen is not None:
                code = desk.serve(folder, listen, out)
        except ConfigError as exc:  # the desk's address: taken, or not this machine's
            print(f"\nkpudesk demo: meja layanan web tidak bisa dimulai: {exc.problem}", file=out)
            code = 2
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
            configure_logging("WARNING")  # also when the story failed half-way through a CLI call
    if code:
        print(f"Folder demo dibiarkan untuk diperiksa: {folder}", file=out)
    elif not keep:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"\nFolder demo dihapus (--cleanup): {folder}", file=out)
    elif listen is not None:  # the summary scrolled away while the desk ran
        print(f"Folder demo disimpan: {folder} (jalankan demo dengan --cleanup agar dihapus)", file=out)
    return code
