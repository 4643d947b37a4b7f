"""A real Dovecot whose folders look like a big provider's: Gmail, Microsoft 365, or a
Courier/cPanel ``INBOX.`` namespace with a "." delimiter.

`ProviderDovecot` is `tests.servers.dovecot.Dovecot` with its one ``namespace inbox`` block
replaced: the separator, the prefix, and the RFC 6154 special-use attribute of each folder
name (``special_use = \\Junk`` in a ``mailbox`` section, the only way Dovecot 2.3 sets one)
are given by the test; ``capabilities`` adds words to CAPABILITY (``imap_capability =
+X-GM-EXT-1`` makes Dovecot say it is Gmail). Users get no folder automatically: pass
the provider's folders to `new_user`.

    with ProviderDovecot(GMAIL) as server:
        user = server.new_user(GMAIL.folders)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests.servers.dovecot import Dovecot

_NAMESPACE_RE = re.compile(r"^namespace inbox \{\n.*?^\}\n", re.S | re.M)


@dataclass(frozen=True)
class Layout:
    """A provider's folders: `folders` created for each user, `special_use` maps a folder
    name (as clients see it, without the namespace prefix) to its attribute."""
    folders: tuple[str, ...]
    special_use: dict[str, str] = field(default_factory=dict)
    separator: str = "/"
    prefix: str = ""
    capabilities: tuple[str, ...] = ()


GMAIL = Layout(
    folders=("INBOX", "[Gmail]/Spam", "[Gmail]/Sent Mail", "[Gmail]/All Mail", "[Gmail]/Trash"),
    special_use={"[Gmail]/Spam": "\\Junk", "[Gmail]/Sent Mail": "\\Sent", "[Gmail]/All Mail": "\\All",
                 "[Gmail]/Trash": "\\Trash"},
    capabilities=("X-GM-EXT-1",),
)
# A German Gmail account as an IMAP client without SPECIAL-USE sees it: names only.
GOOGLE_MAIL_DE_UNMARKED = Layout(
    folders=("INBOX", "[Google Mail]/Spam", "[Google Mail]/Gesendet", "[Google Mail]/Papierkorb"),
    capabilities=("X-GM-EXT-1",),
)
MICROSOFT = Layout(
    folders=("INBOX", "Junk Email", "Sent Items", "Deleted Items", "Drafts", "Archive"),
    special_use={"Junk Email": "\\Junk", "Sent Items": "\\Sent", "Deleted Items": "\\Trash",
                 "Drafts": "\\Drafts", "Archive": "\\Archive"},
)
MICROSOFT_UNMARKED = Layout(folders=("INBOX", "Junk E-mail", "Sent Items", "Deleted Items"))
OUTLOOK_ID_UNMARKED = Layout(folders=("INBOX", "Email Sampah", "Item Terkirim", "Item Terhapus"))
COURIER = Layout(folders=("INBOX", "INBOX.Spam", "INBOX.Sent", "INBOX.Trash", "INBOX.Proyek", "INBOX.Proyek.Junk"),
                 separator=".", prefix="INBOX.")
PLAIN = Layout(folders=("INBOX", "Arsip", "Proyek", "Proyek/Spam"))


class ProviderDovecot(Dovecot):
    """`Dovecot` with the folder layout of `layout` (see the module docstring)."""

    def __init__(self, layout: Layout, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.layout = layout

    def _config(self) -> str:
        text = super()._config()
        assert _NAMESPACE_RE.search(text), "tests/servers/dovecot.py changed its namespace block"
        text = _NAMESPACE_RE.sub(lambda _m: self._namespace(), text, count=1)
        if self.layout.capabilities:
            text += "protocol imap {\n  imap_capability = +" + " ".join(self.layout.capabilities) + "\n}\n"
        return text

    def _namespace(self) -> str:
        lay = self.layout
        lines = ["namespace inbox {", "  inbox = yes", f"  separator = {lay.separator}"]
        if lay.prefix:
            lines.append(f"  prefix = {lay.prefix}")
        for name, flag in lay.special_use.items():
            lines += [f'  mailbox "{name}" {{', f"    special_use = {flag}", "  }"]
        return "\n".join(lines) + "\n}\n"
