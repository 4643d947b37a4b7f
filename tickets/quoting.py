"""The writer's own words: quoted history, reply headers and the signature block.

`strip_quoted` drops "> " lines and everything from a reply or forward header on; the
closing-line regex and `signature_block` find where a signature starts. Shared by the
name, party, identity and FAQ text code; `tickets/text.py:Body` applies `strip_quoted`
once per message for all of them. Pure logic.
"""
from __future__ import annotations

import re

__all__ = ["strip_quoted"]


QUOTE_START_RE = re.compile(
    r"^\s*(?:-{2,}\s*(?:original message|pesan asli|forwarded message|pesan terusan|pesan yang diteruskan)"
    r"|(?:on|pada)\s.{4,200}(?:wrote|menulis)\s*:\s*$"
    r"|_{10,}\s*$)",
    re.IGNORECASE,
)
OUTLOOK_FROM_RE = re.compile(r"^\s*(?:from|dari)\s*:.*@", re.IGNORECASE)
OUTLOOK_NEXT_RE = re.compile(r"^\s*(?:sent|date|tanggal|dikirim|terkirim|to|kepada)\s*:", re.IGNORECASE)


# Letters outside ASCII that `re.IGNORECASE` takes for an ASCII "i", "k" or "s" (dotted
# and dotless I, long s, Kelvin sign): where one occurs, the fast paths below that look
# for ASCII words with str.find step aside for the regexes.
_FOLDS_TO_ASCII = ("\u0130", "\u0131", "\u017f", "\u212a")


def folds_to_ascii(text: str) -> bool:
    return not text.isascii() and any(c in text for c in _FOLDS_TO_ASCII)


def _may_hold_quote(text: str, lower: str) -> bool:
    """False when no line of `text` can start a quote (every pattern above needs one of
    these pieces), so `own_lines` need not look at each line."""
    if ">" in text or "@" in text or "--" in text or "__________" in text:
        return True
    return "wrote" in lower or "menulis" in lower or folds_to_ascii(text)


def own_lines(text: str, lower: str | None = None) -> list[str]:
    """The lines of `text` the writer wrote: "> " lines dropped, and everything from a
    reply/forward header on. `lower`: `text.lower()` when the caller has it."""
    lines = text.splitlines()
    if not _may_hold_quote(text, text.lower() if lower is None else lower):
        return lines
    kept: list[str] = []
    for i, line in enumerate(lines):
        if QUOTE_START_RE.match(line):
            break
        if OUTLOOK_FROM_RE.match(line) and i + 1 < len(lines) and OUTLOOK_NEXT_RE.match(lines[i + 1]):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return kept


def strip_quoted(text: str) -> str:
    """The writer's own words: drop "> " lines and everything from a reply/forward header on."""
    return "\n".join(own_lines(text)) if text else ""


CLOSING_RE = re.compile(
    r"^\s*(?:hormat\s+(?:saya|kami)|salam(?:\s+\w+){0,2}|wassalam\S*(?:\s+\S+){0,3}"
    r"|terima\s*kasih(?:\s+\S+){0,4}|terimakasih(?:\s+\S+){0,4}|(?:best\s+|kind\s+|warm\s+)?regards"
    r"|tabik|tertanda|ttd\.?)\s*[,.!]*\s*$",
    re.IGNORECASE,
)


def closings_from_end(lines: tuple[str, ...]):
    """Indexes of the closing lines ("Salam,"), last first: signatures sit at the end, so
    callers that want the last one stop after a few lines instead of matching them all."""
    for i in range(len(lines) - 1, -1, -1):
        if CLOSING_RE.match(lines[i]):
            yield i


def signature_block(lines: tuple[str, ...]) -> str | None:
    """The lines after the last closing ("Hormat saya,", "Salam,", ...), or None."""
    last = next(closings_from_end(lines), None)
    if last is None:
        return None
    return "\n".join(lines[last + 1:])
