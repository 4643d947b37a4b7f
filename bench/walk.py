"""The walk of one message: `kpudesk poll` → `kpudesk send` → the acknowledgement at the SMTP server.

Counts how much of kpudesk one ordinary party question crosses on its way to a sent
acknowledgement — a readability figure (issue 13), not a timing one:

- files: the kpudesk modules whose code ran;
- functions: the kpudesk functions that ran;
- cross-package edges: distinct (caller function → callee function) pairs where the caller
  and the callee live in different packages (daemon / tickets / mailbox); each is a jump a
  reader makes between packages to follow the message.

Runs in-process against a throw-away Dovecot and an aiosmtpd sink on 127.0.0.1, with the
settings the tests use (tests/desk.py). The same script measures an older tree when run by
that tree's interpreter (a venv with that version installed):

    python bench/walk.py [--json] [--list]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.* helpers of this tree

from aiosmtpd.controller import Controller  # noqa: E402

import kpudesk.daemon.cli as cli  # noqa: E402 - the tree under test: this interpreter's kpudesk

from tests.corpus.hostile import party_mail  # noqa: E402
from tests.desk import settings_text  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402

PACKAGES = ("daemon", "tickets", "mailbox")


class _Sink:
    """The SMTP server's end: every message it accepted."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.received.append(envelope.original_content or envelope.content)
        return "250 OK"


class _Walk:
    """A profile hook recording kpudesk functions and the cross-package calls between them."""

    def __init__(self, root: Path) -> None:
        self.root = str(root) + os.sep
        self.functions: set[tuple[str, str]] = set()
        self.edges: set[tuple[tuple[str, str], tuple[str, str]]] = set()

    def _where(self, frame) -> tuple[str, str] | None:
        path = frame.f_code.co_filename
        if not path.startswith(self.root):
            return None
        rel = path[len(self.root):]
        if rel.split(os.sep, 1)[0] not in PACKAGES:
            return None
        return rel, frame.f_code.co_qualname

    def hook(self, frame, event, arg) -> None:
        if event != "call":
            return
        callee = self._where(frame)
        if callee is None:
            return
        self.functions.add(callee)
        caller_frame = frame.f_back
        while caller_frame is not None:  # the nearest kpudesk caller (library frames skipped)
            caller = self._where(caller_frame)
            if caller is not None:
                if caller[0].split(os.sep, 1)[0] != callee[0].split(os.sep, 1)[0]:
                    self.edges.add((caller, callee))
                return
            caller_frame = caller_frame.f_back

    @property
    def files(self) -> set[str]:
        return {f for f, _ in self.functions}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--list", action="store_true", help="also list the files and the cross-package edges")
    args = ap.parse_args()


    pkg_root = Path(cli.__file__).resolve().parents[1]
    server = Dovecot()
    sink = _Sink()
    with socket.socket() as probe:  # a free port: aiosmtpd's start-up check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    work = Path(tempfile.mkdtemp(prefix="kpd-walk-"))
    cwd = os.getcwd()
    try:
        server.start()
        user = server.new_user()
        user.append("INBOX", party_mail("liaison@pkb.example", "Cara unggah KTA di Sipol",
                                        "Selamat pagi, bagaimana cara mengunggah KTA anggota di Sipol? "
                                        "Terima kasih. Budi, PKB Mesuji"))
        controller.start()
        smtp = type("Smtp", (), {"host": "127.0.0.1", "port": smtp_port})
        (work / "settings.toml").write_text(settings_text(user, smtp=smtp), encoding="utf-8")
        os.environ["KPUDESK_TEST_IMAP_PASSWORD"] = user.password
        os.chdir(work)
        walk = _Walk(pkg_root)
        threading.setprofile(walk.hook)
        sys.setprofile(walk.hook)
        try:
            rc_poll = cli.main(["--config", "settings.toml", "poll"])
            rc_send = cli.main(["--config", "settings.toml", "send"])
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
        if rc_poll or rc_send or len(sink.received) != 1:
            print(f"walk failed: poll {rc_poll}, send {rc_send}, {len(sink.received)} mail(s) at the SMTP server",
                  file=sys.stderr)
            return 1
    finally:
        os.chdir(cwd)
        controller.stop()
        server.stop()

    by_pkg = {p: len({f for f in walk.files if f.split(os.sep, 1)[0] == p}) for p in PACKAGES}
    figures = {"files": len(walk.files), "files_by_package": by_pkg, "functions": len(walk.functions),
               "cross_package_edges": len(walk.edges)}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"one message, poll → send → 1 acknowledgement at the SMTP server ({pkg_root}):")
        print(f"  files {figures['files']} ({', '.join(f'{p} {n}' for p, n in by_pkg.items())}), "
              f"functions {figures['functions']}, cross-package edges {figures['cross_package_edges']}")
    if args.list:
        for f in sorted(walk.files):
            print("  file", f)
        for (a, fa), (b, fb) in sorted(walk.edges):
            print(f"  edge {a}:{fa} -> {b}:{fb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
