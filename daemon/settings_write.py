"""settings.toml text written by kpudesk itself: the one generator behind the demo's settings
and those of the test installations (tests/desk.py), so both stay valid and alike.

`settings_toml(**sections)` writes any sections (a dict each; `officers` a list of dicts,
written as `[[officers]]`) with an optional comment per key; `loopback_sections(...)` is the
part both need: a desk on 127.0.0.1 without TLS, SQLite and the archive under ./state.
The documented example (settings.example.toml) is hand-written, with every key explained.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

HELPDESK_NAME = "Helpdesk KPU Kabupaten Mesuji"
HELPDESK_ADDRESS = "helpdesk@kpu-mesuji.example.org"
LOOPBACK = "127.0.0.1"


def toml_value(value: Any) -> str:
    """One TOML value: a string, integer, float, boolean or list of those."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # JSON's string escapes are TOML basic-string escapes; TOML also forbids a raw DEL.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}: {value!r}")


def _table(header: str, values: Mapping[str, Any], notes: Mapping[str, str], prefix: str) -> str:
    lines = [header]
    for key, value in values.items():
        line = f"{key} = {toml_value(value)}"
        note = notes.get(f"{prefix}.{key}")
        lines.append(f"{line}  # {note}" if note else line)
    return "\n".join(lines) + "\n"


def settings_toml(*, header: str = "", notes: Mapping[str, str] | None = None, **sections: Any) -> str:
    """settings.toml text: each keyword a section in the order given, a blank line between.

    `notes` maps "section.key" to a comment written after that key's value; `header` is a
    comment block put first (each line gets its "# ")."""
    notes = notes or {}
    parts = ["".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())] if header else []
    for name, values in sections.items():
        if isinstance(values, Mapping):
            parts.append(_table(f"[{name}]", values, notes, name))
        else:
            parts.extend(_table(f"[[{name}]]", item, notes, name) for item in values)
    return "\n".join(parts)


def loopback_sections(*, imap_port: int, smtp_port: int, username: str = HELPDESK_ADDRESS,
                      password_env: str | None = None, password_file: str | None = None,
                      imap_host: str = LOOPBACK, smtp_host: str = LOOPBACK,
                      helpdesk: Mapping[str, Any] | None = None, imap: Mapping[str, Any] | None = None
                      ) -> dict[str, dict[str, Any]]:
    """The sections of a desk whose servers run on this machine (no TLS, allowed only for
    127.0.0.1), with its database and archive in ./state; `helpdesk` and `imap` add keys."""
    password = {"password_env": password_env} if password_env else {"password_file": password_file}
    return {
        "helpdesk": {"name": HELPDESK_NAME, "address": HELPDESK_ADDRESS, "tag": "HD-MSJ", **(helpdesk or {})},
        "imap": {"host": imap_host, "port": imap_port, "security": "none", "username": username,
                 **password, **(imap or {})},
        "smtp": {"host": smtp_host, "port": smtp_port, "security": "none"},
        "database": {"url": "sqlite:///state/kpudesk.db"},
        "storage": {"dir": "state"},
    }
