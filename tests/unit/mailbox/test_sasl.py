"""mailbox/sasl.py against the published examples: the bytes a server will compare.

The expected base64 strings are copied from RFC 7628 section 4.1 (OAUTHBEARER, IMAP,
host and port given), section 4.3 (the error challenge) and Google's XOAUTH2 protocol
document (the same example Microsoft's Exchange Online document uses), not computed by
the code under test.
"""
from __future__ import annotations

import base64

import pytest

from kpudesk.mailbox import sasl
from kpudesk.mailbox.errors import AuthenticationFailed

RFC7628_INITIAL = ("bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVy"
                   "IHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB")
RFC7628_TOKEN = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
RFC7628_ERROR = ("eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3Vy"
                 "YXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=")
GOOGLE_XOAUTH2 = ("dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhk"
                  "SFJoZG1semRHRXVZMjl0Q2cBAQ==")
GOOGLE_TOKEN = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
GOOGLE_ERROR = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K"


# ---- the client's first message ---------------------------------------------------------------

def test_oauthbearer_matches_rfc_7628_section_4_1_byte_for_byte():
    first = sasl.initial_response(sasl.OAUTHBEARER, sasl.Bearer("user@example.com", RFC7628_TOKEN),
                                  host="server.example.com", port=143)
    assert sasl.b64(first) == RFC7628_INITIAL


def test_oauthbearer_without_host_and_port_is_the_gs2_header_and_the_auth_field_only():
    first = sasl.initial_response(sasl.OAUTHBEARER, sasl.Bearer("user@example.com", "tok"))
    assert first == b"n,a=user@example.com,\x01auth=Bearer tok\x01\x01"


def test_xoauth2_matches_googles_document_byte_for_byte():
    first = sasl.initial_response(sasl.XOAUTH2, sasl.Bearer("someuser@example.com", GOOGLE_TOKEN))
    assert sasl.b64(first) == GOOGLE_XOAUTH2


def test_the_gs2_header_escapes_comma_and_equals_in_the_user_name():
    # RFC 5801 section 4: "," -> "=2C", "=" -> "=3D" (XOAUTH2 has no such header: verbatim)
    first = sasl.initial_response(sasl.OAUTHBEARER, sasl.Bearer("a,b=c@x", "t"))
    assert first.startswith(b"n,a=a=2Cb=3Dc@x,\x01")
    assert sasl.initial_response(sasl.XOAUTH2, sasl.Bearer("a,b=c@x", "t")).startswith(b"user=a,b=c@x\x01")


@pytest.mark.parametrize("user, token", [("a@x", "at-1 x"), ("a@x", "at-1\x01"), ("a@x", "at-1\r\n"),
                                         ("a\x01@x", "at-1"), ("a\n@x", "at-1")])
def test_a_control_character_or_space_cannot_smuggle_a_field(user, token):
    with pytest.raises(ValueError) as refused:
        sasl.initial_response(sasl.XOAUTH2, sasl.Bearer(user, token))
    assert token not in str(refused.value)


def test_only_the_two_oauth2_mechanisms_are_built():
    with pytest.raises(ValueError, match="PLAIN"):
        sasl.initial_response("PLAIN", sasl.Bearer("a@x", "t"))


def test_the_token_never_shows_in_a_repr():
    bearer = sasl.Bearer("a@x", "at-secret")
    assert "at-secret" not in repr(bearer) and "a@x" in repr(bearer)


# ---- which mechanism ----------------------------------------------------------------------------

@pytest.mark.parametrize("offered, chosen", [
    (["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"], "OAUTHBEARER"),
    (["login", "xoauth2"], "XOAUTH2"),            # Microsoft 365; aiosmtplib lowercases them
    (["LOGIN", "PLAIN"], None),
    ([], None),
])
def test_oauthbearer_is_preferred_then_xoauth2(offered, chosen):
    assert sasl.choose_mechanism(offered) == chosen


# ---- the server's side (the demo and test SMTP server) -------------------------------------------

def test_parsing_the_rfc_and_google_examples_gives_back_user_and_token():
    rfc = sasl.parse_initial_response(sasl.OAUTHBEARER, base64.b64decode(RFC7628_INITIAL))
    assert (rfc.user, rfc.token) == ("user@example.com", RFC7628_TOKEN)
    google = sasl.parse_initial_response(sasl.XOAUTH2, base64.b64decode(GOOGLE_XOAUTH2))
    assert (google.user, google.token) == ("someuser@example.com", GOOGLE_TOKEN)


def test_parsing_undoes_the_gs2_escaping():
    first = sasl.initial_response(sasl.OAUTHBEARER, sasl.Bearer("a,b=c=2C@x", "t"))
    assert sasl.parse_initial_response(sasl.OAUTHBEARER, first).user == "a,b=c=2C@x"


@pytest.mark.parametrize("mechanism, data", [
    (sasl.XOAUTH2, b"user=a@x\x01auth=Bearer t\x01"),           # one %x01 short
    (sasl.XOAUTH2, b"user=a@x\x01auth=Basic t\x01\x01"),        # not a bearer token
    (sasl.XOAUTH2, b"auth=Bearer t\x01\x01"),                   # no user
    (sasl.OAUTHBEARER, b"p=tls-unique,a=a@x,\x01auth=Bearer t\x01\x01"),  # channel binding
    (sasl.OAUTHBEARER, b"n,,\x01auth=Bearer t\x01\x01"),        # no authzid: no user to check
    (sasl.OAUTHBEARER, b"n,a=a@x,\x01auth\x01\x01"),            # a field without "="
    (sasl.OAUTHBEARER, b"\xff\xfe"),
])
def test_a_malformed_message_is_a_value_error_that_never_names_the_token(mechanism, data):
    with pytest.raises(ValueError) as refused:
        sasl.parse_initial_response(mechanism, data)
    assert "Bearer t" not in str(refused.value)


# ---- the server's error challenge ---------------------------------------------------------------

def test_the_error_challenge_of_rfc_7628_section_4_3_in_words():
    challenge = sasl.decode_challenge(RFC7628_ERROR)
    assert sasl.describe_error(challenge) == (
        "status invalid_token, scope example_scope, "
        "openid-configuration https://example.com/.well-known/openid-configuration")


def test_googles_xoauth2_error_challenge_in_words():
    assert sasl.describe_error(sasl.decode_challenge(GOOGLE_ERROR)) == "status 401, scope https://mail.google.com/"


def test_a_challenge_that_is_not_json_comes_back_printable():
    assert sasl.describe_error(b"token\x00expired\n") == "token expired"
    assert sasl.reason("535-5.7.8 Username and Password not accepted.\n535 5.7.8 Learn more", None) == (
        "535-5.7.8 Username and Password not accepted. 535 5.7.8 Learn more")
    assert sasl.describe_error(b"") == ""
    assert sasl.decode_challenge("not base64!") == b"not base64!"


def test_the_error_acknowledgements_are_rfc_7628s_x01_and_googles_empty_line():
    assert sasl.ERROR_ACK == {sasl.OAUTHBEARER: b"\x01", sasl.XOAUTH2: b""}
    assert sasl.b64(sasl.ERROR_ACK[sasl.OAUTHBEARER]) == "AQ=="


def test_the_reason_joins_the_final_reply_and_the_challenge_and_cuts_out_an_echoed_token():
    challenge = sasl.decode_challenge(GOOGLE_ERROR)
    assert sasl.reason("535 5.7.8 Username and Password not accepted", challenge) == (
        "535 5.7.8 Username and Password not accepted (status 401, scope https://mail.google.com/)")
    assert sasl.reason("NO bad token at-123 given", None, "at-123") == "NO bad token <token> given"
    # echoed where the text is cut short, or inside the challenge: no piece of it survives
    long_token = "at-" + "k" * 400
    assert "kkk" not in sasl.reason("x" * 290 + long_token, b'{"status": "%s"}' % long_token.encode(), long_token)
    assert sasl.reason("", None) == "no reason given"


# ---- where a token may go -----------------------------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_plaintext_to_loopback_is_allowed(host):
    sasl.refuse_plaintext("SMTP x", "smtp", "none", host)


@pytest.mark.parametrize("security, host", [("tls", "smtp.office365.com"), ("starttls", "smtp.gmail.com")])
def test_tls_to_anywhere_is_allowed(security, host):
    sasl.refuse_plaintext("SMTP x", "smtp", security, host)


def test_plaintext_elsewhere_is_refused_naming_the_setting_to_change():
    with pytest.raises(AuthenticationFailed, match=r'set imap.security = "starttls" or "tls"'):
        sasl.refuse_plaintext("IMAP imap.gmail.com:143", "imap", "none", "imap.gmail.com")
