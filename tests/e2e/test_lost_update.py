"""Issue 11 item 7: an officer's action writes only what it changes.

An officer loads a ticket, then takes minutes in $EDITOR; meanwhile the daemon changes the
ticket (a follow-up names the party). The action must keep what the daemon wrote.
"""
from __future__ import annotations

import io
import sqlite3
import sys
import textwrap

import pytest

from tests.desk import Desk


@pytest.fixture
def desk(tmp_path, imap_user):
    return Desk(tmp_path / "desk", imap_user)


def walk_in(desk: Desk) -> int:
    return desk.json("tickets", "new", "--channel", "tatap-muka", "--party", "PKB", "--name", "Hendra",
                     "--email", "hendra@pkb.example.org", "--subject", "Tanya", "--message", "Kapan verifikasi?",
                     "--as", "Rina Wulandari")["id"]


def daemon_sets_party(desk: Desk, ticket_id: int, short: str) -> None:
    """What the daemon's ingest does on a follow-up naming the party: its own connection."""
    con = sqlite3.connect(desk.root / "state" / "kpudesk.db", isolation_level=None)
    con.execute('UPDATE ticket SET party_id = (SELECT id FROM party WHERE short = ?), '
                "flags = json_set(flags, '$.needs_identity', json('false')) WHERE id = ?", (short, ticket_id))
    con.close()


@pytest.mark.parametrize("action", ["reply", "note", "assign", "close"])
def test_an_officer_action_on_a_stale_ticket_keeps_what_the_daemon_changed_meanwhile(desk, action):
    from kpudesk.tickets.queries import get_ticket
    tid = walk_in(desk)
    app = desk.app()
    officer = app.settings.officer("Rina Wulandari")
    stale = get_ticket(tid)  # loaded before $EDITOR opened
    daemon_sets_party(desk, tid, "Golkar")
    if action == "reply":
        app.officers.reply(stale, officer=officer, body="Jadwal verifikasi: pekan depan.")
    elif action == "note":
        app.officers.note(stale, officer=officer, body="Sudah ditelepon.")
    elif action == "assign":
        app.officers.assign(stale, officer=officer, assignee=app.settings.officer("Ahmad Fauzi"))
    else:
        app.officers.close(stale, officer=officer)
    shown = desk.json("tickets", "show", str(tid))
    assert shown["party"] == "Golkar"
    assert shown["flags"].get("needs_identity") is False
    expected = {"reply": "dijawab", "note": "baru", "assign": "baru", "close": "selesai"}[action]
    assert shown["status"] == expected
    if action == "assign":
        assert shown["assignee"] == "Ahmad Fauzi"
    assert stale.party.short == "Golkar"  # the caller's instance is current again


def test_a_reply_written_in_the_editor_keeps_the_party_set_by_a_followup_meanwhile(desk, tmp_path, monkeypatch):
    """The reported case, end to end: `tickets reply` opens $EDITOR; while the officer
    writes, the daemon stores a follow-up that names the party."""
    tid = walk_in(desk)
    editor = tmp_path / "editor.py"
    editor.write_text(textwrap.dedent(f"""
        import sqlite3, sys
        con = sqlite3.connect({str(desk.root / "state" / "kpudesk.db")!r}, isolation_level=None)
        con.execute("UPDATE ticket SET party_id = (SELECT id FROM party WHERE short = 'Golkar') WHERE id = {tid}")
        con.close()
        open(sys.argv[1], "w", encoding="utf-8").write("Verifikasi faktual dimulai pekan depan.\\n")
    """))
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.delenv("VISUAL", raising=False)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    r = desk.run("tickets", "reply", str(tid), "--as", "Rina Wulandari")
    assert r.code == 0, r.err
    shown = desk.json("tickets", "show", str(tid))
    assert shown["party"] == "Golkar" and shown["status"] == "dijawab"
    assert "Verifikasi faktual dimulai pekan depan." in shown["messages"][-1]["text"]


def test_closing_a_ticket_the_daemon_closed_meanwhile_says_so(desk):
    from kpudesk.tickets.queries import get_ticket
    tid = walk_in(desk)
    app = desk.app()
    officer = app.settings.officer("Rina Wulandari")
    stale = get_ticket(tid)
    app.officers.close(get_ticket(tid), officer=officer)  # another officer, a moment before
    from kpudesk.tickets.errors import UserError
    with pytest.raises(UserError, match="sudah selesai"):
        app.officers.close(stale, officer=officer)
