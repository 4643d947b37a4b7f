"""SASL for OAuth2 bearer tokens, shared by IMAP and SMTP: no network, no peewee.

Builds the client's first message for OAUTHBEARER (RFC 7628 section 3.1, with the RFC 5801
GS2 header naming the user) and for XOAUTH2 (Google's and Microsoft's format:
``user=<u>\\x01auth=Bearer <token>\\x01\\x01``), picks the mechanism from what the server
advertises (OAUTHBEARER first: it is the standard, XOAUTH2 what Microsoft 365 offers), and
reads the server's error challenge: a refused token is answered with a base64 JSON object
(``{"status": "invalid_token", ...}``, RFC 7628 section 3.2.2) that the client must answer
(`ERROR_ACK`) before the server sends its final NO/535. `refuse_plaintext` is the rule
both adapters apply before connecting: a token goes over TLS, or in plaintext to loopback.
`parse_initial_response` is the server's side, for the demo and test SMTP server.

Tokens never leave this module in text meant for people: `describe_error`, `reason` and
`Refused` carry the server's words only. `Bearer` hides the token in its repr.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .errors import AuthenticationFailed

OAUTHBEARER = "OAUTHBEARER"
XOAUTH2 = "XOAUTH2"
PREFERENCE = (OAUTHBEARER, XOAUTH2)
# The client's answer to the error challenge: RFC 7628 section 3.2.3 says a single %x01 for
# OAUTHBEARER; Google and Microsoft document an empty answer for XOAUTH2.
ERROR_ACK = {OAUTHBEARER: b"\x01", XOAUTH2: b""}

TokenCallable = Callable[[bool], str]
LOOPBACK = ("127.0.0.1", "::1", "localhost")  # the hosts settings let use security "none"


class Refused(Exception):
    """Internal to the adapters: the server refused the token. `reason` is the server's
    text (final reply and error challenge), never the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Bearer:
    """A user and an access token; the repr never shows the token."""

    user: str
    token: str

    def __repr__(self) -> str:
        return f"Bearer(user={self.user!r}, token=<hidden>)"


def refuse_plaintext(where: str, section: str, security: str, host: str) -> None:
    """A token goes where a password may: over TLS, or in plaintext to loopback only.
    Raises AuthenticationFailed (before anything is connected or asked for) otherwise."""
    if security == "none" and host not in LOOPBACK:
        raise AuthenticationFailed(f'{where}: an OAuth2 token is sent only over TLS; '
                                   f'set {section}.security = "starttls" or "tls"')


def choose_mechanism(advertised: Iterable[str]) -> str | None:
    """OAUTHBEARER when the server offers it, else XOAUTH2, else None (case-insensitive)."""
    offered = {m.upper() for m in advertised}
    return next((m for m in PREFERENCE if m in offered), None)


def _gs2_name(user: str) -> str:
    # RFC 5801 section 4: "," and "=" in the authzid are written =2C and =3D.
    return user.replace("=", "=3D").replace(",", "=2C")


def initial_response(mechanism: str, bearer: Bearer, host: str | None = None, port: int | None = None) -> bytes:
    """The client's first message (raw bytes, not yet base64) for `mechanism`."""
    if any(c in bearer.user for c in "\x01\r\n") or any(c in bearer.token for c in "\x01\r\n "):
        raise ValueError("user or token holds a control character")
    if mechanism == XOAUTH2:
        return f"user={bearer.user}\x01auth=Bearer {bearer.token}\x01\x01".encode()
    if mechanism == OAUTHBEARER:
        fields = ""
        if host:
            fields += f"host={host}\x01"
        if port:
            fields += f"port={int(port)}\x01"
        return f"n,a={_gs2_name(bearer.user)},\x01{fields}auth=Bearer {bearer.token}\x01\x01".encode()
    raise ValueError(f"not an OAuth2 SASL mechanism: {mechanism!r}")


def parse_initial_response(mechanism: str, data: bytes) -> Bearer:
    """The server's side of `initial_response` (the demo and test SMTP server's): the user
    and the token. ValueError, never naming the token, when `data` is malformed."""
    text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if not text.endswith("\x01\x01"):
        raise ValueError(f"{mechanism} message does not end with two %x01")
    if mechanism == XOAUTH2:
        fields = _kvpairs(text[:-1])
        user = fields.get("user")
    elif mechanism == OAUTHBEARER:
        header, _, rest = text.partition("\x01")
        flag, _, authzid = header.partition(",")
        # RFC 5801 gs2-header: "n" or "y" (no channel binding), then "a=<authzid>" or nothing.
        if flag not in ("n", "y") or not authzid.endswith(",") or not (authzid == "," or authzid.startswith("a=")):
            raise ValueError("OAUTHBEARER message has no valid GS2 header")
        user = authzid[2:-1].replace("=2C", ",").replace("=3D", "=") or None
        fields = _kvpairs(rest[:-1])
    else:
        raise ValueError(f"not an OAuth2 SASL mechanism: {mechanism!r}")
    scheme, _, token = fields.get("auth", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ValueError(f"{mechanism} message has no auth=Bearer field")
    if not user:
        raise ValueError(f"{mechanism} message names no user")
    return Bearer(user, token)


def _kvpairs(text: str) -> dict[str, str]:
    """Fields ``key=value`` each ended by %x01, as a dict."""
    pairs = {}
    for item in text.split("\x01")[:-1]:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError("malformed key=value field")
        pairs[key] = value
    return pairs


def b64(data: bytes) -> str:
    """Base64 without line breaks (SMTP's AUTH and IMAP's continuation lines)."""
    return base64.b64encode(data).decode("ascii")


def decode_challenge(text: str | bytes) -> bytes:
    """A base64 challenge as bytes; undecodable text comes back as it is."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    raw = raw.strip()
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw


def describe_error(challenge: bytes) -> str:
    """The error challenge in words: "status invalid_token, scope mail" (JSON keys status,
    scope, openid-configuration), or its printable text when it is not JSON. Empty: ""."""
    if not challenge.strip():
        return ""
    try:
        data = json.loads(challenge.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _printable(challenge.decode("utf-8", "replace"))
    if not isinstance(data, dict):
        return _printable(str(data))
    parts = [f"{key} {_printable(str(data[key]))}" for key in ("status", "scope", "openid-configuration")
             if data.get(key) not in (None, "")]
    return ", ".join(parts)


def reason(final: str, challenge: bytes | None, token: str | None = None) -> str:
    """The server's reason for a refusal: its final reply, then the error challenge's
    status. The token is cut out (before anything is shortened) should a server echo it."""
    if token:
        final = final.replace(token, "<token>")
        challenge = challenge.replace(token.encode(), b"<token>") if challenge else challenge
    text = _printable(final)
    detail = describe_error(challenge) if challenge else ""
    if detail:
        text = f"{text} ({detail})" if text else detail
    return text or "no reason given"


def _printable(text: str, limit: int = 300) -> str:
    """One line of printable text (a multi-line SMTP reply joined), at most `limit` long."""
    cleaned = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(cleaned.split())[:limit]
