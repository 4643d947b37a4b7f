"""The cloud folder's queue on the web desk: each file's state on its ticket page, counts in /healthz."""
from __future__ import annotations

from kpudesk.tickets import mirror
from kpudesk.tickets.models import Ticket
from kpudesk.tickets.poll_log import record_poll
from tests.corpus.hostile import party_mail
from tests.web_fixtures import WebDesk, web_fixture  # noqa: F401 - the `web` fixture


def test_a_tickets_files_show_their_cloud_state_and_healthz_counts_them(web: WebDesk):
    web.feeder.deliver(party_mail("lia@pdip.example.org", "Foto konsultasi", "Ini fotonya"))
    (t,) = Ticket.select()
    record_poll(web.clock.now())
    now, zone = web.clock.now(), web.settings.zone
    a = mirror.enqueue(path="doc/a", sha256="a" * 64, size=3, name="tanda tangan.png", now=now, zone=zone,
                       ticket=t, ticket_ref="HD-MSJ #1")
    b = mirror.enqueue(path="doc/b", sha256="b" * 64, size=3, name="<script>x</script>.jpg", now=now, zone=zone,
                       ticket=t, ticket_ref="HD-MSJ #1")
    mirror.enqueue(path="doc/c", sha256="c" * 64, size=3, name="lain.pdf", now=now, zone=zone, kind="laporan")
    web.login(web.email("anggota-helpdesk"))
    page = web.client.get(f"/tickets/{t.id}").get_data(as_text=True)
    section = page[page.index('id="folder-awan"'):].split("</section>")[0]
    assert section.count('data-mirror-status="pending"') == 2 and "menunggu diunggah" in section
    assert "tanda-tangan.png" in section and "<script>" not in section and "lain.pdf" not in section
    health = web.client.get("/healthz").get_json()
    assert (health["mirror_pending"], health["mirror_failed"]) == (3, 0)
    mirror.mark_stored(a.id, now)
    mirror.mark_permanent(b.id, now, "ditolak folder awan (galat fatal, kode rclone 7): <b>account suspended</b>")
    page = web.client.get(f"/tickets/{t.id}").get_data(as_text=True)
    section = page[page.index('id="folder-awan"'):].split("</section>")[0]
    assert 'data-mirror-status="stored"' in section and "tersimpan di folder awan" in section
    assert 'data-mirror-status="failed"' in section and 'role="alert">ditolak folder awan (galat fatal' in section
    assert "&lt;b&gt;account suspended&lt;/b&gt;" in section  # the remote's words are text, never markup
    health = web.client.get("/healthz").get_json()
    assert (health["mirror_pending"], health["mirror_failed"]) == (1, 1)


def test_a_ticket_without_files_has_no_cloud_section(web: WebDesk):
    web.feeder.deliver(party_mail("lia@pdip.example.org", "Akun Sipol", "Akun terkunci"))
    (t,) = Ticket.select()
    web.login(web.email("anggota-helpdesk"))
    assert 'id="folder-awan"' not in web.client.get(f"/tickets/{t.id}").get_data(as_text=True)
