"""Phone numbers as people write them in mail -> E.164 ("+6281234567890").

Indonesian mobile and landline numbers, written with spaces, dots, dashes, parentheses
or a +62 prefix; digit runs too long to be a phone (NIK, KK, account numbers) are not
numbers. Pure logic.
"""
from __future__ import annotations

import re

__all__ = ["extract_phones", "normalize_phone"]


_SP = " \t\u00a0"
# A run of digits with the separators phone numbers are written with.
_PHONE_RUN_RE = re.compile(rf"(?:\(\+?|\+\(?)?\d[\d{_SP}().\-]*")
# Separators that keep two digit groups in one number: one space, a dot, a dash (spaces
# allowed around it), or parentheses around an area code.
_JOIN_SEP_RE = re.compile(rf"[{_SP}]|\.|[{_SP}]?-[{_SP}]?|\)[{_SP}]?(?:-[{_SP}]?)?|[{_SP}]?\(")
_MAX_RUN_DIGITS = 13  # 0 + 12; anything longer is an id (NIK/KK: 16), an account, ...


def _nsn_valid(nsn: str) -> bool:
    """National significant number (after +62 / 0): mobile 8xx (9-12 digits) or landline (8-10)."""
    if not nsn or nsn[0] in "01":
        return False
    if nsn[0] == "8":
        return 9 <= len(nsn) <= 12
    return 8 <= len(nsn) <= 10


def _to_e164(groups: list[str], plus: bool) -> str | None:
    digits = "".join(groups)
    first = groups[0]
    if plus or digits.startswith("62"):
        if not digits.startswith("62"):
            return None  # not an Indonesian number
        if not plus and not (first == "62" or len(first) >= 5):
            return None
        nsn = digits[2:]
        if nsn.startswith("0"):  # "+62 0812...", a common slip
            nsn = nsn[1:]
    elif digits.startswith("0"):
        # "08.10.2022" is a date, "01.234.567.8-901" a tax number: an area or operator
        # code is at least three digits with its 0 ("021", "0721", "0812").
        if len(groups) > 1 and len(first) < 3:
            return None
        nsn = digits[1:]
    else:
        return None
    return "+62" + nsn if _nsn_valid(nsn) else None


def _phone_segments(text: str):
    """Yield (start, end, groups, plus) for each candidate number in text."""
    for m in _PHONE_RUN_RE.finditer(text):
        run = m.group(0)
        start = m.start()
        # Trim trailing separators and an unbalanced closing parenthesis.
        run = run.rstrip(_SP + ".-(")
        while run.endswith(")") and run.count(")") > run.count("("):
            run = run[:-1].rstrip(_SP + ".-(")
        end = start + len(run)
        before = text[start - 1] if start > 0 else ""
        before2 = text[start - 2] if start > 1 else ""
        after = text[end] if end < len(text) else ""
        after2 = text[end + 1] if end + 1 < len(text) else ""
        # Glued to a word, an address or a path: part of something else.
        if before and (before.isalnum() or before in "_@/\\#=&?"):
            continue
        if before in ".,:+" and before2.isdigit():
            continue
        if after and (after.isalnum() or after in "_@/\\"):
            continue
        if after in ".," and after2.isdigit():
            continue
        plus = "+" in run[: run.find(next(c for c in run if c.isdigit()))]
        groups: list[tuple[int, int]] = [(g.start(), g.end()) for g in re.finditer(r"\d+", run)]
        # Split into segments at separators that do not join groups of one number.
        segment: list[tuple[int, int]] = []
        for i, (gs, ge) in enumerate(groups):
            if segment:
                sep = run[segment[-1][1]:gs]
                joins = _JOIN_SEP_RE.fullmatch(sep) is not None
                if joins and sep.strip(_SP) == "" and ge - gs <= 2:
                    joins = False  # "0812 3456 7890 2 kali": a lone short number after a space
                if not joins:
                    yield start + segment[0][0], start + segment[-1][1], [run[a:b] for a, b in segment], plus
                    segment = []
                    plus = False
            segment.append((gs, ge))
        if segment:
            yield start + segment[0][0], start + segment[-1][1], [run[a:b] for a, b in segment], plus


def extract_phones(text: str) -> list[str]:
    """Indonesian phone numbers in `text`, normalized to E.164 ("+62812..."), unique, in order.

    Accepts +62..., 62... and 0... forms with spaces, dots, dashes and parentheses
    ("0812-3456-7890", "+62 812 3456 7890", "(0721) 123456"). Mobile numbers are 10-13
    digits written with their leading 0 (9-12 after +62); landlines 9-11 with the 0.
    Rejects NIK/KK numbers (16 digits) and any run longer than 13 digits, dates, times,
    and numbers glued to other digits or words.
    """
    if not text:
        return []
    out: dict[str, None] = {}
    for _s, _e, groups, plus in _phone_segments(text):
        if sum(len(g) for g in groups) > _MAX_RUN_DIGITS + (2 if plus or groups[0].startswith("62") else 0):
            continue
        e164 = _to_e164(groups, plus)
        if e164:
            out.setdefault(e164, None)
    return list(out)


def normalize_phone(value: str) -> str | None:
    """One phone number as written by a person -> E.164, or None when it is not exactly one number."""
    if not isinstance(value, str):
        return None
    found = extract_phones(value.strip())
    return found[0] if len(found) == 1 else None
