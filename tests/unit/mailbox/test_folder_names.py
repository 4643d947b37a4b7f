"""Which folder serves as inbox, spam and Sent (mailbox/folders.py), from LIST answers as
Gmail, Microsoft 365, Courier/cPanel and Dovecot give them."""
from __future__ import annotations

import pytest

from kpudesk.mailbox.folders import (
    COMMON, CONFIGURED, NOT_FOUND, SPECIAL, Folder, choose, folder_line, named_folder, names_text,
    SPAM_NAMES)


def F(name, *flags, delim="/"):
    return Folder(name, delim, ("\\HasNoChildren", *flags))


GMAIL = [Folder("[Gmail]", "/", ("\\Noselect", "\\HasChildren")), F("INBOX"), F("[Gmail]/Spam", "\\Junk"),
         F("[Gmail]/Sent Mail", "\\Sent"), F("[Gmail]/All Mail", "\\All")]
MICROSOFT = [F("INBOX"), F("Junk Email", "\\Junk"), F("Sent Items", "\\Sent"), F("Deleted Items", "\\Trash")]


def test_configured_name_wins_when_the_server_has_it():
    folders = [*MICROSOFT, F("Karantina")]
    c = choose(folders, "spam", "Karantina")
    assert (c.name, c.how, c.reason, c.configured_missing) == ("Karantina", CONFIGURED, "dari pengaturan", False)


def test_special_use_is_used_when_the_configured_name_is_missing():
    c = choose(GMAIL, "spam", "Spam")
    assert (c.name, c.how, c.reason, c.configured_missing) == ("[Gmail]/Spam", SPECIAL, "\\Junk", True)
    s = choose(GMAIL, "sent", "Sent")
    assert (s.name, s.reason) == ("[Gmail]/Sent Mail", "\\Sent")
    assert choose(MICROSOFT, "spam", "").name == "Junk Email"
    assert choose(MICROSOFT, "sent", "").name == "Sent Items"


def test_special_use_flags_compare_case_insensitively():
    assert choose([F("INBOX"), F("Kotak Sampah", "\\JUNK")], "spam", "").name == "Kotak Sampah"


@pytest.mark.parametrize("folders, role, expected", [
    ([F("INBOX"), F("[Gmail]/Spam")], "spam", "[Gmail]/Spam"),
    ([F("INBOX"), F("[Google Mail]/Spam")], "spam", "[Google Mail]/Spam"),
    ([F("INBOX"), F("Junk Email")], "spam", "Junk Email"),
    ([F("INBOX"), F("Junk E-mail")], "spam", "Junk E-mail"),
    ([F("INBOX"), F("junk")], "spam", "junk"),
    ([F("INBOX"), F("Email Sampah")], "spam", "Email Sampah"),
    ([F("INBOX", delim="."), F("INBOX.Spam", delim=".")], "spam", "INBOX.Spam"),
    ([F("INBOX", delim="."), F("INBOX.Junk", delim=".")], "spam", "INBOX.Junk"),
    ([F("INBOX"), F("[Gmail]/Sent Mail")], "sent", "[Gmail]/Sent Mail"),
    ([F("INBOX"), F("Sent Items")], "sent", "Sent Items"),
    ([F("INBOX"), F("SENT")], "sent", "SENT"),
    ([F("INBOX"), F("Terkirim")], "sent", "Terkirim"),
    ([F("INBOX"), F("Item Terkirim")], "sent", "Item Terkirim"),
    ([F("INBOX", delim="."), F("INBOX.Sent", delim=".")], "sent", "INBOX.Sent"),
])
def test_common_names_of_the_providers_are_found_without_special_use(folders, role, expected):
    c = choose(folders, role, "")
    assert (c.name, c.how, c.reason) == (expected, COMMON, "nama umum")


def test_the_last_path_element_must_match_whole_with_the_servers_delimiter():
    # "INBOX.Spam" on a "/" server is one name, not Spam under INBOX; "Spammers" is not "Spam".
    assert choose([F("INBOX"), F("INBOX.Spam"), F("Spammers"), F("Not Junk")], "spam", "").name is None
    assert choose([F("INBOX", delim="."), F("INBOX.Spam", delim=".")], "spam", "").name == "INBOX.Spam"


def test_a_persons_nested_folder_named_spam_is_not_the_spam_folder():
    folders = [F("INBOX"), F("Proyek/Spam"), F("Arsip/2024/Junk"), F("INBOX.Proyek.Junk", delim=".")]
    c = choose(folders, "spam", "")
    assert (c.name, c.how, c.reason) == (None, NOT_FOUND, "tidak ditemukan")


def test_a_noselect_folder_is_never_chosen():
    folders = [F("INBOX"), Folder("Spam", "/", ("\\Noselect", "\\HasChildren")), F("Spam/Lama"),
               Folder("Junk", "/", ("\\NonExistent", "\\Junk"))]
    assert choose(folders, "spam", "Spam").name is None


def test_name_order_decides_between_several_common_names():
    # "spam" comes before "junk" in SPAM_NAMES; at the same name the shallower wins.
    assert named_folder([F("INBOX"), F("Junk"), F("Spam")], SPAM_NAMES).name == "Spam"
    dotted = [F("INBOX", delim="."), F("INBOX.Spam", delim="."), F("Spam", delim=".")]
    assert named_folder(dotted, SPAM_NAMES).name == "Spam"


def test_special_use_beats_a_common_name():
    assert choose([F("INBOX"), F("Spam"), F("Kotak Spam Kantor", "\\Junk")], "spam", "").name == "Kotak Spam Kantor"


def test_inbox_is_case_insensitive_and_has_no_fallback():
    assert choose([F("INBOX")], "inbox", "inbox").name == "INBOX"
    c = choose([F("INBOX"), F("Masuk")], "inbox", "Helpdesk")
    assert (c.name, c.how, c.configured_missing) == (None, NOT_FOUND, True)


def test_other_configured_names_are_case_sensitive():
    c = choose([F("INBOX"), F("Karantina")], "spam", "karantina")
    assert c.name is None and c.configured_missing


def test_lines_and_names_for_check():
    assert folder_line(F("[Gmail]/Spam", "\\Junk")) == "[Gmail]/Spam  \\Junk"
    assert folder_line(F("INBOX")) == "INBOX"
    assert folder_line(GMAIL[0]) == "[Gmail]  (tidak dapat dibuka)"
    assert names_text(GMAIL) == "INBOX, [Gmail]/Spam, [Gmail]/Sent Mail, [Gmail]/All Mail"
    assert names_text([F(f"F{i}") for i in range(35)], limit=30).endswith("F29 dan 5 lainnya")
