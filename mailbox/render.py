"""Jinja2 rendering of the mail the helpdesk writes, with Indonesian date filters.

Templates are data: the built-in ones live in the package's `templates/` folder and a
deployment may override any of them from its own folder (settings `helpdesk.templates_dir`),
looked up first. Rendering is strict (`StrictUndefined`): a template that uses a variable the
caller did not supply fails loudly instead of sending "Yth. Bapak/Ibu ," to a party.
`Renderer.check` renders every template with a sample context so `kpudesk check` and the tests
catch such mistakes before a mail is queued.

Every template renders in Jinja2's `SandboxedEnvironment`: an override folder is the
deployment's data, and a template that reaches for `__class__`, `__globals__` and the like
(to run code as the service user) fails with `SecurityError` instead. The built-in
templates need nothing the sandbox forbids, so they share the one environment.

Autoescaping is on for `*.html.j2` only; plain-text templates must stay verbatim.
Dates are always shown in the helpdesk's zone (settings `helpdesk.timezone`) through
`zoneinfo`, never through the host's local time.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markupsafe import Markup, escape

__all__ = [
    "BUILTIN_DIR",
    "SAMPLES",
    "TEMPLATES",
    "Renderer",
    "jam",
    "tanggal",
    "tgl",
    "zone_label",
]

#: The built-in templates: repo/mailbox -> repo/templates (editable install) and
#: site-packages/kpudesk/mailbox -> kpudesk/templates (wheel install).
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "templates"

#: Every built-in template. Each has an entry in SAMPLES.
TEMPLATES: tuple[str, ...] = (
    "party/ack.txt.j2",
    "party/ack.html.j2",
    "party/answer.txt.j2",
    "party/answer.html.j2",
    "party/followup.txt.j2",
    "party/provinsi_notice.txt.j2",
    "internal/escalation_anggota.txt.j2",
    "internal/escalation_provinsi.txt.j2",
    "reports/progress.txt.j2",
    "reports/progress.html.j2",
    "reports/recap.txt.j2",
    "reports/recap.html.j2",
    "reports/laporan.txt.j2",
    "reports/laporan.html.j2",
)

_DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
           "September", "Oktober", "November", "Desember")

# Indonesia's three legal time zones (Asia/Pontianak is WIB too).
_ZONE_ABBR = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Ujung_Pandang": "WITA",
    "Asia/Jayapura": "WIT",
}


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r} (expected an IANA name such as Asia/Jakarta)") from exc


def _local(dt: datetime, tz: ZoneInfo) -> datetime:
    """`dt` in the helpdesk zone. Naive datetimes are taken as UTC (the storage convention)."""
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(tz)


def zone_label(tz: str | ZoneInfo, offset: timedelta | None = None) -> str:
    """WIB / WITA / WIT for Indonesian zones, else the UTC offset ("UTC+9", "UTC-3.30", "UTC")."""
    z = _zone(tz)
    if z.key in _ZONE_ABBR:
        return _ZONE_ABBR[z.key]
    if offset is None:
        offset = datetime.now(z).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f".{mins:02d}" if mins else "")


def tgl(value: datetime | date, tz: str | ZoneInfo = "Asia/Jakarta") -> str:
    """"27 November 2026" (a datetime is first moved into the helpdesk zone)."""
    if isinstance(value, datetime):
        value = _local(value, _zone(tz))
    elif not isinstance(value, date):
        raise TypeError(f"expected a date or datetime, got {type(value).__name__}")
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def jam(value: datetime, tz: str | ZoneInfo = "Asia/Jakarta") -> str:
    """"14.05 WIB" (Indonesian time notation uses a dot)."""
    z = _zone(tz)
    local = _local(value, z)
    return f"{local.hour:02d}.{local.minute:02d} {zone_label(z, local.utcoffset())}"


def tanggal(value: datetime, tz: str | ZoneInfo = "Asia/Jakarta") -> str:
    """"Jumat, 27 November 2026 pukul 14.05 WIB"."""
    z = _zone(tz)
    local = _local(value, z)
    return f"{_DAYS[local.weekday()]}, {tgl(local, z)} pukul {jam(local, z)}"


def _nl2br(value: Any) -> Markup:
    """Escape text for HTML and keep its line breaks."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return Markup("<br>\n").join(escape(line) for line in text.split("\n"))


def _quote(value: Any, prefix: str = "> ") -> str:
    """Prefix every line, as mail clients quote a message."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    return "\n".join((prefix + line).rstrip() for line in text.split("\n"))


def _autoescape(name: str | None) -> bool:
    return bool(name) and name.endswith((".html.j2", ".html"))


class Renderer:
    """Renders the helpdesk's templates; an override folder wins over the built-in ones."""

    def __init__(self, override_dir: Path | None = None, timezone: str = "Asia/Jakarta") -> None:
        self.zone = _zone(timezone)
        self.timezone = self.zone.key
        self.override_dir = Path(override_dir) if override_dir is not None else None
        if self.override_dir is not None and not self.override_dir.is_dir():
            raise ValueError(f"template folder not found: {self.override_dir}")
        loaders = []
        if self.override_dir is not None:
            loaders.append(FileSystemLoader(str(self.override_dir), encoding="utf-8"))
        loaders.append(FileSystemLoader(str(BUILTIN_DIR), encoding="utf-8"))
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=_autoescape,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self._exists: dict[str, bool] = {}
        zone = self.zone
        self.env.filters.update(
            tanggal=lambda v: tanggal(v, zone),
            tgl=lambda v: tgl(v, zone),
            jam=lambda v: jam(v, zone),
            nl2br=_nl2br,
            quote=_quote,
        )

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render one template. Raises jinja2's TemplateNotFound / UndefinedError /
        TemplateSyntaxError, and SecurityError for what the sandbox refuses."""
        return self.env.get_template(name).render(dict(context))

    def exists(self, name: str) -> bool:
        # Templates load once per process (auto_reload is off), so the answer is kept too:
        # asking the loaders reads the file each time.
        found = self._exists.get(name)
        if found is None:
            try:
                self.env.get_template(name)
                found = True
            except TemplateNotFound:
                found = False
            self._exists[name] = found
        return found

    def check(self, samples: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """Render each named template with its sample context; return the problems found.

        Also compiles every other template the loaders can see (an override folder may hold
        extra ones), so a syntax error anywhere is reported. An empty list means all is well.
        """
        problems: list[str] = []
        for name, context in samples.items():
            try:
                self.render(name, copy.deepcopy(dict(context)))
            except Exception as exc:  # noqa: BLE001 - every failure is a finding here
                problems.append(_describe(name, exc))
        for name in self.env.list_templates(filter_func=lambda n: n.endswith(".j2")):
            if name in samples:
                continue
            try:
                self.env.get_template(name)
            except Exception as exc:  # noqa: BLE001
                problems.append(_describe(name, exc))
        return problems


def _describe(name: str, exc: Exception) -> str:
    if isinstance(exc, TemplateSyntaxError):
        where = exc.name or name
        return f"{where}:{exc.lineno}: syntax error: {exc.message}"
    if isinstance(exc, TemplateNotFound):
        return f"{name}: template not found" + (f" ({exc.name})" if exc.name and exc.name != name else "")
    if isinstance(exc, SecurityError):
        return f"{name}: ditolak sandbox templat (akses tidak aman): {exc.message}"
    if isinstance(exc, UndefinedError):
        return f"{name}: {exc.message}"
    return f"{name}: {type(exc).__name__}: {exc}"


# --- sample contexts -------------------------------------------------------------------------

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
