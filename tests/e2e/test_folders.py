"""Provider folder layouts on a real Dovecot (tests/servers/provider_dovecot.py): `kpudesk
check` lists the folders and says which serves inbox, spam and Sent and why; `poll` reads
the spam folder it found; `send` with save_sent copies to the Sent folder found, never on
Gmail; a configured folder the server lacks is a Bahasa error naming the server's folders."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.corpus.hostile import party_mail
from tests.desk import Desk
from tests.servers.dovecot import dovecot_available
from tests.servers.provider_dovecot import (
    COURIER, GMAIL, GOOGLE_MAIL_DE_UNMARKED, MICROSOFT, MICROSOFT_UNMARKED, OUTLOOK_ID_UNMARKED, PLAIN, Layout,
    ProviderDovecot)

LAYOUTS = {"gmail": GMAIL, "google_de": GOOGLE_MAIL_DE_UNMARKED, "microsoft": MICROSOFT,
           "microsoft_unmarked": MICROSOFT_UNMARKED, "outlook_id": OUTLOOK_ID_UNMARKED, "courier": COURIER,
           "plain": PLAIN}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ProviderDovecot]]:
    """One Dovecot per layout, started when a test first asks for it."""
    if not dovecot_available():
        pytest.fail("Dovecot is required (bash tests/setup.sh)", pytrace=False)
    started: dict[str, ProviderDovecot] = {}
    yield started
    for server in started.values():
        server.stop()
        server.cleanup()


def user_of(servers, key: str):
    if key not in servers:
        servers[key] = ProviderDovecot(LAYOUTS[key]).start()
    layout: Layout = LAYOUTS[key]
    return servers[key].new_user(layout.folders)


def desk_for(tmp_path, user, smtp, spam: str | None = None, save_sent: bool = False, sent: str | None = None,
             inbox: str | None = None) -> Desk:
    desk = Desk(tmp_path / "desk", user, smtp=smtp)
    text = desk.settings_path.read_text()
    imap = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in (("spam", spam), ("inbox", inbox)) if v is not None)
    text = text.replace("batch_size = 50\n", "batch_size = 50\n" + imap, 1)
    smtp_keys = ("save_sent = true\n" if save_sent else "") + (f'sent_folder = "{sent}"\n' if sent is not None else "")
    text = text.replace('security = "none"\n\n[database]', 'security = "none"\n' + smtp_keys + "\n[database]", 1)
    desk.settings_path.write_text(text)
    return desk


def messages_in(user, folder: str) -> list[bytes]:
    with user.session() as c:
        c.select_folder(folder, readonly=True)
        uids = c.search("ALL")
        return [d[b"BODY[]"] for d in c.fetch(uids, [b"BODY.PEEK[]"]).values()] if uids else []


def test_gmail_layout_spam_found_by_junk_and_sent_never_copied(tmp_path, servers, smtp_server):
    user = user_of(servers, "gmail")
    desk = desk_for(tmp_path, user, smtp_server, save_sent=True)  # spam = "Spam" and sent_folder = "Sent": defaults
    r = desk.run("check")
    assert r.code == 0, r.err
    assert "  Folder di server (6):" in r.out
    for line in ("    [Gmail]  (tidak dapat dibuka)", "    [Gmail]/Spam  \\Junk", "    [Gmail]/Sent Mail  \\Sent",
                 "    [Gmail]/All Mail  \\All", "    INBOX"):
        assert line + "\n" in r.out
    assert "  Kotak masuk: INBOX (0 pesan) — dari pengaturan\n" in r.out
    assert "  Folder spam: [Gmail]/Spam (0 pesan) — \\Junk\n" in r.out
    assert "Peringatan: imap.spam = \"Spam\" tidak ada di server; dipakai \"[Gmail]/Spam\" (\\Junk)" in r.out
    assert "Folder terkirim: [Gmail]/Sent Mail — Gmail (X-GM-EXT-1): salinan surel terkirim tidak disimpan" in r.out

    user.append("[Gmail]/Spam", party_mail("promo@iklan.example.com", "Menang undian", "klik"))
    user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya jadwal", "isi"))
    stats = desk.json("poll")
    assert stats["folders"]["[Gmail]/Spam"]["fetched"] == 1
    assert stats["folders"]["INBOX"]["fetched"] == 1
    assert desk.json("send")["sent"] == 1
    assert len(smtp_server.messages) == 1  # the acknowledgement went out ...
    assert messages_in(user, "[Gmail]/Sent Mail") == []  # ... and Gmail files it itself: no copy from us


def test_german_gmail_without_special_use_found_by_name(tmp_path, servers, smtp_server):
    user = user_of(servers, "google_de")
    r = desk_for(tmp_path, user, smtp_server, spam="").run("check")
    assert r.code == 0, r.err
    assert "  Folder spam: [Google Mail]/Spam (0 pesan) — nama umum\n" in r.out
    assert "imap.spam" not in r.out  # nothing configured, nothing missing: no warning


def test_microsoft_layout_junk_email_and_sent_items(tmp_path, servers, smtp_server):
    user = user_of(servers, "microsoft")
    desk = desk_for(tmp_path, user, smtp_server, spam="", save_sent=True)  # sent_folder "Sent" (default) is missing
    r = desk.run("check")
    assert r.code == 0, r.err
    assert "    Junk Email  \\Junk\n" in r.out and "    Sent Items  \\Sent\n" in r.out
    assert "  Folder spam: Junk Email (0 pesan) — \\Junk\n" in r.out
    assert ("  Folder terkirim: Sent Items — \\Sent; smtp.sent_folder = \"Sent\" tidak ada; "
            "salinan surel terkirim disimpan di sini\n") in r.out

    user.append("Junk Email", party_mail("promo@iklan.example.com", "Menang undian", "klik"))
    user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya jadwal", "isi"))
    stats = desk.json("poll")
    assert stats["folders"]["Junk Email"]["fetched"] == 1
    assert desk.json("send")["sent"] == 1
    (copy,) = messages_in(user, "Sent Items")
    assert copy == smtp_server.messages[0].data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_configured_sent_folder_wins_over_special_use(tmp_path, servers, smtp_server):
    user = user_of(servers, "microsoft")
    desk = desk_for(tmp_path, user, smtp_server, spam="Junk Email", save_sent=True, sent="Archive")
    r = desk.run("check")
    assert r.code == 0, r.err
    assert "  Folder spam: Junk Email (0 pesan) — dari pengaturan\n" in r.out
    assert "  Folder terkirim: Archive — dari pengaturan; salinan surel terkirim disimpan di sini\n" in r.out
    user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya jadwal", "isi"))
    desk.json("poll")
    assert desk.json("send")["sent"] == 1
    assert len(messages_in(user, "Archive")) == 1 and messages_in(user, "Sent Items") == []


@pytest.mark.parametrize("key, spam, sent", [
    ("microsoft_unmarked", "Junk E-mail", "Sent Items"),
    ("outlook_id", "Email Sampah", "Item Terkirim"),
])
def test_unmarked_provider_names_are_found(tmp_path, servers, smtp_server, key, spam, sent):
    user = user_of(servers, key)
    r = desk_for(tmp_path, user, smtp_server, spam="", save_sent=True, sent="").run("check")
    assert r.code == 0, r.err
    assert f"  Folder spam: {spam} (0 pesan) — nama umum\n" in r.out
    assert f"  Folder terkirim: {sent} — nama umum; salinan surel terkirim disimpan di sini\n" in r.out


def test_dot_delimited_inbox_namespace(tmp_path, servers, smtp_server):
    user = user_of(servers, "courier")
    desk = desk_for(tmp_path, user, smtp_server, save_sent=True)
    r = desk.run("check")
    assert r.code == 0, r.err
    assert "    INBOX.Proyek.Junk\n" in r.out  # listed, but a person's folder: not the spam folder
    assert "  Folder spam: INBOX.Spam (0 pesan) — nama umum\n" in r.out
    assert "  Folder terkirim: INBOX.Sent — nama umum; smtp.sent_folder = \"Sent\" tidak ada;" in r.out

    user.append("INBOX.Spam", party_mail("promo@iklan.example.com", "Menang undian", "klik"))
    user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya jadwal", "isi"))
    assert desk.json("poll")["folders"]["INBOX.Spam"]["fetched"] == 1
    assert desk.json("send")["sent"] == 1
    assert len(messages_in(user, "INBOX.Sent")) == 1


def test_configured_spam_folder_missing_and_none_found_is_a_settings_error(tmp_path, servers, smtp_server):
    user = user_of(servers, "plain")
    r = desk_for(tmp_path, user, smtp_server, spam="Kotak Spam").run("check")
    assert r.code == 2
    assert "kpudesk: folder tidak ada di server: folder spam tidak ditemukan: imap.spam = \"Kotak Spam\" tidak ada" in r.err
    listed = r.err.split("Folder di server: ", 1)[1].split(". Atur", 1)[0]
    assert sorted(listed.split(", ")) == ["Arsip", "INBOX", "Proyek", "Proyek/Spam"]  # Proyek/Spam: a person's
    assert "Atur imap.spam dengan salah satunya." in r.err


def test_configured_inbox_missing_names_the_servers_folders(tmp_path, servers, smtp_server):
    user = user_of(servers, "plain")
    r = desk_for(tmp_path, user, smtp_server, inbox="Helpdesk", spam="Arsip").run("check")
    assert r.code == 2
    assert "kpudesk: folder tidak ada di server: imap.inbox = \"Helpdesk\" tidak ada. Folder di server: " in r.err
    assert "Arsip" in r.err and "Proyek/Spam" in r.err


def test_save_sent_without_any_sent_folder_still_delivers(tmp_path, servers, smtp_server):
    user = user_of(servers, "plain")
    desk = desk_for(tmp_path, user, smtp_server, spam="Arsip", save_sent=True)
    r = desk.run("check")
    assert r.code == 0, r.err
    assert "  Folder terkirim: TIDAK DITEMUKAN (smtp.sent_folder = \"Sent\" tidak ada" in r.out
    user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya jadwal", "isi"))
    desk.json("poll")
    assert desk.json("send")["sent"] == 1 and len(smtp_server.messages) == 1
