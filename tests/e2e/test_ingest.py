"""Ingest end to end against a real Dovecot: tickets, counts, dedupe, spam, quarantine."""
from __future__ import annotations

import pytest

from tests.auth_mail import MAIL_SETTINGS, trusted
from tests.corpus.hostile import cpython_email_corpus, hostile_messages, party_mail
from tests.desk import HELPDESK, Desk


@pytest.fixture
def desk(tmp_path, imap_user):
    return Desk(tmp_path / "desk", imap_user)


def counted(stats: dict) -> int:
    return stats["messages_added"] + stats["ignored"] + stats["duplicates"] + stats["spam_held"] + stats["quarantined"]


def test_party_mail_becomes_one_ticket_with_identity(desk, imap_user):
    imap_user.append("INBOX", party_mail(
        "Budi Santoso <budi@gelora.example.org>", "Pertanyaan keanggotaan Sipol",
        "Selamat pagi, saya Budi Santoso dari Partai Gelora. Bagaimana cara unggah KTA?\n"
        "Nama: Budi Santoso\nHP: 0812-3456-7890\n"))
    stats = desk.json("poll")
    assert stats["fetched"] == 1 and stats["tickets_created"] == 1 and stats["messages_added"] == 1
    assert counted(stats) == stats["fetched"]
    assert stats["folders"]["INBOX"]["last_uid"] == 1
    tickets = desk.json("tickets", "list")
    assert len(tickets) == 1
    t = tickets[0]
    assert t["ref"] == f"HD-MSJ #{t['id']}" and t["status"] == "baru"
    assert t["requester"] == "budi@gelora.example.org" and t["party"] == "Gelora"
    assert t["created_at"].endswith("+07:00")
    shown = desk.json("tickets", "show", str(t["id"]))
    assert shown["identity"]["phone"] == "+6281234567890"
    assert shown["identity"]["name"] == "Budi Santoso"
    assert shown["messages"][0]["direction"] == "in"
    assert "unggah KTA" in shown["messages"][0]["text"]
    # A second poll adds nothing.
    again = desk.json("poll")
    assert again["fetched"] == 0 and again["tickets_created"] == 0
    assert len(desk.json("tickets", "list")) == 1


def test_poll_never_changes_the_mailbox(desk, imap_user):
    imap_user.append("INBOX", party_mail("a@pkb.example.org", "Tanya", "Isi"))
    desk.json("poll")
    with imap_user.session() as c:
        c.select_folder("INBOX", readonly=True)
        flags = c.get_flags(c.search("ALL"))
    assert all(b"\\Seen" not in f and b"\\Deleted" not in f for f in flags.values())
    assert len(flags) == 1


def test_every_corpus_message_is_stored_or_quarantined_and_nothing_twice(desk, imap_user):
    corpus = cpython_email_corpus() + hostile_messages()
    assert len(corpus) > 60
    imap_user.append_many("INBOX", [raw for _name, raw in corpus])
    first = desk.json("poll")
    assert first["fetched"] == len(corpus)
    assert counted(first) == first["fetched"]
    assert first["auto_replies"] >= 3 and first["bounces"] >= 2 and first["bulk"] >= 2
    assert first["duplicates"] >= 1  # the exact duplicate pair
    second = desk.json("poll")
    assert second["fetched"] == 0
    # Re-reading everything (new UIDVALIDITY) stores nothing new either.
    imap_user.reset_uidvalidity("INBOX")
    third = desk.json("poll")
    assert third["fetched"] == len(corpus)
    assert third["duplicates"] + third["quarantined"] == len(corpus)
    assert third["tickets_created"] == 0
    quarantined = desk.json("quarantine", "list")
    assert len(quarantined) == first["quarantined"]  # retried ones counted as attempts, not new rows
    for q in quarantined:
        assert q["error"] and q["folder"] == "INBOX"


def test_same_message_in_inbox_and_spam_is_stored_once(desk, imap_user):
    raw = party_mail("lo@pks.example.org", "Soal kantor tetap", "Apakah kantor harus milik sendiri?",
                     message_id="<same-1@pks.example.org>")
    spam_copy = b"X-Spam-Flag: YES\r\nX-Spam-Score: 7.1\r\n" + raw
    imap_user.append("INBOX", raw)
    imap_user.append("Spam", spam_copy)
    stats = desk.json("poll")
    assert stats["fetched"] == 2 and stats["duplicates"] == 1 and stats["tickets_created"] == 1
    assert stats["spam_held"] == 0


def test_reused_message_id_with_other_content_is_kept_and_flagged(desk, imap_user):
    a = party_mail("x@pan.example.org", "Satu", "Isi pertama", message_id="<dup@client.example.org>")
    b = party_mail("y@psi.example.org", "Dua", "Isi lain sama sekali", message_id="<dup@client.example.org>")
    imap_user.append("INBOX", a)
    imap_user.append("INBOX", b)
    stats = desk.json("poll")
    assert stats["duplicates"] == 0 and stats["messages_added"] == 2
    from kpudesk.tickets.models import Message
    desk.app()
    rows = list(Message.select().where(Message.msgid == "dup@client.example.org"))
    assert len(rows) == 2 and sorted(r.msgid_conflict for r in rows) == [False, True]


def test_mail_without_message_id_is_not_duplicated_on_reread(desk, imap_user):
    raw = (b"From: Siti <siti@golkar.example.org>\r\nTo: " + HELPDESK.encode() + b"\r\n"
           b"Subject: tanpa message id\r\nDate: Fri, 27 Nov 2026 09:00:00 +0700\r\n\r\nHalo helpdesk\r\n")
    imap_user.append("INBOX", raw)
    assert desk.json("poll")["tickets_created"] == 1
    imap_user.reset_uidvalidity("INBOX")
    again = desk.json("poll")
    assert again["fetched"] == 1 and again["duplicates"] == 1 and again["tickets_created"] == 0


def test_spam_folder_rescues_only_authenticated_threaded_mail_and_holds_the_rest(tmp_path, imap_user):
    # Issue 11: a registered party address in From: no longer rescues (a phishing mail
    # forges exactly that); only a passing verdict plus a thread to a ticket does.
    registry = tmp_path / "parties-local.toml"
    registry.write_text('[[party]]\nshort = "PKB"\naddresses = ["lo@pkb.example.org"]\n', encoding="utf-8")
    desk = Desk(tmp_path / "desk", imap_user, extra=MAIL_SETTINGS + f'\n[parties]\nregistry = "{registry}"\n')
    first = party_mail("ani@nasdem.example.org", "Pertanyaan awal", "Bagaimana cara login Sipol?",
                       message_id="<q1@nasdem.example.org>")
    imap_user.append("INBOX", first)
    desk.json("poll")
    # A follow-up that the spam filter caught: authenticated and threading by References: rescued.
    follow = party_mail("ani@nasdem.example.org", "Re: Pertanyaan awal", "Tambahan pertanyaan",
                        in_reply_to="<q1@nasdem.example.org>", references="<q1@nasdem.example.org>")
    imap_user.append("Spam", trusted(follow))
    # The same thread without the server's word for the sender: held.
    imap_user.append("Spam", party_mail("ani@nasdem.example.org", "Re: Pertanyaan awal", "Tanpa autentikasi",
                                        in_reply_to="<q1@nasdem.example.org>"))
    imap_user.append("Spam", trusted(party_mail("lo@pkb.example.org", "Tanya jadwal", "Kapan verifikasi?")))
    imap_user.append("Spam", party_mail("promo@shop.example.net", "DISKON 90%", "Beli sekarang"))
    stats = desk.json("poll")
    assert stats["spam_rescued"] == 1 and stats["spam_held"] == 3 and stats["tickets_created"] == 0
    assert counted(stats) == stats["fetched"] == 4
    held = desk.json("spam", "list")
    assert sorted(h["from"] for h in held) == ["ani@nasdem.example.org", "lo@pkb.example.org", "promo@shop.example.net"]
    tickets = desk.json("tickets", "list")
    assert len(tickets) == 1 and tickets[0]["messages"] >= 2
    promo = next(h for h in held if h["from"] == "promo@shop.example.net")
    r = desk.run("spam", "release", str(promo["id"]), "--as", "Rina Wulandari")
    assert r.code == 0, r.err
    assert len(desk.json("tickets", "list")) == 2
    assert len(desk.json("spam", "list")) == 2
    assert desk.run("spam", "release", str(promo["id"])).code == 1


def test_a_broken_message_is_quarantined_and_the_poll_goes_on(desk, imap_user, monkeypatch):
    import kpudesk.tickets.analysis as ingest

    real = ingest.classify

    def flaky(msg, own):
        if "MELEDAK" in msg.subject:
            raise RuntimeError("simulated bug in a rule")
        return real(msg, own)

    monkeypatch.setattr(ingest, "classify", flaky)
    imap_user.append("INBOX", party_mail("a@pkb.example.org", "MELEDAK", "isi"))
    imap_user.append("INBOX", party_mail("b@pkb.example.org", "Normal", "isi"))
    stats = desk.json("poll")
    assert stats["quarantined"] == 1 and stats["tickets_created"] == 1
    assert stats["folders"]["INBOX"]["last_uid"] == 2
    q = desk.json("quarantine", "list")
    assert len(q) == 1 and "simulated bug" in q[0]["error"] and q[0]["uid"] == 1
    monkeypatch.setattr(ingest, "classify", real)  # the bug is fixed
    r = desk.run("quarantine", "retry")
    assert r.code == 0, r.err
    assert desk.json("quarantine", "list") == []
    assert len(desk.json("tickets", "list")) == 2


def test_spam_folder_is_found_by_its_junk_flag_when_the_configured_name_is_missing(tmp_path, imap_user):
    desk = Desk(tmp_path / "desk", imap_user)
    desk.settings_path.write_text(desk.settings_path.read_text().replace(
        "batch_size = 50", 'batch_size = 50\nspam = "Junk E-mail"'))
    imap_user.append("Spam", party_mail("promo@shop.example.net", "Promo", "beli"))
    stats = desk.json("poll")
    assert stats["spam_held"] == 1 and "Spam" in stats["folders"]


def test_the_archive_keeps_every_message_byte_exact_with_its_sha256(desk, imap_user):
    import hashlib

    from tests.corpus.hostile import hostile_messages
    raws = [raw for _name, raw in hostile_messages()][:12]
    imap_user.append_many("INBOX", raws)
    desk.json("poll")
    with imap_user.session() as c:
        c.select_folder("INBOX", readonly=True)
        served = {uid: bytes(d[b"BODY[]"]) for uid, d in c.fetch(c.search("ALL"), [b"BODY.PEEK[]"]).items()}
    from kpudesk.tickets.models import Message, Quarantine
    app = desk.app()
    stored = {}
    for row in list(Message.select().where(Message.direction == "in")) + list(Quarantine.select()):
        data = app.archive.read(row.raw_path)
        assert hashlib.sha256(data).hexdigest() == row.raw_sha256
        assert data == served[row.uid]
        stored[row.uid] = data
    # Every message the server holds is in the archive: stored itself, or a duplicate of one.
    for uid, data in served.items():
        assert uid in stored or data in stored.values()


def test_a_quarantined_spam_message_keeps_the_spam_rules_when_retried(desk, imap_user, monkeypatch):
    import kpudesk.tickets.analysis as ingest

    real = ingest.classify

    def broken(msg, own):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(ingest, "classify", broken)
    imap_user.append("Spam", party_mail("promo@shop.example.net", "Hadiah", "klik"))
    assert desk.json("poll")["quarantined"] == 1
    monkeypatch.setattr(ingest, "classify", real)
    assert desk.run("quarantine", "retry").code == 0
    assert desk.json("tickets", "list") == []
    assert [h["from"] for h in desk.json("spam", "list")] == ["promo@shop.example.net"]


def test_mark_seen_flags_only_what_was_stored_when_the_setting_asks(tmp_path, imap_user):
    desk = Desk(tmp_path / "desk", imap_user)
    desk.settings_path.write_text(desk.settings_path.read_text().replace(
        "batch_size = 50", "batch_size = 50\nmark_seen = true"))
    imap_user.append("INBOX", party_mail("a@pkb.example.org", "Tanya", "isi"))
    imap_user.append("INBOX", party_mail("b@pkb.example.org", "Tanya lagi", "isi"))
    assert desk.json("poll")["tickets_created"] == 2
    with imap_user.session() as c:
        c.select_folder("INBOX", readonly=True)
        flags = c.get_flags(c.search("ALL"))
    assert len(flags) == 2 and all(b"\\Seen" in f for f in flags.values())


def test_a_sender_is_remembered_as_a_contact_gaps_filled_never_overwritten(desk, imap_user):
    import sqlite3

    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya KTA",
                                         "Selamat pagi,\n\nSaya Budi Santoso dari PKB.\nBagaimana unggah KTA?\n"))
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya kantor",
                                         "Saya Siti Aminah dari PKB.\nBagaimana data kantor?\n\nSalam,\nSiti\n"
                                         "HP 0812-3456-7890\n"))
    desk.json("poll")  # both in one batch
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya lagi", "Saya Rudi dari PKB. HP 0813-1111-2222"))
    desk.json("poll")
    con = sqlite3.connect(desk.root / "state" / "kpudesk.db")
    try:
        found = con.execute('SELECT "email", "name", "phone" FROM "contact"').fetchall()
    finally:
        con.close()
    assert found == [("lo@pkb.example.org", "Budi Santoso", "+6281234567890")]
