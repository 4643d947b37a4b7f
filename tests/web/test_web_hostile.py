"""Hostile mail stays inert on the desk's pages (issue 14 item 8): strangers' subjects, text
and HTML carrying script, event handlers, `javascript:` links and remote images reach the
browser as text, or — HTML-only mail — sanitised by nh3 inside a sandboxed frame with no
remote image; the mail's own `cid:` image may show."""
from __future__ import annotations

import base64
from html.parser import HTMLParser

import pytest

from kpudesk.daemon.web.mailview import sanitise, split_quoted
from kpudesk.tickets.models import Message, Ticket
from tests.corpus.hostile import party_mail
from tests.web_fixtures import WebDesk, web_fixture  # noqa: F401 - the `web` fixture

COORD = WebDesk.email("koordinator-harian")
PAYLOAD = ('<script>window.pwned=1</script><img src=x onerror="window.pwned=1">'
           '<a href="javascript:window.pwned=1">klik</a><img src="https://evil.example/pixel.gif">')
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


class Markup(HTMLParser):
    """Every tag with its attributes, and the srcdoc documents of frames (parsed too)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.frames: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "iframe" and "srcdoc" in a:
            self.frames.append(a["srcdoc"])


def parse(text: str) -> Markup:
    m = Markup()
    m.feed(text)
    return m


def assert_inert(text: str, *, frame: bool = False) -> None:
    """No script, no event handler, no javascript: URL, nothing from a foreign host."""
    m = parse(text)
    for tag, attrs in m.tags:
        if tag == "script":
            assert not frame and attrs.get("src", "").startswith("/static/"), attrs  # only our own file
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            if name in ("href", "src", "action", "srcset", "background", "poster", "formaction"):
                v = value.strip().lower()
                assert not v.startswith(("javascript:", "vbscript:", "data:text")), (tag, name, value)
                if tag != "a":  # a link is only followed by a click; nothing else may reach out
                    assert v.startswith(("/", "#", "data:image/")) or v == "", (tag, name, value)
        if tag == "iframe":
            assert "sandbox" in attrs and "allow-scripts" not in attrs["sandbox"], attrs
            assert "src" not in attrs
    for doc in m.frames:
        assert_inert(doc, frame=True)
        assert "window.pwned" not in doc


def html_only_mail(body_html: str, *, cid_png: bool = False) -> bytes:
    head = (b"From: Penyusup <penyusup@evil.example>\r\nTo: helpdesk@kpu-mesuji.example.org\r\n"
            b"Subject: =?utf-8?q?<script>window.pwned=1</script>_Akun?=\r\n"
            b"Message-ID: <html-1@evil.example>\r\nDate: Tue, 1 Dec 2026 09:00:00 +0700\r\nMIME-Version: 1.0\r\n")
    html_part = b"Content-Type: text/html; charset=utf-8\r\n\r\n" + body_html.encode() + b"\r\n"
    if not cid_png:
        return head + html_part
    return (head + b"Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\n" + html_part
            + b"--r\r\nContent-Type: image/png\r\nContent-ID: <logo@evil.example>\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(PNG) + b"\r\n--r--\r\n")


def only_ticket() -> int:
    return Ticket.select().first().id


def test_a_text_mail_with_markup_in_subject_name_and_body_is_shown_as_text(web):
    web.feeder.deliver(party_mail('"<img src=x onerror=window.pwned=1>" <lia@pdip.example.org>',
                                  "<script>window.pwned=1</script> Akun", "Halo " + PAYLOAD))
    tid = only_ticket()
    web.login(COORD)
    for path in ("/", f"/tickets/{tid}", "/escalations"):
        page = web.client.get(path).get_data(as_text=True)
        assert_inert(page)
        assert "<script>window" not in page and "<img src=x" not in page
    page = web.client.get(f"/tickets/{tid}").get_data(as_text=True)
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page  # shown, as text


def test_html_only_mail_is_sanitised_into_a_sandboxed_frame_without_remote_images(web):
    web.feeder.deliver(html_only_mail(f"<p>Mohon bantuan reset kata sandi Sipol</p>{PAYLOAD}"
                                      '<p style="background:url(https://evil.example/bg)">x</p>'
                                      '<img src="cid:logo@evil.example" alt="logo">', cid_png=True))
    tid = only_ticket()
    web.login(COORD)
    page = web.client.get(f"/tickets/{tid}").get_data(as_text=True)
    assert_inert(page)
    [doc] = parse(page).frames
    assert "Mohon bantuan reset kata sandi Sipol" in doc
    assert "evil.example" not in doc  # no remote image, no remote background
    images = [a for t, a in parse(doc).tags if t == "img" and a.get("src")]
    assert [a["src"] for a in images] == ["data:image/png;base64," + base64.b64encode(PNG).decode()]
    assert 'href="javascript' not in doc


def test_hostile_spam_and_quarantine_rows_are_text(web):
    web.feeder.deliver(party_mail('"<b onmouseover=window.pwned=1>x</b>" <promo@spam.example.net>',
                                  "<script>window.pwned=1</script>", PAYLOAD), folder="Spam")
    web.login(COORD)
    page = web.client.get("/spam").get_data(as_text=True)
    assert_inert(page)
    assert "&lt;script&gt;" in page
    assert Message.select().where(Message.disposition == "spam_held").count() == 1


@pytest.mark.parametrize("html, absent", [
    ('<a href="javascript:alert(1)">x</a>', "javascript:"),
    ('<a href="  JaVaScRiPt:alert(1)">x</a>', "alert"),
    ('<svg><script>alert(1)</script></svg>', "script"),
    ('<img src="https://evil.example/p.gif">', "evil"),
    ('<img srcset="https://evil.example/p.gif 1x">', "evil"),
    ('<form action="https://evil.example/"><input name=x></form>', "form"),
    ('<iframe src="https://evil.example/"></iframe>', "iframe"),
    ('<style>@import url(https://evil.example/x.css)</style>', "evil"),
    ('<div onclick="alert(1)">x</div>', "onclick"),
    ('<img src="cid:unknown@x">', "cid:"),
])
def test_sanitise_removes_what_could_run_or_reach_out(html, absent):
    assert absent not in sanitise(html).lower()


def test_split_quoted_keeps_own_words_and_folds_history():
    segs = split_quoted("Terima kasih.\n> kutipan 1\n> kutipan 2\nLagi\n\nPada Senin, Budi menulis:\n> lama")
    assert [(s.quoted, s.text) for s in segs] == [
        (False, "Terima kasih."), (True, "> kutipan 1\n> kutipan 2"), (False, "Lagi"),
        (True, "Pada Senin, Budi menulis:\n> lama")]
