"""IMAP I/O: read-only, UID-based fetching with imapclient. The only importer of imapclient.

Folders are opened with EXAMINE (read-only) and bodies fetched with BODY.PEEK[], so reading
never changes the mailbox: nothing is deleted, moved or marked \\Seen. Only `mark_seen`, when
a setting asks for it, writes a flag, and only after the database commit.

New mail is listed with its RFC822.SIZE first (`sizes_above`), so the caller can plan
batches by bytes (`plan_batches`) and never download a message over its size limit whole:
of those only the header is read (`fetch_headers`, BODY.PEEK[HEADER], itself capped).

The spam and Sent folders are chosen from one LIST by the rules of mailbox/folders.py
(configured name, RFC 6154 special-use, a provider's common name); `is_gmail` tells Gmail.

Login is by password (LOGIN) or, given `oauth2` (a callable ``force -> access token``), by
SASL OAUTHBEARER or XOAUTH2 (mailbox/sasl.py): a refused token is refreshed once
(``oauth2(True)``) and tried again on a new connection; the second refusal is
AuthenticationFailed with the server's reason. A token goes only where a password would:
over TLS, or in plaintext to loopback with security "none" and no LOGINDISABLED.
"""
from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

from . import sasl
from .errors import AuthenticationFailed, FolderMissing, ServerUnavailable
from .folders import Folder, FolderChoice, choose, decode_flag
from .message import FetchedMail

log = logging.getLogger(__name__)

_NET_ERRORS = (OSError, socket.timeout, ssl.SSLError, EOFError, imapclient.exceptions.IMAPClientAbortError)


SIZE_CHUNK = 1000  # UIDs per FETCH RFC822.SIZE: ~7 KB of command line
HEADER_LIMIT = 256 * 1024  # bytes of header read from a message too large to fetch whole


def _utc(idate):
    """INTERNALDATE as aware UTC, or None."""
    if idate is not None and getattr(idate, "tzinfo", None) is not None:
        return idate.astimezone(UTC)
    return None


def plan_batches(uids: list[int], sizes: dict[int, int], batch_size: int,
                 max_bytes: int | None) -> list[list[int]]:
    """Cut `uids` (ascending) into batches of at most `batch_size` messages and, when
    `max_bytes` is given, at most `max_bytes` bytes by their RFC822.SIZE (a message larger
    than that is a batch on its own): memory follows bytes in flight, not message count."""
    out: list[list[int]] = []
    chunk: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if chunk and (len(chunk) >= batch_size or (max_bytes is not None and total + size > max_bytes)):
            out.append(chunk)
            chunk, total = [], 0
        chunk.append(uid)
        total += size
    if chunk:
        out.append(chunk)
    return out


@dataclass(frozen=True, slots=True)
class FolderStatus:
    name: str
    uidvalidity: int
    uidnext: int | None
    exists: int


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verification on (system trust store); a CA file adds to it, never replaces checks."""
    ctx = ssl.create_default_context()
    if ca_file is not None:
        ctx.load_verify_locations(cafile=str(ca_file))
    return ctx


def _shutdown(client: imapclient.IMAPClient) -> None:
    """Close a half-open connection without caring how broken it is."""
    try:
        client.shutdown()
    except Exception:  # noqa: BLE001
        pass


class ImapSource:
    """One logged-in IMAP connection. Use as a context manager."""

    def __init__(self, host: str, port: int, security: str, username: str, password: str | None,
                 ca_file: Path | None = None, timeout: float = 60.0, *,
                 oauth2: sasl.TokenCallable | None = None) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self._password = username, password
        self.ca_file, self.timeout = ca_file, timeout
        self._oauth2 = oauth2
        self.client: imapclient.IMAPClient | None = None

    def __repr__(self) -> str:  # never shows the password or a token
        how = "oauth2" if self._oauth2 is not None else "password"
        return f"ImapSource({self.host}:{self.port}, security={self.security}, username={self.username!r}, {how})"

    def __enter__(self) -> "ImapSource":
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def _where(self) -> str:
        return f"IMAP {self.host}:{self.port}"

    def connect(self) -> None:
        if self._oauth2 is None:
            client = self._open()
            try:
                client.login(self.username, self._password)
            except LoginError as exc:
                _shutdown(client)
                raise AuthenticationFailed(f"IMAP login as {self.username} refused: {exc}") from exc
            except (*_NET_ERRORS, IMAPClientError) as exc:
                _shutdown(client)
                raise ServerUnavailable(f"{self._where}: {exc}") from exc
            self.client = client
            return
        self.client = self._oauth2_login()

    def _open(self) -> imapclient.IMAPClient:
        """Connected, TLS as configured, not logged in; plaintext only where credentials may go."""
        ctx = tls_context(self.ca_file) if self.security != "none" else None
        try:
            client = imapclient.IMAPClient(
                self.host, port=self.port, ssl=self.security == "tls", ssl_context=ctx, timeout=self.timeout,
            )
        except (*_NET_ERRORS, IMAPClientError) as exc:
            raise ServerUnavailable(f"{self._where}: {exc}") from exc
        try:
            client.normalise_times = False  # keep INTERNALDATE aware
            if self.security == "starttls":
                client.starttls(ctx)
            elif self.security == "none" and b"LOGINDISABLED" in client.capabilities():
                # RFC 3501 6.2.3: never send the password when the server refuses plaintext login.
                raise AuthenticationFailed(
                    f'{self._where} requires TLS (LOGINDISABLED); set imap.security = "starttls" or "tls"')
        except AuthenticationFailed:
            _shutdown(client)
            raise
        except (*_NET_ERRORS, IMAPClientError) as exc:
            _shutdown(client)
            raise ServerUnavailable(f"{self._where}: {exc}") from exc
        return client

    def _oauth2_login(self) -> imapclient.IMAPClient:
        """Log in with an access token; refused once -> a forced refresh and a new connection.

        The token callable runs outside any error mapping: what it raises (revoked
        refresh token, token endpoint down) reaches the caller unchanged."""
        sasl.refuse_plaintext(self._where, "imap", self.security, self.host)
        refused: sasl.Refused | None = None
        for force in (False, True):
            # Connect first: a server that refuses plaintext (LOGINDISABLED) or offers no
            # OAuth2 mechanism is an error before any token is asked for or refreshed.
            client = self._open()
            try:
                mechanism = self._mechanism(client)
                token = self._oauth2(force)
                self._authenticate(client, mechanism, sasl.Bearer(self.username, token))
                return client
            except sasl.Refused as exc:
                _shutdown(client)
                refused = exc
                if not force:
                    log.info("%s refused the access token for %s (%s); refreshing it once",
                             self._where, self.username, exc.reason)
            except BaseException:
                _shutdown(client)
                raise
        raise AuthenticationFailed(f"IMAP OAuth2 login as {self.username} refused: {refused.reason}")

    def _mechanism(self, client: imapclient.IMAPClient) -> str:
        try:
            caps = [c.decode("ascii", "replace") for c in client.capabilities()]
        except (*_NET_ERRORS, IMAPClientError) as exc:
            raise ServerUnavailable(f"{self._where}: {exc}") from exc
        offered = [c[5:] for c in caps if c.upper().startswith("AUTH=")]
        mechanism = sasl.choose_mechanism(offered)
        if mechanism is None:
            raise AuthenticationFailed(
                f"{self._where} offers no OAuth2 mechanism (XOAUTH2 or OAUTHBEARER); it offers: "
                f"{' '.join(offered) or 'no AUTHENTICATE mechanism'}")
        return mechanism

    def _authenticate(self, client: imapclient.IMAPClient, mechanism: str, bearer: sasl.Bearer) -> None:
        """AUTHENTICATE `mechanism`; a refusal -> sasl.Refused with the server's words.

        imaplib's `authenticate` (reached through imapclient's `_imap`: imapclient's own
        oauth2 methods answer every challenge with the token again) lets us answer the
        error challenge as RFC 7628 asks and keep its JSON for the reason."""
        first = sasl.initial_response(mechanism, bearer)
        challenges: list[bytes] = []  # every "+" the server sent

        def answer(challenge: bytes) -> bytes:
            # imaplib sends no SASL-IR: the server's first "+" asks for the client's first
            # message; a later one is the error challenge, answered with ERROR_ACK.
            challenges.append(challenge)
            return first if len(challenges) == 1 else sasl.ERROR_ACK[mechanism]

        try:
            client._imap.authenticate(mechanism, answer)  # noqa: SLF001 - see the docstring
        except imapclient.exceptions.IMAPClientAbortError as exc:
            raise ServerUnavailable(f"{self._where}: {exc}") from exc
        except IMAPClientError as exc:
            final = str(exc)
            if final.upper().startswith("[UNAVAILABLE]"):  # RFC 5530: the server's token check is down
                raise ServerUnavailable(f"{self._where}: {sasl.reason(final, None, bearer.token)}") from None
            raise sasl.Refused(sasl.reason(final, next((c for c in challenges[1:] if c), None), bearer.token)) from None
        except _NET_ERRORS as exc:
            raise ServerUnavailable(f"{self._where}: {exc}") from exc
        # imaplib's state changed; imapclient re-reads CAPABILITY after login as after LOGIN.
        client._cached_capabilities = None  # noqa: SLF001 - capabilities differ once logged in

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.logout()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass
            self.client = None

    def _c(self) -> imapclient.IMAPClient:
        if self.client is None:
            raise ServerUnavailable("IMAP not connected")
        return self.client

    def list_folders(self) -> list[tuple[tuple[bytes, ...], str]]:
        try:
            return [(tuple(flags), name) for flags, _delim, name in self._c().list_folders()]
        except _NET_ERRORS as exc:
            raise ServerUnavailable(str(exc)) from exc

    def folders(self) -> list[Folder]:
        """Every folder of the account (one LIST "" "*"), with delimiter and attributes:
        Gmail, Microsoft 365 and Dovecot send the RFC 6154 special-use ones in plain LIST."""
        try:
            listed = self._c().list_folders()
        except _NET_ERRORS as exc:
            raise ServerUnavailable(str(exc)) from exc
        return [Folder(name, decode_flag(delim) if delim else None, tuple(decode_flag(f) for f in flags))
                for flags, delim, name in listed]

    def is_gmail(self) -> bool:
        """Gmail (and Google Workspace) says X-GM-EXT-1 in its CAPABILITY."""
        try:
            return self._c().has_capability("X-GM-EXT-1")
        except _NET_ERRORS as exc:
            raise ServerUnavailable(str(exc)) from exc

    def choose_folders(self, inbox: str, spam: str, sent: str) -> tuple[list[Folder], dict[str, FolderChoice]]:
        """The account's folders and the one chosen for each role (mailbox/folders.py rules)."""
        listed = self.folders()
        return listed, {role: choose(listed, role, name)
                        for role, name in (("inbox", inbox), ("spam", spam), ("sent", sent))}

    def resolve_spam(self, configured: str) -> str | None:
        """The spam folder: the configured name if it exists, else the \\Junk special-use
        one, else a common provider name (`[Gmail]/Spam`, `Junk Email` ...); None: no spam folder."""
        return choose(self.folders(), "spam", configured).name

    def resolve_sent(self, configured: str) -> str | None:
        """The Sent folder, by the same rules with \\Sent (`[Gmail]/Sent Mail`, `Sent Items` ...)."""
        return choose(self.folders(), "sent", configured).name

    def examine(self, folder: str) -> FolderStatus:
        try:
            info = self._c().select_folder(folder, readonly=True)
        except _NET_ERRORS as exc:
            raise ServerUnavailable(str(exc)) from exc
        except IMAPClientError as exc:
            raise FolderMissing(f"folder {folder!r}: {exc}") from exc
        return FolderStatus(
            name=folder,
            uidvalidity=int(info[b"UIDVALIDITY"]),
            uidnext=int(info[b"UIDNEXT"]) if b"UIDNEXT" in info else None,
            exists=int(info.get(b"EXISTS", 0)),
        )

    def uids_above(self, status: FolderStatus, last_uid: int) -> list[int]:
        """UIDs greater than last_uid in the examined folder, ascending.

        UIDNEXT tells us cheaply that nothing is new, so an idle poll costs the same few
        bytes whatever the folder holds. `UID n:*` always returns the highest UID even when
        it is below n (RFC 3501 §6.4.8), hence the filter.
        """
        if status.exists == 0 or (status.uidnext is not None and status.uidnext <= last_uid + 1):
            return []
        try:
            uids = self._c().search([b"UID", f"{last_uid + 1}:*".encode()])
        except _NET_ERRORS as exc:
            raise ServerUnavailable(str(exc)) from exc
        return sorted(u for u in uids if u > last_uid)

    def sizes_above(self, status: FolderStatus, last_uid: int) -> dict[int, int]:
        """{UID: RFC822.SIZE} of the messages above last_uid (ascending).

        The UIDs come from `uids_above` (so an idle poll sends what it always sent), the
        sizes from FETCH RFC822.SIZE over explicit UID lists of at most SIZE_CHUNK (a
        `n:*` range would be shorter, but imapclient drops every answer it did not ask
        for by number).
        """
        uids = self.uids_above(status, last_uid)
        sizes: dict[int, int] = {}
        for i in range(0, len(uids), SIZE_CHUNK):
            chunk = uids[i:i + SIZE_CHUNK]
            try:
                data = self._c().fetch(chunk, [b"RFC822.SIZE"])
            except _NET_ERRORS as exc:
                raise ServerUnavailable(str(exc)) from exc
            for uid in chunk:
                if uid in data:  # expunged meanwhile: skipped, as by `fetch`
                    sizes[uid] = int(data[uid].get(b"RFC822.SIZE") or 0)
        return sizes

    def fetch_headers(self, folder: str, uidvalidity: int, uids: list[int],
                      limit: int = HEADER_LIMIT) -> list[FetchedMail]:
        """Only the header block (at most `limit` bytes) of each UID: mail too large to fetch whole."""
        if not uids:
            return []
        try:
            data = self._c().fetch(uids, [f"BODY.PEEK[HEADER]<0.{limit}>".encode(), b"INTERNALDATE"])
        except _NET_ERRORS as exc:
            raise ServerUnavailable(str(exc)) from exc
        out = []
        for uid in sorted(data):
            item = data[uid]
            raw = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER]")), None)
            if raw is None:
                continue
            out.append(FetchedMail(folder, uidvalidity, uid, bytes(raw), _utc(item.get(b"INTERNALDATE"))))
        return out

    def fetch(self, folder: str, uidvalidity: int, uids: list[int]) -> list[FetchedMail]:
        """Raw bytes of the given UIDs (BODY.PEEK[]: never sets \\Seen), in UID order.

        A UID that vanished between SEARCH and FETCH (expunged by a person) is skipped.
        """
        if not uids:
            return []
        try:
            data = self._c().fetch(uids, [b"BODY.PEEK[]", b"INTERNALDATE"])
        except _NET_ERRORS as exc:
            raise ServerUnavailable(str(exc)) from exc
        out = []
        for uid in sorted(data):
            item = data[uid]
            raw = item.get(b"BODY[]")
            if raw is None:
                continue
            out.append(FetchedMail(folder, uidvalidity, uid, bytes(raw), _utc(item.get(b"INTERNALDATE"))))
        return out

    def iter_batches(self, status: FolderStatus, uids: list[int], batch_size: int,
                     sizes: dict[int, int] | None = None,
                     max_bytes: int | None = None) -> Iterator[list[FetchedMail]]:
        for chunk in plan_batches(uids, sizes or {}, batch_size, max_bytes):
            yield self.fetch(status.name, status.uidvalidity, chunk)

    def mark_seen(self, folder: str, uids: list[int]) -> None:
        if not uids:
            return
        try:
            self._c().select_folder(folder, readonly=False)
            self._c().add_flags(uids, [imapclient.SEEN], silent=True)
        except _NET_ERRORS as exc:
            raise ServerUnavailable(str(exc)) from exc

    def append(self, folder: str, raw: bytes, flags: tuple = (imapclient.SEEN,)) -> None:
        """Append a message (our Sent copies)."""
        try:
            self._c().append(folder, raw, flags=flags)
        except _NET_ERRORS as exc:
            raise ServerUnavailable(str(exc)) from exc
