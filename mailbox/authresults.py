"""What a message's bytes say about who sent it: trusted Authentication-Results, DKIM.

Two sources of facts, both pure functions of the bytes (the DNS lookup is injected):

* `trusted_results`: the Authentication-Results headers (RFC 8601) written by the one
  receiving server we believe. Anyone can write such a header into a mail, under any
  authserv-id, so only headers carrying the configured authserv-id count, and of those
  only the topmost block: the receiving server prepends its own results above the headers
  it received, so the block runs from the topmost trusted header down to the next
  `Received:` header (the hop before that server). Trusted-looking headers further down
  came with the mail. Within the block the topmost result of each method wins, so a
  forged header that slipped in right under the real one cannot overrule it.
  Limitation: if the server wrote no header of its own, a forged one at the top of the
  mail is read as its; RFC 8601 section 5 asks servers to remove headers claiming their
  authserv-id, which is what makes the setting safe to use.
* `dkim_signatures`: each DKIM-Signature verified with dkimpy against the signer's key,
  looked up through `dnsfunc` (dkimpy's signature: `dnsfunc(name: bytes, timeout=5)` →
  the TXT record as bytes, or None). A DNS failure is reported as such (temporary), never
  as a bad signature.

Deciding what those facts mean for a sender (alignment with From:, the verdict) is
`tickets.sender_auth`'s job; nothing here touches the database.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import authres
import dkim

DnsFunc = Callable[..., bytes | None]


@dataclass(frozen=True, slots=True)
class Result:
    """One method's result from a trusted Authentication-Results header."""

    method: str  # "dmarc", "dkim", "spf", ... (lower case)
    result: str  # "pass", "fail", "none", ... (lower case)
    props: tuple[tuple[str, str], ...]  # ("header.from", "example.org"), ... (names lower case)

    def prop(self, name: str) -> str | None:
        return next((v for k, v in self.props if k == name), None)


def trusted_results(headers: Iterable[tuple[str, str]], authserv_id: str) -> dict[str, Result]:
    """The results of the topmost block of Authentication-Results headers by
    `authserv_id`, one per method (the topmost). `headers`: (lower-case name, value) in
    message order, top first. Empty when that server wrote none."""
    wanted = authserv_id.strip().lower()
    found: dict[str, Result] = {}
    in_block = False
    for name, value in headers:
        if name == "received":
            if in_block:
                break  # below here: headers the mail carried when it reached that server
            continue
        if name != "authentication-results":
            continue
        parsed = _parse(value)
        if parsed is None or (parsed.authserv_id or "").strip().lower() != wanted:
            continue
        in_block = True
        for r in parsed.results:
            method = (r.method or "").lower()
            if method and method not in found:
                found[method] = Result(method, (r.result or "").lower(), tuple(
                    (f"{p.type}.{p.name}".lower(), str(p.value or "")) for p in r.properties))
    return found


def _parse(value: str):
    try:
        return authres.AuthenticationResultsHeader.parse_value(" ".join(value.split()))
    except Exception:  # noqa: BLE001 - a malformed header is no result, whoever wrote it
        return None


@dataclass(frozen=True, slots=True)
class Signature:
    """One DKIM-Signature and what checking it gave."""

    domain: str  # the d= tag, lower case ("" when unreadable)
    status: str  # "pass" | "fail" | "temperror"
    detail: str  # why, for the verdict's reason


class _Collect:
    """dkimpy's logger: keeps the last complaint as the reason a signature failed."""

    def __init__(self) -> None:
        self.last = ""

    def _keep(self, msg, *args) -> None:
        try:
            self.last = str(msg % args if args else msg)
        except Exception:  # noqa: BLE001
            self.last = str(msg)

    error = warning = _keep

    def info(self, *_a) -> None:
        pass

    debug = info


def dkim_signatures(raw: bytes, dnsfunc: DnsFunc | None = None, timeout: int = 5) -> list[Signature]:
    """Verify every DKIM-Signature of `raw` (top first). `dnsfunc` None: dnspython."""
    lookup = dnsfunc or dkim.dnsplug.get_txt
    try:
        count = sum(1 for line in _header_names(raw) if line == b"dkim-signature")
    except Exception:  # noqa: BLE001
        count = 0
    out: list[Signature] = []
    for idx in range(min(count, 5)):  # a handful is plenty; each costs a DNS lookup
        log = _Collect()
        dns_failed: list[str] = []

        def guarded(name, timeout=timeout, _failed=dns_failed):
            try:
                return lookup(name, timeout=timeout)
            except Exception as exc:  # noqa: BLE001 - DNS down is not a bad signature
                _failed.append(f"{type(exc).__name__}: {exc}")
                raise dkim.DnsTimeoutError(str(exc)) from None

        checker = dkim.DKIM(raw, logger=log, timeout=timeout)
        try:
            ok = checker.verify(idx=idx, dnsfunc=guarded)
        except dkim.DKIMException as exc:
            ok, log.last = False, f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - hostile bytes must not stop the analysis
            ok, log.last = False, f"{type(exc).__name__}: {exc}"
        d = getattr(checker, "domain", None)
        domain = d.decode("ascii", "replace").lower() if isinstance(d, bytes) else ""
        if dns_failed:
            out.append(Signature(domain, "temperror", dns_failed[0][:200]))
        elif ok:
            out.append(Signature(domain, "pass", "signature verified"))
        else:
            out.append(Signature(domain, "fail", (log.last or "signature does not verify")[:200]))
    return out


def _header_names(raw: bytes):
    """Lower-case names of the header fields of `raw` (up to the blank line)."""
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t") or b":" not in line:
            continue
        yield line.split(b":", 1)[0].strip().lower()
