"""Which IDLE responses mean new mail (imapclient's parsed form, as Dovecot sends them)."""
from kpudesk.mailbox.imap_idle import announces_new_mail


def test_exists_and_recent_announce_new_mail():
    assert announces_new_mail([(3, b"EXISTS")])
    assert announces_new_mail([(b"OK", b"Still here"), (1, b"RECENT")])


def test_keepalives_flags_and_expunges_do_not():
    assert not announces_new_mail([])
    assert not announces_new_mail([(b"OK", b"Still here")])
    assert not announces_new_mail([(2, b"EXPUNGE"), (1, b"FETCH", (b"FLAGS", (b"\\Seen",)))])
