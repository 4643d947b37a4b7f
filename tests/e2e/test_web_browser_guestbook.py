"""The Buku Tamu in a real headless Chromium (issue 15 "How it is checked"): a visitor's
signature drawn with synthesised pointer strokes on the vendored Signature Pad, a photo
uploaded with it → the ticket exists with the identity, a non-blank signature PNG and the
photo archived with their hashes and queued for the cloud folder; the day's register for 25
visitors printed by Chromium itself (DevTools `Page.printToPDF`) is 2 A4 pages holding every
ticket's reference. Reuses the `kpudesk web` + browser fixtures of test_web_browser.py."""
from __future__ import annotations

import base64
import hashlib
import io
import re

import pytest
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from kpudesk.tickets.models import Attachment, Event, Message, MirrorItem, db
from tests.e2e.test_web_browser import RINA, browser, web  # noqa: F401 - the fixtures

pypdf = pytest.importorskip("pypdf")


def _photo(path) -> bytes:
    img = Image.new("RGB", (640, 480), (200, 180, 90))
    for x in range(100, 540):
        img.putpixel((x, 240), (20, 20, 20))
    img.save(path, format="JPEG", quality=85)
    return path.read_bytes()


def _rows_of(web, ticket_id: int):
    """The ticket's attachments and mirror rows, read from the database the desk writes."""
    app = web.desk.app()
    try:
        first = Message.select().where(Message.ticket == ticket_id).order_by(Message.id).get()
        files = {a.filename: a for a in Attachment.select().where(Attachment.message == first)}
        mirror = {m.remote_path: m for m in MirrorItem.select().where(MirrorItem.ticket == ticket_id)}
        created = Event.get((Event.ticket == ticket_id) & (Event.kind == "ticket.created")).detail
        return app, files, mirror, created
    finally:
        db.close()


def _draw(driver, canvas) -> None:
    """Two strokes across the pad, as a finger or a mouse makes them (pointer down, moves, up)."""
    w = canvas.size["width"]
    chain = ActionChains(driver, duration=20)
    chain.move_to_element_with_offset(canvas, -w // 3, 0).click_and_hold()
    for dx, dy in ((15, -12), (15, 14), (15, -16), (15, 18), (15, -10), (20, 6), (25, -4)):
        chain.move_by_offset(dx, dy)
    chain.release()
    chain.move_to_element_with_offset(canvas, 0, 20).click_and_hold()
    for dx, dy in ((30, 0), (30, 3), (30, -2)):
        chain.move_by_offset(dx, dy)
    chain.release().perform()


def test_a_visitor_signs_on_the_pad_and_a_photo_is_uploaded(web, tmp_path):
    photo = tmp_path / "foto-kunjungan.jpg"
    photo_bytes = _photo(photo)
    web.login(RINA)
    d = web.driver
    d.get(web.base + "/guestbook")
    block = web.wait().until(EC.visibility_of_element_located((By.ID, "signature-block")))  # the script ran
    d.find_element(By.NAME, "name").send_keys("Hendra Gunawan")
    d.find_element(By.NAME, "phone").send_keys("0812 7777 8888")
    d.find_element(By.NAME, "party").send_keys("PKB")
    d.find_element(By.NAME, "subject").send_keys("Verifikasi faktual")
    d.find_element(By.NAME, "message").send_keys("Kapan jadwal verifikasi faktual keanggotaan?")
    d.find_element(By.NAME, "files").send_keys(str(photo))
    canvas = block.find_element(By.ID, "signature-pad")
    # "Hapus" clears a first attempt; the second drawing is the one sent.
    _draw(d, canvas)
    d.find_element(By.ID, "signature-clear").click()
    assert d.execute_script("return document.getElementById('signature').value") == ""
    _draw(d, canvas)
    d.find_element(By.CSS_SELECTOR, "#guestbook-form [type=submit]").click()
    status = web.status_text()
    assert "Hendra Gunawan dicatat sebagai HD-MSJ #" in status and "ditandatangani di layar" in status
    assert web.foreign_requests() == []
    tid = int(re.search(r"HD-MSJ #(\d+)", status).group(1))
    shown = web.ticket(tid)
    assert shown["channel"] == "tatap-muka" and shown["party"] == "PKB"
    assert (shown["identity"]["name"], shown["identity"]["phone"]) == ("Hendra Gunawan", "+6281277778888")
    app, files, mirror, created = _rows_of(web, tid)
    assert set(files) == {"foto-kunjungan.jpg", "tanda-tangan.png"} and created["signature"] == "digital"
    assert 0 <= created["register_seconds"] < 300
    # The signature: a real PNG with the strokes' ink on it, archived under its hash.
    sig = app.archive.read(files["tanda-tangan.png"].path)
    assert hashlib.sha256(sig).hexdigest() == files["tanda-tangan.png"].sha256
    img = Image.open(io.BytesIO(sig)).convert("RGBA")
    alpha = img.getchannel("A")
    inked = sum(alpha.histogram()[1:])  # pixels with any opacity
    assert img.width >= 300 and 200 < inked < img.width * img.height // 4, inked
    left, _top, right, _bottom = alpha.getbbox()
    assert right - left > img.width // 3  # the strokes run across the pad, not a dot
    # The photo: byte-exact, typed by content, both queued for the cloud folder with their hash.
    assert app.archive.read(files["foto-kunjungan.jpg"].path) == photo_bytes
    assert files["foto-kunjungan.jpg"].content_type == "image/jpeg"
    for name, a in files.items():
        (item,) = [m for path, m in mirror.items() if path.endswith(f"/HD-MSJ-{tid}/{name}")]
        assert (item.sha256, item.size, item.path, item.status) == (a.sha256, a.size, a.path, "pending")
    # The register shows the signature as an image of the desk's own origin.
    d.get(web.base + "/guestbook/register")
    img_el = web.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, f"[data-ticket-id='{tid}'] img")))
    assert img_el.get_attribute("src").startswith(web.base + "/guestbook/signature/")
    assert d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img_el) == img.width


def test_without_a_drawing_the_visit_is_signed_on_paper(web):
    web.login(RINA)
    d = web.driver
    d.get(web.base + "/guestbook")
    web.wait().until(EC.visibility_of_element_located((By.ID, "signature-block")))
    for name, value in (("name", "Siti Aminah"), ("party", "Gerindra"), ("subject", "Akun Sipol"),
                        ("message", "Lupa kata sandi Sipol")):
        d.find_element(By.NAME, name).send_keys(value)
    d.find_element(By.CSS_SELECTOR, "#guestbook-form [type=submit]").click()
    assert "tanda tangan di kertas" in web.status_text()


def test_a_refused_entry_keeps_the_drawing_and_the_typing(web):
    web.login(RINA)
    d = web.driver
    d.get(web.base + "/guestbook")
    canvas = web.wait().until(EC.visibility_of_element_located((By.ID, "signature-pad")))
    for name, value in (("name", "Budi"), ("party", "Partai Antah Berantah"), ("subject", "Tanya"),
                        ("message", "Pertanyaan")):
        d.find_element(By.NAME, name).send_keys(value)
    _draw(d, canvas)
    d.find_element(By.CSS_SELECTOR, "#guestbook-form [type=submit]").click()
    alert = web.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]")))
    assert "partai tidak dikenal" in alert.text
    assert d.find_element(By.NAME, "name").get_attribute("value") == "Budi"
    kept = d.find_element(By.NAME, "signature").get_attribute("value")
    assert kept.startswith("data:image/png;base64,")
    # Corrected and sent again: the drawing shown again is the one stored.
    party = d.find_element(By.NAME, "party")
    party.clear()
    party.send_keys("PKB")
    d.find_element(By.CSS_SELECTOR, "#guestbook-form [type=submit]").click()
    status = web.status_text()
    assert "ditandatangani di layar" in status
    tid = int(re.search(r"HD-MSJ #(\d+)", status).group(1))
    app, files, _mirror, _created = _rows_of(web, tid)
    img = Image.open(io.BytesIO(app.archive.read(files["tanda-tangan.png"].path))).convert("RGBA")
    assert img.getchannel("A").getbbox() is not None


def test_the_register_of_25_visitors_prints_on_two_a4_pages(web):
    for i in range(25):
        r = web.desk.run("tickets", "new", "--channel", "tatap-muka", "--party", "PKB", "--name",
                         f"Pengunjung Nomor {i + 1:02d} Dengan Nama Yang Cukup Panjang", "--phone",
                         f"0812 3456 {i:04d}", "--subject", "Verifikasi", "--message", "Tanya jadwal",
                         "--as", "Rina Wulandari")
        assert r.code == 0, r.err
    web.login(RINA)
    web.driver.get(web.base + "/guestbook/register")
    web.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-ticket-id]")))
    pdf = base64.b64decode(web.driver.execute_cdp_cmd("Page.printToPDF", {
        "printBackground": True, "preferCSSPageSize": True})["data"])
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (210, 297)  # A4
    texts = [" ".join(p.extract_text().split()) for p in reader.pages]
    assert all("DAFTAR HADIR HELPDESK KONSULTASI" in t for t in texts)
    assert all("Tanda tangan" in t for t in texts)  # the header row on every sheet
    for n in range(1, 26):
        page = texts[0] if n <= 20 else texts[1]
        assert re.search(rf"HD-MSJ #{n}(?!\d)", page), n
        assert f"+628123456{n - 1:04d}" in page.replace(" ", ""), n  # the row printed whole
    assert "Antrean" not in texts[0]  # the desk's menu is not printed
