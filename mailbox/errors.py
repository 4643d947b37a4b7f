"""Errors of the mail adapters. The daemon maps them to exit codes (75 or 2)."""
from __future__ import annotations


class MailServerError(Exception):
    """Base for failures talking to a mail server."""


class ServerUnavailable(MailServerError):
    """The server could not be reached or broke the connection: try again later."""


class AuthenticationFailed(MailServerError):
    """The server refused our credentials: the settings must be fixed."""


class FolderMissing(MailServerError):
    """A folder the settings name does not exist on the server."""
