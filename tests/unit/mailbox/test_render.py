"""Templates render strictly, in Bahasa Indonesia, with dates in the helpdesk's zone."""
from __future__ import annotations

import copy
import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from jinja2 import UndefinedError

from kpudesk.mailbox.render import BUILTIN_DIR, TEMPLATES, Renderer, jam, tanggal, tgl, zone_label
from kpudesk.mailbox.template_samples import SAMPLES

FRIDAY = datetime(2026, 11, 27, 7, 5, tzinfo=UTC)  # 14.05 WIB


@pytest.fixture
def renderer() -> Renderer:
    return Renderer()


def sample(name: str, **changes) -> dict:
    ctx = copy.deepcopy(SAMPLES[name])
    ctx.update(changes)
    return ctx


# --- the built-in set --------------------------------------------------------------------------

def test_every_builtin_template_has_a_sample_and_a_file():
    assert set(SAMPLES) == set(TEMPLATES)
    on_disk = {p.relative_to(BUILTIN_DIR).as_posix() for p in BUILTIN_DIR.rglob("*.j2")}
    assert on_disk == set(TEMPLATES)


@pytest.mark.parametrize("name", TEMPLATES)
def test_builtin_template_renders_with_its_sample(renderer, name):
    out = renderer.render(name, sample(name))
    assert out.strip()
    assert "HD-MSJ #12" in out
    assert "Helpdesk KPU Kabupaten Mesuji" in out
    assert "Undefined" not in out and "None" not in out


def test_check_passes_on_the_samples(renderer):
    assert renderer.check(SAMPLES) == []


def test_builtin_dir_is_next_to_the_package():
    assert BUILTIN_DIR.is_dir()
    assert (BUILTIN_DIR / "party" / "ack.txt.j2").is_file()


# --- contents ----------------------------------------------------------------------------------

def test_ack_full(renderer):
    out = renderer.render("party/ack.txt.j2", sample("party/ack.txt.j2"))
    assert out.startswith("Yth. Bapak/Ibu Siti Rahmawati\n")
    assert "Dengan hormat," in out and "Hormat kami," in out
    assert '"[HD-MSJ #12]"' in out
    assert "FAQ Sipol" in out and "Anggota KPU Kabupaten" in out and "KPU Provinsi" in out
    assert "Senin–Minggu, pukul 08.00–17.00 WIB" in out
    assert "di luar jam layanan" in out
    assert "mulai Sabtu, 28 November 2026 pukul 08.00 WIB" in out
    assert "  - nama partai politik\n  - nomor telepon/WhatsApp\n" in out
    assert "Surel ini dikirim otomatis" in out
    assert out.endswith("\n") and not out.endswith("\n\n")


def test_ack_in_hours_with_complete_identity(renderer):
    ctx = sample("party/ack.txt.j2", identity_missing=[], outside_hours=False, next_open=None)
    out = renderer.render("party/ack.txt.j2", ctx)
    assert "di luar jam layanan" not in out
    assert "melengkapi data" not in out
    assert "\n\n\n" not in out


def test_ack_outside_hours_without_next_open(renderer):
    ctx = sample("party/ack.txt.j2", next_open=None)
    out = renderer.render("party/ack.txt.j2", ctx)
    assert "pada jam layanan berikutnya" in out


def test_unnamed_requester_is_addressed_politely(renderer):
    for name in ("party/ack.txt.j2", "party/answer.txt.j2", "party/followup.txt.j2", "party/answer.html.j2"):
        ctx = sample(name)
        ctx["requester"]["name"] = None
        assert "Yth. Bapak/Ibu Perwakilan Partai Politik" in renderer.render(name, ctx)


def test_answer_body_is_verbatim_and_faq_line_optional(renderer):
    body = "Baris satu\n  - butir <b>tebal</b> & lain-lain\nBaris tiga"
    out = renderer.render("party/answer.txt.j2", sample("party/answer.txt.j2", body=body))
    assert body in out
    assert "Rujukan: FAQ Sipol verfak-003" in out
    assert "Rina Wulandari\nAnggota Tim Helpdesk\nHelpdesk KPU Kabupaten Mesuji\n" in out
    out = renderer.render("party/answer.txt.j2", sample("party/answer.txt.j2", faq=None))
    assert "Rujukan" not in out


def test_followup_is_short(renderer):
    out = renderer.render("party/followup.txt.j2", sample("party/followup.txt.j2"))
    assert "Anggota KPU Kabupaten Mesuji" in out
    assert "Jumat, 27 November 2026 pukul 14.35 WIB" in out
    assert len(out.splitlines()) < 20


def test_escalations_carry_the_case(renderer):
    for name in ("internal/escalation_anggota.txt.j2", "internal/escalation_provinsi.txt.j2"):
        out = renderer.render(name, sample(name))
        assert "0812-0000-0000" in out and "Partai Contoh" in out
        assert "> Kami dari DPC Partai Contoh" in out
        assert "verfak-003" in out and "(skor 4.72)" in out
        assert "Catatan petugas:" in out
        assert "[2] Catatan - Rina Wulandari - Jumat, 27 November 2026 pukul 14.25 WIB" in out
        assert "membalas surel ini" in out
    out = renderer.render("internal/escalation_provinsi.txt.j2", sample("internal/escalation_provinsi.txt.j2"))
    assert "KPU Kabupaten Mesuji" in out


def test_escalation_with_empty_note_and_missing_identity(renderer):
    name = "internal/escalation_anggota.txt.j2"
    ctx = sample(name, note="", identity={"name": None, "party": None, "phone": None, "email": None},
                 faq_result={"covered": True, "hits": []}, conversation=[])
    out = renderer.render(name, ctx)
    assert "Catatan petugas" not in out
    assert "Riwayat percakapan" not in out
    assert "Partai politik   : -" in out
    assert "Surel            : sekretariat.dpc@partai-contoh.example.org" in out


# --- strictness and checks ------------------------------------------------------------------------

def test_missing_variable_raises(renderer):
    ctx = sample("party/ack.txt.j2")
    del ctx["requester"]
    with pytest.raises(UndefinedError):
        renderer.render("party/ack.txt.j2", ctx)


def test_check_reports_missing_variable(renderer):
    ctx = sample("party/ack.txt.j2")
    del ctx["requester"]
    problems = renderer.check({"party/ack.txt.j2": ctx, "party/followup.txt.j2": SAMPLES["party/followup.txt.j2"]})
    assert problems == ["party/ack.txt.j2: 'requester' is undefined"]


def test_check_reports_missing_attribute(renderer):
    ctx = sample("party/answer.txt.j2")
    del ctx["officer"]["role_label"]
    (problem,) = renderer.check({"party/answer.txt.j2": ctx})
    assert problem.startswith("party/answer.txt.j2: ") and "role_label" in problem


def test_check_reports_unknown_template(renderer):
    assert renderer.check({"party/nope.txt.j2": {}}) == ["party/nope.txt.j2: template not found"]


def test_check_reports_syntax_errors_in_overrides(tmp_path):
    (tmp_path / "party").mkdir()
    (tmp_path / "party" / "ack.txt.j2").write_text("Yth. {{ requester.name \n", encoding="utf-8")
    (tmp_path / "party" / "extra.txt.j2").write_text("{% if x %}tidak ditutup\n", encoding="utf-8")
    problems = Renderer(tmp_path).check(SAMPLES)
    assert len(problems) == 2
    assert problems[0].startswith("party/ack.txt.j2:1: syntax error:")
    assert problems[1].startswith("party/extra.txt.j2:")
    assert "syntax error" in problems[1]


def test_override_dir_wins(tmp_path):
    (tmp_path / "party").mkdir()
    (tmp_path / "party" / "ack.txt.j2").write_text("Lokal {{ ticket.ref }}\n", encoding="utf-8")
    r = Renderer(tmp_path)
    assert r.render("party/ack.txt.j2", sample("party/ack.txt.j2")) == "Lokal HD-MSJ #12\n"
    # not overridden: the built-in one
    assert "Rujukan: FAQ Sipol" in r.render("party/answer.txt.j2", sample("party/answer.txt.j2"))
    assert r.check(SAMPLES) == []


def test_exists(tmp_path):
    (tmp_path / "party").mkdir()
    (tmp_path / "party" / "only_here.txt.j2").write_text("x\n", encoding="utf-8")
    r = Renderer(tmp_path)
    assert r.exists("party/ack.html.j2")
    assert r.exists("party/only_here.txt.j2")
    assert not r.exists("party/followup.html.j2")
    assert not Renderer().exists("party/only_here.txt.j2")


def test_missing_override_dir_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        Renderer(tmp_path / "nope")


def test_unknown_timezone_is_an_error():
    with pytest.raises(ValueError, match="time zone"):
        Renderer(timezone="Asia/Mesuji")


# --- HTML ---------------------------------------------------------------------------------------------

def test_html_autoescapes_the_body_and_keeps_line_breaks(renderer):
    body = 'Baris satu <script>alert("x")</script>\nBaris dua & tiga'
    ctx = sample("party/answer.html.j2", body=body)
    ctx["requester"]["name"] = "<b>Budi</b>"
    out = renderer.render("party/answer.html.j2", ctx)
    assert "<script>" not in out
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;<br>\nBaris dua &amp; tiga" in out
    assert "&lt;b&gt;Budi&lt;/b&gt;" in out and "<b>Budi</b>" not in out
    # the text part is not escaped
    text = renderer.render("party/answer.txt.j2", sample("party/answer.txt.j2", body=body))
    assert body in text


def test_html_ack_escapes_the_subject(renderer):
    ctx = sample("party/ack.html.j2")
    ctx["ticket"]["subject"] = 'Soal "<img src=x onerror=alert(1)>"'
    out = renderer.render("party/ack.html.j2", ctx)
    assert "<img" not in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out


# --- dates ---------------------------------------------------------------------------------------------

@pytest.fixture
def host_tz(monkeypatch):
    """Set the host's TZ for one test; restore it (and the C library's view) afterwards."""
    def set_tz(value: str) -> None:
        monkeypatch.setenv("TZ", value)
        time.tzset()
    yield set_tz
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("host", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_date_filters_ignore_the_host_zone(host_tz, host):
    host_tz(host)
    r = Renderer()
    f = r.env.filters
    assert f["tanggal"](FRIDAY) == "Jumat, 27 November 2026 pukul 14.05 WIB"
    assert f["tgl"](FRIDAY) == "27 November 2026"
    assert f["jam"](FRIDAY) == "14.05 WIB"
    out = r.render("party/ack.txt.j2", sample("party/ack.txt.j2"))
    assert "pada Jumat, 27 November 2026 pukul 14.05 WIB." in out


def test_date_from_another_offset_is_converted():
    nyc = FRIDAY.astimezone(timezone(timedelta(hours=-5)))
    assert tanggal(nyc) == "Jumat, 27 November 2026 pukul 14.05 WIB"


def test_date_crossing_midnight_changes_the_day():
    late = datetime(2026, 11, 27, 17, 30, tzinfo=UTC)
    assert tanggal(late) == "Sabtu, 28 November 2026 pukul 00.30 WIB"


def test_naive_datetimes_are_taken_as_utc():
    assert tanggal(FRIDAY.replace(tzinfo=None)) == "Jumat, 27 November 2026 pukul 14.05 WIB"


def test_tgl_accepts_a_date():
    assert tgl(date(2026, 1, 5)) == "5 Januari 2026"


def test_day_and_month_names():
    days = [tanggal(datetime(2026, 11, 23 + i, 5, 0, tzinfo=UTC)).split(",")[0] for i in range(7)]
    assert days == ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]
    months = [tgl(date(2026, m, 1)).split()[1] for m in range(1, 13)]
    assert months == ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
                      "September", "Oktober", "November", "Desember"]


@pytest.mark.parametrize(("zone", "expected"), [
    ("Asia/Jakarta", "14.05 WIB"),
    ("Asia/Pontianak", "14.05 WIB"),
    ("Asia/Makassar", "15.05 WITA"),
    ("Asia/Jayapura", "16.05 WIT"),
    ("UTC", "07.05 UTC"),
    ("Europe/Amsterdam", "08.05 UTC+1"),
    ("America/St_Johns", "03.35 UTC-3.30"),
])
def test_zone_labels(zone, expected):
    assert jam(FRIDAY, zone) == expected
    assert Renderer(timezone=zone).env.filters["jam"](FRIDAY) == expected


def test_zone_label_follows_daylight_saving():
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert jam(summer, "Europe/Amsterdam") == "14.00 UTC+2"
    assert zone_label("Asia/Makassar") == "WITA"


@pytest.mark.parametrize("payload", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{{ joiner.__init__.__globals__['os'].system('touch MARKER') }}",
    "{% set x = namespace().__class__ %}{{ x.__base__.__subclasses__() }}",
])
def test_an_override_template_cannot_reach_python_internals(tmp_path, payload):
    from jinja2.sandbox import SecurityError

    marker = tmp_path / "ran"
    (tmp_path / "party").mkdir()
    (tmp_path / "party" / "ack.txt.j2").write_text(payload.replace("MARKER", str(marker)))
    r = Renderer(tmp_path)
    with pytest.raises(SecurityError):
        r.render("party/ack.txt.j2", copy.deepcopy(SAMPLES["party/ack.txt.j2"]))
    (problem,) = r.check({"party/ack.txt.j2": SAMPLES["party/ack.txt.j2"]})
    assert problem.startswith("party/ack.txt.j2: ditolak sandbox templat") and "\n" not in problem
    assert not marker.exists()
