"""The Dovecot test server itself: if these fail, every IMAP test result is meaningless."""
from __future__ import annotations

import os
import re
import socket
from datetime import datetime, timezone
from pathlib import Path

import imapclient
import pytest
from imapclient.exceptions import LoginError

from tests.corpus.hostile import cpython_email_corpus, hostile_messages, party_mail
from tests.servers.dovecot import Dovecot, DovecotError, DovecotNotInstalled, _live_group_members, port_accepts


def _listeners(port: int) -> list[tuple[str, str]]:
    """(family, local address) of every LISTEN socket on `port`, from /proc/net/tcp{,6}."""
    out = []
    for family in ("tcp", "tcp6"):
        path = Path("/proc/net") / family
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            addr, hexport = fields[1].rsplit(":", 1)
            if int(hexport, 16) == port and fields[3] == "0A":  # 0A = TCP_LISTEN
                out.append((family, addr))
    return out


def test_login_and_capabilities(imap_user):
    client = imapclient.IMAPClient(imap_user.host, imap_user.port, ssl=False, timeout=30)
    try:
        client.login(imap_user.name, imap_user.password)
        caps = set(client.capabilities())
        assert {b"MOVE", b"THREAD=REFERENCES", b"UIDPLUS", b"MULTIAPPEND", b"SPECIAL-USE"} <= caps
        folders = {name for _flags, _sep, name in client.list_folders()}
        assert {"INBOX", "Spam", "Sent"} <= folders
    finally:
        client.logout()


def test_wrong_password_and_unknown_user_are_rejected(imap_user):
    for user, password in ((imap_user.name, "wrong"), ("nobody-here", "x")):
        client = imapclient.IMAPClient(imap_user.host, imap_user.port, ssl=False, timeout=30)
        try:
            with pytest.raises(LoginError):
                client.login(user, password)
        finally:
            client.shutdown()


def test_users_are_fresh_and_isolated(dovecot, imap_user):
    other = dovecot.new_user()
    assert other.name != imap_user.name
    imap_user.append("INBOX", party_mail("a@example.org", "hanya untuk satu", "isi"))
    with other.session() as c:
        assert c.select_folder("INBOX")[b"EXISTS"] == 0


def test_append_returns_increasing_uids_and_keeps_bytes_flags_date(imap_user):
    raws = [party_mail("warga@example.org", f"Pertanyaan {i}", f"Isi ke-{i}") for i in range(3)]
    when = datetime(2024, 2, 14, 8, 30, tzinfo=timezone.utc)
    uids = [imap_user.append("INBOX", raws[0]),
            imap_user.append("INBOX", raws[1], flags=[b"\\Seen"]),
            imap_user.append("INBOX", raws[2], internaldate=when)]
    assert uids == sorted(uids) and len(set(uids)) == 3
    with imap_user.session() as c:
        c.select_folder("INBOX", readonly=True)
        got = c.fetch(uids, ["RFC822", "FLAGS", "INTERNALDATE"])
    assert [got[u][b"RFC822"] for u in uids] == raws
    assert b"\\Seen" in got[uids[1]][b"FLAGS"]
    assert b"\\Seen" not in got[uids[0]][b"FLAGS"]
    assert got[uids[2]][b"INTERNALDATE"].astimezone(timezone.utc).replace(tzinfo=timezone.utc) == when


def test_spam_has_junk_special_use(imap_user):
    with imap_user.session() as c:
        assert c.find_special_folder(imapclient.imapclient.JUNK) == "Spam"
        assert c.find_special_folder(imapclient.imapclient.SENT) == "Sent"
        flags = {name: fl for fl, _sep, name in c.list_folders()}
    assert b"\\Junk" in flags["Spam"]


def test_create_folder_nested_and_non_ascii(imap_user):
    for name in ("Arsip/2024", "Pengaduan Pemilu – Ñ"):
        imap_user.create_folder(name)
        imap_user.create_folder(name)  # idempotent
        uid = imap_user.append(name, party_mail("a@example.org", "x", "y"))
        assert uid == 1
        assert imap_user.folder_path(name).joinpath("cur").is_dir()
        assert imap_user.uidvalidity(name) > 0


def test_uidvalidity_reset_changes_value_keeps_mail_and_renumbers(imap_user):
    raws = [party_mail("a@example.org", f"m{i}", "isi") for i in range(4)]
    uids = imap_user.append_many("INBOX", raws)
    with imap_user.session() as c:
        c.select_folder("INBOX")
        c.delete_messages([uids[0]])
        c.expunge()
    live = imap_user.connect()
    live.select_folder("INBOX")
    before = imap_user.uidvalidity("INBOX")

    after = imap_user.reset_uidvalidity("INBOX")

    assert after != before and after == imap_user.uidvalidity("INBOX")
    with imap_user.session() as c:
        info = c.select_folder("INBOX", readonly=True)
        assert info[b"UIDVALIDITY"] == after
        assert c.search() == [1, 2, 3]  # renumbered, the expunged one is gone
        bodies = c.fetch([1, 2, 3], ["RFC822"])
    assert [bodies[u][b"RFC822"] for u in (1, 2, 3)] == raws[1:]
    # a session that had INBOX selected is told to go away, as by a real Dovecot
    with pytest.raises((imapclient.exceptions.IMAPClientAbortError, OSError, imapclient.exceptions.IMAPClientError)):
        live.noop()
        live.select_folder("INBOX")
        live.noop()
    live.shutdown()


def test_uidvalidity_reset_works_on_empty_and_other_folders(imap_user):
    first = imap_user.uidvalidity("Spam")
    second = imap_user.reset_uidvalidity("Spam", renumber=False)
    assert second != first
    assert imap_user.reset_uidvalidity("Spam") != second


def test_append_many_is_one_connection_and_ordered(imap_user):
    raws = [b"Subject: bulk %d\r\nMessage-ID: <bulk-%d@example.org>\r\n\r\nx\r\n" % (i, i) for i in range(1500)]
    uids = imap_user.append_many("INBOX", raws, chunk_size=400)
    assert uids == list(range(1, 1501))
    with imap_user.session() as c:
        assert c.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1500
        last = c.fetch([1500], ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])[1500]
    assert b"<bulk-1499@example.org>" in last[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"]


def test_whole_hostile_and_cpython_corpus_can_be_appended(imap_user):
    corpus = hostile_messages() + cpython_email_corpus()
    uids = imap_user.append_many("INBOX", [raw for _name, raw in corpus])
    assert len(uids) == len(corpus) == len(set(uids))


def test_add_user_after_start_and_password_change(dovecot):
    dovecot.add_user("late.user@example.org", "first-pass")
    with dovecot.session("late.user@example.org") as c:
        assert c.select_folder("INBOX")[b"EXISTS"] == 0
    dovecot.add_user("late.user@example.org", "other-pass")  # same length, same second
    with pytest.raises(LoginError):
        dovecot.connect("late.user@example.org", "first-pass")
    dovecot.connect("late.user@example.org", "other-pass").logout()


def test_server_listens_on_loopback_only(dovecot):
    listeners = _listeners(dovecot.port)
    assert listeners, "no LISTEN socket found for the Dovecot port"
    assert all(fam == "tcp" and addr == "0100007F" for fam, addr in listeners), listeners
    assert not port_accepts("127.0.0.2", dovecot.port, 1.0)
    conf = dovecot.config_path.read_text()
    assert "!include" not in conf and "listen = 127.0.0.1" in conf


def test_stop_closes_port_and_reaps_every_process(tmp_path):
    server = Dovecot()
    server.start()
    try:
        port, pgid, workdir = server.port, server.pid, server.workdir
        user = server.new_user()
        lingering = user.connect()  # an open session must not keep the server alive
        lingering.select_folder("INBOX")
        assert port_accepts("127.0.0.1", port)
        assert len(_live_group_members(pgid)) > 1
    finally:
        server.stop()
    assert not server.running
    assert not port_accepts("127.0.0.1", port)
    assert _live_group_members(pgid) == []
    lingering.shutdown()
    server.stop()  # idempotent
    server.cleanup()
    if not os.environ.get("KPUDESK_KEEP_DOVECOT"):
        assert not workdir.exists()


def test_missing_binary_fails_with_install_hint(tmp_path):
    server = Dovecot(tmp_path / "dc", binary=str(tmp_path / "no-dovecot"))
    with pytest.raises(DovecotNotInstalled, match=r"\.ci/run|apt-get install dovecot-imapd"):
        server.start()


def test_greeting_arrives_on_plain_socket(dovecot):
    with socket.create_connection((dovecot.host, dovecot.port), timeout=5) as s:
        assert s.recv(200).startswith(b"* OK")


def test_start_failure_raises_with_the_dovecot_log():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        server = Dovecot(port=busy.getsockname()[1], start_timeout=5)
        with pytest.raises(DovecotError) as err:
            with server:
                pass
    assert "Address already in use" in str(err.value)
    assert "--- dovecot log" in str(err.value)
    assert not server.running


def test_hostile_corpus_is_deterministic_complete_and_bytes():
    from tests.corpus import hostile

    first, again = hostile_messages(), hostile_messages()
    assert first == again and len(first) >= 40
    names = [n for n, _ in first]
    assert len(names) == len(set(names))
    assert all(isinstance(raw, bytes) and raw for _n, raw in first)
    for group in (hostile.CLASS_AUTO_REPLY, hostile.CLASS_BOUNCE, hostile.CLASS_BULK,
                  hostile.EXACT_DUPLICATES, hostile.SAME_MSGID_DIFFERENT_BODY):
        assert set(group) <= set(names)
    a, b = (hostile.hostile_message(n) for n in hostile.EXACT_DUPLICATES)
    assert a == b
    a, b = (hostile.hostile_message(n) for n in hostile.SAME_MSGID_DIFFERENT_BODY)
    assert a != b and a.split(b"\r\n\r\n")[0] == b.split(b"\r\n\r\n")[0]
    assert hostile.DSN_ORIGINAL_MSGID.encode() in hostile.hostile_message("bounce-dsn")
    assert len(hostile.hostile_message("attachment-5mb-pdf")) > hostile.BIG_ATTACHMENT_SIZE
    domains = {d.lower() for n, raw in first if n != "garbage-bytes"
               for d in re.findall(rb"@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)", raw)}
    assert domains and all(re.search(rb"(^|\.)example\.(org|com|net)$", d) for d in domains), domains
    assert len(cpython_email_corpus()) >= 40
