"""The PostgreSQL backend end to end, on a real PostgreSQL started by the tests (127.0.0.1).

Every flow runs through the CLI (`tests.desk.Desk`) with ``[database] url`` pointing at a
fresh database of a throw-away cluster (tests/servers/postgres.py), against the real
Dovecot and SMTP test servers. Where the answer is data (`poll`, `send`, `tickets list/show
--json`, `report ... --json`), the same flow also runs on SQLite and the two outputs must be
equal after normalising what legitimately differs (UIDVALIDITY, our Message-IDs, which carry
a random per-installation key, the installation folder). The clock is frozen (tests/frozen_kpudesk.py),
so timestamps and ids are comparable.

The two product bugs this first found (VARCHAR limits PostgreSQL enforces and SQLite does not)
are fixed by schema v2; their tests stay as regressions.

Missing PostgreSQL is an error, never a skip: run `.ci/run`, or `apt-get install postgresql`
plus `pip install -e '.[test]'` (psycopg2-binary).
"""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import peewee as pw
import pytest

from tests.auth_mail import MAIL_SETTINGS, trusted
from tests.corpus.hostile import hostile_messages, party_mail
from tests.desk import Desk
from tests.frozen_kpudesk import freeze
from tests.servers.dovecot import Dovecot, ImapUser
from tests.servers.postgres import Postgres
from tests.servers.smtp import SmtpServer
from tests.paths import DATA

WIB = ZoneInfo("Asia/Jakarta")
NOW = "2026-11-27T09:00:00+07:00"  # a Friday, within service hours
ANGGOTA = "anggota@kpu-mesuji.example.org"
EXTRA = MAIL_SETTINGS + f"""
[escalation]
anggota = ["{ANGGOTA}"]

[reports]
progress_to = ["{ANGGOTA}"]
recap_to = ["ketua@kpu-mesuji.example.org"]
"""


# --- fixtures and helpers -------------------------------------------------------------------------




@pytest.fixture
def frozen(monkeypatch) -> None:
    freeze(monkeypatch, NOW)


def make_desk(root: Path, imap_user: ImapUser, smtp: SmtpServer, url: str | None = None, extra: str = EXTRA) -> Desk:
    """A Desk on SQLite (url None) or on the given database URL."""
    desk = Desk(root, imap_user, smtp=smtp, extra=extra)
    return desk.use_database(url) if url is not None else desk


def on_both(tmp_path: Path, dovecot: Dovecot, postgres: Postgres,
            scenario: Callable[[Desk, ImapUser, SmtpServer], dict]) -> tuple[dict, dict, str]:
    """Run `scenario` on SQLite and on PostgreSQL (each with its own mailbox and SMTP server);
    returns (sqlite result, postgresql result, postgresql url)."""
    results = {}
    url = postgres.new_database()
    for backend in ("sqlite", "postgresql"):
        user = dovecot.new_user()
        with SmtpServer() as smtp:
            desk = make_desk(tmp_path / backend, user, smtp, url if backend == "postgresql" else None)
            results[backend] = _replace(scenario(desk, user, smtp), str(desk.root), "<desk>")
    return results["sqlite"], results["postgresql"], url


def _replace(value, old: str, new: str):
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value.replace(old, new) if isinstance(value, str) else value


_OUR_MSGID = re.compile(r"[^\s<>\"']+@kpu-mesuji\.example\.org")


def normalised(value, our_ids: dict[str, str] | None = None):
    """Replace what differs between two installations by construction: UIDVALIDITY values
    and our Message-IDs (they carry an HMAC under a random per-installation key). Our ids
    are numbered in order of appearance, so threading (which id refers to which) still counts."""
    our_ids = {} if our_ids is None else our_ids

    def ids(text: str) -> str:
        def sub(m: re.Match) -> str:
            found = m.group(0)
            if found.split("@")[0] in ("helpdesk", "rina", "ahmad", "anggota", "ketua"):
                return found  # an address, not a Message-ID
            return our_ids.setdefault(found, f"our-msgid-{len(our_ids) + 1}@kpu-mesuji.example.org")

        return _OUR_MSGID.sub(sub, text)

    if isinstance(value, dict):
        return {k: ("<uidvalidity>" if k == "uidvalidity" else normalised(v, our_ids)) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(v, our_ids) for v in value]
    if isinstance(value, str):
        return ids(value)
    return value


def differences(a, b, path: str = "") -> list[str]:
    """Where two JSON-like values differ, as readable paths (at most a few dozen)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}.{k}: only on {'PostgreSQL' if k in a else 'SQLite'}" for k in sorted(set(a) ^ set(b), key=str)]
        for k in a:
            if k in b:
                out += differences(a[k], b[k], f"{path}.{k}")
        return out[:40]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items on PostgreSQL, {len(b)} on SQLite"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")][:40]
    return [] if a == b else [f"{path}: PostgreSQL {a!r:.300} != SQLite {b!r:.300}"]


def assert_same(pg: dict, lite: dict) -> None:
    found = differences(normalised(pg), normalised(lite))
    assert not found, "PostgreSQL and SQLite differ:\n" + "\n".join(found)


def sent_mail(smtp: SmtpServer) -> list[dict]:
    return [{"to": m.rcpt_tos, "subject": str(m.message["Subject"]), "auto": m.message["Auto-Submitted"],
             "in_reply_to": m.message["In-Reply-To"], "references": m.message["References"],
             "message_id": m.message["Message-ID"]} for m in smtp.messages]


def counted(stats: dict) -> int:
    return stats["messages_added"] + stats["ignored"] + stats["duplicates"] + stats["spam_held"] + stats["quarantined"]


# --- the backend is really PostgreSQL --------------------------------------------------------------


def test_the_desk_really_runs_on_postgresql(tmp_path, imap_user, smtp_server, postgres):
    from kpudesk.tickets.models import db

    url = postgres.new_database()
    desk = make_desk(tmp_path / "desk", imap_user, smtp_server, url)
    assert desk.json("tickets", "list") == []
    desk.app()
    assert isinstance(db.obj, pw.PostgresqlDatabase)
    assert not list((desk.root / "state").glob("*.db*"))  # no SQLite file on the side
    tables = {r[0] for r in postgres.query(url, "select table_name from information_schema.tables "
                                                "where table_schema = 'public'")}
    assert {"ticket", "message", "event", "outbox_item", "report_slot", "folder_state", "meta"} <= tables
    from kpudesk.tickets.schema import SCHEMA_VERSION
    assert postgres.query(url, "select value from meta where key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    # Opening again (a second CLI call) finds the schema and leaves it alone.
    assert desk.json("tickets", "list") == []


# --- poll: party mail and hostile mail -> tickets, dedupe, acknowledgements ---------------------------


SENT_AT = datetime(2026, 11, 27, 8, 30, tzinfo=WIB)  # Date and IMAP INTERNALDATE of the test mail
PARTY_MAIL = [
    party_mail("Budi Santoso <budi@gelora.example.org>", "Pertanyaan keanggotaan Sipol",
               "Selamat pagi, saya Budi Santoso dari Partai Gelora. Bagaimana cara unggah KTA?\n"
               "Nama: Budi Santoso\nHP: 0812-3456-7890\n", message_id="<q1@gelora.example.org>", date=SENT_AT),
    party_mail("Siti <siti@psi.example.org>", "Keanggotaan ganda",
               "Apakah anggota partai boleh ganda dengan partai lain di Mesuji?", message_id="<q2@psi.example.org>",
               date=SENT_AT),
    party_mail("lo@pks.example.org", "Kantor tetap", "Apakah kantor boleh sewa?", message_id="<q3@pks.example.org>",
               date=SENT_AT),
]
SPAM = party_mail("promo@shop.example.net", "DISKON 90%", "Beli sekarang", message_id="<promo@shop.example.net>",
                  date=SENT_AT)


def append(user: ImapUser, folder: str, messages: list[bytes]) -> None:
    """Append with a fixed INTERNALDATE (the date of mail without a Date header)."""
    user.append_many(folder, [{"msg": raw, "date": SENT_AT} for raw in messages])


# The hostile corpus but its 5 MB attachment (slow, and nothing database-specific about it).
HOSTILE_SKIP = {"attachment-5mb-pdf"}


def poll_scenario(desk: Desk, user: ImapUser, smtp: SmtpServer) -> dict:
    hostile = [(name, raw) for name, raw in hostile_messages() if name not in HOSTILE_SKIP]
    append(user, "INBOX", PARTY_MAIL + [raw for _name, raw in hostile])
    append(user, "Spam", [SPAM])
    out = {"first": desk.json("poll"), "second": desk.json("poll")}
    user.reset_uidvalidity("INBOX")
    out["reread"] = desk.json("poll")
    out["send"] = desk.json("send")
    out["send_again"] = desk.json("send")
    out["sent"] = sent_mail(smtp)
    out["list"] = desk.json("tickets", "list")
    out["show"] = [desk.json("tickets", "show", str(t["id"])) for t in out["list"]]
    out["spam"] = desk.json("spam", "list")
    out["quarantine"] = desk.json("quarantine", "list")
    # An officer's "not spam": the held message becomes a ticket.
    r = desk.run("spam", "release", str(out["spam"][0]["id"]), "--as", "Rina Wulandari")
    assert r.code == 0, r.err
    out["released"] = desk.json("tickets", "list")[-1]
    out["spam_after"] = desk.json("spam", "list")
    out["n_hostile"] = len(hostile)
    return out


def test_poll_dedupe_and_acknowledgements_on_postgresql_match_sqlite(tmp_path, dovecot, postgres, frozen):
    lite, pg, url = on_both(tmp_path, dovecot, postgres, poll_scenario)
    n = len(PARTY_MAIL) + pg["n_hostile"]
    first = pg["first"]
    assert first["fetched"] == n + 1 and counted(first) == first["fetched"]
    assert first["tickets_created"] >= len(PARTY_MAIL) + 20 and first["spam_held"] == 1 and first["quarantined"] == 0
    assert first["auto_replies"] == 3 and first["bounces"] == 2 and first["bulk"] == 2 and first["duplicates"] == 1
    assert pg["second"]["fetched"] == 0
    # The re-read after the UIDVALIDITY reset stores nothing new: the UNIQUE identity holds.
    reread = pg["reread"]
    assert reread["fetched"] == n and reread["duplicates"] + reread["quarantined"] == n
    assert reread["tickets_created"] == 0 and reread["messages_added"] == 0
    stored = postgres.query(url, "select count(*) from message where direction = 'in'")[0][0]
    assert stored == first["messages_added"] + first["ignored"] + first["spam_held"]
    assert postgres.query(url, "select count(*) from ticket")[0][0] == first["tickets_created"] + 1  # + released spam
    # Acknowledgements queued at ingest and delivered by `send` to the SMTP server, once.
    assert pg["send"]["sent"] >= len(PARTY_MAIL) and pg["send"]["pending"] == pg["send"]["failed"] == 0
    assert pg["send_again"]["sent"] == 0 and len(pg["sent"]) == pg["send"]["sent"]
    budi = next(t for t in pg["list"] if t["requester"] == "budi@gelora.example.org")
    (ack,) = [m for m in pg["sent"] if m["to"] == ["budi@gelora.example.org"]]
    assert f"[HD-MSJ #{budi['id']}]" in ack["subject"] and ack["auto"] == "auto-replied"
    assert ack["in_reply_to"] == "<q1@gelora.example.org>"
    shown = next(s for s in pg["show"] if s["id"] == budi["id"])
    assert shown["identity"]["phone"] == "+6281234567890" and shown["party"] == "Gelora"
    assert budi["created_at"] == "2026-11-27T09:00:00+07:00"
    assert [s["from"] for s in pg["spam"]] == ["promo@shop.example.net"]
    assert pg["released"]["requester"] == "promo@shop.example.net" and pg["released"]["from_spam"] is True
    assert pg["spam_after"] == [] and pg["quarantine"] == []
    # And everything the CLI reports is what SQLite reports for the same mail.
    assert_same(pg, lite)


# --- officer reply, note, assignment, party follow-up ---------------------------------------------------


def conversation_scenario(desk: Desk, user: ImapUser, smtp: SmtpServer) -> dict:
    append(user, "INBOX", PARTY_MAIL)
    desk.json("poll")
    desk.json("send")
    tickets = {t["requester"]: str(t["id"]) for t in desk.json("tickets", "list")}
    budi, pks = tickets["budi@gelora.example.org"], tickets["lo@pks.example.org"]
    # The party adds to its question (threads by References), the officer answers.
    append(user, "INBOX", [party_mail("lo@pks.example.org", "Re: Kantor tetap", "Tambahan: sewa 1 tahun",
                                      message_id="<q3b@pks.example.org>", references="<q3@pks.example.org>",
                                      date=SENT_AT)])
    desk.json("poll")
    for args in (("tickets", "reply", pks, "--message", "Boleh, dengan bukti sewa.", "--as", "Rina Wulandari"),
                 ("tickets", "note", budi, "--message", "Sudah ditelepon.", "--as", "Rina Wulandari"),
                 ("tickets", "assign", budi, "Rina Wulandari", "--as", "Ahmad Fauzi")):
        r = desk.run(*args)
        assert r.code == 0, f"{args}: {r.err}"
    out = {"send": desk.json("send")}
    answer = next(m for m in smtp.messages if m.rcpt_tos == ["lo@pks.example.org"] and m.message["Auto-Submitted"] is None)
    # The party writes back to our answer: the answered ticket reopens.
    append(user, "INBOX", [party_mail("lo@pks.example.org", "Re: Kantor tetap", "Terima kasih, satu lagi...",
                                      message_id="<q3c@pks.example.org>", in_reply_to=answer.message["Message-ID"],
                                      date=SENT_AT)])
    out["poll"] = desk.json("poll")
    out["sent"] = sent_mail(smtp)
    out["list"] = desk.json("tickets", "list")
    out["show"] = {name: desk.json("tickets", "show", tid) for name, tid in (("budi", budi), ("pks", pks))}
    out["filtered"] = {
        "baru": [t["id"] for t in desk.json("tickets", "list", "--status", "baru")],
        "gelora": [t["id"] for t in desk.json("tickets", "list", "--party", "gelora")],
        "assignee": [t["id"] for t in desk.json("tickets", "list", "--assignee", "rina wulandari")],
        "needs_answer": [t["id"] for t in desk.json("tickets", "list", "--needs-answer")],
        "overdue": [t["id"] for t in desk.json("tickets", "list", "--overdue")],
    }
    return out


def test_officer_reply_and_ticket_json_on_postgresql_match_sqlite(tmp_path, dovecot, postgres, frozen):
    lite, pg, _url = on_both(tmp_path, dovecot, postgres, conversation_scenario)
    assert pg["send"] == {"sent": 1, "pending": 0, "deferred": 0, "failed": 0}  # the answer
    assert pg["poll"]["tickets_created"] == 0 and pg["poll"]["messages_added"] == 1
    pks, budi = pg["show"]["pks"], pg["show"]["budi"]
    assert pks["status"] == "baru"  # answered, then reopened by the party's reply
    kinds = [e["kind"] for e in pks["events"]]
    assert "ticket.answered" in kinds and "ticket.reopened" in kinds
    assert [m["direction"] for m in pks["messages"]] == ["in", "out", "in", "out", "in"]  # q, ack, q, answer, q
    answer = next(m for m in pg["sent"] if m["to"] == ["lo@pks.example.org"] and m["auto"] is None)
    assert answer["in_reply_to"] == "<q3b@pks.example.org>"
    assert answer["references"].split()[0] == "<q3@pks.example.org>"
    assert answer["subject"] == f"Re: [HD-MSJ #{pks['id']}] Kantor tetap"
    assert budi["assignee"] == "Rina Wulandari" and any(m["direction"] == "note" for m in budi["messages"])
    assert pg["filtered"]["gelora"] == [budi["id"]]
    # Answering an unassigned ticket assigns it to the answerer (issue 12 item 12).
    assert pg["filtered"]["assignee"] == sorted([budi["id"], pks["id"]]) and pks["assignee"] == "Rina Wulandari"
    assert_same(pg, lite)


# --- escalation ---------------------------------------------------------------------------------------


def escalation_scenario(desk: Desk, user: ImapUser, smtp: SmtpServer) -> dict:
    append(user, "INBOX", PARTY_MAIL)
    desk.json("poll")
    desk.json("send")
    siti = next(str(t["id"]) for t in desk.json("tickets", "list") if t["requester"] == "siti@psi.example.org")
    r = desk.run("tickets", "escalate", siti, "--to", "anggota", "--message", "Mohon arahan.", "--as", "Rina Wulandari")
    assert r.code == 0, r.err
    out = {"escalated": desk.json("tickets", "show", siti)["status"], "send": desk.json("send")}
    (esc,) = [m for m in smtp.messages if ANGGOTA in m.rcpt_tos]
    # The member answers from a client that drops the tag: it threads by our Message-ID.
    append(user, "INBOX", [trusted(party_mail(ANGGOTA, "RE: Eskalasi", "Boleh dijawab: tidak boleh ganda.",
                                              message_id="<a1@kpu.example.org>",
                                              in_reply_to=esc.message["Message-ID"], date=SENT_AT))])
    out["poll"] = desk.json("poll")
    out["sent"] = sent_mail(smtp)
    out["show"] = desk.json("tickets", "show", siti)
    out["recap"] = desk.json("report", "recap", "--date", "2026-11-27")
    return out


def test_escalation_on_postgresql_matches_sqlite(tmp_path, dovecot, postgres, frozen):
    lite, pg, url = on_both(tmp_path, dovecot, postgres, escalation_scenario)
    assert pg["escalated"] == "eskalasi-anggota" and pg["send"]["sent"] == 1
    assert pg["poll"]["tickets_created"] == 0 and pg["poll"]["messages_added"] == 1
    siti = pg["show"]
    internal = [m for m in siti["messages"] if m["direction"] == "internal" and m["from"] == ANGGOTA]
    assert len(internal) == 1 and "tidak boleh ganda" in internal[0]["text"]
    assert siti["status"] == "baru" and siti["flags"]["escalation_answer"] == "anggota"
    (e,) = siti["escalations"]
    assert e["to"] == "anggota" and e["by"] == "Rina Wulandari" and e["answered_at"] == "2026-11-27T09:00:00+07:00"
    assert postgres.query(url, "select count(*) from escalation") == [(1,)]
    assert_same(pg, lite)


# --- progress import and reports ---------------------------------------------------------------------


def reports_scenario(desk: Desk, user: ImapUser, smtp: SmtpServer) -> dict:
    append(user, "INBOX", PARTY_MAIL)
    desk.json("poll")
    tickets = {t["requester"]: str(t["id"]) for t in desk.json("tickets", "list")}
    assert desk.run("tickets", "reply", tickets["lo@pks.example.org"], "--message", "Boleh.",
                    "--as", "Rina Wulandari").code == 0
    assert desk.run("tickets", "close", tickets["siti@psi.example.org"], "--as", "Rina Wulandari").code == 0
    assert desk.run("tickets", "new", "--channel", "tatap-muka", "--party", "PKB", "--name", "Ahmad Dahlan",
                    "--subject", "Konsultasi KTA", "--message", "Bagaimana format KTA?",
                    "--as", "Rina Wulandari").code == 0
    shot = desk.root / "dasbor-0745.png"
    shot.write_bytes(b"\x89PNG\r\n\x1a\n" + b"dasbor sipol" * 40)
    out = {"import": desk.json("progress", "import", str(DATA / "progress_example.csv"), "--evidence", str(shot),
                               "--as", "Rina Wulandari")}
    out["laporan"] = desk.json("laporan", tickets["lo@pks.example.org"])
    out["bukutamu"] = desk.json("bukutamu")
    out["progress"] = desk.json("report", "progress")
    out["recap"] = desk.json("report", "recap", "--date", "2026-11-27")
    out["recap_sent"] = desk.json("report", "recap", "--date", "2026-11-27", "--send")
    out["send"] = desk.json("send")
    out["sent"] = sent_mail(smtp)
    return out


def test_progress_import_and_reports_on_postgresql_match_sqlite(tmp_path, dovecot, postgres, frozen):
    lite, pg, url = on_both(tmp_path, dovecot, postgres, reports_scenario)
    assert [p["short"] for p in pg["progress"]["parties"]] == ["PKB", "Gerindra", "PDI Perjuangan", "Golkar", "NasDem"]
    assert postgres.query(url, "select count(*) from progress_snapshot")[0][0] == 5
    assert postgres.query(url, "select count(*) from evidence")[0][0] == 1
    recap = pg["recap"]
    assert recap["date"] == "2026-11-27" and recap["totals"]["new"] == 4
    assert {"by_channel", "by_status", "by_party", "timing", "breaches", "open_questions", "spam",
            "followups"} <= set(recap)
    assert pg["recap_sent"]["kind"] == "report" and pg["recap_sent"]["to"] == ["ketua@kpu-mesuji.example.org"]
    assert any("Rekapitulasi" in m["subject"] for m in pg["sent"])
    assert [g["name"] for g in pg["bukutamu"]] == ["Ahmad Dahlan"]
    assert_same(pg, lite)


# --- the daemon and the UNIQUE-constraint paths (report slots, message identity) ------------------------


def test_a_lost_slot_claim_does_not_abort_the_surrounding_transaction(tmp_path, imap_user, smtp_server, postgres):
    """PostgreSQL aborts a whole transaction on an error unless it ran in a savepoint:
    a second claim of the same slot must come back None and leave the transaction usable."""
    from kpudesk.tickets import reports
    from kpudesk.tickets.models import db

    desk = make_desk(tmp_path / "desk", imap_user, smtp_server, postgres.new_database())
    desk.app()
    now = datetime(2026, 11, 27, 8, 0, tzinfo=WIB)
    with db.atomic():
        first = reports.claim_slot("progress", "2026-11-27", "08:00", now=now, late=False)
        second = reports.claim_slot("progress", "2026-11-27", "08.00", now=now, late=False)
        assert first is not None and second is None
        assert reports.skip_slot("progress", "2026-11-27", "08:00", now=now) is False
        assert reports.ReportSlot.select().count() == 1  # the transaction still works
    assert reports.ReportSlot.select().count() == 1


RACE_ROUNDS = 3  # a race can be won by either side: several fresh databases, one race each


def test_two_daemons_racing_send_each_slot_once_on_postgresql(tmp_path, dovecot, postgres):
    from kpudesk.daemon.runner import Runner
    from kpudesk.tickets.clock import FrozenClock

    for n in range(RACE_ROUNDS):
        url = postgres.new_database()
        with SmtpServer() as smtp:
            desk = make_desk(tmp_path / f"desk{n}", dovecot.new_user(), smtp, url)
            clock = FrozenClock(datetime(2026, 11, 27, 8, 0, tzinfo=WIB))
            runners = [Runner(desk.app(clock=clock)) for _ in range(2)]
            barrier = threading.Barrier(2)
            results, errors = [], []

            def go(r):
                try:
                    barrier.wait()
                    results.append(r.tick())
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
                finally:
                    from kpudesk.tickets.models import db
                    db.close()  # this thread's connection

            threads = [threading.Thread(target=go, args=(r,)) for r in runners]
            [t.start() for t in threads]
            [t.join(60) for t in threads]
            assert not errors
            claimed = [j for res in results for j in res if j.startswith("progress")]
            assert claimed == ["progress:08:00"], results
            assert postgres.query(url, "select count(*) from report_slot where kind = 'progress'") == [(1,)]
            assert postgres.query(url, "select count(*) from outbox_item where kind = 'report'") == [(1,)]
            assert postgres.query(url, "select status from report_slot where kind = 'progress'") == [("sent",)]
            # The loser is not left in a broken state: the next tick works and sends nothing new.
            clock.advance(minutes=1)
            assert not [j for j in runners[0].tick() if j.startswith("progress")]
            # One report, delivered once: both runners flush in the same tick, but a sender
            # claims (leases) each outbox row before delivering it.
            delivered = [m for m in smtp.messages if "Laporan Progres" in str(m.message["Subject"])]
            assert len(delivered) == 1


def daemon_scenario(desk: Desk, user: ImapUser, smtp: SmtpServer) -> dict:
    """The daemon on a frozen clock: questions on Thursday, then Friday 16:58-17:07 minute by
    minute (progress 17:00, follow-ups 17:01, recap 17:05), all through the report slots."""
    from kpudesk.daemon.runner import Runner
    from kpudesk.tickets.clock import FrozenClock
    from kpudesk.tickets.reports import ReportSlot

    append(user, "INBOX", PARTY_MAIL)
    clock = FrozenClock(datetime(2026, 11, 26, 10, 0, tzinfo=WIB))
    runner = Runner(desk.app(clock=clock))
    jobs = [("26 10:00", j) for j in runner.tick()]
    clock.set(datetime(2026, 11, 27, 16, 58, tzinfo=WIB))
    while clock.now() < datetime(2026, 11, 27, 17, 8, tzinfo=WIB):
        jobs += [(clock.now().astimezone(WIB).strftime("%d %H:%M"), j) for j in runner.tick()]
        clock.advance(minutes=1)
    slots = [(r.kind, r.slot_date, r.slot_time, r.status, r.late)
             for r in ReportSlot.select().order_by(ReportSlot.kind, ReportSlot.slot_date, ReportSlot.slot_time)]
    return {"jobs": jobs, "slots": slots, "sent": sent_mail(smtp)}


def test_the_daemon_schedule_on_postgresql_matches_sqlite(tmp_path, dovecot, postgres):
    lite, pg, url = on_both(tmp_path, dovecot, postgres, daemon_scenario)
    ran = [j for _t, j in pg["jobs"] if j not in ("poll", "send")]
    assert "progress:17:00" in ran and "followup:17:01" in ran and "recap:17:05" in ran
    subjects = [m["subject"] for m in pg["sent"]]
    assert any("Laporan Progres" in s for s in subjects) and any("Rekap" in s for s in subjects)
    assert postgres.query(url, "select count(*) from report_slot where status = 'sent'")[0][0] >= 3
    assert_same(pg, lite)


def test_two_pollers_sharing_one_postgresql_database_store_each_message_once(tmp_path, imap_user, postgres):
    """PostgreSQL lets two installations (two hosts, two state dirs, so no common poll lock)
    share one database: the UNIQUE message identity must keep every mail stored once."""
    n = 120
    imap_user.append_many("INBOX", [party_mail(f"lo{i}@p{i % 9}.example.org", f"Tanya {i}", "isi",
                                               message_id=f"<race{i}@p.example.org>", date=SENT_AT)
                                    for i in range(n)])
    url = postgres.new_database()
    desks = [make_desk(tmp_path / f"host{k}", imap_user, None, url) for k in range(2)]
    assert desks[0].json("tickets", "list") == []  # the schema exists before the race
    procs = [d.spawn("poll", "--json") for d in desks]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
        results.append(json.loads(out))
    # The UID mark lives in the shared database too, so a poller that starts late reads less.
    assert all(0 < r["fetched"] <= n for r in results)
    assert sum(r["tickets_created"] for r in results) == n
    assert postgres.query(url, "select count(*) from message where direction = 'in'") == [(n,)]
    assert postgres.query(url, "select count(*) from ticket") == [(n,)]
    assert postgres.query(url, "select count(distinct ticket_id) from outbox_item where kind = 'ack'") == [(n,)]
    # The loser of a race on one message gets the UNIQUE violation in that message's savepoint:
    # it is counted as the duplicate it is, and the rest of its batch goes on.
    assert desks[0].json("quarantine", "list") == []
    for r in results:
        assert r["quarantined"] == 0 and r["duplicates"] + r["messages_added"] == r["fetched"]
    assert sum(r["messages_added"] for r in results) == n


# --- regressions: product bugs first found by running on PostgreSQL (fixed in schema v2) ----------------


LONG_HEADER_MAIL = {
    # A display name of more than 200 characters (Message.from_name, Ticket.requester_name,
    # Identity.name, Contact.name are VARCHAR(200)).
    "long-display-name": party_mail("Bapak " + "Ketua DPC Partai Contoh " * 10 + "<lo@pkb.example.org>",
                                    "Nama panjang", "Mohon info jadwal verifikasi."),
    # A valid address of 230 characters (local part <= 64): Event.actor is VARCHAR(200).
    "long-valid-address": party_mail("lo" + "a" * 60 + "@" + ".".join(["b" * 50] * 3) + ".example.org",
                                     "Alamat panjang", "Mohon info jadwal verifikasi."),
    # An attachment whose Content-Type is longer than 200 characters (Attachment.content_type).
    "long-content-type": (
        b"From: d@psi.example.org\r\nTo: helpdesk@kpu-mesuji.example.org\r\nSubject: Lampiran\r\n"
        b"Message-ID: <ct@psi.example.org>\r\nDate: Fri, 27 Nov 2026 08:00:00 +0700\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\nisi\r\n"
        b"--BB\r\nContent-Type: application/" + b"x" * 250 + b"\r\n"
        b"Content-Disposition: attachment; filename=a.bin\r\n\r\nAAAA\r\n--BB--\r\n"),
}


@pytest.mark.parametrize("case", sorted(LONG_HEADER_MAIL))
def test_mail_with_long_header_values_becomes_a_ticket_on_postgresql(tmp_path, imap_user, smtp_server, postgres,
                                                                     frozen, case):
    desk = make_desk(tmp_path / "desk", imap_user, smtp_server, postgres.new_database())
    imap_user.append("INBOX", LONG_HEADER_MAIL[case])
    stats = desk.json("poll")
    errors = [q["error"] for q in desk.json("quarantine", "list")]
    assert stats["quarantined"] == 0 and not errors, errors
    assert stats["tickets_created"] == 1 and len(desk.json("tickets", "list")) == 1
