"""Helpers shared by the subcommands: loading settings and the app, printing tables."""
from __future__ import annotations

import argparse
import json
import os
import sys
import unicodedata
from pathlib import Path

from kpudesk.tickets.errors import UserError
from kpudesk.tickets.queries import parse_ticket_id

from ..config import load_settings
from ..logsetup import configure_logging
from ..wiring import App, build_app


def config_path(args: argparse.Namespace) -> Path:
    """The settings file: --config, else $KPUDESK_CONFIG, else ./settings.toml."""
    return Path(args.config or os.environ.get("KPUDESK_CONFIG") or "settings.toml")


def emit_json(obj) -> None:
    """`--json` output: stdout holds only the JSON document."""
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def app_from_args(args: argparse.Namespace) -> App:
    settings = load_settings(config_path(args))
    if not args.verbose:
        configure_logging(settings.log_level if settings.log_level != "INFO" else "WARNING")
    return build_app(settings)


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def clip(s: str | None, n: int) -> str:
    s = (s or "").replace("\n", " ")
    return s if len(s) <= n else s[: n - 1] + "…"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table (no box drawing: terminals and mail both show it)."""
    cols = [headers] + [[str(c) for c in r] for r in rows]
    widths = [max(_width(r[i]) for r in cols) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cols):
        lines.append("  ".join(c + " " * (widths[i] - _width(c)) for i, c in enumerate(r)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def ticket_id(text: str) -> str:
    """argparse `type=` for a ticket id as shown (`2`, `#2`, `HD-MSJ #2`, `[HD-MSJ #2]`):
    checks the form here (a usage error, exit 2); `queries.get_ticket(value, tag)` then
    checks the tag against the settings' and finds the ticket (exit 1 if unknown)."""
    try:
        parse_ticket_id(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()
