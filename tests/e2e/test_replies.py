"""Replies end to end on real Dovecot + a real SMTP server: acks, answers, loops, outages."""
from __future__ import annotations

import json

import pytest

from tests.corpus.hostile import party_mail
from tests.desk import HELPDESK, Desk


@pytest.fixture
def desk(tmp_path, imap_user, smtp_server):
    return Desk(tmp_path / "desk", imap_user, smtp=smtp_server)


def received(smtp_server, to=None):
    msgs = [m.message for m in smtp_server.messages]
    return [m for m in msgs if to is None or to in str(m["To"])]


def cycle(desk):
    """One poll and one send, as the daemon would do."""
    desk.json("poll")
    return desk.json("send")


def test_new_ticket_gets_exactly_one_acknowledgement_with_the_right_headers(desk, imap_user, smtp_server):
    imap_user.append("INBOX", party_mail("Budi <budi@gelora.example.org>", "Cara unggah KTA di Sipol",
                                         "Mohon petunjuk unggah KTA.", message_id="<q1@gelora.example.org>"))
    stats = cycle(desk)
    assert stats == {"sent": 1, "pending": 0, "deferred": 0, "failed": 0}
    (ack,) = received(smtp_server)
    (t,) = desk.json("tickets", "list")
    assert f"[HD-MSJ #{t['id']}]" in ack["Subject"] and ack["Subject"].count("HD-MSJ") == 1
    assert ack["In-Reply-To"] == "<q1@gelora.example.org>"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Auto-Response-Suppress"] == "All"
    assert ack["From"].addresses[0].addr_spec == HELPDESK
    assert ack["Message-ID"].endswith("@kpu-mesuji.example.org>")
    assert smtp_server.messages[0].rcpt_tos == ["budi@gelora.example.org"]
    body = ack.get_body(("plain",)).get_content()
    assert "Yth." in body and f"HD-MSJ #{t['id']}" in body and "08.00" in body
    # The identity is incomplete (no phone), so the ack asks for it.
    assert "nomor telepon" in body.lower()
    # Nothing more on later cycles.
    assert cycle(desk)["sent"] == 0
    assert len(smtp_server.messages) == 1


def test_no_acknowledgement_for_auto_replies_bounces_lists_own_mail_or_held_spam(desk, imap_user, smtp_server):
    imap_user.append("INBOX", party_mail("ooo@pkb.example.org", "Out of office", "Saya cuti",
                                         extra_headers={"Auto-Submitted": "auto-replied"}))
    imap_user.append("INBOX", party_mail("news@list.example.org", "Buletin", "isi",
                                         extra_headers={"List-Id": "<berita.list.example.org>", "Precedence": "list"}))
    imap_user.append("INBOX", party_mail("MAILER-DAEMON@mx.example.net", "Undelivered Mail Returned to Sender", "gagal",
                                         extra_headers={"Return-Path": "<>"}))
    imap_user.append("INBOX", party_mail(HELPDESK, "Salinan kami sendiri", "isi"))
    imap_user.append("Spam", party_mail("stranger@spam.example.net", "Hadiah", "klik"))
    stats = desk.json("poll")
    assert stats["tickets_created"] == 0 and stats["spam_held"] == 1
    assert desk.json("send")["sent"] == 0
    assert smtp_server.messages == []


def test_officer_answer_threads_back_to_the_party_first_message(desk, imap_user, smtp_server):
    imap_user.append("INBOX", party_mail("lo@pks.example.org", "Kantor tetap", "Apakah kantor boleh sewa?",
                                         message_id="<first@pks.example.org>"))
    cycle(desk)
    (t,) = desk.json("tickets", "list")
    imap_user.append("INBOX", party_mail("lo@pks.example.org", "Re: Kantor tetap", "Tambahan: sewa 1 tahun",
                                         message_id="<second@pks.example.org>", references="<first@pks.example.org>"))
    cycle(desk)
    r = desk.run("tickets", "reply", str(t["id"]), "--message", "Boleh, dengan bukti sewa.", "--as", "Rina Wulandari")
    assert r.code == 0, r.err
    assert desk.json("tickets", "show", str(t["id"]))["status"] == "dijawab"
    assert desk.json("send")["sent"] == 1
    answer = received(smtp_server)[-1]
    assert answer["Auto-Submitted"] is None
    assert answer["In-Reply-To"] == "<second@pks.example.org>"
    refs = answer["References"].split()
    assert refs[0] == "<first@pks.example.org>" and "<second@pks.example.org>" in refs
    assert answer["Subject"] == f"Re: [HD-MSJ #{t['id']}] Kantor tetap"
    text = answer.get_body(("plain",)).get_content()
    assert "Boleh, dengan bukti sewa." in text and "Rina Wulandari" in text
    events = [e["kind"] for e in desk.json("tickets", "show", str(t["id"]))["events"]]
    assert "ticket.answered" in events
    # The party writes back: the answered ticket reopens.
    imap_user.append("INBOX", party_mail("lo@pks.example.org", "Re: Kantor tetap", "Terima kasih, satu lagi...",
                                         in_reply_to=answer["Message-ID"]))
    desk.json("poll")
    assert desk.json("tickets", "show", str(t["id"]))["status"] == "baru"


def test_a_mail_client_threads_each_ticket_into_one_conversation(desk, imap_user, smtp_server):
    """Dovecot's THREAD=REFERENCES over the party's mails and our replies: one thread per ticket."""
    for n in range(3):
        imap_user.append("INBOX", party_mail(f"lo{n}@party{n}.example.org", f"Pertanyaan {n}", "isi",
                                             message_id=f"<p{n}-1@party{n}.example.org>"))
    cycle(desk)
    tickets = desk.json("tickets", "list")
    for t in tickets:
        assert desk.run("tickets", "reply", str(t["id"]), "--message", "Jawaban kami.", "--as", "Rina Wulandari").code == 0
    desk.json("send")
    # The party answers our answer, and a second answer goes out.
    answers = [m for m in received(smtp_server) if m["Auto-Submitted"] is None]
    for n, a in enumerate(sorted(answers, key=lambda m: str(m["To"]))):
        to = a["To"].addresses[0].addr_spec
        imap_user.append("INBOX", party_mail(to, "Re: " + a["Subject"], "Baik, terima kasih",
                                             in_reply_to=a["Message-ID"], references=a["References"] + " " + a["Message-ID"]))
    cycle(desk)
    imap_user.create_folder("Arsip")
    with imap_user.session() as c:
        c.select_folder("INBOX", readonly=True)
        party_raw = [d[b"BODY[]"] for d in c.fetch(c.search("ALL"), [b"BODY.PEEK[]"]).values()]
    for raw in party_raw + [m.data for m in smtp_server.messages]:
        imap_user.append("Arsip", raw)
    with imap_user.session() as c:
        c.select_folder("Arsip", readonly=True)
        threads = c.thread(algorithm="REFERENCES", criteria="ALL", charset="UTF-8")
    assert len(threads) == 3
    sizes = sorted(len(_flatten(t)) for t in threads)
    assert sizes == [4, 4, 4]  # question, ack, answer, the party's reply


def _flatten(t):
    out = []
    for x in t:
        out.extend(_flatten(x) if isinstance(x, tuple) else [x])
    return out


def test_subject_with_crlf_and_fake_bcc_adds_no_header_or_recipient(desk, imap_user, smtp_server):
    raw = (b"From: Attacker <attacker@evil.example.net>\r\nTo: " + HELPDESK.encode() + b"\r\n"
           b"Subject: =?UTF-8?Q?Halo=0D=0ABcc:_victim@example.com=0D=0AX-Injected:_1?=\r\n"
           b"Message-ID: <inj@evil.example.net>\r\nDate: Fri, 27 Nov 2026 09:00:00 +0700\r\n\r\nisi\r\n")
    imap_user.append("INBOX", raw)
    cycle(desk)
    (ack,) = smtp_server.messages
    assert ack.rcpt_tos == ["attacker@evil.example.net"]
    headers = {k.lower() for k in ack.message.keys()}
    assert "bcc" not in headers and "x-injected" not in headers
    for k, v in ack.message.items():
        if k.lower() != "subject":
            assert "victim" not in str(v)


def test_smtp_outage_loses_nothing_and_sends_nothing_twice(desk, imap_user, smtp_server):
    for n in range(3):
        imap_user.append("INBOX", party_mail(f"lo{n}@party{n}.example.org", f"Tanya {n}", "isi"))
    desk.json("poll")
    smtp_server.stop()
    for _ in range(3):
        r = desk.run("send", "--json")
        assert r.code == 75
        assert r.json() == {"sent": 0, "pending": 3, "deferred": 3, "failed": 0}
    smtp_server.start()
    assert desk.json("send") == {"sent": 3, "pending": 0, "deferred": 0, "failed": 0}
    assert desk.json("send")["sent"] == 0
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [f"lo{n}@party{n}.example.org" for n in range(3)]


def test_permanent_rejection_is_failed_and_visible(tmp_path, imap_user):
    from tests.servers.smtp import SmtpServer
    with SmtpServer(reject={"gone@pan.example.org": 550}) as server:
        desk = Desk(tmp_path / "desk", imap_user, smtp=server)
        imap_user.append("INBOX", party_mail("gone@pan.example.org", "Tanya", "isi"))
        desk.json("poll")
        assert desk.json("send") == {"sent": 0, "pending": 0, "deferred": 0, "failed": 1}
        (t,) = desk.json("tickets", "list")
        assert t["flags"].get("delivery_failed") is True
        human = desk.run("tickets", "list").out
        assert "!" in human and "gagal" in human
        shown = desk.json("tickets", "show", str(t["id"]))
        assert any(e["kind"] == "delivery.failed" for e in shown["events"])
        assert [m["delivery"] for m in shown["messages"] if m["direction"] == "out"] == ["failed"]
        assert "GAGAL TERKIRIM" in desk.run("tickets", "show", str(t["id"])).out


def test_temporary_rejection_retries_with_backoff_and_manual_send_ignores_it(tmp_path, imap_user):
    from tests.servers.smtp import SmtpServer
    with SmtpServer(reject={"busy@pan.example.org": 451}) as server:
        desk = Desk(tmp_path / "desk", imap_user, smtp=server)
        imap_user.append("INBOX", party_mail("busy@pan.example.org", "Tanya", "isi"))
        desk.json("poll")
        assert desk.json("send") == {"sent": 0, "pending": 1, "deferred": 1, "failed": 0}
        server.reject.clear()
        assert desk.json("send")["sent"] == 1


@pytest.mark.slow
def test_send_killed_mid_batch_delivers_everything_at_most_one_twice(tmp_path, imap_user, monkeypatch):
    """The documented window: a mail accepted just before the kill may go out again once,
    with the same Message-ID, when its lease runs out; nothing is lost, nothing else repeats."""
    import collections
    import signal
    import time

    from tests.servers.smtp import SmtpServer
    n = 30
    with SmtpServer(data_delay=0.15) as server:
        desk = Desk(tmp_path / "desk", imap_user, smtp=server)
        for i in range(n):
            imap_user.append("INBOX", party_mail(f"lo{i}@party{i}.example.org", f"Tanya {i}", "isi"))
        desk.json("poll")
        proc = desk.spawn("send")
        deadline = time.monotonic() + 60
        while len(server.messages) < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        delivered_before = len(server.messages)
        assert 8 <= delivered_before < n
        assert desk.json("send")["pending"] <= 1  # the one in flight is still reserved
        from datetime import UTC, datetime, timedelta
        from tests.frozen_kpudesk import freeze
        freeze(monkeypatch, datetime.now(UTC) + timedelta(minutes=6))
        assert desk.json("send")["pending"] == 0  # its lease ran out: delivered
        ids = collections.Counter(m.message["Message-ID"] for m in server.messages)
        assert len(ids) == n
        repeated = [i for i, c in ids.items() if c > 1]
        assert len(repeated) <= 1 and all(ids[i] == 2 for i in repeated)


def test_sent_mail_is_copied_to_the_imap_sent_folder_when_asked(tmp_path, imap_user, smtp_server):
    desk = Desk(tmp_path / "desk", imap_user, smtp=smtp_server)
    desk.settings_path.write_text(desk.settings_path.read_text().replace(
        'security = "none"\n\n[database]', 'security = "none"\nsave_sent = true\n\n[database]'))
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya", "isi"))
    cycle(desk)
    with imap_user.session() as c:
        c.select_folder("Sent", readonly=True)
        data = c.fetch(c.search("ALL"), [b"BODY.PEEK[]"])
    assert [d[b"BODY[]"] for d in data.values()] == [smtp_server.messages[0].data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")]


def test_two_senders_racing_deliver_each_mail_once(tmp_path, imap_user):
    """A manual `kpudesk send` while the daemon flushes: each row is claimed before it goes out."""
    import collections

    from tests.servers.smtp import SmtpServer
    n = 12
    with SmtpServer(data_delay=0.05) as server:
        desk = Desk(tmp_path / "desk", imap_user, smtp=server)
        for i in range(n):
            imap_user.append("INBOX", party_mail(f"lo{i}@party{i}.example.org", f"Tanya {i}", "isi"))
        desk.json("poll")
        procs = [desk.spawn("send", "--json") for _ in range(2)]
        for p in procs:
            _out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err.decode()
        ids = collections.Counter(m.message["Message-ID"] for m in server.messages)
        assert len(ids) == n and set(ids.values()) == {1}


def test_officer_note_assign_close_reopen_are_recorded_and_notes_never_mailed(desk, imap_user, smtp_server):
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya", "isi"))
    cycle(desk)
    (t,) = desk.json("tickets", "list")
    tid = str(t["id"])
    assert desk.run("tickets", "note", tid, "--message", "Sudah ditelepon, menunggu berkas.", "--as", "Rina Wulandari").code == 0
    assert desk.run("tickets", "assign", tid, "Ahmad Fauzi", "--as", "Rina Wulandari").code == 0
    assert desk.run("tickets", "close", tid, "--as", "Rina Wulandari", "--reason", "selesai ditelepon").code == 0
    again = desk.run("tickets", "close", tid, "--as", "Rina Wulandari")
    assert again.code == 1 and "sudah selesai" in again.err
    shown = desk.json("tickets", "show", tid)
    assert shown["status"] == "selesai" and shown["assignee"] == "Ahmad Fauzi"
    assert [m["direction"] for m in shown["messages"]].count("note") == 1
    assert desk.run("tickets", "reopen", tid, "--as", "Rina Wulandari").code == 0
    assert desk.json("tickets", "show", tid)["status"] == "baru"
    kinds = [e["kind"] for e in desk.json("tickets", "show", tid)["events"]]
    assert {"ticket.note", "ticket.assigned", "ticket.status"} <= set(kinds)
    assert desk.json("send")["sent"] == 0  # only the acknowledgement went out, in cycle()
    assert len(smtp_server.messages) == 1
    assert desk.run("tickets", "close", "999", "--as", "Rina Wulandari").code == 1
    assert desk.run("tickets", "reply", tid, "--message", "x", "--as", "Orang Asing").code == 1


def _bad_address(record):
    record["to"] = [["", "bukan alamat"]]  # what a hostile From could leave behind


def _no_subject(record):
    del record["subject"]  # a record damaged by hand


@pytest.mark.parametrize("damage", [_bad_address, _no_subject])
def test_a_mail_that_cannot_be_composed_fails_alone_and_the_rest_goes_out(desk, imap_user, smtp_server, damage):
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya", "isi"))
    imap_user.append("INBOX", party_mail("lo@pks.example.org", "Tanya juga", "isi"))
    desk.json("poll")
    from kpudesk.tickets.outbox import OutboxItem
    desk.app()
    first = OutboxItem.select().order_by(OutboxItem.id).first()
    broken = json.loads(json.dumps(first.mail))
    damage(broken)
    OutboxItem.update(mail=broken).where(OutboxItem.id == first.id).execute()
    assert desk.json("send") == {"sent": 1, "pending": 0, "deferred": 0, "failed": 1}
    assert [m.rcpt_tos for m in smtp_server.messages] == [["lo@pks.example.org"]]


def test_an_acknowledgement_shows_its_words_before_send_and_sends_exactly_them(desk, imap_user, smtp_server, tmp_path):
    imap_user.append("INBOX", party_mail("Budi <budi@gelora.example.org>", "Cara unggah KTA",
                                         "Mohon petunjuk.", message_id="<q1@gelora.example.org>"))
    desk.json("poll")
    (t,) = desk.json("tickets", "list")
    (ack_row,) = [m for m in desk.json("tickets", "show", str(t["id"]))["messages"] if m["kind"] == "ack"]
    assert f"HD-MSJ #{t['id']}" in ack_row["text"] and ack_row["delivery"] == "queued"  # rendered when queued
    assert desk.json("send")["sent"] == 1
    (ack,) = received(smtp_server)
    body = ack.get_body(("plain",)).get_content()
    assert f"HD-MSJ #{t['id']}" in body and "nomor telepon" in body.lower()
    assert ack_row["text"].strip() == body.strip().replace("\r\n", "\n")


def test_an_acknowledgement_whose_template_is_broken_at_ingest_fails_alone(tmp_path, imap_user, smtp_server):
    import shutil

    from kpudesk.mailbox.render import BUILTIN_DIR

    overrides = tmp_path / "tpl"
    shutil.copytree(BUILTIN_DIR, overrides)
    desk = Desk(tmp_path / "desk", imap_user, smtp=smtp_server)
    text = desk.settings_path.read_text(encoding="utf-8")
    desk.settings_path.write_text(text.replace('tag = "HD-MSJ"', f'tag = "HD-MSJ"\ntemplates_dir = "{overrides}"'),
                                  encoding="utf-8")
    (overrides / "party" / "ack.txt.j2").write_text("{{ tidak_ada.sama_sekali }}", encoding="utf-8")
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya", "isi"))
    imap_user.append("INBOX", party_mail("lo@pks.example.org", "Tanya juga", "isi"))
    assert desk.json("poll")["tickets_created"] == 2  # the party's mail is stored all the same
    assert desk.json("send") == {"sent": 0, "pending": 0, "deferred": 0, "failed": 0}  # failed when queued
    assert smtp_server.messages == []
    assert all(t["flags"].get("delivery_failed") for t in desk.json("tickets", "list"))
    assert desk.json("status")["outbox_failed"] == 2

