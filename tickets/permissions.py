"""Who may do what: the role × action table of the web desk (issue 14 item 3).

One table, read by the web desk on every request and usable by the CLI. An action is a
string naming what a page or POST does; a role is one of `[[officers]] role` (daemon/config.py
ROLES). The table follows the SOP:

- the helpdesk team (anggota-helpdesk) answers, notes, assigns, escalates to the Anggota,
  closes and reopens (marking a ticket as spam is a close), corrects identities, registers
  walk-ins, merges two tickets of the same party (the officer answering both is the one who
  sees they are one question) and acts in bulk (each ticket of a bulk action is still
  checked for its own action: assign, reassign, close), and imports the Sipol progress
  figures they read off the dashboard (`progress_import`: the CSV and its screenshots, as
  `kpudesk progress import` does);
- the daily coordinator (koordinator-harian, koordinator) does all of that and also
  reassigns, reviews spam and quarantine and edits canned answers;
- an Anggota KPU (anggota-kpu) sees and answers only the tickets escalated to them and may
  pass those on to the Provinsi (`allowed_on_ticket` checks the escalation);
- the chair and the secretary (ketua, sekretaris) read everything and the reports and
  change nothing; they and the coordinators read the overview of the day and the week
  (`overview`, /overview: the daily recap's figures on a page).

Everyone who may log in may `view` (the pages then show what the role may see).
"""
from __future__ import annotations

from .models import Escalation, Ticket

ACTIONS: tuple[str, ...] = (
    "view", "reply", "note", "assign", "reassign", "escalate_anggota", "escalate_provinsi",
    "close", "reopen", "identity_edit", "merge", "bulk", "walkin", "spam_review",
    "quarantine_review", "canned_edit", "reports", "progress_import", "overview",
)

_TEAM = frozenset({"view", "reply", "note", "assign", "escalate_anggota", "close", "reopen",
                   "identity_edit", "walkin", "merge", "bulk", "progress_import"})
_COORDINATOR = _TEAM | {"reassign", "spam_review", "quarantine_review", "canned_edit", "overview", "reports"}
_ANGGOTA_KPU = frozenset({"view", "reply", "note", "escalate_provinsi"})
_READER = frozenset({"view", "reports", "overview"})

TABLE: dict[str, frozenset[str]] = {
    "anggota-helpdesk": _TEAM,
    "koordinator-harian": _COORDINATOR,
    "koordinator": _COORDINATOR,
    "anggota-kpu": _ANGGOTA_KPU,
    "ketua": _READER,
    "sekretaris": _READER,
}

#: Roles whose ticket actions are limited to the tickets escalated to them.
ESCALATION_ONLY = frozenset({"anggota-kpu"})


def allowed(role: str, action: str) -> bool:
    """May this role do this action at all? Unknown roles and actions: no."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return action in TABLE.get(role, frozenset())


def escalated_to(email: str) -> set[int]:
    """Ids of the tickets escalated to the Anggota at this address (any escalation of the
    ticket whose recipients include it, answered or not: the member keeps seeing the
    tickets they were asked about)."""
    return _escalated(email, Escalation.target == "anggota")


def _escalated(email: str, where) -> set[int]:
    email = email.strip().lower()
    return {ticket_id for ticket_id, to in Escalation.select(Escalation.ticket, Escalation.to).where(where).tuples()
            if any(str(a).strip().lower() == email for a in (to or []))}


def allowed_on_ticket(officer, action: str, ticket: Ticket | int) -> bool:
    """May this officer (anything with `.role` and `.email`) do `action` on this ticket?
    The role table first; an Anggota KPU also needs the ticket escalated to them."""
    if not allowed(officer.role, action):
        return False
    if officer.role not in ESCALATION_ONLY:
        return True
    ticket_id = ticket if isinstance(ticket, int) else ticket.id
    return bool(_escalated(officer.email, (Escalation.target == "anggota") & (Escalation.ticket == ticket_id)))
