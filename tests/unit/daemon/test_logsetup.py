"""Logging set-up: lines go to the stderr of the moment they are written."""
from __future__ import annotations

import contextlib
import io
import logging

from kpudesk.daemon.logsetup import configure_logging


def test_a_line_logged_after_a_redirected_command_ended_is_printed_not_lost(capsys):
    # A command run in-process (tests, the demo) configures logging while its stderr is a
    # redirect; a server thread then logs after that stream is closed.
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        configure_logging("WARNING")
    buf.close()
    logging.getLogger("mail.log").warning("late line from a server thread")
    err = capsys.readouterr().err
    assert "late line from a server thread" in err
    assert "Logging error" not in err
