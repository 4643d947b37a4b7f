"""The officer's command line (issue 12 items 7, 9, 10, 14): tickets named as shown, the FAQ
browsed, party filters by any alias, search, attachments saved and sent."""
from __future__ import annotations

import email
from email import policy

import pytest

from tests.officer_desk import RINA, new_ticket, offline_desk


@pytest.fixture
def desk(tmp_path):
    return offline_desk(tmp_path / "desk")


# --- item 7: a ticket is named as it is shown ----------------------------------------------

@pytest.mark.parametrize("written", ["1", "#1", "HD-MSJ #1", "[HD-MSJ #1]", "hd-msj #1", " [hd-msj#1] "])
def test_a_ticket_is_found_by_every_form_it_is_shown_in(desk, written):
    t = new_ticket(desk)
    assert desk.json("tickets", "show", written)["id"] == t["id"]
    r = desk.run("tickets", "note", written, "--message", "dicek", "--as", RINA)
    assert r.code == 0, r.err


def test_another_helpdesk_tag_is_refused(desk):
    new_ticket(desk)
    r = desk.run("tickets", "show", "HD-LPG #1")
    assert r.code == 1 and "HD-LPG" in r.err and "Traceback" not in r.err


# --- item 9: the FAQ can be browsed --------------------------------------------------------

def test_faq_list_and_show(desk):
    entries = desk.json("faq", "list")
    assert len(entries) > 10 and {"id", "question"} <= set(entries[0])
    first = entries[0]["id"]
    shown = desk.json("faq", "show", first)
    assert shown["id"] == first and shown["answer"]
    human = desk.run("faq", "show", first)
    assert human.code == 0 and shown["answer"].split()[0] in human.out
    assert first in desk.run("faq", "list").out


def test_faq_search_shows_the_answers_of_the_best_three(desk):
    hits = desk.json("faq", "search", "lupa", "kata", "sandi", "akun", "sipol")
    assert hits and list(hits[0]) == ["id", "score", "question"]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    out = desk.run("faq", "search", "lupa", "kata", "sandi", "akun", "sipol").out
    base = desk.app().faq.current()
    for h in hits[:3]:
        assert base.get(h["id"]).answer.split()[0] in out and h["id"] in out


def test_an_unknown_faq_id_is_a_one_line_message_with_a_suggestion(desk):
    first = desk.json("faq", "list")[0]["id"]
    r = desk.run("faq", "show", first + "9")
    assert r.code == 1 and first in r.err and len(r.err.strip().splitlines()) == 1
    new_ticket(desk)
    r = desk.run("tickets", "reply", "1", "--faq", "syarat-999", "--message", "x", "--as", RINA)
    assert r.code == 1 and "entri FAQ tidak dikenal" in r.err and "Traceback" not in r.err


# --- item 10: party filters by any alias; search -------------------------------------------

@pytest.mark.parametrize("party", ["PDIP", "PDI-P", "pdi", "PDI Perjuangan", "3", "pdi perjuangan"])
def test_the_party_filter_takes_every_alias(desk, party):
    t = new_ticket(desk, party="PDIP")
    new_ticket(desk, party="PKB", email="budi@pkb.example.org", name="Budi")
    assert [r["id"] for r in desk.json("tickets", "list", "--party", party)] == [t["id"]]


def test_an_unknown_party_is_an_error_naming_the_closest(desk):
    new_ticket(desk)
    r = desk.run("tickets", "list", "--party", "Gerindar")
    assert r.code == 1 and "partai tidak dikenal" in r.err and "Gerindra" in r.err


def test_list_search_looks_in_subject_text_requester_and_ref(desk):
    a = new_ticket(desk, subject="Akun terkunci", message="Mohon reset kata sandi", email="lia@pdip.example.org")
    b = new_ticket(desk, party="PKB", subject="Verifikasi faktual", message="Kapan jadwal verifikasi 100%?",
                   email="budi@pkb.example.org", name="Budi Santoso")

    def ids(*words):
        return [r["id"] for r in desk.json("tickets", "list", "--search", *words)]

    assert ids("terkunci") == [a["id"]]
    assert ids("JADWAL") == [b["id"]]
    assert ids("budi", "santoso") == [b["id"]]
    assert ids("pkb.example") == [b["id"]]
    assert ids("HD-MSJ", f"#{b['id']}") == [b["id"]]
    assert ids("100%") == [b["id"]]
    assert ids("sandi", "jadwal") == []
    assert ids("%") == [a["id"], b["id"]]  # punctuation alone filters nothing


# --- item 14: attachments ------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_an_attachment_is_saved_with_its_extension_and_not_overwritten(desk, tmp_path):
    scan = tmp_path / "surat keterangan.pdf"
    scan.write_bytes(PDF)
    new_ticket(desk, evidence=(str(scan),))
    assert "[lampiran 1] surat keterangan.pdf" in desk.run("tickets", "show", "1").out
    out = tmp_path / "simpan"
    r = desk.run("tickets", "attachment", "HD-MSJ #1", "1", "--output", str(out))
    assert r.code == 0, r.err
    assert (tmp_path / "simpan.pdf").read_bytes() == PDF
    again = desk.run("tickets", "attachment", "1", "1", "--output", str(out))
    assert again.code == 1 and "--force" in again.err
    assert desk.run("tickets", "attachment", "1", "1", "--output", str(out), "--force").code == 0
    folder = tmp_path / "folder"
    folder.mkdir()
    assert desk.run("tickets", "attachment", "1", "1", "--output", str(folder)).code == 0
    assert (folder / "surat keterangan.pdf").read_bytes() == PDF
    missing = desk.run("tickets", "attachment", "1", "2", "--output", str(folder))
    assert missing.code == 1 and "1 lampiran" in missing.err


def test_a_hostile_attachment_name_stays_in_the_folder():
    from kpudesk.daemon.commands.ticket_files import safe_name, target_path

    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("..\\..\\boot.ini") == "boot.ini"
    assert safe_name("\x00\x1b[31m.bashrc") == "[31m.bashrc"
    assert safe_name("...") == "lampiran"
    assert target_path("/tmp/x.txt", "a.PDF").name == "x.txt.pdf"


def test_a_reply_carries_its_attachments_with_sniffed_types(desk, tmp_path):
    from kpudesk.tickets.models import Attachment
    from kpudesk.tickets.outbox import OutboxItem

    new_ticket(desk)
    doc = tmp_path / "panduan"  # no extension: the type comes from the content
    doc.write_bytes(PDF)
    note = tmp_path / "catatan.txt"
    note.write_text("Langkah reset akun", encoding="utf-8")
    r = desk.run("tickets", "reply", "#1", "--message", "Terlampir panduannya.", "--as", RINA,
                 "--attach", str(doc), "--attach", str(note))
    assert r.code == 0, r.err
    shown = desk.json("tickets", "show", "1")
    out = [m for m in shown["messages"] if m["direction"] == "out" and m["kind"] == "answer"][-1]
    assert [(a["filename"], a["content_type"]) for a in out["attachments"]] == [
        ("panduan", "application/pdf"), ("catatan.txt", "text/plain")]
    desk.app()
    item = OutboxItem.select().where(OutboxItem.kind == "answer").get()
    mail = email.message_from_bytes(bytes(item.data), policy=policy.default)
    parts = {p.get_filename(): (p.get_content_type(), p.get_content()) for p in mail.iter_attachments()}
    assert parts["panduan"] == ("application/pdf", PDF)
    assert parts["catatan.txt"][0] == "text/plain"
    assert Attachment.select().count() == 2


def test_attachments_over_the_limit_are_refused_and_nothing_is_queued(desk, tmp_path):
    new_ticket(desk)
    big = tmp_path / "besar.bin"
    big.write_bytes(b"\0" * (6 * 1024 * 1024))
    r = desk.run("tickets", "reply", "1", "--message", "x", "--as", RINA, "--attach", str(big), "--attach", str(big))
    assert r.code == 1 and "10 MB" in r.err
    assert not any(m["kind"] == "answer" for m in desk.json("tickets", "show", "1")["messages"])
    r = desk.run("tickets", "reply", "1", "--message", "x", "--as", RINA, "--attach", str(tmp_path / "tidak-ada.pdf"))
    assert r.code == 1 and "tidak dapat dibaca" in r.err


def test_a_walk_in_written_up_later_keeps_its_time_and_a_voided_entry_leaves_the_queue(tmp_path):
    """Issue 12 items 11 and 15 through the CLI: `tickets new --at`, and `tickets void`
    takes the entry out of `tickets list` (still there when a status is asked for)."""
    from tests.officer_desk import offline_desk

    desk = offline_desk(tmp_path / "desk")
    desk.settings_path.write_text(desk.settings_path.read_text() + """
[[officers]]
name = "Dewi Koordinator"
email = "dewi@kpu-mesuji.example.org"
role = "koordinator-harian"
""")
    r = desk.run("tickets", "new", "--channel", "tatap-muka", "--party", "PKB", "--name", "Budi", "--subject",
                 "Datang ke kantor", "--message", "Tanya syarat", "--as", "Rina Wulandari",
                 "--at", "2026-01-05 09:30", "--json")
    assert r.code == 0, r.err
    t = r.json()
    shown = desk.json("tickets", "show", str(t["id"]))
    assert shown["created_at"].startswith("2026-01-05T09:30") and shown["created_at"].endswith("+07:00")
    assert [x["id"] for x in desk.json("tickets", "list")] == [t["id"]]
    r = desk.run("tickets", "void", str(t["id"]), "--reason", "entri uji coba", "--as", "Dewi Koordinator")
    assert r.code == 0, r.err
    assert desk.json("tickets", "list") == []
    assert [x["id"] for x in desk.json("tickets", "list", "--status", shown["status"])] == [t["id"]]
