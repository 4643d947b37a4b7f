"""`kpudesk tickets merge ID --into ID` (issue 14 item 6): the CLI twin of the web desk's merge,
the same domain function (tickets/merge.py) and errors; exit 1 for bad input, 2 for usage."""
from __future__ import annotations

import pytest

from tests.officer_desk import RINA, new_ticket, offline_desk


def stored(desk, ticket_id: int) -> dict:
    """What `tickets show` reads from the database (not the SOP timings still running on the
    real clock, which move between two calls)."""
    shown = desk.json("tickets", "show", str(ticket_id))
    return {k: v for k, v in shown.items() if "timing" not in k and "minutes" not in k and k != "sla"}


@pytest.fixture
def desk(tmp_path):
    return offline_desk(tmp_path / "desk")


def test_merge_moves_the_conversation_and_says_so(desk):
    a = new_ticket(desk, subject="Akun Sipol terkunci")
    b = new_ticket(desk, subject="Akun masih terkunci", message="Akun kami masih terkunci juga")
    out = desk.json("tickets", "merge", f"HD-MSJ #{b['id']}", "--into", str(a["id"]), "--as", RINA)
    assert out["id"] == b["id"] and out["merged_into"] == a["id"] and out["status"] == "selesai"
    assert out["into"]["id"] == a["id"] and out["into"]["messages"] == 2
    survivor = desk.json("tickets", "show", str(a["id"]))
    assert any("masih terkunci juga" in m["text"] for m in survivor["messages"])
    stub = desk.json("tickets", "show", str(b["id"]))
    assert stub["messages"] == [] and [e["kind"] for e in stub["events"]][-1] == "ticket.merged"
    assert [e for e in stub["events"] if e["kind"] == "ticket.merged"][0]["actor"] == RINA


def test_merge_in_text_names_both_tickets(desk):
    a, b = new_ticket(desk), new_ticket(desk, subject="Lagi")
    r = desk.run("tickets", "merge", str(b["id"]), "--into", str(a["id"]), "--as", RINA)
    assert r.code == 0, r.err
    assert f"HD-MSJ #{b['id']} digabung ke HD-MSJ #{a['id']}" in r.out


@pytest.mark.parametrize(("case", "words"), [
    ("self", "dirinya sendiri"),
    ("unknown", "tidak ditemukan"),
    ("other-party", "partai yang berbeda"),
    ("role", "tidak diizinkan untuk peran anggota-kpu"),
    ("twice", "sudah digabung"),
])
def test_bad_input_exits_1_with_the_reason_and_changes_nothing(desk, case, words):
    a, b = new_ticket(desk), new_ticket(desk, subject="Lagi")
    other = new_ticket(desk, party="PKB", email="budi@pkb.example.org", name="Budi")
    args = {"self": (b["id"], b["id"], RINA), "unknown": (b["id"], 999, RINA),
            "other-party": (other["id"], a["id"], RINA), "role": (b["id"], a["id"], "Ahmad Fauzi"),
            "twice": (b["id"], a["id"], RINA)}[case]
    if case == "twice":
        assert desk.run("tickets", "merge", str(b["id"]), "--into", str(a["id"]), "--as", RINA).code == 0
    before = stored(desk, args[0])
    r = desk.run("tickets", "merge", str(args[0]), "--into", str(args[1]), "--as", args[2])
    assert r.code == 1 and words in r.err and "Traceback" not in r.err
    assert stored(desk, args[0]) == before


def test_a_malformed_id_is_a_usage_error(desk):
    r = desk.run("tickets", "merge", "1", "--into", "satu")
    assert r.code == 2 and "nomor tiket tidak valid" in r.err
