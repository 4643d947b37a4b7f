"""Sender authentication: may we believe a message's From: line?

Every incoming message gets a `Verdict` — "pass", "fail" or "none" with a reason — kept
in `Message.authentication` and shown by `tickets show --json`. Threading, escalation
answers, the spam rescue and the party identity all consult it (see `tickets.matching`,
`tickets.escalation`, `tickets.ingest`); a From: line alone proves nothing.

How the verdict is reached (`SenderPolicy.verdict`):

* With `[mail] trusted_authserv_id` set, the receiving server's own Authentication-Results
  decide (`mailbox.authresults.trusted_results`; every other such header is ignored):
  dmarc=pass for the From: domain → pass; dmarc=fail, or spf=fail with no DKIM pass →
  fail; an aligned dkim=pass where the server evaluated no DMARC → pass (that is DMARC's
  own DKIM test); anything else → none.
* Without it, we verify DKIM ourselves (`mailbox.authresults.dkim_signatures`): a valid
  signature whose d= domain is aligned with the From: domain → pass; signatures present
  but none valid → fail; no signature, a valid but unaligned one (a mailing service
  signing for itself), or DNS unavailable → none.
* Alignment is DMARC's relaxed mode: same organisational domain. The organisational
  domain is taken as the last two labels, or the last three under a known two-label
  public suffix (co.id, go.id, my.id, co.uk, …); not the full Public Suffix List, which
  is acceptable for the domains a Kabupaten helpdesk hears from, but a shared-hosting
  suffix missing from `_TWO_LABEL_SUFFIXES` would align all its customers.
* `[mail] unsigned_domains`: From: domains (and their subdomains) whose servers sign
  nothing; their "none" counts as pass. Anyone can then write as them; `kpudesk check`
  warns about it.
"""
from __future__ import annotations

from dataclasses import dataclass

from kpudesk.mailbox import authresults
from kpudesk.mailbox.message import InboundMessage

PASS, FAIL, NONE = "pass", "fail", "none"

_TWO_LABEL_SUFFIXES = frozenset({
    # Indonesia (PANDI second-level domains)
    "ac.id", "biz.id", "co.id", "desa.id", "go.id", "mil.id", "my.id", "net.id", "or.id",
    "ponpes.id", "sch.id", "web.id",
    # elsewhere, common in mail to an Indonesian office
    "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.jp", "ne.jp",
    "com.sg", "com.my", "gov.my", "co.nz", "com.br", "co.in", "co.kr", "com.cn", "com.hk",
})


@dataclass(frozen=True)
class Verdict:
    verdict: str  # pass | fail | none
    reason: str

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    @property
    def failed(self) -> bool:
        return self.verdict == FAIL

    def as_json(self) -> dict:
        return {"verdict": self.verdict, "reason": self.reason}

    @classmethod
    def from_json(cls, value) -> Verdict:
        """A stored verdict (None for rows from before schema v3: nothing was checked)."""
        if isinstance(value, dict) and value.get("verdict") in (PASS, FAIL, NONE):
            return cls(value["verdict"], str(value.get("reason") or ""))
        return cls(NONE, "not checked (stored before sender authentication)")


def domain_of(address: str | None) -> str:
    return (address or "").rpartition("@")[2].strip().strip(".").lower()


def organizational_domain(domain: str) -> str:
    labels = [x for x in domain.strip(".").lower().split(".") if x]
    if len(labels) >= 3 and ".".join(labels[-2:]) in _TWO_LABEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def aligned(signer: str, from_domain: str) -> bool:
    """DMARC relaxed alignment of a DKIM d= (or SPF) domain with the From: domain."""
    return bool(signer and from_domain) and organizational_domain(signer) == organizational_domain(from_domain)


def _under(domain: str, listed: tuple[str, ...]) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in listed)


@dataclass(frozen=True)
class SenderPolicy:
    """The settings the verdict needs (picklable: analysis workers get a copy).

    `dnsfunc`: dkimpy's TXT lookup; None is dnspython (production). Tests inject a
    module-level function serving their own key."""

    trusted_authserv_id: str | None = None
    unsigned_domains: tuple[str, ...] = ()
    dnsfunc: authresults.DnsFunc | None = None

    def verdict(self, raw: bytes, msg: InboundMessage) -> Verdict:
        from_domain = domain_of(msg.sender_key)
        if not from_domain:
            return Verdict(NONE, "no From: address to authenticate")
        if self.trusted_authserv_id:
            v = self._by_trusted_server(msg, from_domain)
        else:
            v = self._by_dkim(raw, from_domain)
        if v.verdict == NONE and _under(from_domain, self.unsigned_domains):
            return Verdict(PASS, f"{v.reason}; counted as pass: {from_domain} is in mail.unsigned_domains")
        return v

    def _by_trusted_server(self, msg: InboundMessage, from_domain: str) -> Verdict:
        server = self.trusted_authserv_id
        results = authresults.trusted_results(msg.headers, server)
        if not results:
            return Verdict(NONE, f"no Authentication-Results from {server}")
        dmarc, dkim_r, spf = results.get("dmarc"), results.get("dkim"), results.get("spf")
        if dmarc is not None and dmarc.result == PASS:
            said = (dmarc.prop("header.from") or "").lower()
            if said and said != from_domain:
                return Verdict(NONE, f"{server}: dmarc=pass for {said}, not for the From: domain {from_domain}")
            return Verdict(PASS, f"{server}: dmarc=pass header.from={from_domain}")
        if dmarc is not None and dmarc.result == FAIL:
            return Verdict(FAIL, f"{server}: dmarc=fail header.from={from_domain}")
        dkim_pass = dkim_r is not None and dkim_r.result == PASS
        if spf is not None and spf.result == FAIL and not dkim_pass:
            return Verdict(FAIL, f"{server}: spf=fail and no valid DKIM signature")
        if dkim_pass:
            signer = (dkim_r.prop("header.d") or domain_of(dkim_r.prop("header.i"))).lower()
            if aligned(signer, from_domain):
                return Verdict(PASS, f"{server}: dkim=pass header.d={signer} (aligned with {from_domain})")
        seen = ", ".join(f"{r.method}={r.result}" for r in results.values())
        return Verdict(NONE, f"{server}: {seen} (no DMARC verdict for {from_domain})")

    def _by_dkim(self, raw: bytes, from_domain: str) -> Verdict:
        sigs = authresults.dkim_signatures(raw, self.dnsfunc)
        if not sigs:
            return Verdict(NONE, "no DKIM signature (and no trusted_authserv_id configured)")
        for s in sigs:
            if s.status == PASS and aligned(s.domain, from_domain):
                return Verdict(PASS, f"dkim=pass d={s.domain} (aligned with {from_domain})")
        if any(s.status == PASS for s in sigs):
            signers = ", ".join(s.domain for s in sigs if s.status == PASS)
            return Verdict(NONE, f"dkim=pass only for d={signers}, not aligned with {from_domain}")
        temp = next((s for s in sigs if s.status == "temperror"), None)
        if temp is not None:
            return Verdict(NONE, f"dkim=temperror d={temp.domain}: {temp.detail}")
        bad = sigs[0]
        return Verdict(FAIL, f"dkim=fail d={bad.domain}: {bad.detail}")
