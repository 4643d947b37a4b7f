"""The dashboards in a real headless Chromium under the desk's own CSP: the Sipol CSV and a
screenshot uploaded through the /progress form → the figures, the inline-SVG charts drawn
(bars with a real size on screen) and the evidence queued for the cloud folder; a bad CSV
shows its rows in Bahasa and stores nothing; the chair's /overview draws its charts. No
script is needed and nothing foreign is loaded. Reuses test_web_browser.py's fixtures."""
from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from kpudesk.tickets.models import Evidence, MirrorItem, ProgressImport, db
from tests.e2e.test_web_browser import KETUA, RINA, browser, web  # noqa: F401 - the fixtures

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def _rows(web):
    web.desk.app()
    try:
        return (list(ProgressImport.select()), list(Evidence.select()), list(MirrorItem.select()))
    finally:
        db.close()


def _fresh(web) -> None:
    """Forget what the shared browser logged for earlier tests (their servers had other ports)."""
    web.driver.get_log("performance")
    web.driver.get_log("browser")


def _csp_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def test_upload_through_the_form_draws_the_charts(web, tmp_path):
    csv = tmp_path / "progres-0845.csv"
    csv.write_text("partai;pengurus;anggota;kantor\nPKB;3;1.200;1\nGolkar;2;640;0\n", encoding="utf-8")
    shot = tmp_path / "dasbor-0845.png"
    shot.write_bytes(PNG)
    _fresh(web)
    web.login(RINA)
    d = web.driver
    d.get(web.base + "/progress")
    d.find_element(By.ID, "csv").send_keys(str(csv))
    d.find_element(By.ID, "evidence").send_keys(str(shot))
    d.find_element(By.CSS_SELECTOR, "form[action='/progress'] [type=submit]").click()
    assert "Impor progres #1 disimpan: 2 partai, 1 berkas bukti." in web.status_text()
    row = d.find_element(By.CSS_SELECTOR, "tr[data-party='1']").text
    assert "1.200 / 1.000" in row and "Rina Wulandari" in row
    bars = d.find_elements(By.CSS_SELECTOR, "figure[data-chart='p1-members'] rect.bar")
    assert len(bars) == 1
    box = d.execute_script("const b = arguments[0].getBoundingClientRect(); return [b.width, b.height];", bars[0])
    assert box[0] > 5 and box[1] > 20  # drawn, not an empty box
    line = d.find_element(By.CSS_SELECTOR, "figure[data-chart='p4-members'] line.requirement")
    assert d.execute_script("return arguments[0].getBoundingClientRect().width", line) > 100  # the requirement drawn
    imports, evidence, mirror = _rows(web)
    assert len(imports) == 1 and [e.filename for e in evidence] == ["dasbor-0845.png"]
    assert [(m.remote_path.split("/", 2)[2], m.sha256, m.status) for m in mirror] == [
        ("progres/dasbor-0845.png", evidence[0].sha256, "pending")]
    assert web.foreign_requests() == [] and _csp_errors(d) == []


def test_a_bad_csv_shows_its_rows_and_stores_nothing(web, tmp_path):
    csv = tmp_path / "salah.csv"
    csv.write_text("partai;pengurus;anggota;kantor\nPKB;-1;2;3\nPartai Entah;1;2;3\n", encoding="utf-8")
    web.login(RINA)
    d = web.driver
    d.get(web.base + "/progress")
    d.find_element(By.ID, "csv").send_keys(str(csv))
    d.find_element(By.CSS_SELECTOR, "form[action='/progress'] [type=submit]").click()
    said = web.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]"))).text
    assert "baris 2: kolom pengurus: '-1' negatif" in said and "baris 3: partai 'Partai Entah' tidak dikenal" in said
    assert _rows(web) == ([], [], [])


def test_the_chair_reads_the_overview_with_its_charts(web):
    _fresh(web)
    web.login(KETUA)
    d = web.driver
    d.get(web.base + "/overview")
    web.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-period='today']")))
    assert d.find_element(By.CSS_SELECTOR, "[data-period='today'] [data-figure='new'] .value").text == "0"
    svg = d.find_element(By.CSS_SELECTOR, "figure[data-chart='week-channel'] svg")
    assert svg.size["width"] > 100 and svg.size["height"] > 50
    assert _csp_errors(d) == [] and web.foreign_requests() == []
