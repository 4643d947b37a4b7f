"""A sample context for every built-in template: `kpudesk check` renders each template with
its sample (an override folder's mistakes show before a real mail needs it), and the tests
render the same samples. Keep a sample in step with what its template reads."""
from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

_CREATED = datetime(2026, 11, 27, 7, 5, tzinfo=UTC)  # Jumat 14.05 WIB

_HELPDESK = {
    "name": "Helpdesk KPU Kabupaten Mesuji",
    "address": "helpdesk@kpu-mesuji.example.org",
    "tag": "HD-MSJ",
    "service_hours": "08.00–17.00 WIB",
    "days": "Senin–Minggu",
}
_TICKET = {
    "id": 12,
    "ref": "HD-MSJ #12",
    "subject": "Mohon Informasi Jadwal Verifikasi Faktual Kepengurusan",
    "created_at": _CREATED,
    "status_label": "Baru",
}
_REQUESTER = {"name": "Siti Rahmawati", "email": "sekretariat.dpc@partai-contoh.example.org"}
_OFFICER = {"name": "Rina Wulandari", "role_label": "Anggota Tim Helpdesk"}
_QUESTION = (
    "Dengan hormat,\n"
    "Kami dari DPC Partai Contoh Kabupaten Mesuji ingin menanyakan jadwal verifikasi faktual\n"
    "kepengurusan di tingkat kabupaten. Apakah Ketua, Sekretaris dan Bendahara wajib hadir\n"
    "seluruhnya, atau cukup diwakili?\n"
    "Terima kasih."
)
_ESCALATION = {
    "identity": {
        "name": "Siti Rahmawati",
        "party": "Partai Contoh",
        "phone": "0812-0000-0000",
        "email": "sekretariat.dpc@partai-contoh.example.org",
    },
    "question": _QUESTION,
    "conversation": [
        {"direction_label": "Masuk", "who": "Siti Rahmawati <sekretariat.dpc@partai-contoh.example.org>",
         "date": _CREATED, "text": _QUESTION},
        {"direction_label": "Catatan", "who": "Rina Wulandari",
         "date": _CREATED + timedelta(minutes=20),
         "text": "Belum ada di FAQ Sipol; perlu keputusan Anggota KPU."},
    ],
    "note": "Mohon arahan: pengurus yang berhalangan hadir saat verifikasi faktual.",
    "faq_result": {
        "covered": False,
        "hits": [
            {"id": "verfak-003", "question": "Bagaimana jika pengurus tidak dapat hadir saat verifikasi faktual?",
             "score": 4.72},
            {"id": "jadwal-002", "question": "Kapan jadwal verifikasi faktual kepengurusan?", "score": 3.15},
        ],
    },
    "officer": _OFFICER,
}


def _common() -> dict[str, Any]:
    return {"helpdesk": dict(_HELPDESK), "ticket": dict(_TICKET), "requester": dict(_REQUESTER)}


_ACK = _common() | {
    "identity_missing": ["nama partai politik", "nomor telepon/WhatsApp"],
    "outside_hours": True,
    "next_open": datetime(2026, 11, 28, 1, 0, tzinfo=UTC),  # Sabtu 08.00 WIB
}
_ANSWER = _common() | {
    "body": (
        "Menindaklanjuti surel Bapak/Ibu, bersama ini kami sampaikan:\n"
        "1. Verifikasi faktual kepengurusan dilaksanakan sesuai jadwal tahapan.\n"
        "2. Ketua, Sekretaris dan Bendahara diharapkan hadir; ketidakhadiran\n"
        "   dicatat sesuai petunjuk teknis.\n"
        "Dasar: PKPU 4/2022."
    ),
    "officer": dict(_OFFICER),
    "faq": {"id": "verfak-003", "question": "Bagaimana jika pengurus tidak dapat hadir saat verifikasi faktual?"},
}

_REPORT_AT = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # Jumat 08.00 WIB
_PROGRESS = {
    "helpdesk": dict(_HELPDESK),
    "slot": {"at": _REPORT_AT, "late": False, "scheduled": True},
    "report": {
        "generated_at": _REPORT_AT,
        "since": _REPORT_AT - timedelta(hours=15),  # Kamis 17.00 WIB
        "no_new_snapshot": False,
        "parties": [
            {"number": 1, "short": "PKB", "name": "Partai Kebangkitan Bangsa", "officials": 45, "members": 1234,
             "offices": 6, "delta": {"officials": 2, "members": 120, "offices": 0},
             "taken_at": _REPORT_AT - timedelta(minutes=15), "imported_at": _REPORT_AT - timedelta(minutes=10),
             "previous_taken_at": _REPORT_AT - timedelta(hours=15, minutes=10), "fresh": True, "snapshot_id": 31},
            {"number": 3, "short": "PDI Perjuangan", "name": "Partai Demokrasi Indonesia Perjuangan",
             "officials": 51, "members": 2890, "offices": 7, "delta": {"officials": 0, "members": 0, "offices": 0},
             "taken_at": _REPORT_AT - timedelta(hours=15, minutes=10),
             "imported_at": _REPORT_AT - timedelta(hours=15, minutes=5),
             "previous_taken_at": _REPORT_AT - timedelta(hours=15, minutes=10), "fresh": False, "snapshot_id": 20},
            {"number": 24, "short": "Ummat", "name": "Partai Ummat", "officials": 12, "members": 310, "offices": 2,
             "delta": {"officials": None, "members": None, "offices": None},
             "taken_at": _REPORT_AT - timedelta(minutes=15), "imported_at": _REPORT_AT - timedelta(minutes=10),
             "previous_taken_at": None, "fresh": True, "snapshot_id": 32},
        ],
        "totals": {"officials": 108, "members": 4434, "offices": 15},
        "imports": [{"id": 9, "filename": "progres-0745.csv", "sha256": "5" * 64, "rows": 2, "actor": "Rina Wulandari",
                     "imported_at": _REPORT_AT - timedelta(minutes=10)}],
        "evidence": [
            {"id": 4, "import": 9, "filename": "dasbor-sipol-0745.png", "content_type": "image/png",
             "sha256": "9f2c" + "0" * 60, "size": 284113, "path": "evidence/9f/2c/x.png",
             "imported_at": _REPORT_AT - timedelta(minutes=10), "attached": True},
            {"id": 5, "import": 9, "filename": "rekaman-layar.mp4", "content_type": "video/mp4",
             "sha256": "a1b2" + "0" * 60, "size": 48_000_000, "path": "evidence/a1/b2/x.mp4",
             "imported_at": _REPORT_AT - timedelta(minutes=10), "attached": False},
        ],
        "open_questions": [{"id": 12, "ref": "HD-MSJ #12", "party": "PKB", "status": "baru", "status_label": "Baru",
                            "subject": _TICKET["subject"], "created_at": _CREATED}],
    },
}
_RECAP_TICKET_TIMING = {
    "id": 12, "ref": "HD-MSJ #12", "party": "PKB", "channel": "email", "status": "eskalasi-anggota",
    "subject": _TICKET["subject"], "created_at": _CREATED, "receive_minutes": 4.0, "receive_running": False,
    "answer_minutes": 55.0, "answer_running": True, "escalation_minutes": 20.0, "escalation_running": True,
    "overdue": True,
    "breaches": [
        {"step": "answer", "label": "Menjawab", "standard_minutes": 30, "actual_minutes": 55.0,
         "over_minutes": 25.0, "running": True},
        {"step": "escalate", "label": "Eskalasi", "standard_minutes": 15, "actual_minutes": 20.0,
         "over_minutes": 5.0, "running": True},
    ],
}
_RECAP = {
    "helpdesk": dict(_HELPDESK),
    "slot": {"at": datetime(2026, 11, 27, 10, 5, tzinfo=UTC), "late": False, "scheduled": True},
    "recap": {
        "date": "2026-11-27",
        "day_label": "Jumat, 27 November 2026",
        "generated_at": datetime(2026, 11, 27, 10, 5, tzinfo=UTC),
        "measured_at": datetime(2026, 11, 27, 10, 5, tzinfo=UTC),
        "totals": {"new": 3, "answered": 2, "answers": 2, "escalated": 1, "escalated_anggota": 1,
                   "escalated_provinsi": 0, "escalation_answers": 0, "closed": 1, "reopened": 0},
        "by_channel": [{"channel": "email", "label": "Surel", "count": 2},
                       {"channel": "tatap-muka", "label": "Tatap muka", "count": 1},
                       {"channel": "pesan-online", "label": "Pesan online", "count": 0},
                       {"channel": "pertemuan-online", "label": "Pertemuan online", "count": 0}],
        "by_status": [{"status": "baru", "label": "Baru", "count": 0},
                      {"status": "dijawab", "label": "Dijawab (menunggu partai)", "count": 1},
                      {"status": "selesai", "label": "Selesai", "count": 1},
                      {"status": "eskalasi-anggota", "label": "Eskalasi ke Anggota KPU", "count": 1},
                      {"status": "eskalasi-provinsi", "label": "Eskalasi ke KPU Provinsi", "count": 0}],
        "by_party": [{"number": 1, "short": "PKB", "count": 2}, {"number": None, "short": "Tidak diketahui", "count": 1}],
        "timing": {
            "standards": [{"step": "receive", "label": "Penerimaan", "minutes": 10},
                          {"step": "answer", "label": "Menjawab", "minutes": 30},
                          {"step": "escalate", "label": "Eskalasi", "minutes": 15}],
            "averages": {"receive": 5.5, "answer": 21.0, "escalate": None},
            "measured": {"receive": 3, "answer": 2, "escalate": 0},
            "within": {"receive": 3, "answer": 2, "escalate": 0},
            "tickets": [
                _RECAP_TICKET_TIMING,
                {"id": 13, "ref": "HD-MSJ #13", "party": None, "channel": "tatap-muka", "status": "selesai",
                 "subject": "Konsultasi langsung: akun Sipol", "created_at": _CREATED + timedelta(hours=1),
                 "receive_minutes": 0.0, "receive_running": False, "answer_minutes": 12.0, "answer_running": False,
                 "escalation_minutes": None, "escalation_running": False, "overdue": False, "breaches": []},
            ],
        },
        "breaches": [{"id": 12, "ref": "HD-MSJ #12", "party": "PKB"} | b for b in _RECAP_TICKET_TIMING["breaches"]],
        "open_questions": [
            {"id": 12, "ref": "HD-MSJ #12", "status": "eskalasi-anggota", "status_label": "Eskalasi ke Anggota KPU",
             "party": "PKB", "requester": _REQUESTER["email"], "requester_name": _REQUESTER["name"],
             "channel": "email", "subject": _TICKET["subject"], "since_at": _CREATED + timedelta(minutes=35),
             "created_at": _CREATED, "overdue": True},
            {"id": 9, "ref": "HD-MSJ #9", "status": "baru", "status_label": "Baru", "party": None,
             "requester": None, "requester_name": "Budi", "channel": "tatap-muka", "subject": "Verifikasi KTA",
             "since_at": _CREATED - timedelta(days=1), "created_at": _CREATED - timedelta(days=1), "overdue": False},
        ],
        "spam": {"held": 4, "still_held": 3, "released": 1},
        "followups": {"queued": 1, "sent": 1, "tickets": ["HD-MSJ #7"]},
    },
}

#: A realistic context for every built-in template (used by `kpudesk check` and the tests).
_LAPORAN = {
    "helpdesk": {"name": "Helpdesk KPU Kabupaten Mesuji"},
    "laporan": {
        "ticket": {"id": 12, "ref": "HD-MSJ #12", "subject": "Keanggotaan ganda", "channel": "email",
                   "channel_label": "Surel", "status": "dijawab", "status_label": "Dijawab (menunggu partai)",
                   "created_at": "2026-11-27T09:00:00+07:00", "created_at_label": "27 November 2026 09.00 WIB",
                   "assignee": None, "officer": "Rina Wulandari", "void": None},
        "identity": {"name": "Budi Santoso", "party": "Partai Gelombang Rakyat Indonesia",
                     "phone": "+6281211112222", "email": "budi@gelora.example.org"},
        "problem": [{"at": "2026-11-27T09:00:00+07:00", "at_label": "27 November 2026 09.00 WIB",
                     "from": "Budi Santoso", "text": "Bolehkah anggota ganda?"}],
        "answers": [{"at": "2026-11-27T10:00:00+07:00", "at_label": "27 November 2026 10.00 WIB",
                     "by": "Rina Wulandari", "text": "Tidak boleh.", "delivery": "sent",
                     "delivery_label": "surel terkirim"}],
        "escalations": [{"to": "anggota", "to_label": "Anggota KPU Kabupaten", "by": "Rina Wulandari",
                         "at": "2026-11-27T09:20:00+07:00", "at_label": "27 November 2026 09.20 WIB", "note": "",
                         "answered_at": "2026-11-27T09:50:00+07:00", "answered_at_label": "27 November 2026 09.50 WIB",
                         "answer": "Tidak boleh ganda.", "external_ref": None}],
        "timings": [{"step": "receive", "label": "Penerimaan", "standard": 10, "minutes": 20, "over": 10,
                     "running": False, "realised": True, "remark": "MELEBIHI 10 menit"},
                    {"step": "answer", "label": "Menjawab", "standard": 30, "minutes": None, "over": 0,
                     "running": False, "realised": False, "remark": "belum ada realisasi"}],
        "breaches": [],
        "documentation": [{"filename": "foto.jpg", "size": 1200, "sha256": "0" * 64, "content_type": "image/jpeg"}],
        "generated_at": "2026-11-27T10:05:00+07:00", "generated_at_label": "27 November 2026 10.05 WIB",
    },
}

SAMPLES: dict[str, dict[str, Any]] = {
    "party/ack.txt.j2": _ACK,
    "party/ack.html.j2": _ACK,
    "party/answer.txt.j2": _ANSWER,
    "party/answer.html.j2": _ANSWER,
    "party/followup.txt.j2": _common() | {
        "waiting_on": "Anggota KPU Kabupaten Mesuji",
        "since": _CREATED + timedelta(minutes=30),
    },
    "party/provinsi_notice.txt.j2": _common(),
    "internal/escalation_anggota.txt.j2": _common() | copy.deepcopy(_ESCALATION),
    "internal/escalation_provinsi.txt.j2": _common() | copy.deepcopy(_ESCALATION) | {"kabupaten": "Mesuji"},
    "reports/progress.txt.j2": _PROGRESS,
    "reports/progress.html.j2": _PROGRESS,
    "reports/recap.txt.j2": _RECAP,
    "reports/recap.html.j2": _RECAP,
    "reports/laporan.txt.j2": _LAPORAN,
    "reports/laporan.html.j2": _LAPORAN,
}
