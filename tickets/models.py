"""Every table of the database as a plain peewee model; `MODELS` lists them all. Their
column types and base model are tickets/model_base.py; opening, pragmas and migrations live
in `tickets.schema`, batch SQL in `tickets.store`.

SQLite (WAL, foreign keys on, busy timeout) by default; any URL peewee's `db_url`
understands works, PostgreSQL included. All datetimes are stored as aware UTC and read
back as aware UTC (`UtcDateTimeField`), whatever the backend does with time zones.
"""
from __future__ import annotations

import peewee as pw

from .model_base import BaseModel, JsonField, UtcDateTimeField
from .model_base import db as db  # re-exported: the one proxy every module binds through


class Meta(BaseModel):
    key = pw.CharField(primary_key=True, max_length=64)
    value = pw.TextField()


class Party(BaseModel):
    """A political party (seeded from the registry file; numbers are ballot numbers)."""

    number = pw.IntegerField(unique=True)
    name = pw.CharField(max_length=200)
    short = pw.CharField(max_length=100)


class Contact(BaseModel):
    """Someone who wrote to the helpdesk or a known liaison officer."""

    email = pw.CharField(max_length=320, unique=True)  # lower case
    name = pw.TextField(null=True)
    phone = pw.CharField(max_length=32, null=True)
    party = pw.ForeignKeyField(Party, null=True, on_delete="SET NULL")
    source = pw.CharField(max_length=32, default="mail")


class Ticket(BaseModel):
    status = pw.CharField(max_length=32, index=True)
    subject = pw.TextField()
    channel = pw.CharField(max_length=32, default="email")
    requester = pw.CharField(max_length=320, null=True, index=True)  # lower-case email
    requester_name = pw.TextField(null=True)
    party = pw.ForeignKeyField(Party, null=True, on_delete="SET NULL", index=True)
    assignee = pw.CharField(max_length=200, null=True)
    from_spam = pw.BooleanField(default=False)
    claimed_tag = pw.CharField(max_length=64, null=True)  # a tag we refused to trust
    flags = JsonField(default=dict)  # e.g. {"needs_identity": true, "delivery_failed": true}
    created_at = UtcDateTimeField(index=True)
    updated_at = UtcDateTimeField()


class Identity(BaseModel):
    """Who consulted, with where each value came from (the SOP's consultation record)."""

    ticket = pw.ForeignKeyField(Ticket, unique=True, backref="identity_rows", on_delete="CASCADE")
    name = pw.TextField(null=True)
    name_source = pw.CharField(max_length=32, null=True)
    party = pw.CharField(max_length=200, null=True)
    party_source = pw.CharField(max_length=32, null=True)
    phone = pw.CharField(max_length=32, null=True)
    phone_source = pw.CharField(max_length=32, null=True)
    email = pw.CharField(max_length=320, null=True)
    email_source = pw.CharField(max_length=32, null=True)


class Message(BaseModel):
    """Every message we stored: incoming mail (any disposition), our outgoing mail, notes.

    `identity` is the dedupe key: bare Message-ID plus content fingerprint, or the
    fingerprint alone when there is no usable Message-ID. UNIQUE, so a race or a re-read
    can never store the same message twice.
    """

    ticket = pw.ForeignKeyField(Ticket, null=True, backref="messages", on_delete="CASCADE", index=True)
    direction = pw.CharField(max_length=8)  # in | out | note | internal
    disposition = pw.CharField(max_length=16)  # ticket | ignored | spam_held | rescued | released
    kind = pw.CharField(max_length=32, default="normal")  # classify.Kind, or the kind of mail we sent
    identity = pw.CharField(max_length=1100, unique=True)
    msgid = pw.CharField(max_length=1000, null=True, index=True)
    message_id = pw.TextField(null=True)  # header form, for display
    msgid_conflict = pw.BooleanField(default=False)  # same Message-ID, different content
    fingerprint = pw.CharField(max_length=64, null=True)
    raw_sha256 = pw.CharField(max_length=64, null=True)
    raw_path = pw.CharField(max_length=300, null=True)
    size = pw.IntegerField(default=0)
    folder = pw.CharField(max_length=200, null=True)
    uidvalidity = pw.BigIntegerField(null=True)
    uid = pw.BigIntegerField(null=True)
    from_addr = pw.CharField(max_length=320, null=True, index=True)
    from_name = pw.TextField(null=True)
    to = JsonField(default=list)
    cc = JsonField(default=list)
    subject = pw.TextField(default="")
    date = UtcDateTimeField(null=True)
    text = pw.TextField(default="")
    in_reply_to = JsonField(default=list)
    references = JsonField(default=list)
    reasons = JsonField(default=list)  # classification reasons
    defects = JsonField(default=list)
    author = pw.TextField(null=True)  # officer for out/note
    # Sender authentication verdict {"verdict": "pass"|"fail"|"none", "reason": ...} (v3)
    authentication = JsonField(null=True)
    created_at = UtcDateTimeField(index=True)


class Attachment(BaseModel):
    message = pw.ForeignKeyField(Message, backref="attachments", on_delete="CASCADE")
    filename = pw.TextField()
    content_type = pw.TextField()
    size = pw.IntegerField()
    sha256 = pw.CharField(max_length=64, index=True)
    path = pw.CharField(max_length=300)


class FolderState(BaseModel):
    """The high-water mark of one IMAP folder: advanced in the batch's transaction."""

    name = pw.CharField(max_length=200, primary_key=True)
    uidvalidity = pw.BigIntegerField()
    last_uid = pw.BigIntegerField(default=0)
    updated_at = UtcDateTimeField()


class Quarantine(BaseModel):
    folder = pw.CharField(max_length=200, null=True)
    uidvalidity = pw.BigIntegerField(null=True)
    uid = pw.BigIntegerField(null=True)
    message_id = pw.TextField(null=True)
    raw_sha256 = pw.CharField(max_length=64)
    raw_path = pw.CharField(max_length=300)
    internaldate = UtcDateTimeField(null=True)
    error = pw.TextField()
    attempts = pw.IntegerField(default=1)
    created_at = UtcDateTimeField()
    resolved_at = UtcDateTimeField(null=True)
    resolved_message = pw.ForeignKeyField(Message, null=True, on_delete="SET NULL")


class Event(BaseModel):
    """The audit trail: every change with who, when and why."""

    ticket = pw.ForeignKeyField(Ticket, null=True, backref="events", on_delete="CASCADE", index=True)
    at = UtcDateTimeField(index=True)
    actor = pw.TextField()  # officer name, "system", or a sender address
    kind = pw.CharField(max_length=48, index=True)
    detail = JsonField(default=dict)


class Escalation(BaseModel):
    """A ticket passed to the commission member (anggota) or the KPU Provinsi, and its answer."""

    ticket = pw.ForeignKeyField(Ticket, backref="escalations", on_delete="CASCADE")
    target = pw.CharField(max_length=16)  # anggota | provinsi
    to = JsonField()
    by = pw.CharField(max_length=200)
    at = UtcDateTimeField()
    note = pw.TextField(default="")
    outbox_id = pw.IntegerField(null=True)
    external_ref = pw.TextField(null=True, index=True)  # the Provinsi's own ticket number
    answered_at = UtcDateTimeField(null=True)
    answer = pw.ForeignKeyField(Message, null=True, on_delete="SET NULL")


class OutboxItem(BaseModel):
    """One mail to send, kept until delivered or given up (the outbox survives outages)."""

    ticket = pw.ForeignKeyField(Ticket, null=True, backref="outbox", on_delete="CASCADE")
    message = pw.ForeignKeyField(Message, null=True, on_delete="SET NULL")  # the "out" row it delivers
    kind = pw.CharField(max_length=32, index=True)  # ack | answer | followup | escalation | notice | report
    sender = pw.CharField(max_length=320)
    recipients = JsonField()
    rcpt_key = pw.CharField(max_length=320, index=True)  # first recipient, lower case (caps)
    msgid = pw.CharField(max_length=1000, unique=True)  # bare Message-ID of the mail
    data = pw.BlobField()  # the bytes sent; b"" until composed from `mail`
    mail = JsonField(null=True)  # what to compose (text already rendered): see `outbox.materialize`
    status = pw.CharField(max_length=16, default="pending", index=True)  # pending | sent | failed
    attempts = pw.IntegerField(default=0)
    next_attempt_at = UtcDateTimeField()
    deliver_until = UtcDateTimeField()
    last_error = pw.TextField(null=True)
    created_at = UtcDateTimeField(index=True)
    sent_at = UtcDateTimeField(null=True)
    lease_until = UtcDateTimeField(null=True)  # a sender is delivering it: others keep off
    lease_holder = pw.TextField(null=True)  # "host:pid:start" of that sender (v3)


OutboxItem.add_index(OutboxItem.rcpt_key, OutboxItem.kind, OutboxItem.created_at)  # the per-sender caps


class ReportSlot(BaseModel):
    """One scheduled report, claimed by the daemon that sends it."""

    kind = pw.CharField(max_length=16)  # progress | recap
    slot_date = pw.CharField(max_length=10)  # local date, YYYY-MM-DD
    slot_time = pw.CharField(max_length=5)  # local time, HH:MM
    status = pw.CharField(max_length=16, default="claimed")  # claimed | sent (= queued in the outbox) | skipped
    late = pw.BooleanField(default=False)
    claimed_at = UtcDateTimeField()
    report_at = UtcDateTimeField(null=True, index=True)  # the instant the report's figures describe
    outbox_item = pw.ForeignKeyField(OutboxItem, null=True, on_delete="SET NULL")
    detail = JsonField(default=dict)  # e.g. the snapshot ids a progress report showed

    class Meta:
        indexes = ((("kind", "slot_date", "slot_time"), True),)


class ProgressImport(BaseModel):
    """One Sipol progress CSV file imported by an officer."""

    filename = pw.CharField(max_length=300)
    sha256 = pw.CharField(max_length=64, index=True)  # of the CSV bytes
    path = pw.CharField(max_length=300, null=True)  # the CSV itself, in the archive
    rows = pw.IntegerField()
    imported_at = UtcDateTimeField(index=True)
    actor = pw.CharField(max_length=200)


class ProgressSnapshot(BaseModel):
    """One party's figures as Sipol showed them at `taken_at`."""

    import_ = pw.ForeignKeyField(ProgressImport, column_name="import_id", backref="snapshots", on_delete="CASCADE")
    party = pw.ForeignKeyField(Party, backref="progress", on_delete="CASCADE", index=True)
    officials = pw.IntegerField()  # pengurus
    members = pw.IntegerField()  # anggota
    offices = pw.IntegerField()  # kantor
    taken_at = UtcDateTimeField(index=True)
    imported_at = UtcDateTimeField(index=True)

    class Meta:
        indexes = ((("party", "taken_at"), False),)


class Evidence(BaseModel):
    """A screenshot (or any file) that backs a progress import."""

    import_ = pw.ForeignKeyField(ProgressImport, column_name="import_id", backref="evidence", on_delete="CASCADE")
    filename = pw.CharField(max_length=300)
    content_type = pw.CharField(max_length=200)
    sha256 = pw.CharField(max_length=64, index=True)
    size = pw.IntegerField()
    path = pw.CharField(max_length=300)


# The web desk's tables (issue 14; schema v4).


class OfficerLogin(BaseModel):
    """An officer's web-desk password (Argon2id hash, never the password) and session generation."""

    email = pw.CharField(max_length=320, primary_key=True)  # lower case, as in [[officers]]
    password_hash = pw.TextField(null=True)
    password_set_at = UtcDateTimeField(null=True)
    session_epoch = pw.IntegerField(default=0)  # bumping it ends every session of this officer


class LoginFailure(BaseModel):
    """A failed login, for slowing down guessing per account and per client address."""

    email = pw.CharField(max_length=320, index=True)
    client = pw.CharField(max_length=64, index=True)
    at = UtcDateTimeField(index=True)


class CannedAnswer(BaseModel):
    """The office's own saved replies beyond the FAQ, edited by the coordinator."""

    title = pw.CharField(max_length=200)
    body = pw.TextField()
    updated_by = pw.CharField(max_length=320)
    updated_at = UtcDateTimeField()


# The cloud folder's upload queue (issue 15; schema v6).


class MirrorItem(BaseModel):
    """One archived file (signature, documentation, report PDF, progress evidence) to copy to
    the office's cloud folder (`[storage] mirror`, tickets/mirror.py). Written in the same
    transaction as the file's own row; `stored` only after the remote holds the same size and
    hash. The local archive stays the source of truth."""

    path = pw.CharField(max_length=300)  # in the archive
    remote_path = pw.CharField(max_length=600, unique=True)  # <year>/<month>/<ticket ref|kind>/<file>
    sha256 = pw.CharField(max_length=64)
    size = pw.BigIntegerField()
    ticket = pw.ForeignKeyField(Ticket, null=True, backref="mirror_items", on_delete="SET NULL", index=True)
    status = pw.CharField(max_length=16, default="pending", index=True)  # pending | stored | failed
    attempts = pw.IntegerField(default=0)
    next_attempt_at = UtcDateTimeField(null=True)
    last_error = pw.TextField(null=True)
    created_at = UtcDateTimeField()
    stored_at = UtcDateTimeField(null=True)
    lease_until = UtcDateTimeField(null=True)  # an uploader is copying it: others keep off (v7)
    lease_holder = pw.TextField(null=True)  # "host:pid:start" of that uploader, as the outbox's


class SearchPending(BaseModel):
    """A ticket whose full-text document is due (tickets/search.py, v8): noted by ingest in
    its batch's transaction, taken away in the transaction that indexes the ticket."""

    ticket = pw.ForeignKeyField(Ticket, primary_key=True, backref="+", on_delete="CASCADE")
    noted = pw.IntegerField(default=1)  # raised each time it is noted again (see search.catch_up)


# Every table, in dependency order (create_tables sorts them anyway).
MODELS: list[type[BaseModel]] = [
    Meta, Party, Contact, Ticket, Identity, Message, Attachment, FolderState, Quarantine, Event,
    Escalation, OutboxItem, ReportSlot, ProgressImport, ProgressSnapshot, Evidence,
    OfficerLogin, LoginFailure, CannedAnswer, MirrorItem, SearchPending,
]
