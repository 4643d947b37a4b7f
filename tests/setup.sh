#!/usr/bin/env bash
# The set-up half of the test command that README.md gives and .ci/run runs:
#     bash tests/setup.sh && python -m pytest -q
# Installs what the tests need when it is missing — Dovecot (the real IMAP server the tests
# start themselves), PostgreSQL (a throw-away cluster), systemd-analyze, CPython's email
# test data, Chromium and chromedriver (the web desk's browser tests), the package with its
# test extras. apt-get is used as root on Debian/Ubuntu;
# elsewhere the script says exactly what to install and stops.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-python}"
command -v "$PY" >/dev/null 2>&1 || PY=python3

start_all=$(date +%s)
phase_start=$start_all
phase() {  # phase NAME: print how long the previous phase took
    local now; now=$(date +%s)
    echo "::: $1 ($((now - phase_start)) s)"
    phase_start=$now
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else echo "ERROR: need root (or sudo) to run: $*" >&2; return 1; fi
}

# apt_install_quietly PKG...: install without letting the package start a system service
# (the standard Debian policy-rc.d hook, only for the time of the install)
apt_install_quietly() {
    local made_policy=0 rc=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
        as_root chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt_install "$@" || rc=$?
    [ "$made_policy" -eq 1 ] && as_root rm -f /usr/sbin/policy-rc.d
    return "$rc"
}

apt_updated=0
apt_install() {  # apt_install PKG...: update once, retry transient failures
    local try
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "ERROR: the tests need these packages, and this is not a Debian/Ubuntu system:" >&2
        echo "       $* (Dovecot imapd 2.3, PostgreSQL server 13+, systemd-analyze, chromium + chromedriver,
       rclone, Pango, DejaVu fonts)" >&2
        echo "       install them with your package manager, then run this command again." >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    for try in 1 2 3; do
        if [ "$apt_updated" -eq 1 ] || as_root apt-get update -q; then
            apt_updated=1
            if as_root apt-get install -y -q --no-install-recommends "$@"; then
                return 0
            fi
        fi
        echo "apt-get failed (try $try), retrying..." >&2
        sleep $((try * 5))
    done
    return 1
}

echo "::: kpudesk tests on $(uname -srm), $("$PY" --version 2>&1), CI=${CI:-}"

# --- Dovecot: the tests start their own throw-away instances (tests/servers/dovecot.py)
DOVECOT="${KPUDESK_DOVECOT:-/usr/sbin/dovecot}"
if [ ! -x "$DOVECOT" ]; then
    echo "::: installing dovecot-imapd"
    apt_install_quietly dovecot-imapd || { echo "ERROR: could not install dovecot-imapd" >&2; exit 1; }
    # Should a system instance have started anyway, stop it (only the system one, by its pid
    # file) so that nothing on port 143 competes; the tests use their own ports.
    as_root service dovecot stop >/dev/null 2>&1 || true
    if command -v systemctl >/dev/null 2>&1; then
        as_root systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || true
    fi
    if [ -s /run/dovecot/master.pid ]; then
        as_root kill "$(cat /run/dovecot/master.pid)" 2>/dev/null || true
    fi
    phase "dovecot installed"
fi
[ -x "$DOVECOT" ] || { echo "ERROR: $DOVECOT missing after install" >&2; exit 1; }
echo "::: $("$DOVECOT" --version) at $DOVECOT"

# --- PostgreSQL: tests/e2e/test_postgres.py starts its own throw-away cluster on a free port
# (tests/servers/postgres.py runs initdb/postgres from /usr/lib/postgresql/<ver>/bin itself).
# A system cluster is never used; Debian's package creates and may start "main" on 5432.
stop_system_clusters() {  # stop every online system cluster (only those pg_lsclusters knows)
    command -v pg_lsclusters >/dev/null 2>&1 || return 0
    { pg_lsclusters --no-header 2>/dev/null || true; } | awk '$4 == "online" { print $1, $2 }' | while read -r ver name; do
        echo "::: stopping system PostgreSQL cluster $ver/$name (the tests start their own)"
        as_root pg_ctlcluster "$ver" "$name" stop || true
    done
}
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "::: installing postgresql"
    # No "main" cluster (postgresql-common's createcluster.d drop-in), only for the install.
    no_main=/etc/postgresql-common/createcluster.d/kpudesk-ci-no-main-cluster.conf
    made_no_main=0
    if [ ! -e "$no_main" ]; then
        as_root mkdir -p "$(dirname "$no_main")"
        echo "create_main_cluster = false" | as_root tee "$no_main" >/dev/null
        made_no_main=1
    fi
    rc=0
    apt_install_quietly postgresql || rc=$?
    [ "$made_no_main" -eq 1 ] && as_root rm -f "$no_main"
    [ "$rc" -eq 0 ] || { echo "ERROR: could not install postgresql" >&2; exit 1; }
    stop_system_clusters
    phase "postgresql installed"
elif [ "${CI:-}" = "true" ]; then
    stop_system_clusters
fi
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "ERROR: no PostgreSQL initdb after install" >&2; exit 1; }
echo "::: PostgreSQL $(ls -d /usr/lib/postgresql/*/bin | sed 's|/usr/lib/postgresql/||; s|/bin||' | tr '\n' ' ')at /usr/lib/postgresql"

# --- systemd-analyze, for the unit file check (tests/test_systemd.py)
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "::: installing systemd (for systemd-analyze verify)"
    apt_install systemd
fi

# --- Chromium and its driver, for the web desk's real-browser tests (Selenium, headless)
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "::: installing chromium chromium-driver"
    apt_install_quietly chromium chromium-driver || { echo "ERROR: could not install chromium chromium-driver" >&2; exit 1; }
    phase "chromium installed"
fi
echo "::: $(chromium --version 2>/dev/null | head -1), $(chromedriver --version 2>/dev/null | cut -d' ' -f1-2)"

# --- rclone (the cloud folder's uploads, against `rclone serve webdav` on loopback) and the
# libraries and fonts WeasyPrint renders the Laporan PDF with
need=()
command -v rclone >/dev/null 2>&1 || need+=(rclone)
ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so' || need+=(libpango-1.0-0 libpangoft2-1.0-0)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
if [ "${#need[@]}" -gt 0 ]; then
    echo "::: installing ${need[*]}"
    apt_install_quietly "${need[@]}" || { echo "ERROR: could not install ${need[*]}" >&2; exit 1; }
    phase "${need[*]} installed"
fi
echo "::: $(rclone --version 2>/dev/null | head -1)"

# --- CPython's email test corpus (tests/corpus/hostile.py); Debian's Python ships it apart
email_data=$("$PY" -c 'import sysconfig, os; print(os.path.join(sysconfig.get_paths()["stdlib"], "test", "test_email", "data"))')
if ! ls "$email_data"/msg_*.txt >/dev/null 2>&1; then
    case "$email_data" in
        /usr/lib/python3*)
            ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
            echo "::: installing libpython$ver-testsuite (CPython email test data)"
            apt_install "libpython$ver-testsuite"
            ;;
        *) echo "WARNING: $email_data has no msg_*.txt; corpus tests will fail" >&2 ;;
    esac
fi

# --- the package and its test dependencies
"$PY" -m pip install --disable-pip-version-check -q -e '.[test]'
phase "package installed"

echo "::: set-up done in $(( $(date +%s) - start_all )) s"
