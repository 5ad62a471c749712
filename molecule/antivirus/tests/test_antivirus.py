"""ClamAV as the regulation asks: running, current, scanning, quarantining, reporting.

Each test names the control it proves (controls/catalog.yml lists it under verified_by).
Detection is real: the test installs a signature of its own into clamd, plants a file that
matches it and lets the daemon, the scheduled scan and the on-access scanner find it.
"""

from __future__ import annotations

import json
import uuid

import pytest

from conftest import QUARANTINE, SERVER, WORKSTATION, clamd_answers, clamdscan, plant, status
from support import molecule

EICAR = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SCAN_DIR = "/srv/ereje-scan"


@pytest.fixture(scope="module")
def scheduled_scan(server, test_signature):
    """Plant a matching file in a scanned path and run the scheduled scan's own unit."""
    content, name = test_signature
    path = f"{SCAN_DIR}/invoice-{uuid.uuid4().hex[:6]}.pdf.exe"
    plant(server, path, content)
    started = server.check_output("date '+%Y-%m-%d %H:%M:%S'")
    run = server.run("systemctl start ereje-antivirus-scan.service")
    assert run.rc == 0, run.stderr + server.run("journalctl -u ereje-antivirus-scan --no-pager -n 30").stdout
    return {"path": path, "signature": name, "since": started}


# ---- ATU-5.15-c / ATU-2.4.1-a: a running engine that detects -------------------------------


@pytest.mark.parametrize("name", [SERVER, WORKSTATION])
def test_clamd_detects_planted_file(name, test_signature):
    """ATU-5.15-c, ATU-2.4.1-a: clamd runs on every host and detects a file matching a signature."""
    host = molecule.host(name)
    content, signature = test_signature
    assert host.service("clamav-daemon").is_running
    assert host.service("clamav-daemon").is_enabled
    path = f"/var/local/ereje-planted-{uuid.uuid4().hex[:6]}"
    plant(host, path, content)
    try:
        result = clamdscan(host, path)
        assert result.rc == 1, result.stdout + result.stderr
        assert f"{path}: {signature}.UNOFFICIAL FOUND" in result.stdout
        clean = clamdscan(host, "/etc/hostname")
        assert clean.rc == 0, clean.stdout + clean.stderr
    finally:
        host.run(f"rm -f {path}")


def test_clamd_conf_merges_other_roles_settings(server):
    """ATU-2.4.1-a: clamd.conf is the role's, with the settings other roles add (mail gateway)."""
    parsed = server.check_output("clamconf -n")
    assert 'AlertEncryptedArchive = "yes"' in parsed
    assert 'MaxRecursion = "12"' in parsed
    assert 'LocalSocket = "/run/clamav/clamd.ctl"' in parsed
    assert server.file("/etc/clamav/clamd.conf").contains("^# Ansible managed")


# ---- ATU-5.17-b: current signatures, offline-capable --------------------------------------


def test_local_signature_set_detects_eicar_without_mirror(workstation):
    """ATU-5.17-b: a host with no mirror runs on the deployed local set (EICAR is detected)."""
    assert not workstation.service("clamav-freshclam").is_enabled
    assert not workstation.service("clamav-freshclam").is_running
    path = "/var/local/ereje-eicar.com"
    workstation.run_test(f"printf '%s' '{EICAR}' > {path}")
    try:
        result = clamdscan(workstation, path)
        assert "Ereje.Test.EICAR.UNOFFICIAL FOUND" in result.stdout, result.stdout + result.stderr
    finally:
        workstation.run(f"rm -f {path}")


def test_freshclam_polls_only_the_private_mirror(server):
    """ATU-5.17-b: freshclam runs, checks the private mirror 12 times a day, never the public ones."""
    assert server.service("clamav-freshclam").is_running
    assert server.service("clamav-freshclam").is_enabled
    parsed = server.check_output("clamconf")
    assert 'PrivateMirror = "http://127.0.0.1:8873"' in parsed
    assert 'Checks = "12"' in parsed
    assert server.file("/etc/clamav/freshclam.conf").contains("^Checks 12$")
    assert "DatabaseMirror" not in server.file("/etc/clamav/freshclam.conf").content_string
    journal = server.check_output("journalctl -u clamav-freshclam --no-pager")
    assert "127.0.0.1:8873" in journal, journal[-2000:]
    assert "clamav.net" not in journal


def test_stale_signatures_fail_the_status_check(server):
    """ATU-5.17-b, ATU-5.23-a: signatures older than the limit make the status module fail."""
    saved = server.check_output("stat -c '%Y %n' /var/lib/clamav/*").splitlines()
    server.run_test("touch -d '3 days ago' /var/lib/clamav/*")
    try:
        ok, answer = status(SERVER, max_signature_age_hours=48)
    finally:
        for line in saved:
            mtime, path = line.split(" ", 1)
            server.run_test(f"touch -d @{mtime} '{path}'")
    assert not ok, answer
    assert any("signatures are" in p and "limit 48" in p for p in answer["problems"]), answer["problems"]
    assert answer["signatures"]["age_hours"] >= 71


# ---- ATU-5.15-c: scheduled scans quarantine and report --------------------------------------


def test_scheduled_scan_quarantines_and_logs(server, scheduled_scan):
    """ATU-5.15-c: the timer's scan moves the found file to the quarantine and logs it to syslog."""
    assert server.service("ereje-antivirus-scan.timer").is_enabled
    assert server.service("ereje-antivirus-scan.timer").is_running
    path, signature = scheduled_scan["path"], scheduled_scan["signature"]
    name = path.rsplit("/", 1)[1]
    assert not server.file(path).exists
    quarantined = server.file(f"{QUARANTINE}/{name}")
    assert quarantined.exists
    assert quarantined.user == "root"
    assert server.file(QUARANTINE).mode == 0o700
    journal = server.check_output(
        f"journalctl -t ereje-antivirus --since '{scheduled_scan['since']}' --no-pager -o cat"
    )
    assert f"FOUND {signature}.UNOFFICIAL in {path}; quarantined as {QUARANTINE}/{name}" in journal, journal
    # rsyslog has it too: that is what the baseline forwards to the collector.
    assert molecule.wait_for(lambda: server.run(f"grep -F 'in {path};' /var/log/syslog").rc == 0, timeout=30)


def test_status_reports_daemon_signatures_and_last_scan(server, scheduled_scan):
    """ATU-2.4.1-a, ATU-5.23-a: the status module reports daemon, signatures, last scan and findings."""
    ok, answer = status(SERVER, max_signature_age_hours=48, max_scan_age_hours=24)
    assert ok, answer.get("problems")
    assert answer["daemon"]["active"] == "active"
    assert answer["daemon"]["responding"]
    assert answer["daemon"]["version"]["engine"].startswith("1.")
    assert answer["signatures"]["age_hours"] < 48
    assert {d["name"] for d in answer["signatures"]["databases"]} >= {"ereje-local.hdb"}
    scan = answer["last_scan"]
    assert scan["result"] == "infected"
    assert {f["path"] for f in scan["findings"]} == {scheduled_scan["path"]}
    assert answer["quarantine"]["count"] >= 1
    state = json.loads(server.file("/var/lib/ereje-antivirus/last-scan.json").content_string)
    assert state["finished"] == scan["finished"]


def test_socket_in_a_scanned_path_does_not_fail_the_scan(server, scheduled_scan):
    """ATU-5.15-c: a socket is no file to scan; the scan stays clean and the host healthy.

    A mail gateway's postfwd keeps its cache socket in /var/tmp: clamd names it "Not supported
    file type" and clamdscan exits 2, which made every scheduled scan there fail (and with it
    the host's health check).
    """
    socket_path = f"{SCAN_DIR}/service-{uuid.uuid4().hex[:6]}.socket"
    server.run_test(f"python3 -c \"import socket; socket.socket(socket.AF_UNIX).bind('{socket_path}')\"")
    run = server.run("systemctl start ereje-antivirus-scan.service")
    assert run.rc == 0, run.stderr + server.run("journalctl -u ereje-antivirus-scan --no-pager -n 30").stdout
    state = json.loads(server.file("/var/lib/ereje-antivirus/last-scan.json").content_string)
    assert state["result"] == "clean", state
    assert socket_path in state["not_files"], state
    ok, answer = status(SERVER, max_signature_age_hours=48, max_scan_age_hours=24)
    assert ok, answer.get("problems")
    server.run_test(f"rm -f {socket_path}")


def test_stopped_daemon_fails_the_status_check(server):
    """ATU-5.23-a: a host whose antivirus daemon is stopped is detected and reported."""
    server.run_test("systemctl stop clamav-daemon.socket clamav-daemon.service")
    try:
        ok, answer = status(SERVER)
    finally:
        server.run_test("systemctl start clamav-daemon.socket clamav-daemon.service")
        assert molecule.wait_for(lambda: clamd_answers(server), timeout=120)
    assert not ok, answer
    assert any("clamd is not running" in p for p in answer["problems"]), answer["problems"]
    assert answer["daemon"]["responding"] is False


# ---- YU-1.3.2-e: on-access scanning where the kernel allows it -------------------------------


def test_onaccess_blocks_infected_attachment(workstation, test_signature):
    """YU-1.3.2-e, ATU-5.15-c: on the workstation an infected file is blocked and quarantined on access."""
    content, signature = test_signature
    assert workstation.service("clamav-clamonacc").is_running
    path = f"/home/ereje-test/attachment-{uuid.uuid4().hex[:6]}.doc"
    name = path.rsplit("/", 1)[1]
    workstation.run(f"mkdir -p /home/ereje-test && printf '%s' '{content}' > {path}")
    assert molecule.wait_for(lambda: workstation.run(f"cat {path}").rc != 0, timeout=60), (
        "the infected file could still be opened"
    )
    assert molecule.wait_for(lambda: workstation.file(f"{QUARANTINE}/{name}").exists, timeout=30)
    assert molecule.wait_for(
        lambda: (
            f"{path}: {signature}.UNOFFICIAL FOUND"
            in workstation.run("journalctl -u clamav-clamonacc --no-pager -o cat").stdout
        ),
        timeout=30,
    )
    clean = "/home/ereje-test/notes.txt"
    workstation.run_test(f"echo 'meeting at 10' > {clean}")
    assert workstation.run(f"cat {clean}").stdout.strip() == "meeting at 10"


def test_onaccess_is_off_where_the_kernel_refuses(server):
    """Without fanotify (no CAP_SYS_ADMIN) clamonacc is off, not failing at every boot (robustness, not
    proof of protection: the scheduled scan is what protects such a host)."""
    assert not server.service("clamav-clamonacc").is_enabled
    assert not server.service("clamav-clamonacc").is_running
    assert server.run("systemctl is-failed clamav-clamonacc").stdout.strip() != "failed"


# ---- the whole role ---------------------------------------------------------------------------


def test_no_drift_in_check_mode():
    """Right after converge, a --check --diff run finds nothing to change on any host."""
    molecule.assert_no_drift()
