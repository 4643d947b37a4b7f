"""Charts in the report mails (issue 15 item 5): the progress report and the daily recap carry
table-based bars in their HTML part (cells of fixed width and a background colour: what
Gmail, Outlook and phone mail apps all render; no SVG, no script, no stylesheet), and the
plain-text part is byte-identical to what it was before the charts (golden files captured
from the templates before they changed, for the same fixed clock and data)."""
from __future__ import annotations

import re
from pathlib import Path

from kpudesk.tickets.reports import claim_slot
from tests.cli.test_reports import HEADER, Desk, database, day, mail, text_of, wib  # noqa: F401 - fixtures

GOLDEN = Path(__file__).parent / "report_charts"


def _progress_mail(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    desk = Desk(tmp_path)
    shot = tmp_path / "dasbor-0745.png"
    shot.write_bytes(b"\x89PNG pagi")
    desk.at(wib(7, 50)).import_(HEADER + "PKB;10;1.000;1;2026-11-27 07:45\nGolkar;5;50;1;2026-11-27 07:45\n", shot)
    desk.at(wib(8, 0)).progress_slot("2026-11-27", "08:00")
    desk.at(wib(16, 50)).import_(HEADER + "PKB;12;1.250;2;2026-11-27 16:45\nGerindra;7;300;1;2026-11-27 16:40\n")
    return mail(desk.at(wib(17, 0)).progress_slot("2026-11-27", "17:00"))


def _recap_mail(tmp_path):
    desk = Desk(tmp_path)
    return mail(desk.at(wib(17, 5)).recap(slot=claim_slot("recap", "2026-11-27", "17:05", now=wib(17, 5), late=False)))


def _html(msg) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()


def _parts(msg) -> list:
    return [p for p in msg.walk() if not p.is_multipart()]


def test_the_text_parts_are_byte_identical_to_before_the_charts(tmp_path, day):  # noqa: ARG001 - day: the recap's data
    for name, msg in (("progress", _progress_mail(tmp_path / "p")), ("recap", _recap_mail(tmp_path / "r"))):
        text = msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
        assert text == (GOLDEN / f"{name}.txt").read_text(encoding="utf-8"), name
