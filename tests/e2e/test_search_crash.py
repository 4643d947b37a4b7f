"""The search index's catch-up killed mid-way (SIGKILL, in a process of its own) and run
again: every stored ticket ends up indexed exactly once, whether the kill came between two
of its transactions or inside one (after the index was written, before the commit that
removes the due rows). The due rows are the state that says "not yet indexed"; they leave
in the transaction that writes the documents, so a crash can only leave work to redo."""
from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from kpudesk.tickets import queries
from kpudesk.tickets.schema import close_database, open_database
from tests.corpus.hostile import party_mail
from tests.feeder import Feeder

TICKETS = 120
BATCH = 25

# The catch-up process: the desk's database, a catch-up of BATCH tickets per transaction,
# killed at the chosen place of its third batch.
KILLER = textwrap.dedent("""
    import os, signal, sys
    from kpudesk.tickets import search
    from kpudesk.tickets.schema import open_database
    open_database(sys.argv[1], create=False)
    where, calls = sys.argv[2], []
    real = search._write

    def write(*args):
        real(*args)
        calls.append(1)
        if where == "inside" and len(calls) == 3:
            os.kill(os.getpid(), signal.SIGKILL)  # documents written, their transaction open

    def progress():
        if where == "between" and len(calls) == 3:
            os.kill(os.getpid(), signal.SIGKILL)  # three transactions committed

    search._write = write
    search.catch_up(batch=int(sys.argv[3]), progress=progress)
    sys.exit("not killed")
""")


def counts(path) -> tuple[int, int, int]:
    """(due rows, documents, documents for tickets that exist)."""
    con = sqlite3.connect(path)
    try:
        due = con.execute("select count(*) from search_pending").fetchone()[0]
        docs = con.execute("select count(*) from ticket_fts").fetchone()[0]
        real = con.execute("select count(*) from ticket_fts where rowid in (select id from ticket)").fetchone()[0]
        return due, docs, real
    finally:
        con.close()


@pytest.mark.parametrize("where, indexed_before", [("between", 3 * BATCH), ("inside", 2 * BATCH)])
def test_a_catch_up_killed_mid_way_and_run_again_indexes_every_ticket_once(tmp_path, where, indexed_before):
    db_path = tmp_path / "kpudesk.db"
    url = f"sqlite:///{db_path}"
    desk = Feeder(tmp_path, extra={"database": {"url": url}})
    desk.deliver(*[party_mail(f"lo{i}@pkb.example.org", f"Pertanyaan {i}", f"Verifikasi keanggotaan nomor{i:04d}")
                   for i in range(TICKETS)])
    close_database()
    assert counts(db_path) == (TICKETS, 0, 0)  # stored, all due

    proc = subprocess.run([sys.executable, "-c", KILLER, url, where, str(BATCH)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert counts(db_path) == (TICKETS - indexed_before, indexed_before, indexed_before)

    open_database(url, create=False)  # the next search, as an officer types it
    try:
        hits = [t["id"] for t in queries.list_tickets(tag="HD-MSJ", zone=desk.settings.zone, search="keanggotaan")]
        assert len(hits) == TICKETS == len(set(hits))
        one = queries.list_tickets(tag="HD-MSJ", zone=desk.settings.zone, search="nomor0077")
        assert [t["subject"] for t in one] == ["Pertanyaan 77"]
    finally:
        close_database()
    assert counts(db_path) == (0, TICKETS, TICKETS)  # each ticket once, none due
