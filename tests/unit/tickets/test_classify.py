"""tickets.classify: one test per rule, plus the party mail that must stay NORMAL."""
from __future__ import annotations

import logging

import pytest

from kpudesk.mailbox.parse import parse
from kpudesk.tickets.classify import RULES, Classification, Kind, OwnIdentity, classify

OWN = OwnIdentity(addresses=frozenset({"helpdesk@kpu-kab.go.id"}), msgid_domain="kpu-kab.go.id",
                  loop_header="X-KPUDesk-Loop", loop_value="kpu-kab.go.id")


def msg(*headers: str, body: str = "Selamat siang, mohon bantuan unggah KTA di Sipol.\n", **named: str | None):
    """A parsed party message; keyword headers replace the defaults, positional ones are added."""
    base = {
        "From": '"Budi Santoso" <budi@partai-a.or.id>',
        "To": "helpdesk@kpu-kab.go.id",
        "Subject": "Pertanyaan keanggotaan Sipol",
        "Date": "Mon, 03 Jun 2024 10:00:00 +0700",
        "Message-ID": "<CAF1x2y3@mail.gmail.com>",
        "Content-Type": "text/plain; charset=utf-8",
    }
    for k, v in named.items():
        base[k.replace("_", "-")] = v
    lines = [f"{k}: {v}" for k, v in base.items() if v is not None] + list(headers)
    return parse(("\r\n".join(lines) + "\r\n\r\n" + body).encode())


def kind(m) -> Kind:
    return classify(m, OWN).kind


# --- normal party mail -------------------------------------------------------------------

def test_plain_party_mail_is_normal():
    c = classify(msg(), OWN)
    assert c == Classification(Kind.NORMAL, ())


def test_party_reply_with_re_subject_and_our_ids_in_references_is_normal():
    m = msg("In-Reply-To: <kpd.T12.0a1b2c3d.0123456789abcdef0123@kpu-kab.go.id>",
            "References: <kpd.T12.0a1b2c3d.0123456789abcdef0123@kpu-kab.go.id>",
            Subject="Re: [HD-MSJ #12] Pertanyaan keanggotaan Sipol")
    assert kind(m) == Kind.NORMAL


def test_outlook_mail_with_only_x_auto_response_suppress_is_normal():
    m = msg("X-Auto-Response-Suppress: All", "X-MS-Has-Attach: ", "Thread-Index: AdqzAbCd",
            Message_ID="<SG2PR01MB1234.apcprd01.prod.exchangelabs.com>")
    assert kind(m) == Kind.NORMAL


def test_list_unsubscribe_alone_is_normal():
    assert kind(msg("List-Unsubscribe: <mailto:unsub@partai-a.or.id>")) == Kind.NORMAL


def test_auto_submitted_no_is_normal():
    assert kind(msg("Auto-Submitted: no")) == Kind.NORMAL


def test_colleague_on_our_mail_domain_is_not_own():
    # an anggota answering an escalation from Outlook: Message-ID on our domain, not made by us
    m = msg(From="Anggota KPU <anggota1@kpu-kab.go.id>", Message_ID="<a1b2c3@kpu-kab.go.id>")
    assert kind(m) == Kind.NORMAL


def test_bounce_subject_without_null_sender_is_normal():
    assert kind(msg(Subject="Fwd: Undelivered Mail Returned to Sender - tolong dicek")) == Kind.NORMAL


# --- OWN ---------------------------------------------------------------------------------

def test_own_from_address():
    c = classify(msg(From="Helpdesk KPU <HelpDesk@KPU-Kab.go.id>"), OWN)
    assert c.kind == Kind.OWN
    assert c.reasons[0] == "From is our own address helpdesk@kpu-kab.go.id"


def test_own_loop_header():
    c = classify(msg("X-KPUDesk-Loop: kpu-kab.go.id"), OWN)
    assert c.kind == Kind.OWN and "X-KPUDesk-Loop: kpu-kab.go.id" in c.reasons


def test_foreign_loop_value_is_not_own():
    assert kind(msg("X-KPUDesk-Loop: kpu-lain.go.id")) == Kind.NORMAL


def test_own_message_id_made_by_us():
    m = msg(From="someone@partai-a.or.id",
            Message_ID="<kpd.T7.0a1b2c3d4e5f6a7b.0123456789abcdef0123@kpu-kab.go.id>")
    c = classify(m, OWN)
    assert c.kind == Kind.OWN
    assert any("made by us" in r for r in c.reasons)


def test_own_wins_over_auto_submitted_and_collects_all_reasons():
    m = msg("Auto-Submitted: auto-replied", "X-KPUDesk-Loop: kpu-kab.go.id",
            From="helpdesk@kpu-kab.go.id", Message_ID="<kpd.R.0a1b2c3d4e5f6a7b@kpu-kab.go.id>")
    c = classify(m, OWN)
    assert c.kind == Kind.OWN
    assert len(c.reasons) == 4
    assert c.reasons[-1] == "Auto-Submitted: auto-replied"


def test_loop_value_defaults_to_msgid_domain():
    own = OwnIdentity(addresses=frozenset(), msgid_domain="kpu-kab.go.id")
    assert classify(msg("X-KPUDesk-Loop: KPU-Kab.go.id"), own).kind == Kind.OWN


# --- BOUNCE ------------------------------------------------------------------------------

DSN_BODY = ("--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
            "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.x.id\r\n\r\n"
            "Final-Recipient: rfc822; liaison@partai-x.or.id\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            "--B--\r\n")


def test_bounce_delivery_report():
    m = msg(From="Mail System <mx-report@partai-x.or.id>", Subject="Delivery report",
            Content_Type='multipart/report; report-type=delivery-status; boundary="B"', body=DSN_BODY)
    assert m.report is not None
    c = classify(m, OWN)
    assert c.kind == Kind.BOUNCE
    assert c.reasons[0] == "delivery report (5.1.1, liaison@partai-x.or.id)"
    assert "Content-Type: multipart/report; report-type=delivery-status" in c.reasons


def test_bounce_dsn_content_type_rule_alone():
    rule = next(r for r in RULES if r.name == "dsn-content-type")
    m = msg(Content_Type='multipart/report; report-type="delivery-status"; boundary="B"', body=DSN_BODY)
    c = classify(m, OWN, rules=(rule,))
    assert c == Classification(Kind.BOUNCE, ("Content-Type: multipart/report; report-type=delivery-status",))


def test_bounce_from_mailer_daemon():
    c = classify(msg(From="MAILER-DAEMON@mx.partai-x.or.id", Subject="Warning: could not send"), OWN)
    assert c.kind == Kind.BOUNCE and c.reasons[0] == "From is mailer-daemon@mx.partai-x.or.id"


def test_bounce_from_postmaster():
    assert kind(msg(From="postmaster@partai-x.or.id", Subject="Returned mail")) == Kind.BOUNCE


def test_bounce_null_return_path_with_bounce_subject():
    c = classify(msg("Return-Path: <>", From="Mail Delivery System <mds@partai-x.or.id>",
                     Subject="Pesan tidak dapat dikirim: Pertanyaan"), OWN)
    assert c.kind == Kind.BOUNCE
    assert c.reasons[0].startswith("Return-Path: <> with bounce subject")


def test_bounce_through_a_mailing_list_is_still_a_bounce():
    m = msg("Precedence: bulk", "List-Id: <partai.lists.x.id>", From="postmaster@x.id",
            Subject="Delivery Notification: Delivery has failed")
    c = classify(m, OWN)
    assert c.kind == Kind.BOUNCE
    assert "Precedence: bulk" in c.reasons and "List-Id: <partai.lists.x.id>" in c.reasons


# --- AUTO_REPLY --------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["auto-replied", "auto-generated", "auto-notified; owner-email=x@y"])
def test_auto_submitted(value):
    c = classify(msg(f"Auto-Submitted: {value}"), OWN)
    assert c.kind == Kind.AUTO_REPLY and c.reasons == (f"Auto-Submitted: {value}",)


@pytest.mark.parametrize("header", ["X-Autoreply: yes", "X-Autorespond: Sedang cuti"])
def test_x_autoreply_headers(header):
    assert kind(msg(header, Subject="Sedang cuti")) == Kind.AUTO_REPLY


def test_precedence_auto_reply():
    c = classify(msg("Precedence: auto_reply"), OWN)
    assert c.kind == Kind.AUTO_REPLY and c.reasons == ("Precedence: auto_reply",)


@pytest.mark.parametrize("subject", ["Automatic reply: Pertanyaan keanggotaan Sipol",
                                     "Balasan otomatis: Pertanyaan", "Otomatis: Pertanyaan",
                                     "Auto: Pertanyaan", "Out of Office: Pertanyaan"])
def test_outlook_auto_reply_with_suppress_header_and_subject(subject):
    c = classify(msg("X-Auto-Response-Suppress: All", Subject=subject), OWN)
    assert c.kind == Kind.AUTO_REPLY
    assert c.reasons[0].startswith("X-Auto-Response-Suppress: All with auto-reply subject")


def test_auto_reply_subject_without_suppress_header_is_normal():
    assert kind(msg(Subject="Automatic reply: Pertanyaan")) == Kind.NORMAL


def test_fc_machine_generated():
    c = classify(msg("X-FC-MachineGenerated: true"), OWN)
    assert c.kind == Kind.AUTO_REPLY and c.reasons == ("X-FC-MachineGenerated: true",)


def test_outlook_read_receipt_is_auto():
    body = ("--R\r\nContent-Type: text/plain\r\n\r\nYour message was read.\r\n"
            "--R\r\nContent-Type: message/disposition-notification\r\n\r\n"
            "Final-Recipient: rfc822;budi@partai-a.or.id\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n"
            "--R--\r\n")
    m = msg(Subject="Read: [HD-MSJ #12] Tanggapan", body=body,
            Content_Type='multipart/report; report-type=disposition-notification; boundary="R"')
    c = classify(m, OWN)
    assert m.report is None
    assert c.kind == Kind.AUTO_REPLY and c.reasons[0].startswith("read receipt")


def test_null_return_path_without_report_is_auto():
    c = classify(msg("Return-Path: <>", Subject="Tanda terima"), OWN)
    assert c.kind == Kind.AUTO_REPLY and c.reasons == ("Return-Path: <>",)


def test_auto_reply_beats_bulk():
    c = classify(msg("Auto-Submitted: auto-replied", "Precedence: bulk"), OWN)
    assert c.kind == Kind.AUTO_REPLY
    assert c.reasons == ("Auto-Submitted: auto-replied", "Precedence: bulk")


# --- BULK --------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["bulk", "junk", "list", "Bulk"])
def test_precedence_bulk(value):
    c = classify(msg(f"Precedence: {value}"), OWN)
    assert c.kind == Kind.BULK and c.reasons == (f"Precedence: {value}",)


def test_list_id():
    c = classify(msg("List-Id: Partai A <anggota.partai-a.or.id>"), OWN)
    assert c.kind == Kind.BULK and c.reasons == ("List-Id: Partai A <anggota.partai-a.or.id>",)


def test_list_unsubscribe_with_list_id():
    c = classify(msg("List-Id: <news.x.id>", "List-Unsubscribe: <https://x.id/u>"), OWN)
    assert c.kind == Kind.BULK and "List-Unsubscribe with Precedence/List-Id" in c.reasons


def test_mailman_headers():
    assert classify(msg("X-Mailman-Version: 2.1.39"), OWN).reasons == ("X-Mailman-Version: 2.1.39",)
    assert kind(msg("X-BeenThere: anggota@lists.partai-a.or.id")) == Kind.BULK


# --- structure ---------------------------------------------------------------------------

def test_rules_are_named_and_ordered():
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    order = [r.kind for r in RULES]
    groups = [k for i, k in enumerate(order) if i == 0 or order[i - 1] != k]
    assert groups == [Kind.OWN, Kind.BOUNCE, Kind.AUTO_REPLY, Kind.BULK]


def test_hits_are_logged_at_debug(caplog):
    with caplog.at_level(logging.DEBUG, logger="kpudesk.tickets.classify"):
        classify(msg("Precedence: bulk"), OWN)
    rec = [r for r in caplog.records if r.name == "kpudesk.tickets.classify"]
    assert rec and rec[0].levelno == logging.DEBUG
    assert "precedence-bulk" in rec[0].getMessage()


def test_kind_values_are_stable_strings():
    assert [k.value for k in Kind] == ["normal", "auto_reply", "bounce", "bulk", "own"]
    assert Kind("bounce") is Kind.BOUNCE and f"{Kind.BULK}" == "bulk"
