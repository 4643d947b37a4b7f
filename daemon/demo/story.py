"""The demo's story: ten steps of one helpdesk day, each run through the real CLI and checked.

`Story` calls ``kpudesk.daemon.cli.main`` in this process, exactly as an officer would type the
commands, delivers the parties' mails to the demo IMAP server, reads what the demo SMTP server
accepted, and raises `DemoFailed` (with an Indonesian message) as soon as a step does not go as
the story expects.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from .content import (
    AHMAD, ANGGOTA, ANGGOTA_REPLY, BUDI, BUDI_FOLLOWUP, PARTY_MAILS, PROGRESS_ROWS, PROMO, PROVINSI,
    PROVINSI_ACK, PROVINSI_ANSWER, PROVINSI_NUMBER, RELAY, RINA, SITI, WAYAN, WAYAN_ANSWER, ZONE, _mail,
    dashboard_png, progress_csv,
)
from .servers import DemoFailed, DemoImapServer, DemoSmtpServer, Received

TOTAL_STEPS = 10


def expect(condition: Any, what: str) -> None:
    if not condition:
        raise DemoFailed(what)


@contextlib.contextmanager
def _piped_stdin(text: str | None):
    """sys.stdin as a pipe holding `text` (None: leave stdin alone)."""
    if text is None:
        yield
        return
    saved, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


@dataclass
class CliResult:
    code: int
    out: str
    err: str


class Story:
    def __init__(self, folder: Path, out: TextIO, imap: DemoImapServer, smtp: DemoSmtpServer) -> None:
        self.folder, self.out, self.imap, self.smtp = folder, out, imap, smtp
        self.settings = folder / "settings.toml"
        self.step_no = 0
        self.step_title = "persiapan"
        self.delivered = 0
        self.tickets: dict[str, dict] = {}   # story key -> ticket summary
        self.reports: list[Path] = []
        self.recap_date: date | None = None
        self.started_on = datetime.now(ZONE).date()

    # output
    def step(self, title: str) -> None:
        self.step_no += 1
        self.step_title = title
        print(f"\n[{self.step_no}/{TOTAL_STEPS}] {title}", file=self.out)

    def say(self, text: str = "") -> None:
        print(f"  {text}" if text else "", file=self.out)

    def cmd(self, args: tuple[str, ...]) -> None:
        prefix = f"{self.folder}{os.sep}"
        words = []
        for a in args:
            if a == "--json":
                continue
            a = a.replace(prefix, "")
            if len(a) > 60:  # long --message texts: the start is enough on screen
                a = a[:57].rstrip() + "..."
            words.append(a if a and " " not in a and '"' not in a and "\n" not in a
                         else json.dumps(a, ensure_ascii=False))
        shown = " ".join(words)
        print(f"  $ kpudesk {shown}", file=self.out)

    def show(self, text: str) -> None:
        for line in text.rstrip("\n").splitlines():
            print(f"    | {line}", file=self.out)

    # the CLI, in this process
    def run(self, *args: str, quiet: bool = False, stdin: str | None = None) -> CliResult:
        """`kpudesk ARGS` in this process; `stdin` is what a pipe would give it (e.g. a password)."""
        from ..cli import main  # noqa: PLC0415 - lazy: cli → commands → mail → demo; the demo calls the CLI back

        if not quiet:
            self.cmd(args)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _piped_stdin(stdin):
            try:
                code = main(["--config", str(self.settings), *args])
            except SystemExit as exc:
                code = int(exc.code or 0)
        r = CliResult(code, out.getvalue(), err.getvalue())
        expect(r.code == 0, f"`kpudesk {' '.join(args)}` keluar dengan kode {r.code}: {r.err.strip() or r.out.strip()}")
        return r

    def json(self, *args: str, quiet: bool = False) -> Any:
        r = self.run(*args, "--json", quiet=quiet)
        try:
            return json.loads(r.out)
        except ValueError:
            raise DemoFailed(f"`kpudesk {' '.join(args)} --json` tidak mengeluarkan JSON: {r.out[:200]!r}") from None

    def deliver(self, folder: str, raw: bytes) -> None:
        self.imap.deliver(folder, raw)
        self.delivered += 1
        inbox = self.folder / "masuk"
        inbox.mkdir(exist_ok=True)
        (inbox / f"{self.delivered:03d}-{folder.lower()}.eml").write_bytes(raw)

    def poll(self, **expected: int) -> dict:
        stats = self.json("poll")
        for key, value in expected.items():
            expect(stats.get(key) == value, f"poll: {key} diharapkan {value}, ternyata {stats.get(key)} ({stats})")
        return stats

    def send(self, expected: int) -> list[Received]:
        before = len(self.smtp.messages)
        stats = self.json("send")
        expect(stats["sent"] == expected and stats["pending"] == 0 and stats["failed"] == 0,
               f"send: diharapkan {expected} surel terkirim dan antrean kosong, ternyata {stats}")
        got = self.smtp.since(before)
        expect(len(got) == expected, f"server SMTP menerima {len(got)} surel, diharapkan {expected}")
        return got

    def ticket(self, key: str) -> dict:
        return self.json("tickets", "show", str(self.tickets[key]["id"]), quiet=True)

    def to(self, received: list[Received], addr: str) -> list[Received]:
        return [r for r in received if addr in r.rcpt_tos]

    # -----------------------------------------------------------------------------------

    def play(self) -> None:
        self.prepare()
        self.arrive()
        self.first_poll()
        self.acknowledgements()
        self.answers()
        self.escalate_anggota()
        self.escalate_provinsi()
        self.party_reply()
        self.progress()
        self.reports_step()

    def prepare(self) -> None:
        self.step("Menyiapkan folder demo dan server surel lokal (hanya 127.0.0.1)")
        self.say(f"Folder demo : {self.folder}")
        self.say(f"Server IMAP : {self.imap.host}:{self.imap.port} (pymap, kotak surat di memori; "
                 f"folder INBOX dan Spam)")
        self.say(f"Server SMTP : {self.smtp.host}:{self.smtp.port} (aiosmtpd; tiap surel yang diterima "
                 f"disimpan di terkirim/NNN.eml)")
        self.say("Ditulis     : settings.toml, parties-local.toml (alamat LO partai), imap-password")
        self.say("Semua alamat memakai domain contoh (example.org); tidak ada surel yang keluar dari komputer ini.")
        r = self.run("check")
        self.show(r.out)
        expect("login berhasil" in r.out, "`kpudesk check` tidak melaporkan login IMAP yang berhasil")

    def arrive(self) -> None:
        self.step("Surel partai masuk ke kotak surat helpdesk")
        for m in PARTY_MAILS:
            frm = f"{m.name} <{m.sender}>"
            verdict = "spf=softfail dkim=none dmarc=fail" if m.key == "promo" else "dmarc=pass"
            self.deliver(m.folder, _mail(frm, m.subject, m.body, verdict=verdict))
            where = "INBOX" if m.folder == "INBOX" else "Spam "
            note = f"  [{m.note}]" if m.note else ""
            self.say(f"{where} <- {frm}: \u201c{m.subject}\u201d{note}")
        self.say(f"{len(PARTY_MAILS)} surel dikirim ke server IMAP (APPEND), salinannya di masuk/.")

    def first_poll(self) -> None:
        self.step("kpudesk poll: surel menjadi tiket (INBOX lalu Spam)")
        stats = self.poll(fetched=5, tickets_created=3, spam_rescued=0, spam_held=2, quarantined=0)
        self.say(f"Diambil {stats['fetched']} surel: {stats['tickets_created']} tiket baru, "
                 f"{stats['spam_held']} ditahan di folder Spam (tidak ada yang dibalas).")
        # The SOP: officers check the spam folder too. A new mail is never rescued from
        # spam by its From: line alone (anyone can write one): an officer releases it.
        held = self.json("spam", "list", quiet=True)
        expect(sorted(h["from"] for h in held) == sorted([WAYAN, PROMO]), f"spam yang ditahan: {held}")
        (wayan_held,) = [h for h in held if h["from"] == WAYAN]
        r = self.run("spam", "release", str(wayan_held["id"]), "--as", RINA)
        self.show(r.out)
        self.say(f"Petugas memeriksa folder Spam: surel LO NasDem dilepas menjadi tiket; {PROMO} tetap ditahan.")
        listing = self.json("tickets", "list", quiet=True)
        by_requester = {t["requester"]: t for t in listing}
        for m in PARTY_MAILS:
            if m.key != "promo":
                expect(m.sender in by_requester, f"tidak ada tiket untuk {m.sender}")
                self.tickets[m.key] = by_requester[m.sender]
        expect(len(listing) == 4, f"diharapkan 4 tiket, ternyata {len(listing)}")
        for m in PARTY_MAILS:
            t = self.tickets.get(m.key)
            if t is None:
                continue
            expect(t["status"] == "baru", f"{t['ref']}: status {t['status']}, diharapkan baru")
            faq = t["flags"].get("faq") or []
            hint = "tidak ada di FAQ" if t["flags"].get("faq_miss") else f"saran FAQ {faq[0]['id']}" if faq else ""
            extra = ", dari folder Spam" if t.get("from_spam") else ""
            self.say(f"  tiket baru {t['ref']}  {t['party'] or '-':<9} {m.name:<15} \u201c{t['subject']}\u201d "
                     f"({hint}{extra})")
        expect(self.tickets["wayan"]["party"] == "NasDem" and self.tickets["wayan"]["from_spam"],
               "surel LO NasDem yang dilepas dari Spam seharusnya menjadi tiket dan dikenali partainya")
        expect(self.tickets["dedi"]["party"] == "Gerindra", "LO Gerindra terdaftar seharusnya dikenali partainya")
        held = self.json("spam", "list")
        expect([h["from"] for h in held] == [PROMO], f"spam yang ditahan: {[h['from'] for h in held]}")
        self.say(f"1 spam ditahan (tanpa tiket, tanpa balasan): {PROMO}")

    def acknowledgements(self) -> None:
        self.step("kpudesk send: tanda terima untuk setiap tiket baru")
        got = self.send(4)
        for key, t in self.tickets.items():
            acks = self.to(got, t["requester"])
            expect(len(acks) == 1, f"{t['ref']}: diharapkan 1 tanda terima, ternyata {len(acks)}")
            ack = acks[0].message
            expect(ack["Auto-Submitted"] == "auto-replied" and t["ref"] in str(ack["Subject"]),
                   f"{t['ref']}: tanda terima tanpa Auto-Submitted atau tanpa nomor tiket di subjek")
            self.say(f"  {acks[0].path.name} -> {t['requester']}: \u201c{ack['Subject']}\u201d")
        expect(not self.to(self.smtp.messages, PROMO), "spam yang ditahan tidak boleh dibalas")
        self.say("4 tanda terima terkirim (satu per tiket baru); spam tidak dibalas.")

    def answers(self) -> None:
        self.step("Petugas menjawab: dari FAQ Sipol, dan satu jawaban langsung lalu ditutup")
        budi = self.tickets["budi"]
        shown = self.ticket("budi")
        self.cmd(("tickets", "show", str(budi["id"])))
        expect(shown["faq_covered"] and shown["faq_suggestions"],
               f"{budi['ref']}: pertanyaan ini seharusnya ada di FAQ Sipol")
        top = shown["faq_suggestions"][0]
        self.say(f"Saran FAQ teratas untuk {budi['ref']}: {top['id']} (skor {top['score']:.2f}) "
                 f"\u201c{top['question']}\u201d")
        self.run("tickets", "reply", str(budi["id"]), "--faq", top["id"], "--as", RINA,
                 "--message", "Terima kasih atas pertanyaannya, Pak Budi. Berikut jawaban dari FAQ Sipol:")
        wayan = self.tickets["wayan"]
        self.run("tickets", "reply", str(wayan["id"]), "--as", RINA, "--message", WAYAN_ANSWER)
        self.run("tickets", "close", str(wayan["id"]), "--as", RINA,
                 "--reason", "LO mengonfirmasi lewat telepon bahwa unggahan berhasil")
        got = self.send(2)
        (answer,) = self.to(got, BUDI)
        expect(answer.message["Auto-Submitted"] is None, "jawaban petugas tidak boleh bertanda Auto-Submitted")
        text = answer.message.get_body(("plain",)).get_content()
        expect(top["id"] in text, f"jawaban {budi['ref']} seharusnya menyebut entri FAQ {top['id']}")
        self.budi_answer_id = answer.message["Message-ID"]
        expect(self.ticket("budi")["status"] == "dijawab", f"{budi['ref']} seharusnya berstatus dijawab")
        expect(self.ticket("wayan")["status"] == "selesai", f"{wayan['ref']} seharusnya berstatus selesai")
        self.say(f"Jawaban {budi['ref']} ({answer.path.name}) dan {wayan['ref']} terkirim; "
                 f"status: {budi['ref']} dijawab, {wayan['ref']} selesai.")

    def escalate_anggota(self) -> None:
        self.step("Pertanyaan di luar FAQ: eskalasi ke Anggota KPU Kabupaten")
        siti = self.tickets["siti"]
        expect(siti["flags"].get("faq_miss"), f"{siti['ref']}: seharusnya tidak ada di FAQ Sipol")
        self.say(f"{siti['ref']} \u201c{siti['subject']}\u201d: tidak ada di FAQ Sipol -> eskalasi (SOP).")
        self.run("tickets", "escalate", str(siti["id"]), "--to", "anggota", "--as", RINA,
                 "--message", "Mohon arahan: pengurus partai diangkat menjadi perangkat desa.")
        expect(self.ticket("siti")["status"] == "eskalasi-anggota", "status seharusnya eskalasi-anggota")
        got = self.send(1)
        (esc,) = self.to(got, ANGGOTA)
        self.say(f"Surel eskalasi ke {ANGGOTA} ({esc.path.name}): \u201c{esc.message['Subject']}\u201d")
        # The member answers from Outlook: "RE:" and our Message-ID in In-Reply-To.
        self.deliver("INBOX", _mail(f"Hendra Saputra <{ANGGOTA}>", f"RE: {esc.message['Subject']}", ANGGOTA_REPLY,
                                    in_reply_to=esc.message["Message-ID"], references=esc.message["Message-ID"]))
        self.say("Anggota KPU membalas (In-Reply-To = Message-ID surel eskalasi kita).")
        self.poll(fetched=1, tickets_created=0, messages_added=1)
        shown = self.ticket("siti")
        internal = [m for m in shown["messages"] if m["direction"] == "internal" and m["from"] == ANGGOTA]
        expect(len(internal) == 1 and shown["flags"].get("escalation_answer") == "anggota",
               "balasan Anggota KPU seharusnya masuk ke tiket yang sama sebagai pesan internal")
        self.say(f"Balasan Anggota masuk ke {siti['ref']} sebagai pesan internal (tidak diteruskan otomatis "
                 f"ke partai); status kembali \u201c{shown['status']}\u201d: tiket menunggu tindak lanjut petugas.")

    def escalate_provinsi(self) -> None:
        self.step("Eskalasi ke KPU Provinsi, jawaban Provinsi, dan petugas meneruskannya")
        siti = self.tickets["siti"]
        self.run("tickets", "escalate", str(siti["id"]), "--to", "provinsi", "--as", AHMAD,
                 "--message", "Mohon petunjuk KPU Provinsi atas pertanyaan berikut.")
        expect(self.ticket("siti")["status"] == "eskalasi-provinsi", "status seharusnya eskalasi-provinsi")
        got = self.send(2)
        (esc,) = self.to(got, PROVINSI)
        (notice,) = self.to(got, SITI)
        self.say(f"Eskalasi oleh {AHMAD} (peran anggota-kpu) ke {PROVINSI} ({esc.path.name}); "
                 f"pemberitahuan singkat ke partai ({notice.path.name}).")
        self.deliver("INBOX", _mail(f"Helpdesk KPU Provinsi Lampung <{PROVINSI}>",
                                    f"[Tiket#{PROVINSI_NUMBER}] RE: {esc.message['Subject']}", PROVINSI_ACK,
                                    in_reply_to=esc.message["Message-ID"]))
        self.poll(fetched=1, tickets_created=0, messages_added=1)
        shown = self.ticket("siti")
        prov = [e for e in shown["escalations"] if e["to"] == "provinsi"]
        expect(prov and prov[0]["external_ref"] == PROVINSI_NUMBER,
               f"nomor tiket Provinsi {PROVINSI_NUMBER} seharusnya tercatat pada eskalasi")
        self.say(f"Provinsi membalas dengan nomor tiketnya sendiri [Tiket#{PROVINSI_NUMBER}]; nomor itu dicatat.")
        # The final answer carries only the Provinsi's number: no In-Reply-To, no [HD-MSJ #n].
        self.deliver("INBOX", _mail(f"Helpdesk KPU Provinsi Lampung <{PROVINSI}>",
                                    f"[Tiket#{PROVINSI_NUMBER}] Jawaban: pengurus merangkap perangkat desa",
                                    PROVINSI_ANSWER + "\n\nHelpdesk KPU Provinsi Lampung\n"))
        self.poll(fetched=1, tickets_created=0, messages_added=1)
        shown = self.ticket("siti")
        expect(any(PROVINSI_ANSWER[:40] in m["text"] for m in shown["messages"] if m["direction"] == "internal"),
               "jawaban Provinsi seharusnya masuk ke tiket lewat nomor tiket Provinsi")
        expect(shown["flags"].get("escalation_answer") == "provinsi", "tiket seharusnya ditandai: jawaban Provinsi diterima")
        self.say(f"Jawaban Provinsi (hanya membawa [Tiket#{PROVINSI_NUMBER}]) masuk ke {siti['ref']}.")
        self.run("tickets", "reply", str(siti["id"]), "--as", RINA, "--message", RELAY)
        got = self.send(1)
        (relay,) = self.to(got, SITI)
        expect(self.ticket("siti")["status"] == "dijawab", f"{siti['ref']} seharusnya berstatus dijawab")
        self.say(f"Jawaban diteruskan ke {SITI} ({relay.path.name}); status {siti['ref']}: dijawab.")

    def party_reply(self) -> None:
        self.step("Partai membalas jawaban: tiket dibuka kembali")
        budi = self.tickets["budi"]
        self.deliver("INBOX", _mail(f"Budi Santoso <{BUDI}>", f"Re: [{budi['ref']}] {budi['subject']}", BUDI_FOLLOWUP,
                                    in_reply_to=self.budi_answer_id, references=self.budi_answer_id))
        self.poll(fetched=1, tickets_created=0, messages_added=1)
        shown = self.ticket("budi")
        expect(shown["status"] == "baru", f"{budi['ref']}: status {shown['status']}, diharapkan baru (dibuka kembali)")
        expect(any(e["kind"] == "ticket.reopened" for e in shown["events"]),
               f"{budi['ref']}: riwayat seharusnya mencatat ticket.reopened")
        self.say(f"Balasan Budi masuk ke {budi['ref']} (bukan tiket baru); status dijawab -> baru, "
                 f"kembali ke antrean petugas.")

    def progress(self) -> None:
        self.step("Impor progres pengisian data Sipol (CSV + tangkapan layar dasbor)")
        csv_path = self.folder / "progres-sipol.csv"
        png_path = self.folder / "dasbor-sipol.png"
        csv_path.write_text(progress_csv(datetime.now(ZONE) - timedelta(minutes=15)), encoding="utf-8")
        png_path.write_bytes(dashboard_png())
        self.say(f"Ditulis: {csv_path.name} ({len(PROGRESS_ROWS)} partai, format docs/progress-csv.md) "
                 f"dan {png_path.name}")
        imp = self.json("progress", "import", str(csv_path), "--evidence", str(png_path), "--as", RINA)
        expect(imp["rows"] == len(PROGRESS_ROWS) and len(imp["evidence"]) == 1,
               f"impor progres: {imp['rows']} baris dan {len(imp['evidence'])} bukti, diharapkan "
               f"{len(PROGRESS_ROWS)} dan 1")
        self.say(f"Impor progres #{imp['id']}: {imp['rows']} partai, 1 bukti ({imp['evidence'][0]['size']} bita, "
                 f"sha256 {imp['evidence'][0]['sha256'][:12]}...).")

    def reports_step(self) -> None:
        self.step("Laporan progres Sipol dan rekapitulasi harian")
        p = self.json("report", "progress", "--send")
        r = self.json("report", "recap", "--send")
        got = self.send(2)
        out_dir = self.folder / "laporan"
        out_dir.mkdir(exist_ok=True)
        for item, name in ((p, "progres"), (r, "rekap")):
            matches = [g for g in got if str(g.message["Subject"]) == item["subject"]]
            expect(len(matches) == 1, f"laporan \u201c{item['subject']}\u201d tidak sampai di server SMTP")
            msg = matches[0].message
            text = msg.get_body(("plain",))
            html = msg.get_body(("html",))
            expect(text is not None and html is not None, f"laporan {name} seharusnya berisi teks dan HTML")
            (out_dir / f"{name}.txt").write_text(text.get_content(), encoding="utf-8")
            (out_dir / f"{name}.html").write_text(html.get_content(), encoding="utf-8")
            self.reports += [out_dir / f"{name}.txt", out_dir / f"{name}.html"]
            attached = [a.get_filename() for a in msg.iter_attachments() if a.get_filename()]
            extra = f"; lampiran: {', '.join(attached)}" if attached else ""
            self.say(f"{matches[0].path.name} -> {', '.join(item['to'])}: \u201c{item['subject']}\u201d{extra}")
            if name == "progres":
                expect("dasbor-sipol.png" in attached, "laporan progres seharusnya melampirkan bukti dasbor")
        self.recap_date = datetime.now(ZONE).date()
        recap = self.json("report", "recap", "--date", self.recap_date.isoformat(), quiet=True)
        t = recap["totals"]
        self.say(f"Rekap hari ini: {t['new']} tiket baru, {t['answered']} tiket dijawab, {t['escalated']} "
                 f"dieskalasi, {t['closed']} selesai, {t['reopened']} dibuka kembali.")
        if self.recap_date == self.started_on:  # a demo that runs across midnight WIB splits its day
            expect(t["new"] == 4 and t["escalated"] == 1 and t["closed"] == 1 and t["reopened"] == 1,
                   f"rekap: angka tidak sesuai cerita demo: {t}")
        self.say("Laporan juga disimpan sebagai teks dan HTML di laporan/.")
