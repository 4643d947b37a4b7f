"""Mail loops: an auto-responder and a bounce generator talk to the helpdesk for many cycles."""
from __future__ import annotations

from email.utils import make_msgid

import pytest

from tests.corpus.hostile import party_mail
from tests.desk import HELPDESK, Desk

CYCLES = 8


@pytest.fixture
def desk(tmp_path, imap_user, smtp_server):
    return Desk(tmp_path / "desk", imap_user, smtp=smtp_server)


def run_cycles(desk, imap_user, smtp_server, respond):
    """poll → send → the peer answers every mail it got → ... ; returns mails we sent per cycle."""
    sent_per_cycle = []
    seen = 0
    for _ in range(CYCLES):
        desk.json("poll")
        desk.json("send")
        new = smtp_server.messages[seen:]
        seen = len(smtp_server.messages)
        sent_per_cycle.append(len(new))
        for m in new:
            for raw in respond(m.message):
                imap_user.append("INBOX", raw)
    return sent_per_cycle


def test_a_well_behaved_auto_responder_gets_one_ack_and_no_ping_pong(desk, imap_user, smtp_server):
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Pertanyaan", "isi"))

    def ooo(msg):
        return [party_mail("lo@pkb.example.org", "Automatic reply: " + msg["Subject"], "Saya sedang cuti.",
                           in_reply_to=msg["Message-ID"], extra_headers={"Auto-Submitted": "auto-replied"})]

    sent = run_cycles(desk, imap_user, smtp_server, ooo)
    assert sum(sent) == 1
    (t,) = desk.json("tickets", "list")
    assert t["status"] == "baru"


def test_a_dumb_responder_that_starts_new_threads_is_capped_per_sender(desk, imap_user, smtp_server):
    """No Auto-Submitted, no References, a fresh subject each time: every answer is a 'new
    question'. The per-sender cap (3 an hour) bounds what we send back."""
    imap_user.append("INBOX", party_mail("bot@robot.example.net", "Halo", "isi"))
    counter = iter(range(1000))

    def dumb(msg):
        return [party_mail("bot@robot.example.net", f"Pesan otomatis {next(counter)}", "Terima kasih atas surel Anda.",
                           message_id=make_msgid(domain="robot.example.net"))]

    sent = run_cycles(desk, imap_user, smtp_server, dumb)
    assert sum(sent) == 3  # ack_per_hour
    assert sent[-1] == 0
    tickets = desk.json("tickets", "list")
    assert len(tickets) == 4  # the loop stopped: the 4th ticket got no acknowledgement


def test_a_bounce_generator_is_recorded_and_never_answered(desk, imap_user, smtp_server):
    imap_user.append("INBOX", party_mail("nobody@gone.example.net", "Pertanyaan", "isi"))

    def bounce(msg):
        original = msg["Message-ID"]
        boundary = "BOUNDARY"
        raw = (
            f"From: MAILER-DAEMON@mx.gone.example.net\r\nTo: {HELPDESK}\r\nReturn-Path: <>\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: {make_msgid(domain='mx.gone.example.net')}\r\n"
            f"Date: Fri, 27 Nov 2026 10:00:00 +0700\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nMailbox does not exist.\r\n"
            f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.gone.example.net\r\n\r\n"
            f"Final-Recipient: rfc822; nobody@gone.example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 No such user\r\n"
            f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {original}\r\nSubject: x\r\n"
            f"--{boundary}--\r\n"
        ).encode()
        return [raw]

    sent = run_cycles(desk, imap_user, smtp_server, bounce)
    assert sum(sent) == 1
    (t,) = desk.json("tickets", "list")
    assert t["flags"].get("delivery_failed") is True
    shown = desk.json("tickets", "show", str(t["id"]))
    bounced = [e for e in shown["events"] if e["kind"] == "delivery.bounced"]
    assert len(bounced) == 1
    assert bounced[0]["detail"]["recipients"] == ["nobody@gone.example.net"]
    assert bounced[0]["detail"]["status"] == "5.1.1"
    assert any(m["kind"] == "bounce" for m in shown["messages"])
