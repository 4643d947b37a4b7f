"""What ingest learns from a message's bytes alone, before it touches the database.

Parsing, classification, the sender's identity guess and the FAQ Sipol ranking depend on
nothing but the raw bytes and read-only configuration, so they can run ahead of the
database work: in the poller's worker processes, an opt-in for bulk imports (see
`daemon/workers.py`), or inline for the usual handful of messages. Either way `Ingestor`
gets the same `Analysis` and makes the same decisions; what was not computed ahead (None)
it computes itself when it needs it. `Analyst` prepares a new ticket's `Body`
(tickets/text.py) once, for the identity guess and the FAQ question alike.

The worker writes nothing: storing, the raw archive included, is the main process's job.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from kpudesk.mailbox.compose import NO_SUBJECT
from kpudesk.mailbox.message import InboundMessage
from kpudesk.mailbox.parse import parse

from .classify import Classification, Kind, OwnIdentity, classify
from .faq import FaqBase, FaqHit, FaqLibrary
from .identity import IdentityGuess, identify
from .parties import PartyRegistry
from .sender_auth import SenderPolicy, Verdict
from .text import Body



@dataclass(frozen=True)
class Analysis:
    msg: InboundMessage  # from the worker without `headers` (see Analyst.full)
    identity_key: str
    cls: Classification
    guess: IdentityGuess | None = None  # None: not computed ahead
    faq: tuple[tuple[str, float], ...] | None = None  # (FAQ id, score), best first; None: not computed ahead
    auth: Verdict | None = None  # the sender-authentication verdict (None: no policy given)


def message_identity(msg: InboundMessage) -> str:
    """The dedupe key: Message-ID plus content, or content alone when there is no Message-ID."""
    if msg.msgid:
        return f"{msg.msgid}|{msg.fingerprint}"
    return f"fp:{msg.fingerprint}"


def analyze(raw: bytes, internaldate: datetime | None, own: OwnIdentity,
            policy: SenderPolicy | None = None) -> Analysis:
    """The part every message needs: parse, dedupe key, class, and (with a policy) the
    sender-authentication verdict, which needs the raw bytes. Raises ParseError."""
    msg = parse(raw, internaldate)
    return analysis_of(msg, own, policy.verdict(raw, msg) if policy is not None else None)


def analysis_of(msg: InboundMessage, own: OwnIdentity, auth: Verdict | None = None) -> Analysis:
    """`analyze` for a message parsed already (a held spam message being released, with
    the verdict stored when it arrived)."""
    return Analysis(msg, message_identity(msg), classify(msg, own), auth=auth)


class _AddressBlind:
    """A party registry that knows no address: what an unauthenticated From: may not
    claim (the registry's liaison addresses and contacts). Text matches still work."""

    def __init__(self, registry: PartyRegistry) -> None:
        self._registry = registry

    def by_address(self, email):
        return None

    def contact(self, email):
        return None

    def __getattr__(self, name):
        return getattr(self._registry, name)


def guess_identity(msg: InboundMessage, registry: PartyRegistry, auth: Verdict | None,
                   body: Body | None = None) -> IdentityGuess:
    """The identity guess; a From: that failed authentication confirms nothing by its
    address (a phishing mail "from" a party liaison is not that party's), so the party,
    name and phone then come from the mail's text only. `body`: `Body.of(msg.text)`,
    when the caller has built it (it is shared with the FAQ ranking)."""
    if auth is not None and auth.failed:
        return identify(msg, _AddressBlind(registry), body)  # type: ignore[arg-type]
    return identify(msg, registry, body)


def ranked(hits: list[FaqHit]) -> tuple[tuple[str, float], ...]:
    """FAQ hits as ingest keeps them: ids and scores (the entries' texts stay behind)."""
    return tuple((h.entry.id, h.score) for h in hits)


def ticket_subject(msg: InboundMessage) -> str:
    """The subject a ticket opened by `msg` gets (and its FAQ query starts with)."""
    return msg.subject or NO_SUBJECT


@dataclass(frozen=True)
class AnalystSpec:
    """What a worker process needs (picklable): it rebuilds the rest itself."""

    own: OwnIdentity
    registry: PartyRegistry
    faq_path: Path | None
    policy: SenderPolicy | None = None


class Analyst:
    """The full analysis, done ahead: everything `analyze` does, plus the identity guess
    and FAQ ranking a new ticket will need."""

    def __init__(self, spec: AnalystSpec) -> None:
        self.spec = spec
        self.faq = FaqLibrary(spec.faq_path) if spec.faq_path is not None else None

    def full(self, raw: bytes, internaldate: datetime | None) -> Analysis:
        return self._full(raw, internaldate, self.faq.current() if self.faq is not None else None)

    def _full(self, raw: bytes, internaldate: datetime | None, faq_base: FaqBase | None) -> Analysis:
        a = analyze(raw, internaldate, self.spec.own, self.spec.policy)
        guess = faq = None
        # Replies usually join their ticket and need neither; if one opens a new ticket
        # after all (or completes a ticket's identity), ingest does it then.
        if a.cls.kind == Kind.NORMAL and not a.msg.thread_ids:
            body = Body.of(a.msg.text)  # once, for the identity guess and the FAQ question
            guess = guess_identity(a.msg, self.spec.registry, a.auth, body)
            if faq_base is not None:
                faq = ranked(faq_base.for_ticket(ticket_subject(a.msg), body))
        # The header list is the bulk of what crosses the process boundary, and only
        # classification reads it: it has run, so the copy sent back goes without.
        return Analysis(replace(a.msg, headers=()), a.identity_key, a.cls, guess, faq, a.auth)

    def batch(self, items: list[tuple[bytes, datetime | None]]) -> list[Analysis | None]:
        """One result per item; None where analysis failed (ingest then redoes it inline,
        where a failure quarantines the message with its error)."""
        out: list[Analysis | None] = []
        # The FAQ file's reload check (a stat) once per batch, not once per message.
        faq_base = self.faq.current() if self.faq is not None else None
        for raw, internaldate in items:
            try:
                out.append(self._full(raw, internaldate, faq_base))
            except Exception:  # noqa: BLE001 - reported by the inline retry, not here
                out.append(None)
        return out


# --- worker process entry points (ProcessPoolExecutor initializer and task) -------------
# The process around them (signals, start method, the parent's death) is daemon/workers.py's.

_worker: Analyst | None = None


def start_worker(spec: AnalystSpec) -> None:
    global _worker
    _worker = Analyst(spec)


def worker_batch(items: list[tuple[bytes, datetime | None]]) -> list[Analysis | None]:
    assert _worker is not None, "start_worker was not run in this process"
    return _worker.batch(items)
