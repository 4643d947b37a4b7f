"""`kpudesk demo`: the zero-setup end-to-end demonstration, run as a new user would run it.

The demo needs no Dovecot, no settings file and no root: it starts its own IMAP (pymap) and
SMTP (aiosmtpd) servers on 127.0.0.1 and writes only under its folder.
"""
from __future__ import annotations

import email
import email.policy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kpudesk.daemon.config import load_settings
from kpudesk.daemon.demo import run_demo
from kpudesk.daemon.demo.content import BUDI, DEDI, HELPDESK, PROMO, SITI, WAYAN, _mail
from kpudesk.daemon.demo.servers import HOST, DemoImapServer, DemoSmtpServer

STEP_WORDS = ("tiket baru", "tanda terima", "jawaban", "eskalasi", "provinsi", "progres", "rekap", "spam")


def clean_env(tmp_path: Path) -> dict[str, str]:
    """The caller's environment without any kpudesk settings; HOME and TMPDIR are empty folders we watch."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPUDESK_") and k not in ("VISUAL", "EDITOR")}
    for name in ("home", "tmp"):
        (tmp_path / name).mkdir()
    env.update(HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "tmp"))
    return env


def kpudesk(*args: str, cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kpudesk.daemon", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One run of `kpudesk demo --dir demo --no-web` in an empty working folder, shared by the checks below
    (the web desk the demo serves by default: tests/e2e/test_demo_web.py)."""
    root = tmp_path_factory.mktemp("demo")
    cwd = root / "cwd"
    cwd.mkdir()
    env = clean_env(root)
    r = kpudesk("demo", "--dir", "demo", "--no-web", cwd=cwd, env=env)
    return root, cwd, env, r


def test_demo_exits_0_and_tells_every_step(demo):
    root, cwd, _env, r = demo
    assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    out = r.stdout.lower()
    for word in STEP_WORDS:
        assert word in out, f"the demo output never mentions {word!r}"
    assert "[10/10]" in r.stdout and "GAGAL" not in r.stdout
    folder = cwd / "demo"
    assert f"Lihat hasilnya di: {folder}" in r.stdout
    assert f"kpudesk --config {folder / 'settings.toml'} tickets list" in r.stdout
    assert "spam list" in r.stdout and "report recap --date " in r.stdout
    assert r.stderr == ""


def test_demo_writes_nothing_outside_its_folder(demo):
    root, cwd, _env, r = demo
    assert r.returncode == 0, r.stdout + r.stderr
    assert [p.name for p in cwd.iterdir()] == ["demo"]
    assert list((root / "home").iterdir()) == []
    assert list((root / "tmp").iterdir()) == []


def test_the_settings_it_wrote_are_valid_and_loopback_only(demo):
    _root, cwd, _env, r = demo
    assert r.returncode == 0, r.stdout + r.stderr
    folder = cwd / "demo"
    s = load_settings(folder / "settings.toml")
    assert s.helpdesk.address == HELPDESK
    assert (s.imap.host, s.imap.security, s.smtp.host, s.smtp.security) == (HOST, "none", HOST, "none")
    assert s.imap.password.file == folder / "imap-password" and s.imap.password.env is None
    assert s.database_url == f"sqlite:///{folder / 'state' / 'kpudesk.db'}"
    assert s.storage_dir == folder / "state"
    assert s.parties_registry == folder / "parties-local.toml"
    assert s.escalation.anggota and s.escalation.provinsi and s.escalation.provinsi_ticket_pattern
    assert s.reports.progress_to and s.reports.recap_to
    assert sorted(o.role for o in s.officers) == ["anggota-helpdesk", "anggota-kpu", "anggota-kpu", "ketua",
                                                  "koordinator-harian"]


def test_tickets_list_over_the_demo_folder_shows_the_story(demo):
    _root, cwd, env, r = demo
    assert r.returncode == 0, r.stdout + r.stderr
    settings = str(cwd / "demo" / "settings.toml")
    listing = kpudesk("--config", settings, "tickets", "list", "--json", cwd=cwd, env=env)
    assert listing.returncode == 0, listing.stderr
    tickets = {t["requester"]: t for t in json.loads(listing.stdout)}
    assert {k: t["status"] for k, t in tickets.items()} == {
        BUDI: "baru",        # answered from the FAQ, then reopened by the party's reply
        DEDI: "baru",        # still waiting for an officer
        SITI: "dijawab",     # escalated to the member, then the Provinsi; the answer relayed
        WAYAN: "selesai",    # rescued from Spam, answered and closed
    }
    assert tickets[DEDI]["party"] == "Gerindra" and tickets[WAYAN]["party"] == "NasDem"
    assert tickets[WAYAN]["from_spam"] is True
    shown = kpudesk("--config", settings, "tickets", "show", str(tickets[SITI]["id"]), "--json", cwd=cwd, env=env)
    assert shown.returncode == 0, shown.stderr
    esc = {e["to"]: e for e in json.loads(shown.stdout)["escalations"]}
    assert set(esc) == {"anggota", "provinsi"} and esc["provinsi"]["external_ref"] == "7781"
    assert all(e["answered_at"] for e in esc.values())
    held = kpudesk("--config", settings, "spam", "list", "--json", cwd=cwd, env=env)
    assert held.returncode == 0, held.stderr
    assert [h["from"] for h in json.loads(held.stdout)] == [PROMO]
    assert [p.name for p in cwd.iterdir()] == ["demo"]


def test_the_demo_officers_have_web_desk_passwords(demo):
    """Even with --no-web the folder's desk (`kpudesk --config … web`) takes the printed logins."""
    _root, cwd, env, r = demo
    assert r.returncode == 0, r.stdout + r.stderr
    settings = str(cwd / "demo" / "settings.toml")
    listed = kpudesk("--config", settings, "officers", "list", "--json", cwd=cwd, env=env)
    assert listed.returncode == 0, listed.stderr
    has = {o["email"]: (o["role"], o["has_password"]) for o in json.loads(listed.stdout)}
    assert has == {
        "rina.wulandari@kpu-mesuji.example.org": ("anggota-helpdesk", True),
        "ahmad.fauzi@kpu-mesuji.example.org": ("anggota-kpu", False),  # acts in the story only
        "dewi.lestari@kpu-mesuji.example.org": ("koordinator-harian", True),
        "anggota@kpu-mesuji.example.org": ("anggota-kpu", True),     # the Anggota the story escalated to
        "ketua@kpu-mesuji.example.org": ("ketua", True),
    }
    for email, (role, with_password) in has.items():
        if with_password:
            assert re.search(rf"^  {re.escape(email)} +demo-{role} ", r.stdout, re.M), email
    assert "Tekan Ctrl+C" not in r.stdout  # --no-web: the demo did not wait


def test_the_demo_desk_listens_on_loopback_only(tmp_path):
    env = clean_env(tmp_path)
    r = kpudesk("demo", "--dir", "lan", "--listen", "0.0.0.0:8080", cwd=tmp_path, env=env)
    assert r.returncode == 2 and "loopback" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "lan").exists()  # refused before the story started
    both = kpudesk("demo", "--no-web", "--listen", "127.0.0.1:8080", cwd=tmp_path, env=env)
    assert both.returncode == 2 and "tidak boleh dipakai bersama" in both.stderr


def test_sent_mail_folder_and_reports(demo):
    _root, cwd, _env, r = demo
    assert r.returncode == 0, r.stdout + r.stderr
    folder = cwd / "demo"
    sent = sorted((folder / "terkirim").glob("*.eml"))
    assert [p.name for p in sent] == [f"{n:03d}.eml" for n in range(1, 13)]
    msgs = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sent]
    assert all(m["From"].addresses[0].addr_spec == HELPDESK for m in msgs)
    auto = [str(m["Auto-Submitted"] or "") for m in msgs]
    assert auto.count("auto-replied") == 4          # one acknowledgement per new ticket
    assert auto.count("auto-generated") == 2        # the progress report and the recap
    assert not any(PROMO in str(m["To"]) for m in msgs)  # held spam gets no reply
    for name in ("progres.txt", "progres.html", "rekap.txt", "rekap.html"):
        assert (folder / "laporan" / name).stat().st_size > 200, name
    assert "REKAPITULASI HARIAN" in (folder / "laporan" / "rekap.txt").read_text(encoding="utf-8")
    assert len(list((folder / "masuk").glob("*.eml"))) == 9


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path):
    env = clean_env(tmp_path)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "settings.toml").write_text("# someone's\n", encoding="utf-8")
    r = kpudesk("demo", "--dir", "used", "--no-web", cwd=tmp_path, env=env)
    assert r.returncode == 1
    assert "tidak kosong" in r.stdout
    assert [p.name for p in (tmp_path / "used").iterdir()] == ["settings.toml"]


def test_demo_cleanup_removes_its_folder(tmp_path):
    env = clean_env(tmp_path)
    r = kpudesk("demo", "--dir", "sekali", "--cleanup", "--no-web", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dihapus" in r.stdout
    assert not (tmp_path / "sekali").exists()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_demo_servers_bind_loopback_only_and_serve_kpudesk_imap_source(tmp_path):
    """The pymap server speaks what ImapSource needs: LOGIN, LIST, EXAMINE, UID SEARCH, UID FETCH."""
    from kpudesk.mailbox.imap import ImapSource

    imap = DemoImapServer(HELPDESK, "rahasia-uji")
    smtp = DemoSmtpServer(tmp_path / "terkirim")
    try:
        imap.start()
        smtp.start()
        assert [addr[0] for addr in imap.bound] == [HOST]
        assert [addr[0] for addr in smtp.bound] == [HOST]
        imap.create_folder("Spam")
        for n in range(3):
            imap.deliver("INBOX", _mail(f"lo{n}@pkb.example.org", f"Tanya {n}", f"isi {n}"))
        imap.deliver("Spam", _mail("x@spam.example.net", "promo", "klik"))
        with ImapSource(HOST, imap.port, "none", HELPDESK, "rahasia-uji", timeout=10) as src:
            assert src.resolve_spam("Spam") == "Spam"
            st = src.examine("INBOX")
            assert st.exists == 3 and st.uidvalidity > 0 and st.uidnext is not None
            uids = src.uids_above(st, 0)
            assert len(uids) == 3 and uids == sorted(uids)
            assert src.uids_above(st, uids[-1]) == []
            assert src.uids_above(st, uids[0]) == uids[1:]
            fetched = src.fetch("INBOX", st.uidvalidity, uids)
            assert [f.uid for f in fetched] == uids
            assert b"Subject: Tanya 0" in fetched[0].raw and fetched[0].internaldate is not None
            spam = src.examine("Spam")
            assert spam.exists == 1
        # EXAMINE and BODY.PEEK[] changed nothing: the same state on a new connection.
        with ImapSource(HOST, imap.port, "none", HELPDESK, "rahasia-uji", timeout=10) as src:
            assert src.examine("INBOX").exists == 3
    finally:
        imap.stop()
        smtp.stop()


def test_a_step_that_goes_wrong_fails_clearly_and_stops_the_servers(tmp_path, monkeypatch):
    """The demo checks its own story: here the 'real spam' lands in the inbox and becomes a ticket."""
    import dataclasses
    import io
    import socket

    import kpudesk.daemon.demo.story as story_mod
    from kpudesk.tickets.schema import close_database

    mails = tuple(dataclasses.replace(m, folder="INBOX") if m.key == "promo" else m for m in story_mod.PARTY_MAILS)
    monkeypatch.setattr(story_mod, "PARTY_MAILS", mails)  # the story reads its own binding
    out = io.StringIO()
    try:
        code = run_demo(out=out, directory=tmp_path / "demo")
    finally:
        close_database()
    text = out.getvalue()
    assert code == 1
    assert "DEMO GAGAL pada langkah 3" in text and "tickets_created diharapkan 3, ternyata 4" in text
    assert f"Folder demo dibiarkan untuk diperiksa: {tmp_path / 'demo'}" in text
    s = load_settings(tmp_path / "demo" / "settings.toml")
    for port in (s.imap.port, s.smtp.port):
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
            sock.connect((HOST, port))
