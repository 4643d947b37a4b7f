"""Files on tickets from the terminal: `kpudesk tickets attachment ID N --output FILE`
saves one, and `read_attach_files` reads what `tickets reply --attach` sends."""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import unicodedata
from pathlib import Path

from kpudesk.tickets.status import ref
from kpudesk.tickets import queries
from kpudesk.tickets.errors import UserError
from kpudesk.tickets.replies import MAX_ATTACH_BYTES, prepare_attachments

from .common import app_from_args, ticket_id


def register(tsub) -> None:
    p = tsub.add_parser("attachment", help="simpan satu lampiran tiket ke berkas")
    p.add_argument("id", type=ticket_id, help="nomor tiket (2, #2, HD-MSJ #2)")
    p.add_argument("n", type=_positive, help="nomor lampiran seperti tercantum di `tickets show` (mulai 1)")
    p.add_argument("--output", "-o", required=True, help="berkas tujuan, atau folder (nama asli dipakai)")
    p.add_argument("--force", action="store_true", help="timpa berkas yang sudah ada")
    p.set_defaults(func=cmd_attachment)


def _positive(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"nomor lampiran harus bilangan bulat mulai 1: {text!r}")
    return int(text)


def safe_name(filename: str) -> str:
    """A file name that stays in the folder it is written to: no separators, no control
    characters, no leading dots, at most 150 characters; "lampiran" when nothing is left."""
    name = unicodedata.normalize("NFC", filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = re.sub(r'[<>:"|?*]', "_", name).strip().lstrip(".").strip()
    if len(name) > 150:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 140] + dot + ext[:9]) if dot and len(ext) <= 9 else name[:150]
    return name or "lampiran"


def _extension(filename: str) -> str:
    """The original's extension (".pdf"), if it is a plain one."""
    suffix = Path(safe_name(filename)).suffix
    return suffix.lower() if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", suffix) else ""


def target_path(output: str, filename: str) -> Path:
    """Where to write: into a folder under the original's safe name; else `output`, with the
    original's extension added when it does not already end with it."""
    out = Path(output).expanduser()
    if out.is_dir():
        return out / safe_name(filename)
    ext = _extension(filename)
    if ext and out.suffix.lower() != ext:
        out = out.with_name(out.name + ext)
    return out


def cmd_attachment(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    ticket = queries.get_ticket(args.id)
    files = queries.ticket_attachments(ticket)
    name = ref(ticket.id, app.settings.helpdesk.tag)
    if not files:
        raise UserError(f"{name} tidak punya lampiran")
    if args.n > len(files):
        raise UserError(f"{name} hanya punya {len(files)} lampiran; nomor {args.n} tidak ada")
    a = files[args.n - 1]
    try:
        data = app.archive.read(a.path)
    except OSError as exc:
        raise UserError(f"berkas lampiran {a.filename!r} tidak dapat dibaca dari arsip: {exc.strerror}") from None
    if hashlib.sha256(data).hexdigest() != a.sha256:
        raise UserError(f"berkas lampiran {a.filename!r} di arsip rusak (sha256 tidak cocok); tidak ditulis")
    path = target_path(args.output, a.filename)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if args.force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise UserError(f"{path} sudah ada; pakai --force untuk menimpanya") from None
    except OSError as exc:
        raise UserError(f"tidak dapat menulis {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    print(f"Lampiran {args.n} dari {name} ({a.filename}, {len(data)} bita, {a.content_type}) ditulis ke {path}")
    return 0


def read_attach_files(paths: list[str]) -> tuple[tuple[str, str, bytes], ...]:
    """The files given to `--attach`, read and typed; a UserError names a file that cannot
    be read, an empty one, or the total over the limit (checked before reading them all)."""
    files = []
    total = 0
    for given in paths:
        path = Path(given).expanduser()
        try:
            size = path.stat().st_size
            if not path.is_file():
                raise UserError(f"lampiran {given!r} bukan berkas biasa")
            total += size
            if total > MAX_ATTACH_BYTES:
                raise UserError(f"lampiran terlalu besar: lebih dari {MAX_ATTACH_BYTES // 1048576} MB "
                                "bersama-sama (batas per jawaban)")
            files.append((safe_name(path.name), path.read_bytes()))
        except OSError as exc:
            raise UserError(f"lampiran {given!r} tidak dapat dibaca: {exc.strerror}") from None
    return prepare_attachments(files)
