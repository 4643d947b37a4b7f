"""Officers' web-desk accounts: passwords, session generations, the failed-login brake.

Database only (tables `OfficerLogin`, `LoginFailure`); no web framework here, so the CLI
(`kpudesk officers passwd`) and the web desk share it.

- Passwords are stored as Argon2id hashes (argon2-cffi) with OWASP's recommended minimum
  (19 MiB, 2 passes, 1 lane): argon2-cffi's default of 64 MiB and 4 lanes took ~0.8 s per
  login on this 2-core class of machine under load, and 64 MiB per concurrent login would
  break the web worker's 150 MB memory goal. Hashes made with other parameters still verify
  and are upgraded at the next login. The password itself is never stored, logged or put
  in an event.
- `session_epoch` is a generation number carried in every session cookie: bumping it (a new
  password, "end all sessions") makes every earlier cookie of that officer invalid.
- Failed logins slow guessing down per account and per client address: after `ACCOUNT_LIMIT`
  failures of one account (or `CLIENT_LIMIT` from one address) within `WINDOW`, further
  attempts are refused until the oldest of them leaves the window. The real officer is
  therefore never locked out for longer than the window.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import UserError
from .models import Event, LoginFailure, OfficerLogin, db

MIN_LENGTH = 10
MAX_LENGTH = 1024  # hashing a megabyte "password" on every try is a cheap way to load the server

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5
CLIENT_LIMIT = 20  # an office behind one NAT address: several officers mistyping

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against for unknown accounts, so a wrong email takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("kpudesk: no such account")


def check_new_password(password: str) -> None:
    """UserError (Bahasa) unless the password is acceptable."""
    if len(password) < MIN_LENGTH:
        raise UserError(f"kata sandi terlalu pendek: minimal {MIN_LENGTH} karakter")
    if len(password) > MAX_LENGTH:
        raise UserError(f"kata sandi terlalu panjang: maksimal {MAX_LENGTH} karakter")
    if password != password.strip() or any(ord(c) < 32 for c in password):
        raise UserError("kata sandi tidak boleh diawali/diakhiri spasi atau berisi karakter kendali")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def set_password(email: str, password: str, now: datetime, actor: str) -> None:
    """Store a new password for the officer and end all their sessions (an event records
    who did it; the password never leaves this function)."""
    check_new_password(password)
    email = email.strip().lower()
    hashed = hash_password(password)
    with db.atomic():
        row = OfficerLogin.get_or_none(OfficerLogin.email == email)
        if row is None:
            OfficerLogin.create(email=email, password_hash=hashed, password_set_at=now, session_epoch=1)
        else:
            row.password_hash, row.password_set_at = hashed, now
            row.session_epoch = (row.session_epoch or 0) + 1
            row.save()
        Event.create(ticket=None, at=now, actor=actor, kind="officer.password_set", detail={"officer": email})


def has_password(email: str) -> bool:
    row = OfficerLogin.get_or_none(OfficerLogin.email == email.strip().lower())
    return row is not None and bool(row.password_hash)


def emails_with_password() -> set[str]:
    return {e for (e,) in OfficerLogin.select(OfficerLogin.email)
            .where(OfficerLogin.password_hash.is_null(False)).tuples()}


def verify_password(email: str, password: str) -> bool:
    """True when the password is the officer's. Upgrades the stored hash when argon2-cffi's
    parameters have grown since it was made."""
    row = OfficerLogin.get_or_none(OfficerLogin.email == email.strip().lower())
    stored = row.password_hash if row is not None and row.password_hash else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password[:MAX_LENGTH + 1])
    except (VerificationError, InvalidHashError):
        return False
    if stored is None:
        return False
    if _hasher.check_needs_rehash(stored):
        row.password_hash = _hasher.hash(password)
        row.save(only=[OfficerLogin.password_hash])
    return True


def session_epoch(email: str) -> int:
    """The officer's current session generation (0 before any password was set)."""
    row = OfficerLogin.get_or_none(OfficerLogin.email == email.strip().lower())
    return row.session_epoch if row is not None else 0


def end_sessions(email: str, now: datetime, actor: str) -> int:
    """End every session of this officer (bump the generation). Returns the new epoch."""
    email = email.strip().lower()
    with db.atomic():
        row = OfficerLogin.get_or_none(OfficerLogin.email == email)
        if row is None:
            row = OfficerLogin.create(email=email, password_hash=None, password_set_at=None, session_epoch=1)
        else:
            row.session_epoch = (row.session_epoch or 0) + 1
            row.save(only=[OfficerLogin.session_epoch])
        Event.create(ticket=None, at=now, actor=actor, kind="officer.sessions_ended", detail={"officer": email})
    return row.session_epoch


@dataclass(frozen=True)
class Throttle:
    """Is this login attempt braked? `minutes`: how long until it may be tried again."""

    refused: bool
    minutes: int = 0


def throttle(email: str, client: str, now: datetime) -> Throttle:
    since = now - WINDOW
    email, client = email.strip().lower()[:320], client[:64]
    for column, key, limit in ((LoginFailure.email, email, ACCOUNT_LIMIT), (LoginFailure.client, client, CLIENT_LIMIT)):
        recent = [at for (at,) in LoginFailure.select(LoginFailure.at)
                  .where((column == key) & (LoginFailure.at > since))
                  .order_by(LoginFailure.at.desc()).limit(limit).tuples()]
        if len(recent) >= limit:
            # Free again once the oldest of the last `limit` failures is out of the window.
            free_at = recent[-1] + WINDOW
            return Throttle(True, max(1, math.ceil((free_at - now).total_seconds() / 60)))
    return Throttle(False)


def record_failure(email: str, client: str, now: datetime) -> None:
    with db.atomic():
        LoginFailure.create(email=email.strip().lower()[:320], client=client[:64], at=now)
        # Old rows serve no purpose: keep the table as small as the window.
        LoginFailure.delete().where(LoginFailure.at < now - 2 * WINDOW).execute()


def clear_failures(email: str) -> None:
    """After a successful login: the officer's own earlier typos no longer count."""
    LoginFailure.delete().where(LoginFailure.email == email.strip().lower()).execute()
