"""Test seam for the web desk: the Flask app in-process on `tests/feeder.py`'s desk.

`WebDesk(tmp_path)` builds the desk (in-memory SQLite, `FrozenClock`) with one officer of
every role, each with the password `PASSWORD`, and Flask's test client. `login(email)`
logs in through the real form; `post(path, data)` adds the page's CSRF token like a
browser submitting a form would; `token()` reads one from a rendered page.

    from tests.web_fixtures import web_fixture  # noqa: F401 - the `web` fixture
    def test_x(web):
        web.login(web.email("koordinator-harian"))
        assert web.client.get("/").status_code == 200
"""
from __future__ import annotations

import copy
import functools
import re
from pathlib import Path

import pytest

from kpudesk.daemon.web.app import create_app
from kpudesk.tickets import accounts
from kpudesk.tickets.models import Event, OfficerLogin

from .feeder import Feeder

PASSWORD = "sandi-rahasia-2026"
DOMAIN = "kpu-mesuji.example.org"

# One officer per role; the email is the role's name at the office's domain.
OFFICERS = [
    {"name": "Rina Wulandari", "email": f"anggota-helpdesk@{DOMAIN}", "role": "anggota-helpdesk"},
    {"name": "Dewi Lestari", "email": f"koordinator-harian@{DOMAIN}", "role": "koordinator-harian"},
    {"name": "Budi Santoso", "email": f"koordinator@{DOMAIN}", "role": "koordinator"},
    {"name": "Ahmad Fauzi", "email": f"anggota-kpu@{DOMAIN}", "role": "anggota-kpu"},
    {"name": "Hendra Gunawan", "email": f"ketua@{DOMAIN}", "role": "ketua"},
    {"name": "Sri Rahayu", "email": f"sekretaris@{DOMAIN}", "role": "sekretaris"},
]

@functools.cache
def _password_hash() -> str:
    """PASSWORD hashed once per test run (Argon2id is slow on purpose)."""
    return accounts.hash_password(PASSWORD)


_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class WebDesk:
    def __init__(self, root: Path, *, extra: dict | None = None, passwords: bool = True) -> None:
        extra = dict(extra or {})
        extra.setdefault("officers", OFFICERS)
        extra.setdefault("escalation", {"anggota": [f"anggota-kpu@{DOMAIN}"], "provinsi": "helpdesk@kpu-lampung.example.org"})
        self.feeder = Feeder(root, extra=extra)
        self.app = self.feeder.app
        self.clock = self.feeder.clock
        self.settings = self.feeder.settings
        if passwords:
            hashed = _password_hash()
            for o in self.settings.officers:
                OfficerLogin.create(email=o.email.lower(), password_hash=hashed, password_set_at=self.clock.now(),
                                    session_epoch=1)
        self.flask = create_app(self.app)
        self.flask.config["TESTING"] = True
        self.client = self.flask.test_client()

    def browser(self) -> WebDesk:
        """The same desk seen from another browser (its own cookies)."""
        other = copy.copy(self)
        other.client = self.flask.test_client()
        return other

    @staticmethod
    def email(role: str) -> str:
        return next(o["email"] for o in OFFICERS if o["role"] == role)

    def token(self) -> str:
        """A CSRF token of this client's session, read from a page as a browser has it."""
        page = self.client.get("/login")
        if page.status_code != 200:  # logged in: /login redirects; any page has the logout form
            page = self.client.get("/halaman-yang-tidak-ada")
        found = _TOKEN.search(page.get_data(as_text=True))
        assert found, "no csrf_token on the page"
        return found.group(1)

    def post(self, path: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token())
        return self.client.post(path, data=data, **kwargs)

    def login(self, email: str, password: str = PASSWORD, next: str | None = None, **kwargs):
        data = {"email": email, "password": password}
        if next is not None:
            data["next"] = next
        return self.post("/login", data, **kwargs)

    def logout(self, **data):
        return self.post("/logout", data)

    def events(self, kind: str) -> list[Event]:
        return list(Event.select().where(Event.kind == kind).order_by(Event.id))


@pytest.fixture(name="web")
def web_fixture(tmp_path) -> WebDesk:
    """A `WebDesk`; import `web_fixture` into a test module and ask for `web`."""
    return WebDesk(tmp_path)


web = web_fixture  # the same fixture under its own name (ruff sees `web` parameters as redefinitions)

__all__ = ["OFFICERS", "PASSWORD", "WebDesk", "web", "web_fixture"]
