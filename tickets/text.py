"""A mail body prepared once: the writer's own words, lowered and split into lines.

The identity guess (party, name, phone) and the FAQ question extraction all read the same
text: the body without its quoted history. `Body.of` computes that and the forms the
finders look at (lower case, lines) once per message; `tickets/analysis.py` builds one
and passes it to each of them, instead of every finder lowering and splitting the body
again (or hiding a cache keyed on whole bodies). Pure logic.
"""
from __future__ import annotations

from dataclasses import dataclass

from .quoting import folds_to_ascii, own_lines

__all__ = ["Body"]


@dataclass(frozen=True, slots=True)
class Body:
    """The writer's own words of one message, with the derived forms the finders read."""

    text: str  # quoted history and reply/forward headers dropped (`quoting.strip_quoted`)
    lower: str  # text.lower(); may be longer than `text` when a letter lowers into two ("İ")
    lines: tuple[str, ...]  # text.splitlines()
    folds: bool  # holds a letter that re.IGNORECASE takes for ASCII (see quoting.folds_to_ascii)

    @classmethod
    def of(cls, text: str | None) -> Body:
        text = text or ""
        lower = text.lower()  # lowered once: for the quote check, and kept when nothing is cut
        kept = own_lines(text, lower)
        own = "\n".join(kept)
        # `own.splitlines()` without splitting again: the join loses one trailing empty line.
        lines = tuple(kept[:-1] if kept and kept[-1] == "" else kept)
        return cls(own, lower if own == text else own.lower(), lines, folds_to_ascii(own))
