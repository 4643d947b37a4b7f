"""`kpudesk storage sync [--json]`: push the cloud folder's backlog now (docs/mirror.md).

Like `kpudesk send` (`postqueue -f`): every pending file is tried now, ignoring its backoff.
JSON {uploaded, pending, failed, found, deferred, configured}; `failed` counts every failed
file (they stay visible until retried with `--retry-failed`). Exit 75 when the remote cannot
be reached and files remain; exit 0 with a message when no `[storage] mirror` is set (the
files wait in the queue: nothing is wrong, the office has no cloud folder yet).
"""
from __future__ import annotations

import argparse
import sys

from kpudesk.tickets import mirror
from kpudesk.tickets.models import db

from ..mirror_sync import sync
from .common import app_from_args, emit_json


def register(sub) -> None:
    p = sub.add_parser("storage", help="folder awan (cadangan arsip dengan rclone)")
    s = p.add_subparsers(dest="storage_command", required=True, metavar="PERINTAH")
    q = s.add_parser("sync", help="unggah sekarang berkas yang menunggu ke folder awan ([storage] mirror)")
    q.add_argument("--json", action="store_true", help="keluaran JSON")
    q.add_argument("--retry-failed", action="store_true",
                   help="masukkan lagi berkas yang gagal ke antrean sebelum mengunggah (sesudah remote diperbaiki)")
    q.set_defaults(func=cmd_sync)


def cmd_sync(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    if args.retry_failed:
        with db.atomic():
            again = mirror.retry_failed(app.clock.now())
        print(f"{again} berkas gagal dimasukkan lagi ke antrean.", file=sys.stderr)
    stats, unreachable = sync(app, ignore_backoff=True)
    configured = app.settings.mirror.configured
    if args.json:
        emit_json({**stats.as_dict(), "configured": configured})
    elif not configured:
        print(f"Folder awan belum diatur ([storage] mirror di settings.toml): tidak ada yang diunggah; "
              f"{stats.pending} berkas menunggu di antrean, arsip lokal tetap lengkap.")
    else:
        print(f"Terunggah {stats.uploaded}, sudah ada di folder awan {stats.found}, ditunda {stats.deferred}; "
              f"menunggu {stats.pending}, gagal {stats.failed}.")
        if stats.failed:
            print("Berkas yang gagal tampil di halaman tiketnya; sesudah remote diperbaiki jalankan "
                  "`kpudesk storage sync --retry-failed`.", file=sys.stderr)
    if unreachable:
        print(f"Folder awan {app.settings.mirror.remote} tidak dapat dihubungi; berkas tetap di antrean "
              "dan dicoba lagi.", file=sys.stderr)
    return 75 if unreachable and stats.pending else 0
