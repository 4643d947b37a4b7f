"""Sender authentication (issue 11 item 1): the verdict from bytes, and what it decides.

Pure tests (no server): Authentication-Results read only from the trusted server's own
block, DKIM verified through an injected resolver, DMARC alignment, unsigned_domains.
The end-to-end cases on a real Dovecot are in tests/e2e/test_forged_senders.py.
"""
from __future__ import annotations

import pickle

import dkim
import pytest

from kpudesk.mailbox.authresults import trusted_results
from kpudesk.mailbox.parse import parse
from kpudesk.tickets.sender_auth import SenderPolicy, Verdict, aligned, organizational_domain
from tests.auth_mail import TRUSTED, dkim_dns, dkim_key, forged_below, trusted
from tests.corpus.hostile import party_mail

PROVINSI = "helpdesk@kpu-lampung.example.org"


def verdict(raw: bytes, **policy) -> Verdict:
    return SenderPolicy(**policy).verdict(raw, parse(raw))


def mail(sender=PROVINSI, body="Jawaban resmi KPU Provinsi.\n"):
    return party_mail(sender, "Re: [HD-MSJ #1] Eskalasi [Tiket#777]", body)


# --- Authentication-Results from the trusted server -------------------------------------

def test_dmarc_pass_from_the_trusted_server_passes():
    v = verdict(trusted(mail()), trusted_authserv_id=TRUSTED)
    assert v.verdict == "pass" and "dmarc=pass" in v.reason


def test_dmarc_fail_from_the_trusted_server_fails():
    assert verdict(trusted(mail(), "dmarc=fail"), trusted_authserv_id=TRUSTED).verdict == "fail"


def test_spf_and_dkim_both_failing_fails_without_a_dmarc_result():
    v = verdict(trusted(mail(), "spf=fail smtp.mailfrom=kpu-lampung.example.org; dkim=fail"),
                trusted_authserv_id=TRUSTED)
    assert v.verdict == "fail" and "spf=fail" in v.reason


def test_a_header_from_any_other_server_is_ignored():
    # The forgery: "Authentication-Results: mx.evil; dmarc=pass" says nothing.
    raw = b"Authentication-Results: mx.evil; dmarc=pass header.from=kpu-lampung.example.org\r\n" + mail()
    v = verdict(raw, trusted_authserv_id=TRUSTED)
    assert v.verdict == "none" and TRUSTED in v.reason


def test_a_forged_trusted_pass_below_the_real_servers_header_is_ignored():
    raw = forged_below(mail(), real="dmarc=fail", forged="dmarc=pass")
    assert verdict(raw, trusted_authserv_id=TRUSTED).verdict == "fail"
    # ... also when the real server found no DMARC result at all.
    raw = forged_below(mail(), real="spf=neutral", forged="dmarc=pass")
    assert verdict(raw, trusted_authserv_id=TRUSTED).verdict == "none"


def test_a_forged_trusted_header_right_under_the_real_one_cannot_overrule_it():
    real = f"Authentication-Results: {TRUSTED}; dmarc=fail header.from=kpu-lampung.example.org\r\n".encode()
    forged = f"Authentication-Results: {TRUSTED}; dmarc=pass header.from=kpu-lampung.example.org\r\n".encode()
    raw = real + forged + mail()
    assert verdict(raw, trusted_authserv_id=TRUSTED).verdict == "fail"


def test_the_block_may_span_several_headers_of_the_server():
    headers = [("authentication-results", f"{TRUSTED}; spf=pass smtp.mailfrom=x.org"),
               ("received-spf", "pass"),
               ("authentication-results", f"{TRUSTED}; dmarc=pass header.from=x.org"),
               ("received", "from a by b"),
               ("authentication-results", f"{TRUSTED}; dkim=fail")]
    found = trusted_results(headers, TRUSTED)
    assert set(found) == {"spf", "dmarc"} and found["dmarc"].result == "pass"


def test_dmarc_pass_for_another_domain_does_not_vouch_for_the_from_address():
    raw = (f"Authentication-Results: {TRUSTED}; dmarc=pass header.from=evil.example.net\r\n").encode() + mail()
    assert verdict(raw, trusted_authserv_id=TRUSTED).verdict == "none"


def test_a_malformed_header_is_no_result():
    raw = f"Authentication-Results: {TRUSTED}; ;;; ===\r\n".encode() + mail()
    assert verdict(raw, trusted_authserv_id=TRUSTED).verdict == "none"


# --- DKIM verified by us (no trusted server configured) ---------------------------------

@pytest.fixture(scope="module")
def key():
    return dkim_key()


def signed(raw: bytes, pem: bytes, domain: str = "kpu-lampung.example.org", selector: str = "s1") -> bytes:
    sig = dkim.sign(raw, selector.encode(), domain.encode(), pem, include_headers=[b"from", b"to", b"subject", b"date"])
    return sig + raw


def test_a_dkim_signed_mail_verified_through_the_injected_resolver_passes(key):
    pem, txt = key
    dns = dkim_dns({"s1._domainkey.kpu-lampung.example.org": txt})
    v = verdict(signed(mail(), pem), dnsfunc=dns)
    assert v == Verdict("pass", "dkim=pass d=kpu-lampung.example.org (aligned with kpu-lampung.example.org)")


def test_a_body_modified_copy_of_a_signed_mail_fails(key):
    pem, txt = key
    dns = dkim_dns({"s1._domainkey.kpu-lampung.example.org": txt})
    good = signed(mail(body="Jawaban: tidak boleh.\n"), pem)
    bad = good.replace(b"tidak boleh", b"boleh saja")
    assert bad != good
    v = verdict(bad, dnsfunc=dns)
    assert v.verdict == "fail" and "d=kpu-lampung.example.org" in v.reason


def test_a_valid_signature_of_another_organisation_is_not_aligned(key):
    pem, txt = key
    dns = dkim_dns({"s1._domainkey.mailer.example.net": txt})
    v = verdict(signed(mail(), pem, domain="mailer.example.net"), dnsfunc=dns)
    assert v.verdict == "none" and "not aligned" in v.reason


def test_a_subdomain_signature_is_aligned_relaxed(key):
    pem, txt = key
    dns = dkim_dns({"s1._domainkey.mail.kpu-lampung.example.org": txt})
    assert verdict(signed(mail(), pem, domain="mail.kpu-lampung.example.org"), dnsfunc=dns).passed


def test_a_missing_key_fails_and_dns_down_is_none(key):
    pem, _txt = key
    raw = signed(mail(), pem)
    assert verdict(raw, dnsfunc=dkim_dns({})).verdict == "fail"

    def down(name, timeout=5):
        raise TimeoutError("no DNS")

    v = verdict(raw, dnsfunc=down)
    assert v.verdict == "none" and "temperror" in v.reason


def test_unsigned_mail_is_none_and_unsigned_domains_make_it_pass():
    assert verdict(mail()).verdict == "none"
    v = verdict(mail(), unsigned_domains=("kpu-lampung.example.org",))
    assert v.verdict == "pass" and "unsigned_domains" in v.reason
    # never a failing one
    assert verdict(trusted(mail(), "dmarc=fail"), trusted_authserv_id=TRUSTED,
                   unsigned_domains=("kpu-lampung.example.org",)).verdict == "fail"


def test_organisational_domains():
    assert organizational_domain("mail.kpu-lampung.example.org") == "example.org"
    assert organizational_domain("lampung.kpu.go.id") == "kpu.go.id"
    assert organizational_domain("evil.my.id") == "evil.my.id"
    assert not aligned("evil.my.id", "pkb.my.id")
    assert aligned("mail.pkb.or.id", "pkb.or.id")


def test_the_policy_and_verdict_pickle_for_the_analysis_workers():
    policy = SenderPolicy(trusted_authserv_id=TRUSTED, unsigned_domains=("x.org",))
    assert pickle.loads(pickle.dumps(policy)) == policy
    v = Verdict("pass", "ok")
    assert pickle.loads(pickle.dumps(v)) == v and Verdict.from_json(v.as_json()) == v
    assert Verdict.from_json(None).verdict == "none"
