"""Where a mail's attachments are kept (tickets/mail_rows.py): a small one in its batch's
pack beside the mail, a large one in a file of its own; both read back byte for byte, with
the digest the row records, before and after the archive is opened again."""
from __future__ import annotations

import hashlib
import os
from email.message import EmailMessage

from kpudesk.tickets.archive import Archive
from kpudesk.tickets.mail_rows import PACKED_ATTACHMENT_MAX
from kpudesk.tickets.models import Attachment
from tests.feeder import HELPDESK, Feeder


def mail_with(n: int, payload: bytes, filename: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"LO {n} <lo{n}@pkb.example.org>"
    msg["To"] = HELPDESK
    msg["Subject"] = f"Berkas {n}"
    msg["Message-ID"] = f"<berkas-{n}@pkb.example.org>"
    msg["Date"] = "Mon, 30 Nov 2026 09:00:00 +0700"
    msg.set_content("Terlampir berkas untuk Sipol.")
    msg.add_attachment(payload, maintype="application", subtype="pdf", filename=filename)
    return msg.as_bytes()


def test_small_attachments_join_the_pack_large_ones_get_a_file_and_both_read_back(tmp_path):
    desk = Feeder(tmp_path)
    small, large = os.urandom(90_000), os.urandom(PACKED_ATTACHMENT_MAX + 1)
    stats = desk.deliver(mail_with(1, small, "kta.pdf"), mail_with(2, large, "sk-kepengurusan.pdf"))
    assert stats.tickets_created == 2
    rows = {a.filename: a for a in Attachment.select()}
    assert rows["kta.pdf"].path.startswith("raw/packs/") and "#" in rows["kta.pdf"].path
    assert rows["sk-kepengurusan.pdf"].path.startswith("att/")
    fresh = Archive(desk.app.archive.root)  # another process's view: from disk only
    for row, data in ((rows["kta.pdf"], small), (rows["sk-kepengurusan.pdf"], large)):
        assert row.sha256 == hashlib.sha256(data).hexdigest() and row.size == len(data)
        assert desk.app.archive.read(row.path) == data == fresh.read(row.path)
        assert fresh.verify(row.path, row.sha256)
