"""The web desk on a big database: the queue `/`, a search `/?q=WORD` and a ticket page
`/tickets/<id>` through Flask's test client, each beside the bare SQL that fetches the same
rows (the floor), measured in the same run; schema v5's index fill on the same database;
peak RSS of the serving process.

    python bench/web.py [--tickets 100000] [--requests 50] [--seed 20261206] [--keep]

1. **Build** (a child process, so its memory is not the server's): a SQLite database of
   `--tickets` tickets and three messages each (the party's question, our acknowledgement,
   then the officer's answer or the party's follow-up), identities and the events the SOP
   timings read, written with bulk `insert_many` in one transaction. Subjects and bodies are
   the FAQ Sipol questions (`/work/shared/faq/faq_sipol.toml`, else the packaged seed) with
   the parties' names (tickets/data/parties.toml) and Indonesian names; dates spread over 60
   days; 10 % baru, 60 % dijawab, 30 % selesai.
2. **Migration v5**: the index is dropped and the version set to 4, then `open_database`
   runs the migration: create the FTS5 table and index every ticket (tickets/search.py, 2,000
   tickets a statement). Its time and the database size before/after are reported.
3. **Serve**: the desk as `kpudesk web` builds it (`build_app` + `create_app`), an officer
   logged in through the login form; `--requests` timed GETs of each page (after 3 warm-up
   requests), p50/p95. Floor: the SQL of the same rows on one plain sqlite3 connection
   (queue: the page's 50 rows and the count; search: the same with the FTS5 match; ticket:
   the ticket, its messages, events and identity), the same number of times.
4. Peak RSS (`resource.getrusage`) of the serving process, and the figures as JSON in
   `bench/out/web.json`.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
FAQ = Path("/work/shared/faq/faq_sipol.toml")
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # Monday 10:00 in Jakarta
OFFICER = {"name": "Rina Wulandari", "email": "rina@kpu-mesuji.example.org", "role": "anggota-helpdesk"}
PASSWORD = "bench-sandi-2026"
FIRST = ["Budi", "Siti", "Agus", "Dewi", "Rina", "Ahmad", "Sri", "Hendra", "Lia", "Joko", "Wati", "Yusuf",
         "Indah", "Bambang", "Fitri", "Eko", "Nur", "Rudi", "Maya", "Taufik"]
LAST = ["Santoso", "Wulandari", "Hidayat", "Lestari", "Gunawan", "Rahayu", "Saputra", "Anggraini", "Pratama",
        "Kusuma", "Nugroho", "Fauzi", "Siregar", "Harahap", "Simanjuntak", "Permata"]
FILLER = ["Mohon arahannya.", "Terima kasih atas bantuannya.", "Kami sudah mencoba beberapa kali namun belum berhasil.",
          "Hal ini mendesak karena tenggat sudah dekat.", "Apakah ada dokumen tambahan yang perlu disiapkan?",
          "Kami dari kepengurusan tingkat kabupaten.", "Sebelumnya kami sudah menghubungi admin DPP."]
ACK = ("Terima kasih, pertanyaan Anda sudah kami terima dengan nomor tiket {ref}. Petugas helpdesk akan menjawab "
       "dalam jam layanan. Mohon lengkapi nama, partai, dan nomor telepon bila belum.")
SEARCHES = ("partai", "verifikasi", "verif", "kta", "keterwakilan perempuan", "pensiun", "santoso")


def settings_dict(root: Path, db_path: Path) -> dict:
    return {
        "helpdesk": {"name": "Helpdesk KPU Kabupaten Mesuji", "address": "helpdesk@kpu-mesuji.example.org",
                     "tag": "HD-MSJ"},
        "imap": {"host": "127.0.0.1", "port": 9, "security": "none", "username": "helpdesk",
                 "password_env": "KPUDESK_BENCH_UNUSED"},
        "smtp": {"host": "127.0.0.1", "port": 9, "security": "none"},
        "database": {"url": f"sqlite:///{db_path}"},
        "storage": {"dir": str(root / "state")},
        "officers": [OFFICER],
    }


# --- 1. build ---------------------------------------------------------------------------


def faq_entries() -> list[dict]:
    path = FAQ if FAQ.exists() else ROOT / "tickets" / "data" / "faq_sipol.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))["faq"]


def build(db_path: Path, n: int, seed: int) -> dict:
    from kpudesk.tickets.models import Event, Identity, Message, Party, Ticket, db  # noqa: PLC0415 - lazy: the child process only
    from kpudesk.tickets.parties import default_registry  # noqa: PLC0415 - lazy: the child process only
    from kpudesk.tickets.schema import close_database, open_database  # noqa: PLC0415 - lazy: the child process only

    rnd = random.Random(seed)
    faq = faq_entries()
    parties = default_registry().parties
    open_database(f"sqlite:///{db_path}")
    started = time.perf_counter()
    with db.atomic():
        Party.insert_many([{"number": p.number, "name": p.name, "short": p.short} for p in parties]).execute()
        party_ids = {row.number: row.id for row in Party.select()}
        tickets, idents, messages, events = [], [], [], []
        mid = 0
        for i in range(1, n + 1):
            p = rnd.choice(parties)
            entry = rnd.choice(faq)
            name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
            email = f"{name.split()[0].lower()}.{i}@{p.short.lower().replace(' ', '')}.example.org"
            created = NOW - timedelta(minutes=rnd.randrange(60 * 24 * 60))
            roll = rnd.random()
            status = "baru" if roll < 0.1 else "dijawab" if roll < 0.7 else "selesai"
            question = entry["question"]
            subject = question.split("?")[0][:70]
            body = (f"Selamat pagi, saya {name} dari {p.name}. {question} "
                    + " ".join(rnd.sample(FILLER, 2)) + f"\nHP: 08{rnd.randrange(10**9, 10**10)}")
            tickets.append({"id": i, "status": status, "subject": subject, "channel": "email", "requester": email,
                            "requester_name": name, "party": party_ids[p.number], "flags": {},
                            "assignee": OFFICER["name"] if status != "baru" else None,
                            "created_at": created, "updated_at": created + timedelta(minutes=30)})
            idents.append({"ticket": i, "name": name, "name_source": "mail", "party": p.name, "party_source": "mail",
                           "email": email, "email_source": "mail"})
            rows = [("in", "normal", "ticket", body, created),
                    ("out", "ack", "sent", ACK.format(ref=f"HD-MSJ #{i}"), created)]
            if status != "baru":
                rows.append(("out", "answer", "sent", entry["answer"], created + timedelta(minutes=25)))
            else:
                rows.append(("in", "normal", "ticket", "Mohon segera dibantu. " + rnd.choice(FILLER),
                             created + timedelta(minutes=10)))
            for direction, kind, disposition, text, at in rows:
                mid += 1
                messages.append({"id": mid, "ticket": i, "direction": direction, "kind": kind,
                                 "disposition": disposition, "identity": f"bench:{mid}", "text": text,
                                 "subject": subject, "from_addr": email if direction == "in" else "helpdesk@kpu-mesuji.example.org",
                                 "date": at, "created_at": at})
            events.append({"ticket": i, "at": created, "actor": email, "kind": "ticket.created", "detail": {}})
            if status != "baru":
                events.append({"ticket": i, "at": created + timedelta(minutes=25), "actor": OFFICER["name"],
                               "kind": "ticket.answered", "detail": {}})
                events.append({"ticket": i, "at": created + timedelta(minutes=25), "actor": OFFICER["name"],
                               "kind": "ticket.status", "detail": {"from": "baru", "to": "dijawab"}})
        for model, rows, size in ((Ticket, tickets, 2000), (Identity, idents, 2000), (Message, messages, 1000),
                                  (Event, events, 2000)):
            for start in range(0, len(rows), size):
                model.insert_many(rows[start:start + size]).execute()
    built = time.perf_counter() - started
    close_database()
    size_before = db_path.stat().st_size
    # schema v5 as an upgrade would run it: a v4 database (no index) opened by this kpudesk
    con = sqlite3.connect(db_path)
    con.execute("drop trigger ticket_fts_gone")
    con.execute("drop table ticket_fts")
    con.execute("update meta set value = '4' where key = 'schema_version'")
    con.commit()
    con.execute("vacuum")
    con.close()
    size_v4 = db_path.stat().st_size
    started = time.perf_counter()
    open_database(f"sqlite:///{db_path}")
    migrated = time.perf_counter() - started
    close_database()
    return {"tickets": n, "messages": mid, "events": len(events), "build_s": round(built, 1),
            "migration_v5_s": round(migrated, 1), "db_mb_v4": round(size_v4 / 1e6, 1),
            "db_mb_v5": round(db_path.stat().st_size / 1e6, 1), "db_mb_built": round(size_before / 1e6, 1),
            "build_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


# --- 3. serve ---------------------------------------------------------------------------


def percentiles(samples: list[float]) -> dict:
    s = sorted(samples)
    return {"p50_ms": round(statistics.median(s) * 1000, 2),
            "p95_ms": round(s[min(len(s) - 1, int(round(0.95 * len(s))) - 1)] * 1000, 2)}


def timed(fn, n: int) -> list[float]:
    for _ in range(3):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def serve(root: Path, db_path: Path, requests: int, seed: int) -> dict:
    from kpudesk.daemon.config import settings_from_dict  # noqa: PLC0415 - lazy: after the build child ran
    from kpudesk.daemon.web.app import create_app  # noqa: PLC0415 - lazy: after the build child ran
    from kpudesk.daemon.wiring import build_app  # noqa: PLC0415 - lazy: after the build child ran
    from kpudesk.tickets import accounts  # noqa: PLC0415 - lazy: after the build child ran
    from kpudesk.tickets.clock import FrozenClock  # noqa: PLC0415 - lazy: after the build child ran
    from kpudesk.tickets.models import OfficerLogin  # noqa: PLC0415 - lazy: after the build child ran

    settings = settings_from_dict(settings_dict(root, db_path), base=root)
    app = build_app(settings, clock=FrozenClock(NOW), create=True)
    OfficerLogin.create(email=OFFICER["email"], password_hash=accounts.hash_password(PASSWORD),
                        password_set_at=NOW, session_epoch=1)
    flask = create_app(app)
    client = flask.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    r = client.post("/login", data={"email": OFFICER["email"], "password": PASSWORD, "csrf_token": token})
    assert r.status_code in (302, 303), r.status_code

    def get(path: str) -> str:
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
        return resp.get_data(as_text=True)

    rnd = random.Random(seed)
    n_tickets = sqlite3.connect(db_path).execute("select max(id) from ticket").fetchone()[0]
    raw = sqlite3.connect(db_path)
    raw.execute("pragma cache_size = -32768")
    results = {}

    queue_page = get("/")
    assert queue_page.count("data-ticket-id=") >= 50
    results["queue"] = percentiles(timed(lambda: get("/"), requests))
    results["queue"]["floor"] = percentiles(timed(lambda: floor_queue(raw), requests))
    for word in SEARCHES:
        page = get(f"/?q={word}")
        shown = page.count("data-ticket-id=")
        results[f"search {word}"] = percentiles(timed(lambda w=word: get(f"/?q={w}"), requests))
        results[f"search {word}"]["floor"] = percentiles(timed(lambda w=word: floor_search(raw, w), requests))
        results[f"search {word}"]["matches"] = floor_search(raw, word)
        results[f"search {word}"]["rows_shown"] = shown
    ids = [rnd.randrange(1, n_tickets + 1) for _ in range(requests + 3)]
    it = iter(ids)
    results["ticket"] = percentiles(timed(lambda: get(f"/tickets/{next(it)}"), requests))
    it2 = iter(ids)
    results["ticket"]["floor"] = percentiles(timed(lambda: floor_ticket(raw, next(it2)), requests))
    for r in results.values():
        r["ratio_p95"] = round(r["p95_ms"] / max(r["floor"]["p95_ms"], 0.001), 1)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results


def floor_queue(con: sqlite3.Connection) -> None:
    con.execute("select count(*) from ticket").fetchone()
    con.execute("select t.*, p.* from ticket t left join party p on p.id = t.party_id "
                "order by t.created_at, t.id limit 50").fetchall()


def floor_search(con: sqlite3.Connection, word: str) -> int:
    from kpudesk.tickets.search import _fts5_query, terms  # noqa: PLC0415 - lazy: after the build child ran

    q = _fts5_query([terms(w) for w in word.split()], True)
    sub = "select rowid from ticket_fts where ticket_fts match ?"
    total = con.execute(f"select count(*) from ticket where id in ({sub})", (q,)).fetchone()[0]
    con.execute(f"select t.*, p.* from ticket t left join party p on p.id = t.party_id where t.id in ({sub}) "
                "order by t.created_at, t.id limit 50", (q,)).fetchall()
    return total


def floor_ticket(con: sqlite3.Connection, tid: int) -> None:
    con.execute("select * from ticket where id = ?", (tid,)).fetchone()
    con.execute("select * from message where ticket_id = ? order by created_at, id", (tid,)).fetchall()
    con.execute("select * from event where ticket_id = ? order by at, id", (tid,)).fetchall()
    con.execute("select * from identity where ticket_id = ?", (tid,)).fetchone()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tickets", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--build-only", metavar="DB", help=argparse.SUPPRESS)  # the child's part
    args = ap.parse_args()
    if args.build_only:
        print(json.dumps(build(Path(args.build_only), args.tickets, args.seed)))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="kpudesk-bench-web-"))
    db_path = tmp / "state" / "kpudesk.db"
    db_path.parent.mkdir(parents=True)
    child = subprocess.run([sys.executable, __file__, "--build-only", str(db_path), "--tickets", str(args.tickets),
                            "--seed", str(args.seed)], capture_output=True, text=True, check=True)
    figures = {"build": json.loads(child.stdout.strip().splitlines()[-1])}
    print(json.dumps(figures["build"]), file=sys.stderr)
    figures["serve"] = serve(tmp, db_path, args.requests, args.seed)
    OUT.mkdir(exist_ok=True)
    (OUT / "web.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(json.dumps(figures, indent=2))
    if args.keep:
        print(f"kept {tmp}", file=sys.stderr)
    else:
        import shutil  # noqa: PLC0415 - lazy: only to clean up

        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
