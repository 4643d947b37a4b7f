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
