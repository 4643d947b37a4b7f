"""Which IMAP folder is the inbox, the spam folder and the Sent folder: pure rules, no I/O.

`ImapSource.folders()` (mailbox/imap.py) lists the server's folders once; `choose` picks one
for a role in this order:

1. the configured name, when the server has it (IMAP names are case-sensitive, except
   INBOX: RFC 3501 5.1);
2. the RFC 6154 special-use attribute (``\\Junk``, ``\\Sent``): Gmail, Microsoft 365,
   Dovecot and most servers mark their folders so, whatever the account's language;
3. a name the big providers use (`SPAM_NAMES`, `SENT_NAMES`), compared case-insensitively
   with the last element of the folder's path, split by the server's own delimiter
   ("/" or "."). Only a folder at the top, or directly under INBOX (Courier/cPanel
   ``INBOX.Spam``), ``[Gmail]`` or ``[Google Mail]`` (German accounts) counts: a person's
   ``Proyek/Spam`` is not the mailbox's spam folder.

A folder the server marks ``\\Noselect`` or ``\\NonExistent`` (Gmail's ``[Gmail]`` itself)
is never chosen.
"""
from __future__ import annotations

from dataclasses import dataclass

JUNK, SENT = "\\Junk", "\\Sent"
SPECIAL_USE = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", JUNK, SENT, "\\Trash")  # RFC 6154 section 2
NOT_SELECTABLE = ("\\noselect", "\\nonexistent")

# Leaf names, best first. Spam: Gmail "[Gmail]/Spam", "[Google Mail]/Spam"; Microsoft 365
# "Junk Email" (older Outlook "Junk E-mail", Indonesian Outlook "Email Sampah"); Dovecot,
# cPanel and Courier "Junk"/"Spam" (also as INBOX.Junk, INBOX.Spam); Yahoo "Bulk Mail".
SPAM_NAMES = ("spam", "junk", "junk email", "junk e-mail", "email sampah", "bulk mail")
# Sent: Gmail "[Gmail]/Sent Mail", Microsoft "Sent Items" (Indonesian Outlook "Item
# Terkirim"), Apple "Sent Messages", Indonesian Gmail "Terkirim", "Sent" elsewhere.
SENT_NAMES = ("sent", "sent items", "sent mail", "sent messages", "terkirim", "item terkirim")
HOME_PARENTS = ("", "inbox", "[gmail]", "[google mail]")

# How a folder was chosen (FolderChoice.how); `reason` gives the Bahasa words for `check`.
CONFIGURED, SPECIAL, COMMON, NOT_FOUND = "configured", "special-use", "common-name", "not-found"


@dataclass(frozen=True, slots=True)
class Folder:
    """One LIST answer: the name as the server spells it, its hierarchy delimiter (None: a
    flat server) and its attributes as text (``\\HasNoChildren``, ``\\Junk`` ...)."""
    name: str
    delimiter: str | None = "/"
    flags: tuple[str, ...] = ()

    @property
    def special_use(self) -> tuple[str, ...]:
        low = {f.lower() for f in self.flags}
        return tuple(s for s in SPECIAL_USE if s.lower() in low)

    @property
    def selectable(self) -> bool:
        return not any(f.lower() in NOT_SELECTABLE for f in self.flags)

    def parts(self) -> list[str]:
        return self.name.split(self.delimiter) if self.delimiter else [self.name]


@dataclass(frozen=True, slots=True)
class FolderChoice:
    """The folder chosen for `role` ("inbox", "spam", "sent"), or none (`name` None)."""
    role: str
    name: str | None
    how: str
    configured: str = ""
    flag: str = ""  # the special-use attribute, when `how` is SPECIAL

    @property
    def configured_missing(self) -> bool:
        """A name was configured but the server has no such folder (another may be used)."""
        return bool(self.configured) and self.how != CONFIGURED

    @property
    def reason(self) -> str:
        if self.how == CONFIGURED:
            return "dari pengaturan"
        if self.how == SPECIAL:
            return self.flag
        if self.how == COMMON:
            return "nama umum"
        return "tidak ditemukan"


def decode_flag(flag: bytes | str) -> str:
    return flag.decode("ascii", "replace") if isinstance(flag, bytes) else str(flag)


def configured_folder(folders: list[Folder], name: str) -> Folder | None:
    """The folder named exactly `name` (INBOX in any case), selectable."""
    if not name:
        return None
    for f in folders:
        same = f.name == name or (name.upper() == "INBOX" and f.name.upper() == "INBOX")
        if same and f.selectable:
            return f
    return None


def special_folder(folders: list[Folder], flag: str) -> Folder | None:
    """The first selectable folder carrying the special-use attribute `flag`, shallowest
    first (a server lists them in its own order; a nested copy is the rarer one)."""
    marked = [f for f in folders if f.selectable and flag.lower() in (s.lower() for s in f.special_use)]
    return min(marked, key=lambda f: len(f.parts()), default=None)


def named_folder(folders: list[Folder], names: tuple[str, ...]) -> Folder | None:
    """The selectable folder whose last path element is one of `names` (case-insensitive),
    directly under the top, INBOX or Gmail's [Gmail]/[Google Mail]; by `names` order, then
    the shallower, then by name."""
    best: tuple[int, int, str, Folder] | None = None
    for f in folders:
        if not f.selectable:
            continue
        parts = f.parts()
        leaf, parent = parts[-1].casefold(), (f.delimiter or "").join(parts[:-1]).casefold()
        if leaf not in names or parent not in HOME_PARENTS:
            continue
        key = (names.index(leaf), len(parts), f.name, f)
        if best is None or key[:3] < best[:3]:
            best = key
    return best[3] if best else None


def choose(folders: list[Folder], role: str, configured: str) -> FolderChoice:
    """The folder for `role`: configured if the server has it, else special-use, else a
    common name (see the module docstring). The inbox has no fallback but INBOX itself."""
    found = configured_folder(folders, configured)
    if found:
        return FolderChoice(role, found.name, CONFIGURED, configured)
    if role == "inbox":
        return FolderChoice(role, None, NOT_FOUND, configured)
    flag, names = (JUNK, SPAM_NAMES) if role == "spam" else (SENT, SENT_NAMES)
    found = special_folder(folders, flag)
    if found:
        return FolderChoice(role, found.name, SPECIAL, configured, flag)
    found = named_folder(folders, names)
    if found:
        return FolderChoice(role, found.name, COMMON, configured)
    return FolderChoice(role, None, NOT_FOUND, configured)


def folder_line(f: Folder) -> str:
    """`name  \\Junk` for check's list of the server's folders."""
    marks = " ".join(f.special_use) + ("" if f.selectable else " (tidak dapat dibuka)")
    return f"{f.name}  {marks.strip()}".rstrip()


def names_text(folders: list[Folder], limit: int = 30) -> str:
    """The server's folder names for an error message, at most `limit` of them."""
    names = [f.name for f in folders if f.selectable]
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" dan {more} lainnya" if more > 0 else "") if names else "(tidak ada)"
