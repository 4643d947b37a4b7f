"""`[storage] mirror`: what is accepted, and what is refused with a Bahasa message naming the key."""
from __future__ import annotations

import pytest

from kpudesk.daemon.config import settings_from_dict
from kpudesk.tickets.errors import ConfigError
from tests.feeder import base_settings


def read(tmp_path, **storage):
    data = base_settings(tmp_path)
    data["storage"].update(storage)
    return settings_from_dict(data, base=tmp_path)


def test_no_mirror_by_default(tmp_path):
    m = read(tmp_path).mirror
    assert not m.configured and m.remote is None and m.config is None and m.rclone == "rclone"


def test_a_remote_with_its_rclone_config(tmp_path):
    conf = tmp_path / "rclone.conf"
    conf.write_text("[kpu-drive]\ntype = drive\n", encoding="utf-8")
    m = read(tmp_path, mirror="kpu-drive:helpdesk/arsip/", mirror_config="rclone.conf", mirror_timeout=120).mirror
    assert (m.remote, m.config, m.timeout) == ("kpu-drive:helpdesk/arsip", conf, 120) and m.configured
    assert read(tmp_path, mirror="kpu drive:").mirror.remote == "kpu drive:"  # the remote's root


@pytest.mark.parametrize("value, key, words", [
    ("/mnt/awan", "storage.mirror", "tanpa titik dua"),
    ("helpdesk", "storage.mirror", "remote:folder"),
    (":webdav,url=http://x,pass=rahasia:", "storage.mirror", "rahasianya akan tertulis"),
    ("kpu-drive:../luar", "storage.mirror", '".."'),
    ("kpu-drive:a\\b", "storage.mirror", "garis miring terbalik"),
])
def test_a_bad_remote_is_refused_in_bahasa(tmp_path, value, key, words):
    with pytest.raises(ConfigError) as exc:
        read(tmp_path, mirror=value)
    assert exc.value.key == key and words in str(exc.value)


def test_a_missing_rclone_config_or_one_without_a_mirror_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="tidak ditemukan") as exc:
        read(tmp_path, mirror="kpu-drive:helpdesk", mirror_config="/nonexistent/rclone.conf")
    assert exc.value.key == "storage.mirror_config"
    (tmp_path / "rclone.conf").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="mirror belum"):
        read(tmp_path, mirror_config="rclone.conf")
    with pytest.raises(ConfigError, match="antara 5 dan 3600"):
        read(tmp_path, mirror="kpu-drive:helpdesk", mirror_timeout=1)
    with pytest.raises(ConfigError, match="tidak dikenal|unknown|mirror_url"):
        read(tmp_path, mirror_url="kpu-drive:helpdesk")
