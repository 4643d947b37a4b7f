"""One exception root for the domain; the class says what the caller should do."""
from __future__ import annotations


class KpudeskError(Exception):
    """Base of every error kpudesk raises on purpose."""


class ConfigError(KpudeskError):
    """The settings are wrong: the user must fix them (exit 2)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class UserError(KpudeskError):
    """Bad input from the person at the keyboard: unknown ticket, bad file (exit 1)."""


class NotFound(UserError):
    """A ticket, message or row named by the user does not exist."""


class TempFailure(KpudeskError):
    """A server could not be reached or is busy: try again later (exit 75)."""


class SchemaError(KpudeskError):
    """The database schema is newer than this program, or otherwise unusable."""
