"""Charts in the report mails (issue 15 item 5): the progress report and the daily recap carry
table-based bars in their HTML part (cells of fixed width and a background colour: what
Gmail, Outlook and phone mail apps all render; no SVG, no script, no stylesheet), and the
plain-text part is byte-identical to what it was before the charts (golden files captured
from the templates before they changed, for the same fixed clock and data)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

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


@pytest.mark.usefixtures("day")  # the recap\'s data
def test_the_text_parts_are_byte_identical_to_before_the_charts(tmp_path):
    for name, msg in (("progress", _progress_mail(tmp_path / "p")), ("recap", _recap_mail(tmp_path / "r"))):
        text = msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
        assert text == (GOLDEN / f"{name}.txt").read_text(encoding="utf-8"), name


def _bars(html: str) -> list[int]:
    """The widths of the drawn bars: cells with a fixed width and a background colour."""
    return [int(w) for w in re.findall(r'<td class="bar" width="(\d+)" height="12" bgcolor="#[0-9a-f]{6}"', html)]


def _chart(html: str, name: str) -> str:
    start = html.index(f'data-chart="{name}"')
    end = re.compile(r'data-chart="|<h3|<p ').search(html, start + 1)
    return html[start:end.start() if end else len(html)]


def test_the_progress_mail_draws_table_bars_and_carries_no_svg_script_or_image(tmp_path):
    msg = _progress_mail(tmp_path)
    html = _html(msg)
    members = _chart(html, "members")
    # PKB 1.250 is the longest bar (240 px), Gerindra 300 and Golkar 50 in proportion
    assert _bars(members) == [240, round(300 / 1250 * 240), round(50 / 1250 * 240)]
    assert "1.250 (+250)" in members and "300 (&mdash;)" in members
    assert _bars(_chart(html, "officials")) == [240, 140, 100]  # 12, 7, 5
    for banned in ("<svg", "<script", "<style", "<img", "class=\"chart\""):
        assert banned not in html
    assert [p.get_content_type() for p in _parts(msg)] == ["text/plain", "text/html"]  # no image parts to reference


@pytest.mark.usefixtures("day")  # the recap\'s data
def test_the_recap_mail_draws_bars_per_channel_status_party_and_standard(tmp_path):
    msg = _recap_mail(tmp_path)
    html = _html(msg)
    assert _bars(_chart(html, "channel")) == [240, 80]  # email 3, tatap muka 1, the zeros drawn empty
    assert _bars(_chart(html, "party")) == [240, 120, 120]  # PKB 2, Gerindra 1, unknown 1
    standards = _chart(html, "standards")
    assert "2 dari 3 sesuai standar" in standards and "0 dari 0 sesuai standar" in standards
    assert _bars(standards)[:2] == [160, 80]  # receive: 2 within (green), 1 over (red) of 3
    for banned in ("<svg", "<script", "<style", "<img"):
        assert banned not in html
    for part in _parts(msg):  # every image part, if there ever is one, is referenced by cid:
        if part.get_content_maintype() == "image":
            assert f"cid:{part['Content-ID'].strip('<>')}" in html


@pytest.mark.usefixtures("day")  # the recap\'s data
def test_the_text_parts_alone_carry_every_figure(tmp_path):
    text = text_of(_progress_mail(tmp_path / "p"))
    for figure in ("12", "+2", "1.250", "+250", "300", "50", "1.600", "24"):
        assert f" {figure} " in f" {' '.join(text.split())} "
    text = text_of(_recap_mail(tmp_path / "r"))
    for line in ("Surel                  3", "Tatap muka             1", "PKB                   2", "Gerindra              1",
                 "Konsultasi baru           : 4"):
        assert line in text
