"""Every label, event, time and help text an officer sees is Bahasa Indonesia (issue 12
item 13): `--help` of every command and the human output of the officer's commands are
scanned for English words; times read "5 Desember 2026 00.57 WIB", not ISO 8601."""
from __future__ import annotations

import argparse
import re

import pytest

from kpudesk.daemon.cli import build_parser
from tests.officer_desk import RINA, new_ticket, offline_desk

ENGLISH = re.compile(r"\b(usage|positional arguments|options|optional arguments|show this help|invalid choice|"
                     r"required|default|error|the|and|with|message|messages|ticket|tickets|"
                     r"sent|pending|queued|failed|bounced|created|answered|delivery|"
                     r"ticket\.created|ack\.queued|escalation\.answered)\b", re.IGNORECASE)
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def english_in(text: str, commands: set[str]) -> list[str]:
    """English words in `text`, leaving out what is typed rather than read: option names,
    command names, `code` in back quotes, {choice,lists}, settings keys and addresses, and
    a quoted server message ("muncul error 502" in the FAQ)."""
    text = re.sub(r"\berror \d{3}\b", " ", text)
    text = re.sub(r"`[^`]*`|\{[^}]*\}|\S+@\S+|\S*[\w-]+\.(toml|csv|html|j2|pdf)\b|--?[\w-]+|\S+\.\S+", " ", text)
    words = [m.group(0) for m in ENGLISH.finditer(text)]
    return [w for w in words if w.lower() not in commands]


def _parsers(parser: argparse.ArgumentParser, path=()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, path + (name,))


PARSERS = list(_parsers(build_parser()))
COMMANDS = {name for path, _p in PARSERS for name in path}


@pytest.mark.parametrize("path", [p for p, _ in PARSERS], ids=lambda p: " ".join(p) or "kpudesk")
def test_every_help_text_is_indonesian(path):
    parser = dict(PARSERS)[path]
    text = parser.format_help()
    assert text.startswith("penggunaan: ")
    assert english_in(text, COMMANDS) == [], text


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    root = tmp_path_factory.mktemp("bahasa")
    d = offline_desk(root / "desk")
    scan = root / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4\n%%EOF\n")
    new_ticket(d, evidence=(str(scan),))
    assert d.run("tickets", "reply", "1", "--message", "Silakan reset lewat menu Lupa Sandi.", "--as", RINA).code == 0
    assert d.run("tickets", "note", "1", "--message", "sudah ditelepon", "--as", RINA).code == 0
    return d


@pytest.mark.parametrize("args", [
    ("tickets", "show", "1"), ("tickets", "list"), ("tickets", "list", "--search", "sipol"),
    ("faq", "list"), ("faq", "search", "lupa", "kata", "sandi"), ("bukutamu",),
    ("tickets", "close", "1", "--as", RINA), ("tickets", "reopen", "1", "--as", RINA),
], ids=" ".join)
def test_officer_output_is_indonesian_with_indonesian_times(desk, args):
    r = desk.run(*args)
    assert r.code == 0, r.err
    assert english_in(r.out, COMMANDS) == [], r.out
    assert not ISO_TIME.search(r.out), r.out


def test_history_and_delivery_read_as_indonesian_phrases(desk):
    out = desk.run("tickets", "show", "1").out
    assert "tiket dibuat" in out and "dijawab" in out and "catatan internal" in out
    assert "[antre kirim]" in out
    assert re.search(r"\d{1,2} (Januari|Februari|Maret|April|Mei|Juni|Juli|Agustus|September|Oktober|November"
                     r"|Desember) \d{4} \d\d\.\d\d WI[BTA]", out)
    shown = desk.json("tickets", "show", "1")  # JSON keeps the codes and ISO times
    assert "ticket.created" in [e["kind"] for e in shown["events"]]
    assert ISO_TIME.match(shown["created_at"])
