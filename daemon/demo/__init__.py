"""`kpudesk demo`: the helpdesk's whole loop on this computer, with no mail server and no settings.

A new user runs ``pip install .`` and then ``kpudesk demo``. The demo makes a folder (a new
temporary one, or ``--dir``), writes a ``settings.toml`` there, starts a real IMAP server and a
real SMTP server in this process, bound to 127.0.0.1 only, and plays one working day of the
Mesuji helpdesk through the same CLI functions an officer uses (``kpudesk.daemon.cli.main``):
party mails arrive in the inbox and in the spam folder, ``poll`` turns them into tickets,
``send`` delivers the acknowledgements, an officer answers from the FAQ Sipol, a question that
is not in the FAQ goes to the commission member and then to the KPU Provinsi and the answers
thread back, a Sipol progress snapshot is imported with its evidence screenshot, the progress
report and the daily recap go out, and a party's reply reopens its answered ticket. Every step
checks what it expects (the demo tests its own story) and prints, in Indonesian, what happened.
Then it gives four demo officers (helpdesk officer, daily coordinator, Anggota KPU, chair) a
web-desk password (``demo-<role>``) and, unless ``--no-web``, serves the officers' web desk on
127.0.0.1 (a free port, or ``--listen``, loopback only) with the mail servers still up, prints
the URL and the logins, and waits for Ctrl+C, so the newcomer can click through the same day.

Everything is written under the demo folder, which is kept so the user can look at it:
``settings.toml`` (valid afterwards for ``tickets list``, ``tickets show``, ``spam list``,
``report recap``), ``state/`` (the database and the archive), ``masuk/`` (the mails the parties
"sent"), ``terkirim/`` (every mail the SMTP server accepted, ``NNN.eml``) and ``laporan/`` (the
reports as text and HTML). ``--cleanup`` deletes the folder at the end.

The package: `servers` (the IMAP and SMTP servers), `content` (the mails, texts and settings the
story uses), `story` (the ten checked steps), `desk` (the logins and the web desk), `run`
(`run_demo`: folder, servers, story, summary, desk).
"""
from .desk import loopback_listen
from .run import run_demo

__all__ = ["loopback_listen", "run_demo"]
