"""Ticket states and their Indonesian labels (the words officers see)."""
from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    BARU = "baru"
    DIJAWAB = "dijawab"
    SELESAI = "selesai"
    ESKALASI_ANGGOTA = "eskalasi-anggota"
    ESKALASI_PROVINSI = "eskalasi-provinsi"


LABELS = {
    Status.BARU: "Baru",
    Status.DIJAWAB: "Dijawab (menunggu partai)",
    Status.SELESAI: "Selesai",
    Status.ESKALASI_ANGGOTA: "Eskalasi ke Anggota KPU",
    Status.ESKALASI_PROVINSI: "Eskalasi ke KPU Provinsi",
}

# A party's reply to these reopens the ticket (auto-replies and bounces never do).
REOPEN_FROM = {Status.DIJAWAB, Status.SELESAI}


def ref(ticket_id: int, tag: str) -> str:
    """A ticket as officers and parties see it named: `HD-MSJ #12` (the subject tag's text)."""
    return f"{tag} #{ticket_id}"
