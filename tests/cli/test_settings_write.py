"""The one settings generator (daemon/settings_write.py): what it writes reads back as the
same values, and the demo's and the tests' settings are valid settings files."""
from __future__ import annotations

import tomllib

import pytest
from kpudesk.daemon.config import load_settings
from kpudesk.daemon.demo.content import DESK_OFFICERS
from kpudesk.daemon.demo.content import settings_text as demo_settings
from kpudesk.daemon.settings_write import loopback_sections, settings_toml, toml_value


@pytest.mark.parametrize("value", [
    'kutip " dan \\ garis miring', "baris\nbaru\ttab", "Rp 50.000 — ✓ ñ", "\x7f\x00\x1b", r"\[Tiket#(\d+)\]",
    "", 0, -3, 2.5, True, False, ["a", 'b"c'], [],
])
def test_every_value_reads_back_unchanged(value):
    assert tomllib.loads(f"k = {toml_value(value)}")["k"] == value


def test_sections_arrays_of_tables_notes_and_header():
    text = settings_toml(header="baris satu\n\nbaris dua", notes={"a.x": "catatan"},
                         a={"x": 1, "y": "z"}, officers=[{"name": "A"}, {"name": "B"}], b={"c": ["d"]})
    assert text.startswith("# baris satu\n#\n# baris dua\n")
    assert "x = 1  # catatan\n" in text
    assert tomllib.loads(text) == {"a": {"x": 1, "y": "z"}, "officers": [{"name": "A"}, {"name": "B"}],
                                   "b": {"c": ["d"]}}


def test_a_value_without_a_toml_form_is_a_programming_error():
    with pytest.raises(TypeError):
        toml_value({"nested": 1})


def test_the_loopback_desk_is_a_valid_settings_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KPUDESK_T_PW", "x")
    text = settings_toml(**loopback_sections(imap_port=1143, smtp_port=1025, password_env="KPUDESK_T_PW",
                                             imap={"batch_size": 7}))
    (tmp_path / "settings.toml").write_text(text, encoding="utf-8")
    s = load_settings(tmp_path / "settings.toml")
    assert (s.imap.port, s.imap.security, s.imap.batch_size, s.imap.password.read()) == (1143, "none", 7, "x")
    assert (s.smtp.port, s.database_url) == (1025, f"sqlite:///{tmp_path / 'state' / 'kpudesk.db'}")


def test_the_demo_settings_are_valid_and_complete(tmp_path):
    (tmp_path / "parties-local.toml").write_text("", encoding="utf-8")
    (tmp_path / "settings.toml").write_text(demo_settings(1143, 1025), encoding="utf-8")
    s = load_settings(tmp_path / "settings.toml")
    assert s.imap.password.file == tmp_path / "imap-password" and s.default_officer == "Rina Wulandari"
    assert s.escalation.provinsi_ticket_pattern == r"\[Tiket#(\d+)\]" and len(s.reports.recap_to) == 3
    assert [o.role for o in s.officers] == ["anggota-helpdesk", "anggota-kpu"]
    assert s.mail.trusted_authserv_id == "mx.kpu-mesuji.example.org" and s.log_level == "WARNING"


def test_the_demo_settings_with_its_desk_logins(tmp_path):
    """What `kpudesk demo` writes when it opens the web desk: the story's officers and the
    four demo logins, each with a role the desk knows."""
    (tmp_path / "parties-local.toml").write_text("", encoding="utf-8")
    (tmp_path / "settings.toml").write_text(demo_settings(1143, 1025, desk_officers=DESK_OFFICERS), encoding="utf-8")
    s = load_settings(tmp_path / "settings.toml")
    assert [o.role for o in s.officers] == ["anggota-helpdesk", "anggota-kpu", "koordinator-harian", "anggota-kpu",
                                            "ketua"]
