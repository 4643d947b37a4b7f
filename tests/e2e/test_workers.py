"""A large poll's analysis in a worker process: same tickets as inline, and a dead worker
costs speed, never mail."""
from __future__ import annotations

import logging
import random
from contextlib import contextmanager
import tomllib

import pytest

from kpudesk.daemon.workers import AnalysisPipeline
from kpudesk.daemon.poller import poll
from kpudesk.tickets.analysis import AnalystSpec
from kpudesk.tickets.faq import DEFAULT_FAQ_PATH
from kpudesk.tickets.models import Identity, Message, Ticket
from kpudesk.tickets.schema import close_database
from kpudesk.tickets.outbox import OutboxItem
from tests.corpus.hostile import party_mail
from tests.desk import Desk

PARTIES = [("pkb", "PKB", "Partai Kebangkitan Bangsa"), ("gerindra", "Gerindra", "Partai Gerindra"),
           ("pks", "PKS", "Partai Keadilan Sejahtera"), ("golkar", "Golkar", "Partai Golkar")]


def corpus(n: int) -> list[bytes]:
    """Questions from the FAQ (and some it does not cover), from 25 liaison officers,
    a fifth of them replies into an earlier thread, a few out-of-office replies."""
    rng = random.Random(7)
    with DEFAULT_FAQ_PATH.open("rb") as fh:
        questions = [e["question"] for e in tomllib.load(fh)["faq"]]
    questions += ["Apakah kantor KPU buka pada hari Minggu untuk konsultasi tatap muka?"]
    senders = [(f"lo{i}@{PARTIES[i % 4][0]}.example.org", f"Budi Santoso{i}", PARTIES[i % 4]) for i in range(25)]
    out, sent = [], []
    for i in range(n):
        addr, name, (_, short, party) = rng.choice(senders)
        msgid = f"<m{i}@{addr.split('@')[1]}>"
        if i % 37 == 5:
            out.append(party_mail(addr, "Balasan otomatis: sedang cuti", "Saya sedang cuti.",
                                  message_id=msgid, extra_headers=[("Auto-Submitted", "auto-replied")]))
            continue
        body = (f"Selamat pagi,\n\nSaya {name}, LO {party} Kabupaten Mesuji.\n{rng.choice(questions)}\n\n"
                f"Terima kasih.\n\nSalam,\n{name}\nHP 0812-{1000 + i}-{2000 + i}\n")
        if sent and rng.random() < 0.2:
            parent, subject = rng.choice(sent)
            out.append(party_mail(addr, f"Re: {subject}", body, message_id=msgid, in_reply_to=parent,
                                  references=parent))
        else:
            subject = f"Pertanyaan Sipol {i} - {short}"
            out.append(party_mail(addr, subject, body, message_id=msgid))
            sent.append((msgid, subject))
    return out


def stored(desk: Desk) -> dict:
    """What an officer would see, without ids' and clocks' incidental values."""
    desk.app()
    try:
        return {
            "tickets": [(t.subject, t.requester, t.requester_name, t.party_id, t.status, t.flags)
                        for t in Ticket.select().order_by(Ticket.id)],
            "identities": [(i.ticket_id, i.name, i.name_source, i.party, i.party_source, i.phone, i.phone_source)
                           for i in Identity.select().order_by(Identity.id)],
            "messages": [(m.msgid if m.direction == "in" else "ours", m.ticket_id, m.direction, m.disposition,
                          m.kind, m.raw_sha256)
                         for m in Message.select().order_by(Message.id)],
            "outbox": [(o.kind, o.recipients, o.ticket_id) for o in OutboxItem.select().order_by(OutboxItem.id)],
        }
    finally:
        close_database()


def with_workers(desk: Desk, workers: int) -> Desk:
    text = desk.settings_path.read_text(encoding="utf-8")
    desk.settings_path.write_text(text.replace("batch_size = 50", f"batch_size = 50\nworkers = {workers}"),
                                  encoding="utf-8")
    return desk


@contextmanager
def logged(name: str = "kpudesk"):
    """The records of `name`'s loggers at INFO and above. Not caplog: the CLI's logging
    set-up replaces the root logger's handlers, caplog's among them."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger(name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture(autouse=True)
def workers_do_the_work(monkeypatch):
    """No inline analysis while the workers start: these tests are about the workers."""
    monkeypatch.setattr(AnalysisPipeline, "inline_while_starting", False)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_poll_analysed_in_a_worker_stores_what_an_inline_poll_stores(tmp_path, dovecot, monkeypatch, method):
    monkeypatch.setattr(AnalysisPipeline, "start_method", method)
    raws = corpus(180)
    results = {}
    for workers in (0, 1):
        user = dovecot.new_user()
        user.append_many("INBOX", raws)
        desk = with_workers(Desk(tmp_path / f"w{workers}", user), workers)
        with logged() as records:
            stats = desk.json("poll")
        assert not [r for r in records if "analysis worker failed" in r.getMessage()]  # the worker did the work
        assert stats["fetched"] == 180 and stats["quarantined"] == 0
        assert stats["tickets_created"] > 100 and stats["auto_replies"] == 5
        results[workers] = stored(desk)
    assert results[1] == results[0]
    flags = [t[5] for t in results[1]["tickets"]]
    assert any(f["faq_miss"] for f in flags) and any(not f["faq_miss"] for f in flags)


@pytest.mark.slow
def test_a_worker_that_dies_costs_speed_not_mail(tmp_path, dovecot, caplog, monkeypatch):
    raws = corpus(150)
    user = dovecot.new_user()
    user.append_many("INBOX", raws)
    desk = with_workers(Desk(tmp_path / "desk", user), 2)
    app = desk.app()
    try:
        # A worker that cannot start (its FAQ file is gone) breaks the pool at the first batch.
        broken = AnalystSpec(own=app.own_identity(), registry=app.registry, faq_path=tmp_path / "hilang.toml")
        monkeypatch.setattr(type(app), "analyst_spec", lambda self: broken)
        with caplog.at_level(logging.WARNING):
            stats = poll(app)
    finally:
        close_database()
    assert "analysis worker failed" in caplog.text
    assert stats.fetched == 150 and stats.quarantined == 0
    again = desk.json("poll")
    assert again["fetched"] == 0
    rows = stored(desk)
    assert len(rows["messages"]) - len(rows["outbox"]) == 150  # every mail once, plus our acks
    inbound = [m[0] for m in rows["messages"] if m[2] == "in"]
    assert len(inbound) == len(set(inbound)) == 150


@pytest.mark.slow
def test_batches_are_analysed_inline_while_the_workers_start(tmp_path, dovecot, monkeypatch):
    monkeypatch.setattr(AnalysisPipeline, "inline_while_starting", True)
    # Spawned workers take ~0.25 s to start; forked ones are usually ready before the
    # first batch is fetched, which leaves nothing to analyse inline.
    monkeypatch.setattr(AnalysisPipeline, "start_method", "spawn")
    seen = []
    real = AnalysisPipeline.run

    def run(self, batches, expected, batch_size):
        for batch, analyses in real(self, batches, expected, batch_size):
            seen.append(analyses is not None)
            yield batch, analyses

    monkeypatch.setattr(AnalysisPipeline, "run", run)
    user = dovecot.new_user()
    user.append_many("INBOX", corpus(600))
    desk = with_workers(Desk(tmp_path / "desk", user), 2)
    assert desk.json("poll")["fetched"] == 600
    # The first batch never waits for a worker; later ones come analysed from them.
    assert seen[0] is False and any(seen)


@pytest.mark.slow
def test_duplicates_within_a_batch_are_caught_when_its_message_ids_are_read_at_once(tmp_path, dovecot):
    """With analyses from the workers, a batch reads its Message-IDs' stored rows in one
    query; a message the batch itself stores or releases must still count for the next
    (caught by the first try, not by the UNIQUE index and a batch stored over again)."""
    held = party_mail("promo@toko.example.net", "DISKON", "Beli sekarang", message_id="<held@toko.example.net>")
    raws = corpus(120)
    twin = party_mail("lo1@pkb.example.org", "Pertanyaan kembar", "Isi A", message_id="<twin@pkb.example.org>")
    reused = party_mail("lo2@pks.example.org", "Pertanyaan lain", "Isi B", message_id="<twin@pkb.example.org>")
    # Within one batch of 50: a message twice, a reused Message-ID, the held spam twice
    # (moved out of Spam: a release, then a duplicate); a copy of an earlier batch's mail.
    raws[60:60] = [twin, twin, reused, held, held, raws[3]]
    results = {}
    for workers in (0, 2):
        user = dovecot.new_user()
        user.append("Spam", held)
        desk = with_workers(Desk(tmp_path / f"w{workers}", user), workers)
        assert desk.json("poll")["spam_held"] == 1
        user.append_many("INBOX", raws)
        app = desk.app()
        try:
            with logged() as records:
                stats = poll(app).as_dict()
        finally:
            close_database()
        assert not [r for r in records if "message by message" in r.getMessage()]
        assert stats["fetched"] == 126 and stats["quarantined"] == 0
        assert stats["duplicates"] == 4  # twin, held twice (the first copy releases it), raws[3]
        results[workers] = stored(desk)
        messages = results[workers]["messages"]
        assert [m[3] for m in messages if m[0] == "held@toko.example.net"] == ["released"]
        assert len([m for m in messages if m[0] == "twin@pkb.example.org"]) == 2  # twin and reused
    assert results[2] == results[0]


def test_an_interrupted_batch_leaves_no_batch_state_behind(tmp_path, imap_user, monkeypatch):
    """Ctrl-C in the middle of a batch: what the batch read ahead (stored rows by
    Message-ID) must not answer for the next batch, which stores the same mail whole."""
    from kpudesk.mailbox.message import FetchedMail
    from kpudesk.tickets.analysis import Analyst
    from kpudesk.tickets.ingest import Ingestor, PollStats

    desk = Desk(tmp_path / "desk", imap_user)
    app = desk.app()
    try:
        analyst = Analyst(app.analyst_spec())
        mails = [FetchedMail("INBOX", 1, i + 1, raw, None) for i, raw in enumerate(corpus(4))]
        analyses = [analyst.full(m.raw, m.internaldate) for m in mails]
        read_ahead = []
        process = Ingestor._process

        def interrupted(self, mail, batch, *args, **kwargs):
            read_ahead.append(batch.known)
            if len(read_ahead) == 2:  # the first message is stored, then Ctrl-C
                raise KeyboardInterrupt
            return process(self, mail, batch, *args, **kwargs)

        monkeypatch.setattr(Ingestor, "_process", interrupted)
        with pytest.raises(KeyboardInterrupt):
            app.ingestor.ingest_batch("INBOX", 1, mails, is_spam=False, stats=PollStats(), analyses=analyses)
        assert read_ahead[0] is not None  # the batch did read ahead
        assert Message.select().count() == 0  # and the transaction was rolled back
        monkeypatch.setattr(Ingestor, "_process", process)
        stats = PollStats()
        app.ingestor.ingest_batch("INBOX", 1, mails, is_spam=False, stats=stats, analyses=analyses)
        assert stats.duplicates == 0 and Message.select().where(Message.direction == "in").count() == 4
    finally:
        close_database()


def _in_fresh_python(code: str) -> str:
    """`code`'s stdout, run in a new interpreter: a process whose threads we know (pytest's
    own may keep threads of earlier tests alive)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_workers_are_forked_only_from_a_single_threaded_process():
    code = (
        "import threading\n"
        "from kpudesk.daemon.workers import start_method_now\n"
        "alone = start_method_now()\n"
        "stop = threading.Event(); t = threading.Thread(target=stop.wait); t.start()\n"
        "crowded = start_method_now()\n"
        "stop.set(); t.join()\n"
        "print(alone, crowded)\n"
    )
    # fork would copy another thread's held locks, not the thread: spawn then.
    assert _in_fresh_python(code) == "fork spawn"


def test_workers_start_when_the_process_has_no_stdout():
    """A poll started with its stdout closed (a cron job's >&-): the fork must not fail on
    flushing it, or the poll would run without its workers."""
    code = (
        "import os, sys, tempfile, datetime\n"
        "from pathlib import Path\n"
        "from kpudesk.daemon.workers import AnalysisPipeline\n"
        "from kpudesk.mailbox.message import FetchedMail\n"
        "from kpudesk.tickets.analysis import AnalystSpec\n"
        "from kpudesk.tickets.classify import OwnIdentity\n"
        "from kpudesk.tickets.parties import DEFAULT_PARTIES_PATH, PartyRegistry\n"
        "from tests.corpus.hostile import party_mail\n"
        "own = OwnIdentity(addresses=frozenset({'helpdesk@kpu-mesuji.example.org'}), "
        "msgid_domain='kpu-mesuji.example.org', loop_header='X-KPUDesk-Loop', loop_value='x')\n"
        "spec = AnalystSpec(own=own, registry=PartyRegistry.load(DEFAULT_PARTIES_PATH), faq_path=None)\n"
        "out = os.fdopen(os.dup(1), 'w')\n"
        "sys.stdout.close(); sys.stdout = None\n"
        "raw = party_mail('lo@pkb.example.org', 'Tanya', 'Isi')\n"
        "batches = [[FetchedMail('INBOX', 1, i * 2 + j + 1, raw, None) for j in range(2)] for i in range(3)]\n"
        "AnalysisPipeline.inline_while_starting = False\n"
        "with AnalysisPipeline(spec, 1) as p:\n"
        "    done = [a is not None for _, a in p.run(batches, 6, 2)]\n"
        "    print(p._broken, done, file=out, flush=True)\n"
    )
    assert _in_fresh_python(code) == "False [True, True, True]"


def test_an_analysis_crosses_the_process_boundary_unchanged():
    import pickle

    from kpudesk.tickets.analysis import Analyst
    from kpudesk.tickets.classify import OwnIdentity
    from kpudesk.tickets.parties import DEFAULT_PARTIES_PATH, PartyRegistry
    from tests.corpus.hostile import hostile_messages

    own = OwnIdentity(addresses=frozenset({"helpdesk@kpu-mesuji.example.org"}), msgid_domain="kpu-mesuji.example.org",
                      loop_header="X-KPUDesk-Loop", loop_value="kpu-mesuji.example.org")
    spec = AnalystSpec(own=own, registry=PartyRegistry.load(DEFAULT_PARTIES_PATH), faq_path=DEFAULT_FAQ_PATH)
    analyst = pickle.loads(pickle.dumps(Analyst(spec).spec))  # the spec itself goes to the worker
    worker = Analyst(analyst)
    done = [a for a in worker.batch([(raw, None) for _, raw in hostile_messages()] +
                                    [(raw, None) for raw in corpus(30)]) if a is not None]
    assert len(done) > 60 and any(a.guess and a.guess.party for a in done) and any(a.faq for a in done)
    for a in done:
        assert pickle.loads(pickle.dumps(a, protocol=5)) == a
