"""The Laporan Hasil Konsultasi in a real headless Chromium (issue 15 "How it is checked"):
the chair's page and the print view of a period of 30 consultations, styled under the
desk's CSP, the table within the page (no overflow), Chromium's own print of it
(DevTools `Page.printToPDF`) on A4 sheets holding every ticket's reference with the table
header on each, and the PDF download answered as a file. Reuses the `kpudesk web` +
browser fixtures of test_web_browser.py."""
from __future__ import annotations

import base64
import io
import re

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.e2e.test_web_browser import KETUA, browser, web  # noqa: F401 - the fixtures

pypdf = pytest.importorskip("pypdf")

COUNT = 30


def _consultations(web) -> list[int]:
    ids = []
    for i in range(COUNT):
        r = web.desk.run("tickets", "new", "--channel", "tatap-muka" if i % 2 else "pesan-online",
                         "--party", ("PKB", "PDIP", "Golkar")[i % 3], "--name", f"Perwakilan Partai Nomor {i + 1:02d}",
                         "--phone", f"0812 3456 {i:04d}", "--subject", f"Pertanyaan tentang Sipol nomor {i + 1}",
                         "--message", "Bagaimana mengunggah dokumen keanggotaan yang ditolak sistem? " * 4,
                         "--as", "Rina Wulandari", "--json")
        assert r.code == 0, r.err
        ids.append(r.json()["id"])
    return ids


def test_the_periods_laporan_on_screen_in_print_and_as_a_download(web):
    ids = _consultations(web)
    web.login(KETUA)
    d = web.driver
    d.get(web.base + "/reports/consultations")
    web.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-ticket-id]")))
    shown = [int(e.get_attribute("data-ticket-id")) for e in d.find_elements(By.CSS_SELECTOR, "[data-ticket-id]")]
    assert shown == ids
    # the print stylesheet applies under the desk's CSP (a linked file, no inline style)
    header = d.find_element(By.CSS_SELECTOR, "table.daftar th")
    assert header.value_of_css_property("background-color") in ("rgba(232, 232, 232, 1)", "rgb(232, 232, 232)")
    # the PDF link answers a file to download, with the session's cookie, as a click would
    pdf_link = d.find_element(By.LINK_TEXT, "Unduh PDF").get_attribute("href")
    answer = d.execute_async_script(
        "const done = arguments[1]; fetch(arguments[0]).then(r => done([r.status, r.headers.get('content-type'),"
        " r.headers.get('content-disposition')]));", pdf_link)
    assert answer[0] == 200 and answer[1] == "application/pdf" and answer[2].startswith("attachment; filename=\"laporan-")

    d.get(d.find_element(By.LINK_TEXT, "Tampilan cetak (A4)").get_attribute("href"))
    web.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-ticket-id]")))
    overflow = d.execute_script(
        "const t = document.querySelector('table.daftar'), box = document.querySelector('.laporan');"
        "return [t.scrollWidth, box.clientWidth];")
    assert overflow[0] <= overflow[1], overflow  # the table fits its page, no column cut off
    pdf = base64.b64decode(d.execute_cdp_cmd("Page.printToPDF", {"printBackground": True,
                                                                  "preferCSSPageSize": True})["data"])
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    box = reader.pages[0].mediabox
    size = sorted((round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)))
    assert size == [210, 297]  # A4 (the period's pages turn landscape)
    texts = [" ".join(p.extract_text().split()) for p in reader.pages]
    assert 2 <= len(texts) <= 10, len(texts)
    assert "KOMISI PEMILIHAN UMUM" in texts[0] and "LAPORAN HASIL KONSULTASI" in texts[0]
    whole = " ".join(texts)
    for n in ids:
        assert re.search(rf"HD-MSJ #{n}(?!\d)", whole), n
    assert all("Nomor tiket" in t for t in texts if "HD-MSJ #" in t)  # the header on every sheet with rows
    assert "Koordinator Harian" in texts[-1]
    assert "Antrean" not in whole  # the desk's menu is not in the print view
