"""`kpudesk faq list|show|search`: browsing the FAQ Sipol from the terminal."""
from __future__ import annotations

import argparse
import difflib
import textwrap

from kpudesk.tickets.errors import UserError
from kpudesk.tickets.faq import FaqEntry, FaqError

from .common import emit_json
from .common import app_from_args, clip, table

SHOWN_ANSWERS = 3  # `faq search` prints the answer text of this many best entries


def register(sub) -> None:
    p = sub.add_parser("faq", help="FAQ Sipol")
    fsub = p.add_subparsers(dest="faq_command", required=True, metavar="AKSI")
    p = fsub.add_parser("list", help="daftar semua entri FAQ Sipol")
    p.add_argument("--json", action="store_true", help="keluaran JSON")
    p.set_defaults(func=cmd_faq_list)
    p = fsub.add_parser("show", help="tampilkan satu entri FAQ Sipol")
    p.add_argument("id", help="nomor entri (mis. sipol-012)")
    p.add_argument("--json", action="store_true", help="keluaran JSON")
    p.set_defaults(func=cmd_faq_show)
    p = fsub.add_parser("search", help="cari entri FAQ Sipol untuk sebuah pertanyaan")
    p.add_argument("text", nargs="+", help="pertanyaan")
    p.add_argument("--limit", type=int, default=5, help="jumlah entri paling banyak (bawaan: 5)")
    p.add_argument("--json", action="store_true", help="keluaran JSON")
    p.set_defaults(func=cmd_faq_search)


def faq_entry(app, faq_id: str) -> FaqEntry:
    """An entry by id, or a UserError naming the closest ids."""
    base = app.faq.current()
    try:
        return base.get(faq_id)
    except FaqError:
        close = difflib.get_close_matches(faq_id, [e.id for e in base], n=3, cutoff=0.6)
        hint = f"; maksud Anda: {', '.join(close)}?" if close else " (lihat `kpudesk faq list`)"
        raise UserError(f"entri FAQ tidak dikenal: {faq_id!r}{hint}") from None


def _as_json(e: FaqEntry) -> dict:
    return {"id": e.id, "question": e.question, "answer": e.answer, "keywords": list(e.keywords), "source": e.source}


def cmd_faq_list(args: argparse.Namespace) -> int:
    entries = list(app_from_args(args).faq.current())
    if args.json:
        emit_json([{"id": e.id, "question": e.question} for e in entries])
        return 0
    if not entries:
        print("FAQ Sipol kosong.")
        return 0
    print(table(["ID", "Pertanyaan"], [[e.id, clip(e.question, 90)] for e in entries]))
    print(f"\n{len(entries)} entri. Baca satu entri dengan `kpudesk faq show ID`.")
    return 0


def cmd_faq_show(args: argparse.Namespace) -> int:
    e = faq_entry(app_from_args(args), args.id.strip())
    if args.json:
        emit_json(_as_json(e))
        return 0
    print(f"{e.id}: {e.question}\n")
    print(textwrap.fill(e.answer, 90))
    if e.keywords:
        print(f"\nKata kunci: {', '.join(e.keywords)}")
    if e.source:
        print(f"Sumber: {e.source}")
    return 0


def cmd_faq_search(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    text = " ".join(args.text).strip()
    if not text:
        raise UserError("pertanyaan kosong; tuliskan kata yang dicari")
    hits = app.faq.current().search(text, limit=max(1, args.limit))
    if args.json:
        emit_json([{"id": h.entry.id, "score": round(h.score, 4), "question": h.entry.question} for h in hits])
        return 0
    covered = bool(hits) and hits[0].score >= app.faq_threshold
    if not hits:
        print("Tidak ada entri FAQ Sipol yang memuat kata-kata ini: pertimbangkan eskalasi ke Anggota KPU.")
        return 0
    if not covered:
        print("Tidak ada di FAQ Sipol (skor di bawah ambang): pertimbangkan eskalasi ke Anggota KPU.\n")
    for n, h in enumerate(hits, 1):
        print(f"{n}. {h.entry.id}  skor {h.score:.2f}  {h.entry.question}")
        if n <= SHOWN_ANSWERS:
            print(textwrap.indent(textwrap.fill(h.entry.answer, 86), "   ") + "\n")
    print(f"Jawab dengan entri: kpudesk tickets reply ID --faq {hits[0].entry.id}")
    return 0
