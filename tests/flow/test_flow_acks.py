"""Acknowledgements are rendered when queued (issue 13 item 2): `tickets show` shows their
words before `send`, and `send` delivers exactly those words. In-process desk
(`tests.feeder.Feeder`), the real sender against the demo's and tests' `MailSink`."""
from __future__ import annotations

import shutil

import pytest

from kpudesk.daemon.demo.smtp_sink import MailSink
from kpudesk.daemon.sender import flush
from kpudesk.mailbox.render import BUILTIN_DIR
from kpudesk.tickets.models import Ticket
from tests.corpus.hostile import party_mail
from tests.feeder import Feeder

BUDI = "budi@gelora.example.org"


@pytest.fixture
def sink():
    with MailSink() as s:
        yield s


def smtp_at(sink: MailSink) -> dict:
    return {"smtp": {"host": sink.host, "port": sink.port, "security": "none"}}


def ack_of(shown: dict) -> dict:
    (ack,) = [m for m in shown["messages"] if m["kind"] == "ack"]
    return ack


def test_the_acknowledgement_text_shows_before_send_and_is_exactly_what_is_sent(tmp_path, sink):
    desk = Feeder(tmp_path, extra=smtp_at(sink))
    desk.deliver(party_mail(f"Budi <{BUDI}>", "Cara unggah KTA", "Mohon petunjuk.", message_id="<q1@gelora.example.org>"))
    t = desk.only_ticket()
    queued = ack_of(desk.show(t["id"]))
    assert queued["delivery"] == "queued"
    assert f"HD-MSJ #{t['id']}" in queued["text"] and "nomor telepon" in queued["text"].lower()
    assert sink.messages == []
    stats, unreachable = flush(desk.app, ignore_backoff=True)
    assert (stats.sent, stats.failed, unreachable) == (1, 0, False)
    (got,) = sink.messages
    assert got.rcpt_tos == [BUDI] and got.message["Auto-Submitted"] == "auto-replied"
    body = got.message.get_body(("plain",)).get_content()
    assert body.replace("\r\n", "\n").strip() == queued["text"].strip()
    sent = ack_of(desk.show(t["id"]))
    assert sent["text"] == queued["text"] and sent["delivery"] == "sent"


def test_the_acknowledgement_says_when_the_office_opens_as_of_when_the_mail_came(tmp_path):
    # Saturday 5 December 2026, 10:00 in Jakarta: the office is closed until Monday.
    desk = Feeder(tmp_path)
    desk.clock.set(desk.clock.now().replace(day=5, hour=3))
    desk.deliver(party_mail(BUDI, "Tanya di akhir pekan", "isi"))
    weekend = ack_of(desk.show(desk.only_ticket()["id"]))["text"]
    desk.clock.set(desk.clock.now().replace(day=7, hour=2))
    desk.deliver(party_mail("lain@pkb.example.org", "Tanya hari Senin", "isi"))
    (monday_ticket,) = [t for t in desk.tickets() if t["subject"] == "Tanya hari Senin"]
    monday = ack_of(desk.show(monday_ticket["id"]))["text"]
    assert weekend != monday and "Senin" in weekend


def test_a_template_broken_at_ingest_fails_only_the_acknowledgement(tmp_path, sink):
    overrides = tmp_path / "tpl"
    shutil.copytree(BUILTIN_DIR, overrides)
    (overrides / "party" / "ack.txt.j2").write_text("{{ tidak_ada.sama_sekali }}", encoding="utf-8")
    extra = smtp_at(sink)
    desk = Feeder(tmp_path, extra=extra | {"helpdesk": {"name": "Helpdesk KPU Kabupaten Mesuji",
                                                        "address": "helpdesk@kpu-mesuji.example.org",
                                                        "tag": "HD-MSJ", "templates_dir": str(overrides)}})
    stats = desk.deliver(party_mail(BUDI, "Tanya", "isi"))
    assert stats.tickets_created == 1 and stats.quarantined == 0
    t = desk.only_ticket()
    assert t["flags"]["delivery_failed"] is True
    (row,) = desk.outbox()
    assert row.status == "failed" and "tidak dapat disusun" in row.last_error and "tidak_ada" in row.last_error
    assert ack_of(desk.show(t["id"]))["delivery"] == "failed"
    stats, _ = flush(desk.app, ignore_backoff=True)
    assert stats.sent == 0 and sink.messages == []
    assert Ticket.get_by_id(t["id"]).status == "baru"


def test_an_acknowledgement_queued_before_the_upgrade_is_still_rendered_at_delivery(tmp_path, sink):
    """Rows an older version left waiting keep a template and a frozen context ("render")."""
    desk = Feeder(tmp_path, extra=smtp_at(sink))
    desk.deliver(party_mail(BUDI, "Tanya", "isi"))
    t = desk.only_ticket()
    (row,) = desk.outbox()
    ctx = desk.app.replies.base_context(Ticket.get_by_id(t["id"]))
    ctx["ticket"]["created_at"] = {"$datetime": ctx["ticket"]["created_at"].isoformat()}
    legacy = dict(row.mail, text="", html=None,
                  render={"template": "party/provinsi_notice", "html": False, "context": ctx})
    type(row).update(mail=legacy).where(type(row).id == row.id).execute()
    stats, _ = flush(desk.app, ignore_backoff=True)
    assert stats.sent == 1
    body = sink.messages[0].message.get_body(("plain",)).get_content()
    assert "KPU Provinsi" in body and f"HD-MSJ #{t['id']}" in body
    assert "KPU Provinsi" in ack_of(desk.show(t["id"]))["text"]
