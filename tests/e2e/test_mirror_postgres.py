"""The cloud folder's queue on PostgreSQL: schema v7's lease columns added to a v6 database
(and v8's search due list after them), and two uploaders at once against a real WebDAV remote copying each file once."""
from __future__ import annotations

import json

import peewee as pw

from kpudesk.daemon.config import load_settings
from kpudesk.daemon.wiring import build_app
from kpudesk.tickets.models import MirrorItem
from kpudesk.tickets.schema import SCHEMA_VERSION, close_database, open_database
from tests.e2e.test_mirror import queue, remote  # noqa: F401 - the `remote` fixture
from tests.officer_desk import OFFLINE_IMAP
from tests.desk import Desk
from tests.servers.rclone import WebdavRemote





def test_a_version_6_database_gains_the_lease_on_postgresql(postgres):
    url = postgres.new_database()
    database = open_database(url)
    database.execute_sql('ALTER TABLE "mirror_item" DROP COLUMN "lease_until"')
    database.execute_sql('ALTER TABLE "mirror_item" DROP COLUMN "lease_holder"')
    database.execute_sql('DROP TABLE "search_pending"')
    database.execute_sql("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    close_database()
    database = open_database(url)
    assert {"lease_until", "lease_holder"} <= {c.name for c in database.get_columns("mirror_item")}
    assert database.execute_sql("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    assert "search_pending" in database.get_tables()
    close_database()


def test_two_uploaders_on_postgresql_copy_each_file_once(tmp_path, postgres, remote: WebdavRemote):  # noqa: F811
    desk = Desk(tmp_path / "desk", OFFLINE_IMAP).use_database(postgres.new_database())
    text = desk.settings_path.read_text(encoding="utf-8")
    assert '[storage]\ndir = "state"\n' in text
    text = text.replace(
        '[storage]\ndir = "state"\n',
        f'[storage]\ndir = "state"\nmirror = "{remote.remote}"\nmirror_config = "{remote.config}"\n')
    desk.settings_path.write_text(text, encoding="utf-8")
    app = build_app(load_settings(desk.settings_path), create=True)
    assert isinstance(MirrorItem._meta.database.obj, pw.PostgresqlDatabase)
    expected = queue(app, [f"dok-{n}.pdf" for n in range(10)])
    close_database()
    procs = [desk.spawn("storage", "sync", "--json") for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert sum(o["uploaded"] + o["found"] for o in outs) == 10
    assert remote.files() == expected and all(remote.puts(p) == 1 for p in expected)
    assert {i.status for i in MirrorItem.select()} == {"stored"}
    close_database()
