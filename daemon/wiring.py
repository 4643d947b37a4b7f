"""Build the application from settings: the only module that picks concrete adapters."""
from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kpudesk.mailbox.imap import ImapSource
from kpudesk.mailbox.render import Renderer
from kpudesk.tickets.archive import Archive
from kpudesk.tickets.analysis import AnalystSpec
from kpudesk.tickets.classify import OwnIdentity
from kpudesk.tickets.clock import Clock, default_clock
from kpudesk.tickets.escalation import EscalationConfig, Escalations
from kpudesk.tickets.errors import ConfigError
from kpudesk.tickets.faq_check import FaqCheck
from kpudesk.tickets.faq import DEFAULT_FAQ_PATH, DEFAULT_THRESHOLD, FaqLibrary
from kpudesk.tickets.hours import ServiceCalendar
from kpudesk.tickets.ingest import IngestConfig, Ingestor
from kpudesk.tickets.matching import MatchContext
from kpudesk.tickets.models import Party
from kpudesk.tickets.schema import open_database
from kpudesk.tickets.officer import OfficerActions
from kpudesk.tickets.parties import DEFAULT_PARTIES_PATH, PartyRegistry
from kpudesk.tickets.party_sync import sync_parties
from kpudesk.tickets.replies import MailIdentity, Replies
from kpudesk.tickets.sender_auth import SenderPolicy

from .config import Settings
from .mail_adapters import imap_source, smtp_sender, token_source
from .oauth2 import TokenSource
from .settings_check import sqlite_path

if TYPE_CHECKING:
    from kpudesk.mailbox.smtp import SmtpSender

log = logging.getLogger(__name__)

LOOP_HEADER = "X-KPUDesk-Loop"


@dataclass
class App:
    settings: Settings
    clock: Clock
    archive: Archive
    registry: PartyRegistry
    secret: bytes
    ingestor: Ingestor = field(init=False)
    replies: Replies = field(init=False)
    officers: OfficerActions = field(init=False)
    calendar: ServiceCalendar = field(init=False)
    faq: FaqLibrary = field(init=False)
    escalations: Escalations = field(init=False)
    _tokens: dict[str, TokenSource | None] = field(init=False, default_factory=dict)

    @property
    def faq_threshold(self) -> float:
        t = self.settings.faq_threshold
        return DEFAULT_THRESHOLD if t is None else t

    @property
    def state_dir(self) -> Path:
        return self.settings.storage_dir

    def imap(self) -> ImapSource:
        return imap_source(self.settings, self.tokens("imap"))

    def smtp(self) -> SmtpSender:
        return smtp_sender(self.settings, self.tokens("smtp"))

    def tokens(self, section: str) -> TokenSource | None:
        """The section's OAuth2 token source, one per process (None: password login)."""
        if section not in self._tokens:
            self._tokens[section] = token_source(self.settings, section, self.clock)
        return self._tokens[section]

    def analyst_spec(self) -> AnalystSpec:
        return AnalystSpec(own=self.own_identity(), registry=self.registry,
                           faq_path=self.settings.faq_file or DEFAULT_FAQ_PATH, policy=self.sender_policy())

    def sender_policy(self) -> SenderPolicy:
        """Sender authentication from `[mail]`; DNS (for DKIM) through dnspython."""
        m = self.settings.mail
        return SenderPolicy(trusted_authserv_id=m.trusted_authserv_id, unsigned_domains=m.unsigned_domains)

    def own_identity(self) -> OwnIdentity:
        h = self.settings.helpdesk
        return OwnIdentity(addresses=frozenset({h.address.lower()}), msgid_domain=h.msgid_domain,
                           loop_header=LOOP_HEADER, loop_value=h.msgid_domain)

    def match_context(self) -> MatchContext:
        e = self.settings.escalation
        escal = {a.lower() for a in e.anggota}
        if e.provinsi:
            escal.add(e.provinsi.lower())
        registry = self.registry
        party_ids = {p.number: p.id for p in Party.select()}

        def party_of(email: str) -> int | None:
            p = registry.by_address(email)
            return party_ids.get(p.number) if p else None

        return MatchContext(secret=self.secret, msgid_domain=self.settings.helpdesk.msgid_domain,
                            tag=self.settings.helpdesk.tag, escalation_addresses=frozenset(escal),
                            officer_addresses=frozenset(o.email.lower() for o in self.settings.officers),
                            party_of=party_of, external_lookup=self.escalations.external_lookup)


def load_secret(settings: Settings, *, create: bool = True) -> bytes:
    """The Message-ID key: from env/file when configured, else generated once into storage
    (by a command that may create the desk: a new key for an existing desk would stop
    replies to earlier mail from threading)."""
    if settings.helpdesk.secret.configured:
        return settings.helpdesk.secret.read().encode()
    path = settings.storage_dir / "secret.key"
    if not path.exists():
        if not create:
            raise ConfigError("storage.dir", f"kunci Message-ID {path} belum ada; buat dengan `kpudesk init` "
                                             "(atau periksa storage.dir di settings.toml)")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        log.info("generated a new Message-ID key in %s", path)
    return path.read_text().strip().encode()


def build_app(settings: Settings, clock: Clock | None = None, *, create: bool | None = None) -> App:
    """`create=True`: this command starts the desk (init, poll, run) — make the storage folder,
    the SQLite database and the Message-ID key when missing. `False`: never (a missing
    database stops with exit 2 naming its path). `None` (other commands): only where the
    settings agree on one folder, the database inside storage.dir; a database elsewhere
    (an old `url = "sqlite:///state/…"` beside `storage.dir = "/var/lib/kpudesk"`) is never
    started empty by a read command while the daemon's real one lives somewhere else."""
    if create is None:
        db_file = sqlite_path(settings)
        create = db_file is None or db_file.resolve().is_relative_to(settings.storage_dir.resolve())
    if create:
        settings.storage_dir.mkdir(parents=True, exist_ok=True)
    open_database(settings.database_dsn(), create=create)
    registry = PartyRegistry.load(DEFAULT_PARTIES_PATH, settings.parties_registry)
    sync_parties(registry)
    clock = clock or default_clock()  # the system clock (or the in-process test seam)
    app = App(settings=settings, clock=clock, archive=Archive(settings.storage_dir / "archive"),
              registry=registry, secret=load_secret(settings, create=create))
    h = settings.helpdesk
    try:
        app.calendar = ServiceCalendar.from_strings(timezone=h.timezone, hours=h.service_hours,
                                                    days=h.service_days, closures=h.closures)
    except ValueError as exc:
        raise ConfigError("helpdesk.service_days", str(exc)) from None
    app.replies = Replies(
        MailIdentity(name=h.name, address=h.address, tag=h.tag, msgid_domain=h.msgid_domain, secret=app.secret,
                     loop_header=LOOP_HEADER, ack_per_hour=h.ack_per_hour, ack_per_day=h.ack_per_day),
        Renderer(h.templates_dir, h.timezone), app.calendar, app.clock)
    app.officers = OfficerActions(app.replies, app.clock)
    app.faq = FaqLibrary(settings.faq_file or DEFAULT_FAQ_PATH)
    e = settings.escalation
    app.escalations = Escalations(
        EscalationConfig(anggota=e.anggota, provinsi=e.provinsi, provinsi_pattern=e.provinsi_ticket_pattern,
                         provinsi_roles=e.provinsi_roles),
        app.replies, app.faq, app.clock, app.faq_threshold)
    app.ingestor = Ingestor(archive=app.archive, registry=registry, clock=app.clock,
                            config=IngestConfig(own=app.own_identity(), match=app.match_context(),
                                                inbox=settings.imap.inbox, policy=app.sender_policy()),
                            replies=app.replies, escalations=app.escalations,
                            faq=FaqCheck(app.faq, app.faq_threshold))
    return app
