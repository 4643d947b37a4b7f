"""BaseModel.save (a new row's INSERT compiled once per table) stores exactly what peewee's
own Model.save stores, for every table, with only the required columns and with every column."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime

import peewee as pw
import pytest

from kpudesk.tickets import models as m

COUNTER = itertools.count(1)


def sample(field: pw.Field, parents: dict):
    n = next(COUNTER)
    if isinstance(field, pw.ForeignKeyField):
        return parents.setdefault(field.rel_model, make(field.rel_model, pw.Model.create, parents, full=False))
    if isinstance(field, m.UtcDateTimeField):
        return datetime(2026, 12, 4, 7, 5, n % 60, n, tzinfo=UTC)
    if isinstance(field, m.JsonField):
        return {"n": n, "teks": "dokumen"}
    if isinstance(field, pw.BooleanField):
        return True
    if isinstance(field, pw.BlobField):
        return b"\x00raw" + bytes([n % 256])
    if isinstance(field, (pw.IntegerField, pw.BigIntegerField)):
        return n
    if isinstance(field, pw.FloatField):
        return n + 0.5
    return f"nilai-{n}"


def kwargs_for(model, parents, *, full: bool) -> dict:
    out = {}
    for f in model._meta.sorted_fields:
        if f is model._meta.primary_key:
            continue
        if full or (not f.null and f.default is None):
            out[f.name] = sample(f, parents)
    return out


def make(model, create, parents, *, full: bool):
    return create.__func__(model, **kwargs_for(model, parents, full=full))


def peewee_create(model):
    """Model.create as peewee itself does it, bypassing BaseModel.save."""
    def create(**values):
        inst = model(**values)
        pw.Model.save(inst, force_insert=True)
        return inst
    return create


AUTO_ID = [model for model in m.MODELS if isinstance(model._meta.primary_key, pw.AutoField)]


@pytest.fixture
def database():
    database = pw.SqliteDatabase(":memory:", pragmas={"foreign_keys": 1})
    m.db.initialize(database)
    database.create_tables(m.MODELS)
    yield database
    database.close()


def row(model, pk) -> dict:
    d = model.select().where(model._meta.primary_key == pk).dicts().get()
    d.pop(model._meta.primary_key.name)
    return d


@pytest.mark.parametrize("full", [False, True], ids=["required-only", "every-column"])
@pytest.mark.parametrize("model", AUTO_ID, ids=lambda model: model.__name__)
def test_create_stores_what_peewee_stores(database, model, full):
    values = kwargs_for(model, {}, full=full)  # parent rows are created here, outside the savepoints
    stored = []
    for create in (model.create, peewee_create(model)):
        with database.atomic() as sp:
            made = create(**values)
            assert isinstance(made.id, int)
            assert model.get_by_id(made.id).id == made.id  # the id it reports is the row's
            stored.append(row(model, made.id))
            sp.rollback()
    ours, peewees = stored
    assert ours == peewees


def test_every_auto_id_table_is_covered():
    assert {m.Ticket, m.Message, m.Event, m.OutboxItem} <= set(AUTO_ID)
