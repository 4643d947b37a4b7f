"""The desk's collision safety in a real headless Chromium (issue 14 item 6): a reply typed
while the party's next mail is polled is held back — "Ada pesan baru sejak Anda membuka tiket
ini", the new message on the page, the typed text still in the box — and nothing is mailed;
sent again from that page, exactly one answer reaches the party. Fixtures (kpudesk web,
Dovecot, the SMTP server, Chromium) are tests/e2e/test_web_browser.py's."""
from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.corpus.hostile import party_mail
from tests.e2e.test_web_browser import PARTY, RINA, _poll_one, _sent_to, browser, web  # noqa: F401 - fixtures

TYPED = "Selamat siang, silakan unggah ulang berkas KTA dalam format PDF di bawah 2 MB. Salam, Rina"


def test_a_reply_typed_while_new_mail_arrived_is_held_back_then_sent_once(web):
    first = "<kta-ulang-1@pkb-mesuji.example>"
    tid = _poll_one(web, party_mail(PARTY, "Unggah KTA gagal", "Unggah KTA kami gagal terus di Sipol. Budi, PKB",
                                    message_id=first))
    before = len(_sent_to(web.smtp, PARTY))  # the acknowledgement
    web.login(RINA)
    web.open_ticket(tid)
    d = web.driver
    form_css = f"form[action$='/tickets/{tid}/reply']"
    d.find_element(By.CSS_SELECTOR, f"{form_css} [name=body]").send_keys(TYPED)
    # meanwhile the party writes again and the daemon polls it onto the ticket
    web.desk.imap_user.append("INBOX", party_mail(PARTY, "Re: Unggah KTA gagal",
                                                  "Tambahan: berkas kami berformat JPG 5 MB.", in_reply_to=first))
    assert web.desk.run("poll").code == 0
    assert len(web.ticket(tid)["messages"]) >= 3
    d.find_element(By.CSS_SELECTOR, f"{form_css} [type=submit]").click()
    alert = web.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, "#held-back[role=alert]")))
    assert "Ada pesan baru sejak Anda membuka tiket ini" in alert.text
    assert "berformat JPG 5 MB" in alert.text
    assert d.find_element(By.CSS_SELECTOR, ".message-new[data-message-id]").is_displayed()
    assert d.find_element(By.CSS_SELECTOR, f"{form_css} [name=body]").get_attribute("value") == TYPED
    assert web.desk.run("send").code == 0
    assert len(_sent_to(web.smtp, PARTY)) == before  # held back: nothing was mailed
    assert web.ticket(tid)["status"] == "baru"
    # the officer has read the new message; sending again from this page goes out, once
    d.find_element(By.CSS_SELECTOR, f"{form_css} [type=submit]").click()
    assert "antrean kirim" in web.status_text()
    assert web.desk.run("send").code == 0
    answers = _sent_to(web.smtp, PARTY)[before:]
    assert len(answers) == 1 and TYPED in answers[0].get_body(("plain",)).get_content()
    assert web.ticket(tid)["status"] == "dijawab"
