"""A fake OAuth2 provider for tests: a real HTTP server on 127.0.0.1 speaking the parts of
RFC 6749 (refresh_token and authorization_code grants), RFC 7636 (PKCE S256), RFC 8628
(device authorization grant) and RFC 7662 (token introspection, what Dovecot's oauth2 passdb
calls) that kpudesk uses, with the error answers Google and Microsoft give.

Usage::

    with FakeProvider(access_lifetime=3600, rotate=False) as p:
        rt = p.add_refresh_token("helpdesk@kpu.test", scope="...")
        at = p.issue_access("helpdesk@kpu.test")
        p.revoke(rt); p.require_mfa(rt); p.fail_next(2, status=503)
        p.approve_device(user_code, "helpdesk@kpu.test"); p.deny_device(user_code)
        code = p.approve_code(state)          # the admin consenting at GET /authorize
        p.user_of(at)                         # None when expired/revoked/unknown
        p.requests                            # [(path, form-or-query dict), ...]

Client authentication at /token and /device: ``client_id`` (default "kpudesk-test") in the
form or HTTP Basic, plus ``client_secret`` when the test set one (``FakeProvider(
client_secret="s3cret")``); anything else answers 401 invalid_client. /introspect needs no
client authentication (Dovecot sends none) and takes the token as form ``token=``, query
``token=``/``access_token=``, a trailing path element (``/introspect/<token>``) or an
``Authorization: Bearer`` header.

Times: access-token and device-code lifetimes follow ``clock.now()`` (a
`tickets.clock.FrozenClock` or anything with ``now() -> aware datetime``; default the system
clock). The device-code poll spacing (slow_down) always uses real monotonic time, because it
measures how fast the client really polls.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

DEFAULT_CLIENT_ID = "kpudesk-test"
MFA_DESCRIPTION = (
    "AADSTS50076: Due to a configuration change made by your administrator, or because you "
    "moved to a new location, you must use multi-factor authentication to access "
    "'00000002-0000-0ff1-ce00-000000000000'."
)


class _SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class _Refresh:
    user: str
    scope: str
    alive: bool = True
    mfa: bool = False


@dataclass
class _Access:
    user: str
    scope: str
    expires_at: datetime
    refresh: str | None
    alive: bool = True


@dataclass
class _Device:
    user_code: str
    scope: str
    client_id: str
    expires_at: datetime
    interval: float
    state: str = "pending"  # pending | approved | denied | used
    user: str | None = None
    last_poll: float | None = None


@dataclass
class _AuthRequest:
    query: dict[str, str]
    code: str | None = None
    user: str | None = None
    used: bool = False


@dataclass
class _Failures:
    count: int = 0
    status: int = 503


@dataclass
class FakeProvider:
    access_lifetime: int = 3600
    rotate: bool = False
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str | None = None
    device_interval: float = 1  # the `interval` /device announces (RFC 8628 default is 5)
    device_lifetime: int = 600  # the `expires_in` of a device code
    clock: Any = None
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clock = self.clock or _SystemClock()
        self._lock = threading.RLock()
        self._refresh: dict[str, _Refresh] = {}
        self._access: dict[str, _Access] = {}
        self._devices: dict[str, _Device] = {}  # by device_code
        self._auth: dict[str, _AuthRequest] = {}  # by state
        self._fail = _Failures()
        self._slow_down_next = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeProvider:
        provider = self

        class Handler(_Handler):
            fake = provider

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-oauth2",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses
    @property
    def port(self) -> int:
        assert self._server is not None, "FakeProvider is not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def device_url(self) -> str:
        return self.url + "/device"

    @property
    def authorize_url(self) -> str:
        return self.url + "/authorize"

    @property
    def introspect_url(self) -> str:
        return self.url + "/introspect"

    @property
    def verification_uri(self) -> str:
        return self.url + "/activate"

    # ------------------------------------------------------------------ test controls
    def add_refresh_token(self, user: str, scope: str = "") -> str:
        token = "rt-" + secrets.token_urlsafe(24)
        with self._lock:
            self._refresh[token] = _Refresh(user, scope)
        return token

    def issue_access(self, user: str, scope: str = "", *, refresh: str | None = None) -> str:
        token = "at-" + secrets.token_urlsafe(24)
        with self._lock:
            expires = self.clock.now() + timedelta(seconds=self.access_lifetime)
            self._access[token] = _Access(user, scope, expires, refresh)
        return token

    def revoke(self, token: str) -> None:
        """A refresh token (and every access token issued from it) or one access token dies."""
        with self._lock:
            if token in self._refresh:
                self._refresh[token].alive = False
                for access in self._access.values():
                    if access.refresh == token:
                        access.alive = False
            if token in self._access:
                self._access[token].alive = False

    def require_mfa(self, refresh_token: str) -> None:
        """From now on refreshing with this token answers invalid_grant AADSTS50076, as
        Microsoft does when a conditional-access policy starts demanding MFA."""
        with self._lock:
            self._refresh[refresh_token].mfa = True

    def fail_next(self, n: int, status: int = 503) -> None:
        """The next n requests to /token (and /device) answer `status`."""
        with self._lock:
            self._fail = _Failures(n, status)

    def slow_down_next(self, n: int) -> None:
        """The next n device-code polls answer slow_down whatever their spacing."""
        with self._lock:
            self._slow_down_next = n

    def approve_device(self, user_code: str, user: str) -> None:
        self._device_by_user_code(user_code, "approved", user)

    def deny_device(self, user_code: str) -> None:
        self._device_by_user_code(user_code, "denied", None)

    def expire_device(self, user_code: str) -> None:
        with self._lock:
            for device in self._devices.values():
                if device.user_code == user_code:
                    device.expires_at = self.clock.now() - timedelta(seconds=1)
                    return
        raise KeyError(user_code)

    def device_codes(self) -> list[str]:
        """The user codes handed out so far, oldest first."""
        with self._lock:
            return [d.user_code for d in self._devices.values()]

    def authorize_requests(self) -> list[dict[str, str]]:
        with self._lock:
            return [dict(a.query) for a in self._auth.values()]

    def approve_code(self, state: str, user: str = "helpdesk@kpu.test") -> str:
        """The admin consented on the /authorize page that carried `state`: returns the code
        the provider would put in the redirect (``<redirect_uri>?code=...&state=...``)."""
        with self._lock:
            request = self._auth[state]
            request.code = "ac-" + secrets.token_urlsafe(16)
            request.user = user
            return request.code

    def user_of(self, access_token: str) -> str | None:
        with self._lock:
            access = self._access.get(access_token)
            if access is None or not access.alive or access.expires_at <= self.clock.now():
                return None
            return access.user

    def refresh_alive(self, refresh_token: str) -> bool:
        with self._lock:
            entry = self._refresh.get(refresh_token)
            return bool(entry and entry.alive)

    def refresh_tokens_of(self, user: str) -> list[str]:
        """The live refresh tokens of `user` (e.g. the one a device or code flow issued)."""
        with self._lock:
            return [t for t, r in self._refresh.items() if r.user == user and r.alive]

    # ------------------------------------------------------------------ internals
    def _device_by_user_code(self, user_code: str, state: str, user: str | None) -> None:
        with self._lock:
            for device in self._devices.values():
                if device.user_code == user_code:
                    device.state, device.user = state, user
                    return
        raise KeyError(user_code)

    def _take_failure(self) -> int | None:
        with self._lock:
            if self._fail.count > 0:
                self._fail.count -= 1
                return self._fail.status
            return None

    def _tokens(self, user: str, scope: str, *, refresh: str | None) -> dict[str, Any]:
        access = self.issue_access(user, scope, refresh=refresh)
        answer: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                                  "expires_in": self.access_lifetime, "scope": scope}
        return answer

    def _new_grant(self, user: str, scope: str) -> dict[str, Any]:
        refresh = self.add_refresh_token(user, scope)
        answer = self._tokens(user, scope, refresh=refresh)
        answer["refresh_token"] = refresh
        return answer

    def token_endpoint(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type", "")
        with self._lock:
            if grant == "refresh_token":
                return self._grant_refresh(form)
            if grant == "urn:ietf:params:oauth:grant-type:device_code":
                return self._grant_device(form)
            if grant == "authorization_code":
                return self._grant_code(form)
        return 400, _error("unsupported_grant_type", f"grant_type {grant!r} is not supported")

    def _grant_refresh(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        token = form.get("refresh_token", "")
        entry = self._refresh.get(token)
        if entry is None or not entry.alive:
            return 400, _error("invalid_grant", "Token has been expired or revoked.")
        if entry.mfa:
            answer = _error("invalid_grant", MFA_DESCRIPTION)
            answer.update({"error_codes": [50076], "suberror": "basic_action"})
            return 400, answer
        scope = form.get("scope") or entry.scope
        if not self.rotate:
            return 200, self._tokens(entry.user, scope, refresh=token)
        entry.alive = False
        for access in self._access.values():
            if access.refresh == token:
                access.alive = False
        return 200, self._new_grant(entry.user, scope)

    def _grant_device(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        device = self._devices.get(form.get("device_code", ""))
        if device is None or device.state == "used":
            return 400, _error("invalid_grant", "Unknown or used device_code.")
        now = time.monotonic()
        too_soon = device.last_poll is not None and now - device.last_poll < device.interval - 0.2
        device.last_poll = now
        if device.expires_at <= self.clock.now():
            return 400, _error("expired_token", "The device_code has expired.")
        if self._slow_down_next > 0 or too_soon:
            self._slow_down_next = max(0, self._slow_down_next - 1)
            device.interval += 5  # RFC 8628 section 3.5: the client must add 5 seconds
            return 400, _error("slow_down", "Polling too fast.")
        if device.state == "denied":
            return 400, _error("access_denied", "The user declined the authorization request.")
        if device.state == "pending":
            return 400, _error("authorization_pending", "The user has not yet finished.")
        device.state = "used"
        assert device.user is not None
        return 200, self._new_grant(device.user, device.scope)

    def _grant_code(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        code = form.get("code", "")
        request = next((a for a in self._auth.values() if a.code and a.code == code), None)
        if request is None or request.used:
            return 400, _error("invalid_grant", "Malformed auth code.")
        if form.get("redirect_uri") != request.query.get("redirect_uri"):
            return 400, _error("redirect_uri_mismatch", "Bad Request")
        challenge = request.query.get("code_challenge")
        if challenge:
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode("ascii")).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
            if request.query.get("code_challenge_method") != "S256" or expected != challenge:
                return 400, _error("invalid_grant", "Invalid code verifier.")
        request.used = True
        assert request.user is not None
        return 200, self._new_grant(request.user, request.query.get("scope", ""))

    def device_endpoint(self, form: dict[str, str], client_id: str) -> dict[str, Any]:
        device_code = "dc-" + secrets.token_urlsafe(24)
        user_code = "-".join(secrets.token_hex(2).upper() for _ in range(2))
        with self._lock:
            self._devices[device_code] = _Device(
                user_code, form.get("scope", ""), client_id,
                self.clock.now() + timedelta(seconds=self.device_lifetime),
                self.device_interval)
        return {"device_code": device_code, "user_code": user_code,
                "verification_uri": self.verification_uri,
                "verification_uri_complete": self.verification_uri + "?" + urlencode(
                    {"user_code": user_code}),
                "expires_in": self.device_lifetime, "interval": self.device_interval,
                "message": f"To sign in, open {self.verification_uri} and enter {user_code}."}

    def authorize_endpoint(self, query: dict[str, str]) -> tuple[int, str]:
        if query.get("client_id") != self.client_id:
            return 400, "invalid client_id"
        with self._lock:
            self._auth[query.get("state", "")] = _AuthRequest(dict(query))
        return 200, "<html><body><p>Fake consent page.</p></body></html>"

    def introspect(self, token: str) -> dict[str, Any]:
        with self._lock:
            user = self.user_of(token)
            if user is None:
                return {"active": False}
            access = self._access[token]
            return {"active": True, "username": user, "email": user, "scope": access.scope,
                    "client_id": self.client_id, "token_type": "Bearer",
                    "exp": int(access.expires_at.timestamp())}

    def client_ok(self, form: dict[str, str], authorization: str | None) -> str | None:
        """The client id when the request authenticates the client, else None."""
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:]).decode("utf-8")
            except ValueError:
                return None
            basic_id, _, basic_secret = decoded.partition(":")
            client_id, secret = unquote(basic_id), unquote(basic_secret)
        if client_id != self.client_id:
            return None
        if self.client_secret is not None and secret != self.client_secret:
            return None
        return client_id


def _error(code: str, description: str) -> dict[str, Any]:
    return {"error": code, "error_description": description}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeProvider
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}

    def _send(self, status: int, body: bytes, content_type: str,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, answer: dict[str, Any],
              extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(answer).encode("utf-8"), "application/json", extra)

    def _failure(self) -> bool:
        status = self.fake._take_failure()
        if status is None:
            return False
        extra = {"Retry-After": "1"} if status in (429, 503) else None
        self._send(status, b"<html><body>Service Unavailable</body></html>", "text/html", extra)
        return True

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        path = urlsplit(self.path).path
        form = self._form()
        with self.fake._lock:
            self.fake.requests.append((path, dict(form)))
        if path == "/introspect":
            self._introspect(form.get("token") or self._bearer() or "")
            return
        if path not in ("/token", "/device"):
            self._json(404, _error("not_found", path))
            return
        if self._failure():
            return
        client_id = self.fake.client_ok(form, self.headers.get("Authorization"))
        if client_id is None:
            self._json(401, _error("invalid_client", "The OAuth client was not found."),
                       {"WWW-Authenticate": 'Basic realm="fake-oauth2"'})
            return
        if path == "/device":
            self._json(200, self.fake.device_endpoint(form, client_id))
            return
        status, answer = self.fake.token_endpoint(form)
        self._json(status, answer)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self.fake._lock:
            self.fake.requests.append((parts.path, dict(query)))
        if parts.path == "/authorize":
            status, page = self.fake.authorize_endpoint(query)
            self._send(status, page.encode("utf-8"), "text/html; charset=utf-8")
        elif parts.path == "/introspect" or parts.path.startswith("/introspect/"):
            token = (parts.path[len("/introspect/"):] or query.get("token")
                     or query.get("access_token") or self._bearer() or "")
            self._introspect(unquote(token))
        elif parts.path == "/activate":
            self._send(200, b"<html><body>Enter the code.</body></html>", "text/html")
        else:
            self._json(404, _error("not_found", parts.path))

    def _bearer(self) -> str | None:
        header = self.headers.get("Authorization") or ""
        return header[7:].strip() if header.lower().startswith("bearer ") else None

    def _introspect(self, token: str) -> None:
        self._json(200, self.fake.introspect(token))
