"""The systemd unit is valid and carries the hardening and lifecycle the deployment relies on."""
from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "kpudesk.service"


def unit() -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(UNIT)
    return cp


def test_systemd_analyze_verify_passes(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing: .ci/run installs the systemd package"
    exe = shutil.which("kpudesk")
    assert exe, "the kpudesk console script is not installed"
    text = UNIT.read_text().replace("/opt/kpudesk/venv/bin/kpudesk", exe)
    target = tmp_path / "kpudesk.service"
    target.write_text(text)
    r = subprocess.run([analyze, "verify", str(target)], capture_output=True, text=True)
    problems = [line for line in r.stderr.splitlines() if "kpudesk.service" in line]
    assert r.returncode == 0 and not problems, r.stderr


def test_unit_is_hardened_and_notifies():
    s = unit()["Service"]
    assert s["Type"] == "notify" and int(s["WatchdogSec"]) > 0
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
                       "Restart": "on-failure", "StateDirectory": "kpudesk", "User": "kpudesk"}.items():
        assert s[key] == value
    assert s["ExecStart"].split()[-1] == "run"
    assert "Environment=KPUDESK_" not in UNIT.read_text()  # secrets come from the EnvironmentFile


def test_env_example_names_the_variables_the_example_settings_use():
    env = (ROOT / "systemd" / "kpudesk.env.example").read_text()
    settings = (ROOT / "settings.toml").read_text()
    for var in ("KPUDESK_IMAP_PASSWORD", "KPUDESK_SMTP_PASSWORD"):
        assert var in env and var in settings


def test_the_start_checks_settings_only_so_a_mail_server_outage_does_not_stop_the_service():
    """`check` online exits 75 while IMAP or SMTP is down, which would keep the daemon (and so
    the outbox) stopped for the whole outage; `check --offline` contacts nothing."""
    s = unit()["Service"]
    assert s["ExecStartPre"].split()[-2:] == ["check", "--offline"]
    assert s["UMask"] == "0077"


def test_env_example_names_the_database_password_variable_of_the_example_settings():
    env = (ROOT / "systemd" / "kpudesk.env.example").read_text()
    settings = (ROOT / "settings.toml").read_text()
    assert "KPUDESK_DB_PASSWORD" in env and 'password_env = "KPUDESK_DB_PASSWORD"' in settings


def _active_env_names(text: str) -> set[str]:
    return set(re.findall(r'^\s*\w+_env\s*=\s*"(KPUDESK_\w+)"', text, re.M))


def test_the_env_example_sets_exactly_the_variables_the_example_settings_read():
    """A variable set in kpudesk.env that no active *_env line names is silently ignored
    (issue 12: KPUDESK_SECRET with secret_env commented out)."""
    env = (ROOT / "systemd" / "kpudesk.env.example").read_text()
    assigned = set(re.findall(r"^(KPUDESK_\w+)=", env, re.M))
    assert assigned == _active_env_names((ROOT / "settings.toml").read_text())
    # the commented ones are the commented settings
    commented = set(re.findall(r"^#\s*(KPUDESK_\w+)=", env, re.M))
    assert commented <= set(re.findall(r'_env\s*=\s*"(KPUDESK_\w+)"', (ROOT / "settings.toml").read_text()))


def test_the_unit_names_no_documentation_that_is_not_installed():
    """pip installs no README under /opt/kpudesk: a `Documentation=file://` there is a dead link."""
    docs = [v for line in UNIT.read_text().splitlines() if line.startswith("Documentation=")
            for v in line.split("=", 1)[1].split()]
    assert not [d for d in docs if d.startswith("file://")], docs


WEB_UNIT = ROOT / "systemd" / "kpudesk-web.service"


def _read(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(path)
    return cp


def test_web_unit_verifies_and_serves_the_desk(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing: .ci/run installs the systemd package"
    exe = shutil.which("kpudesk")
    target = tmp_path / "kpudesk-web.service"
    target.write_text(WEB_UNIT.read_text().replace("/opt/kpudesk/venv/bin/kpudesk", exe))
    r = subprocess.run([analyze, "verify", str(target)], capture_output=True, text=True)
    assert r.returncode == 0 and not [ln for ln in r.stderr.splitlines() if "kpudesk-web.service" in ln], r.stderr
    s = _read(WEB_UNIT)["Service"]
    assert s["Type"] == "notify" and s["Restart"] == "on-failure"
    assert s["ExecStart"].split()[-1] == "web"
    assert s["ExecStartPre"].endswith("check --offline")


def test_web_unit_is_hardened_like_the_daemon():
    """Every hardening line of the daemon's unit is in the web desk's too, with the same value
    (systemd has no include: the two files must be kept in step, and this says when they drift)."""
    daemon, web = _read(UNIT)["Service"], _read(WEB_UNIT)["Service"]
    hardening = ["NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
                 "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
                 "ProtectClock", "ProtectHostname", "RestrictAddressFamilies", "RestrictNamespaces",
                 "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality", "MemoryDenyWriteExecute",
                 "SystemCallArchitectures", "SystemCallFilter", "CapabilityBoundingSet", "UMask",
                 "User", "Group", "StateDirectory", "EnvironmentFile"]
    assert {k: web.get(k) for k in hardening} == {k: daemon.get(k) for k in hardening}
    assert "Environment=KPUDESK_" not in WEB_UNIT.read_text()
