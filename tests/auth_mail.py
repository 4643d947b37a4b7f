"""Test helper: mail as the office's receiving server hands it over, with its verdict.

`trusted(raw, "dmarc=pass")` prepends what a real receiving server adds on top of a mail
it accepted: its own `Authentication-Results` (authserv-id `TRUSTED`) above its
`Received:` line. `forged_below(raw, ...)` is an attacker's copy: a header claiming the
trusted server's id sits inside the mail itself, below the real server's own.
`dkim_key()`/`dkim_dns()` make a DKIM key and a resolver serving its record.
"""
from __future__ import annotations

from email.utils import parseaddr

TRUSTED = "mx.kpu-mesuji.example.org"
MAIL_SETTINGS = f'\n[mail]\ntrusted_authserv_id = "{TRUSTED}"\n'


def _from_domain(raw: bytes) -> str:
    for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"from:"):
            return parseaddr(line[5:].decode("utf-8", "replace"))[1].rpartition("@")[2]
    return "example.org"


def _received(server: str = TRUSTED) -> bytes:
    return (f"Received: from mail.sender.example ([192.0.2.25]) by {server} with ESMTPS id 4Xyz; "
            "Mon, 2 Dec 2024 09:00:00 +0700\r\n").encode()


def trusted(raw: bytes, results: str = "dmarc=pass", server: str = TRUSTED) -> bytes:
    """`raw` as delivered by `server`, which judged it `results` (e.g. "dmarc=fail")."""
    dom = _from_domain(raw)
    ar = f"Authentication-Results: {server};\r\n\t{results} header.from={dom}\r\n".encode()
    return ar + _received(server) + raw


def forged_below(raw: bytes, real: str = "dmarc=fail", forged: str = "dmarc=pass") -> bytes:
    """An attacker's mail carrying its own "trusted" pass, delivered by the real server
    which judged it `real`."""
    dom = _from_domain(raw)
    inner = f"Authentication-Results: {TRUSTED}; {forged} header.from={dom}\r\n".encode() + raw
    return trusted(inner, real)


def dkim_key():
    """(private key PEM, DNS TXT record) of a fresh 1024-bit RSA DKIM key."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(pub)


def dkim_dns(records: dict[str, bytes]):
    """A dkimpy `dnsfunc` answering from `records` ({"sel._domainkey.example.org": txt})."""

    def lookup(name, timeout=5):
        key = (name.decode() if isinstance(name, bytes) else name).rstrip(".").lower()
        return records.get(key)

    return lookup
