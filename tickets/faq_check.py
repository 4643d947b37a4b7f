"""The FAQ Sipol check of a new email ticket: the flags it starts with. "tidak ada di FAQ"
(`faq_miss`) is the SOP's cue to escalate; the hits are the officer's suggestions."""
from __future__ import annotations

from dataclasses import dataclass

from .analysis import Analysis, ranked, ticket_subject
from .classify import Kind
from .faq import FaqLibrary
from .text import Body


@dataclass(frozen=True)
class FaqCheck:
    library: FaqLibrary
    threshold: float  # the best hit's score at or above which the FAQ covers the question

    def flags(self, subject: str, text: str | Body, hits: tuple[tuple[str, float], ...] | None = None) -> dict:
        """`hits`: (id, score) pairs the analysis worker already ranked (None: rank here)."""
        if hits is None:
            hits = ranked(self.library.for_ticket(subject, text))
        return {"faq": [{"id": entry_id, "score": round(score, 3)} for entry_id, score in hits],
                "faq_miss": not (hits and hits[0][1] >= self.threshold)}

    def new_ticket_flags(self, analysis: Analysis, body: Body | None = None) -> dict:
        """A new email ticket's first flags, set in its INSERT: the FAQ check of a party's
        question (automatic mail is never checked)."""
        if analysis.cls.kind != Kind.NORMAL:
            return {}
        return self.flags(ticket_subject(analysis.msg), body or analysis.msg.text, analysis.faq)
