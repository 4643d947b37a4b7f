"""The service's bookkeeping rows (tickets/bookkeeping.py), in-process: where a folder's
reading resumes, the event of a renumbered folder, and since when the daemon runs."""
from __future__ import annotations

from datetime import timedelta

from kpudesk.tickets.bookkeeping import daemon_since, resume_uid
from kpudesk.tickets.models import Event
from tests.corpus.hostile import party_mail
from tests.feeder import UIDVALIDITY, Feeder


def test_a_folder_resumes_after_its_last_stored_uid_and_a_new_one_from_the_start(tmp_path):
    desk = Feeder(tmp_path)
    assert resume_uid("INBOX", UIDVALIDITY, desk.clock.now()) == 0
    desk.deliver(party_mail("a@pkb.example.org", "Satu", "isi"), party_mail("b@pkb.example.org", "Dua", "isi"))
    assert resume_uid("INBOX", UIDVALIDITY, desk.clock.now()) == 2
    assert resume_uid("Spam", UIDVALIDITY, desk.clock.now()) == 0
    assert Event.select().where(Event.kind == "folder.uidvalidity_changed").count() == 0


def test_a_renumbered_folder_is_read_again_and_the_event_says_why(tmp_path):
    desk = Feeder(tmp_path)
    desk.deliver(party_mail("a@pkb.example.org", "Satu", "isi"))
    desk.advance(hours=1)
    assert resume_uid("INBOX", UIDVALIDITY + 7, desk.clock.now()) == 0
    (e,) = Event.select().where(Event.kind == "folder.uidvalidity_changed")
    assert e.ticket_id is None and e.actor == "system" and e.at == desk.clock.now()
    assert e.detail == {"folder": "INBOX", "old": UIDVALIDITY, "new": UIDVALIDITY + 7}


def test_the_daemon_is_running_since_its_first_start(tmp_path):
    desk = Feeder(tmp_path)
    first = desk.clock.now()
    assert daemon_since(first) == first
    assert daemon_since(first + timedelta(days=3)) == first


def test_last_poll_falls_back_to_the_folders_mark_when_no_poll_was_recorded(tmp_path):
    """Mail stored by a batch (no `poll` recorded its end, as after a crash mid-poll): the
    last poll is the folder mark's time, a datetime /healthz can print."""
    from datetime import datetime

    from kpudesk.tickets.poll_log import last_poll
    from tests.corpus.hostile import party_mail
    from tests.feeder import Feeder

    desk = Feeder(tmp_path)
    desk.deliver(party_mail("Lia <lia@pdip.example.org>", "Akun Sipol", "Akun kami terkunci."))
    assert isinstance(last_poll(), datetime) and last_poll() <= desk.clock.now()
