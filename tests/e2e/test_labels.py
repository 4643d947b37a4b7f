"""Officer-facing wording: event labels, times, and the poll summary (issue 12 items 13, 17)."""
from __future__ import annotations

from datetime import UTC, datetime

from kpudesk.tickets.ingest import PollStats
from kpudesk.tickets.labels import event_label, poll_summary, waktu


def test_a_time_reads_as_an_indonesian_date_in_wib():
    assert waktu(datetime(2026, 12, 4, 17, 57, 25, tzinfo=UTC)) == "5 Desember 2026 00.57 WIB"
    assert waktu(None) == "-"


def test_event_codes_become_indonesian_phrases():
    for code in ("ticket.created", "ack.queued", "escalation.answered"):
        label = event_label(code)
        assert "." not in label and "_" not in label and label != code


def test_three_new_tickets_read_as_three_mails_not_six():
    stats = PollStats(fetched=3, tickets_created=3, messages_added=3)
    text = poll_summary(stats.counters())
    assert text.startswith("3 surel diterima: 3 membuka tiket baru.")
    assert "tiket yang sudah ada" not in text  # no "0 ..." parts


def test_every_fetched_mail_is_accounted_for_once():
    stats = PollStats(fetched=9, tickets_created=2, messages_added=4, ignored=1, duplicates=1,
                      spam_held=2, quarantined=1, spam_rescued=1)
    text = poll_summary(stats.counters())
    numbers = [int(w) for w in text.split(":")[1].split(".")[0].replace(";", " ").split() if w.isdigit()]
    assert sum(numbers) == 9
    assert "1 di antaranya diselamatkan dari folder spam" in text


def test_an_empty_poll_says_so():
    assert poll_summary(PollStats().counters()) == "Tidak ada surel baru."


def test_kpudesk_poll_says_how_many_arrived_and_what_became_of_them(tmp_path, imap_user):
    from tests.corpus.hostile import party_mail
    from tests.desk import Desk

    desk = Desk(tmp_path / "desk", imap_user)
    for n in range(3):
        imap_user.append("INBOX", party_mail(f"LO {n} <lo{n}@pkb.example.org>", f"Tanya {n}", "Kapan batas akhir?"))
    r = desk.run("poll")
    assert r.code == 0, r.err
    first = r.out.splitlines()[0]
    assert first == "3 surel diterima: 3 membuka tiket baru."
