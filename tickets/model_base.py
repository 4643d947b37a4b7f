"""What every table of tickets/models.py is built on: the database proxy (`db`, bound by
tickets.schema.open_database), the column types that keep datetimes aware UTC and lists and
dicts as JSON whatever the backend, and `BaseModel`, whose `save` compiles a new row's
INSERT once per table and backend."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import peewee as pw


db = pw.DatabaseProxy()


class UtcDateTimeField(pw.CharField):
    """ISO 8601 text in UTC: sorts correctly, portable, never loses the offset."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def db_value(self, value):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored")
        # "YYYY-MM-DDTHH:MM:SS.ffffff+00:00" -> "...ffffffZ": isoformat is ~4x cheaper than strftime
        return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"

    def python_value(self, value):
        if value is None:
            return None
        try:
            return datetime.fromisoformat(value)  # C, ~20x strptime; reads the "Z" as UTC
        except ValueError:  # written by an older version as "9-02-01T..." (strftime, year < 1000)
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


_UTC_TEXT = UtcDateTimeField()


def utc_text(value: datetime) -> str:
    """The stored text form of a datetime (Meta rows keep moments as text)."""
    return _UTC_TEXT.db_value(value)


# One encoder: json.dumps builds a new one on every call with non-default options.
_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


class JsonField(pw.TextField):
    def db_value(self, value):
        if value is None:
            return None
        if not value:  # most list fields of a message are empty: skip the encoder
            return "[]" if isinstance(value, (list, tuple)) else "{}" if isinstance(value, dict) else json.dumps(value)
        return _JSON.encode(value)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(pw.Model):
    class Meta:
        database = db
        legacy_table_names = False

    def save(self, force_insert=False, only=None):
        """peewee's `save`, with a new row's INSERT compiled once per table and backend.

        Ingest writes ~5 rows per message; peewee compiles each INSERT afresh, which took
        half of a poll's time (bench/README.md, issue 13). Only public API is used: every
        column is written, the SQL comes from `insert_many(...).sql()` and each value passes
        its field's `db_value`. Updates, partial saves and tables whose key is not an
        auto-increment id take peewee's own path. `Model.create` comes through here."""
        pk = self._meta.primary_key
        if not (force_insert and only is None and isinstance(pk, pw.AutoField) and getattr(self, pk.name) is None):
            return super().save(force_insert=force_insert, only=only)
        database = self._meta.database.obj
        sql, columns = _insert_sql(type(self), type(database))
        params = [to_db(getattr(self, name)) for name, to_db in columns]
        cursor = database.execute_sql(sql, params)
        setattr(self, pk.name, cursor.fetchone()[0] if cursor.description else cursor.lastrowid)
        return 1


_INSERTS: dict[tuple[type, type], tuple[str, list]] = {}


def _insert_sql(model: type[BaseModel], backend: type) -> tuple[str, list]:
    """The parameterised INSERT of `model` on `backend` and, per column in its order, the
    instance attribute that holds the value (a foreign key's id, not its row) and the
    field's `db_value`; built once."""
    key = (model, backend)
    if key not in _INSERTS:
        fields = [f for f in model._meta.sorted_fields if f is not model._meta.primary_key]
        placeholder = [[None] * len(fields)]
        sql, _ = model.insert_many(placeholder, fields=fields).sql()
        columns = [(f.object_id_name if isinstance(f, pw.ForeignKeyField) else f.name, f.db_value) for f in fields]
        _INSERTS[key] = (sql, columns)
    return _INSERTS[key]
