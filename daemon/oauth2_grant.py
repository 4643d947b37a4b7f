"""The first refresh token: the sign-in behind `kpudesk auth oauth2 imap|smtp` (issue 16).

Two flows, neither needing a browser on the server:
* `device_flow` (RFC 8628; Microsoft 365): the command prints a URL and a short code; the
  administrator opens the URL on any phone or laptop, types the code and signs in as the
  helpdesk mailbox; the command polls the token endpoint meanwhile (`interval`, 5 s more
  after each slow_down) until the sign-in ends, is declined or the code expires.
* `code_flow` (RFC 6749 authorization code with RFC 7636 PKCE S256 and a loopback redirect,
  RFC 8252; Google, whose device flow refuses the mail scope): the command prints a URL; the
  administrator signs in on any browser, which is then sent to http://127.0.0.1:<port>/…, a
  page that does not load when the browser is on another machine: the administrator copies
  that address from the address bar and pastes it into the command. The `state` in it must
  be ours (RFC 6749 section 10.12).
Both return the provider's token answer; `kpudesk auth` stores its refresh token.
What people read is Bahasa Indonesia; no token is ever printed.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.errors import AuthlibBaseError

from kpudesk.mailbox.errors import ServerUnavailable
from kpudesk.tickets.errors import UserError

from .oauth2 import HTTP_TIMEOUT, seconds_of, session
from .settings import OAuth2Settings

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
Say = Callable[[str], None]


def _where(url: str) -> str:
    return f"penyedia OAuth2 {urlsplit(url).hostname}"


def _post_form(cfg: OAuth2Settings, url: str, form: dict[str, str]) -> dict:
    """A form POST to the provider; its JSON answer, errors included (RFC 6749 section 5.2)."""
    if cfg.client_secret.configured:
        form = {**form, "client_secret": cfg.client_secret.read()}
    try:
        resp = requests.post(url, data={"client_id": cfg.client_id, **form}, timeout=HTTP_TIMEOUT,
                             headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise ServerUnavailable(f"{_where(url)} tidak dapat dihubungi: {type(exc).__name__}") from None
    if resp.status_code >= 500:
        raise ServerUnavailable(f"{_where(url)} menjawab HTTP {resp.status_code}; coba lagi nanti")
    try:
        answer = resp.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ServerUnavailable(f"{_where(url)} menjawab HTTP {resp.status_code} tanpa JSON")
    return answer


def _refused(url: str, answer: dict) -> UserError:
    said = f"{answer.get('error', '')}: {answer.get('error_description', '')}".strip(": ")[:300]
    return UserError(f"{_where(url)} menolak: {said}")


def device_flow(cfg: OAuth2Settings, username: str, say: Say, *, sleep: Callable[[float], None] = time.sleep,
                monotonic: Callable[[], float] = time.monotonic) -> dict:
    """RFC 8628 sign-in; the token answer (see the module docstring)."""
    assert cfg.device_url is not None
    start = _post_form(cfg, cfg.device_url, {"scope": cfg.scope})
    if "error" in start or not start.get("device_code") or not start.get("user_code"):
        raise _refused(cfg.device_url, start)
    uri = start.get("verification_uri") or start.get("verification_url")  # Google's older name
    lifetime = seconds_of(start.get("expires_in"), default=900)  # RFC 8628's usual values
    interval = float(seconds_of(start.get("interval"), default=5))
    say(f"1. Buka {uri} di peramban mana saja (ponsel atau laptop).")
    say(f"2. Masukkan kode: {start['user_code']}")
    say(f"3. Masuk sebagai {username} dan setujui akses kpudesk ke kotak surat itu.")
    say(f"Menunggu persetujuan (kode berlaku {max(lifetime // 60, 1)} menit; Ctrl+C untuk batal) ...")
    deadline = monotonic() + lifetime
    while True:
        sleep(interval)
        answer = _post_form(cfg, cfg.token_url, {"grant_type": DEVICE_GRANT, "device_code": start["device_code"]})
        error = answer.get("error")
        if error is None and answer.get("access_token"):
            return answer
        if error == "authorization_pending":
            pass
        elif error == "slow_down":
            interval += 5  # RFC 8628 section 3.5
        elif error == "access_denied":
            raise UserError("persetujuan ditolak di halaman masuk; jalankan perintah ini lagi bila keliru")
        elif error == "expired_token":
            raise UserError("kode kedaluwarsa sebelum disetujui; jalankan perintah ini lagi")
        else:
            raise _refused(cfg.token_url, answer)
        if monotonic() > deadline:
            raise UserError("kode kedaluwarsa sebelum disetujui; jalankan perintah ini lagi")


def redirect_uri() -> str:
    """A loopback redirect (RFC 8252 section 7.3): Google allows any port for desktop apps."""
    return f"http://127.0.0.1:{secrets.choice(range(20000, 60000))}/"


def code_flow(cfg: OAuth2Settings, username: str, say: Say, ask: Callable[[str], str]) -> dict:
    """Authorization code + PKCE with the address pasted back (see the module docstring)."""
    assert cfg.auth_url is not None
    back = redirect_uri()
    client = session(cfg, redirect_uri=back, code_challenge_method="S256")
    verifier = secrets.token_urlsafe(64)
    try:
        url, state = client.create_authorization_url(
            cfg.auth_url, code_verifier=verifier, login_hint=username,
            access_type="offline", prompt="consent")  # Google: a refresh token every time
        say("1. Buka alamat berikut di peramban mana saja, masuk sebagai "
            f"{username} dan setujui akses kpudesk ke kotak surat itu:")
        say(url)
        say(f"2. Peramban lalu dialihkan ke {back}... yang tidak bisa dibuka (itu wajar). "
            "Salin seluruh alamat dari bilah alamat peramban dan tempel di sini.")
        pasted = ask("Alamat (atau kode): ").strip()
        code = _code_from(pasted, state)
        try:
            return dict(client.fetch_token(cfg.token_url, code=code, code_verifier=verifier,
                                           grant_type="authorization_code", timeout=HTTP_TIMEOUT))
        except AuthlibBaseError as exc:
            raise UserError(f"{_where(cfg.token_url)} menolak kode itu: {exc.error}: {exc.description}"[:400]) from None
        except requests.RequestException as exc:
            raise ServerUnavailable(f"{_where(cfg.token_url)} tidak dapat dihubungi: {type(exc).__name__}") from None
    finally:
        client.close()


def _code_from(pasted: str, state: str) -> str:
    """The code in a pasted redirect address (its state checked), or a pasted bare code."""
    if not pasted:
        raise UserError("tidak ada alamat yang ditempel; jalankan perintah ini lagi")
    if "?" not in pasted and "=" not in pasted:
        return pasted  # the bare code, as some consent pages show it
    query = parse_qs(urlsplit(pasted).query if "://" in pasted else pasted.lstrip("?"))
    if "error" in query:
        raise UserError(f"masuk tidak selesai: {query['error'][0]} "
                        f"{query.get('error_description', [''])[0]}".strip()[:300])
    if query.get("state", [""])[0] != state:
        raise UserError("alamat yang ditempel bukan dari permintaan ini (state tidak cocok); jalankan perintah ini lagi")
    code = query.get("code", [""])[0]
    if not code:
        raise UserError("alamat yang ditempel tidak memuat code=…; salin seluruh alamat dari bilah alamat")
    return code
