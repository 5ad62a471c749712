"""The scheduled scan program of the antivirus role (roles/antivirus/files/ereje-antivirus-scan)."""

from __future__ import annotations

import json
from pathlib import Path

from support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "roles" / "antivirus" / "files" / "ereje-antivirus-scan"


scan = load_script(SCRIPT, "ereje_antivirus_scan")

OUTPUT = """\
/srv/data/invoice.pdf.exe: Ereje.Test.Planted.UNOFFICIAL FOUND
/srv/data/invoice.pdf.exe: moved to '/var/lib/ereje-antivirus/quarantine/invoice.pdf.exe'
/home/u/a file: with colon.doc: Win.Test.EICAR_HDB-1 FOUND
/home/u/a file: with colon.doc: moved to '/var/lib/ereje-antivirus/quarantine/a file: with colon.doc'
/home/u/locked.zip: Heuristics.Encrypted.Zip FOUND
"""


def test_findings_are_paired_with_their_quarantine():
    findings = scan.parse_clamdscan(OUTPUT)
    assert findings == [
        {
            "path": "/srv/data/invoice.pdf.exe",
            "signature": "Ereje.Test.Planted.UNOFFICIAL",
            "quarantined_as": "/var/lib/ereje-antivirus/quarantine/invoice.pdf.exe",
        },
        {
            "path": "/home/u/a file: with colon.doc",
            "signature": "Win.Test.EICAR_HDB-1",
            "quarantined_as": "/var/lib/ereje-antivirus/quarantine/a file: with colon.doc",
        },
        # Found but not moved (e.g. the move failed): reported with no quarantine.
        {"path": "/home/u/locked.zip", "signature": "Heuristics.Encrypted.Zip", "quarantined_as": None},
    ]


def test_clean_output_has_no_findings():
    assert scan.parse_clamdscan("") == []
    assert scan.parse_clamdscan("/etc/hostname: OK\n") == []


def test_result_of_exit_codes():
    assert scan.result_of(0, []) == "clean"
    assert scan.result_of(1, [{"path": "/x"}]) == "infected"
    # clamdscan exits 2 when a path errors even though it found something elsewhere.
    assert scan.result_of(2, [{"path": "/x"}]) == "infected"
    assert scan.result_of(2, []) == "error"


def test_sockets_named_by_clamd_do_not_fail_the_scan():
    """A mail gateway's postfwd socket in /var/tmp made every scheduled scan fail (exit 2)."""
    socket_only = ["WARNING: /var/tmp/postfwd2-cache.socket: Not supported file type"]
    assert scan.result_of(2, [], socket_only) == "clean"
    assert scan.result_of(2, [], [*socket_only, "ERROR: Could not connect to clamd"]) == "error"
    assert scan.result_of(2, [], []) == "error"


def test_state_is_written_atomically_and_private(tmp_path):
    state = tmp_path / "state" / "last-scan.json"
    scan.write_state(str(state), {"result": "clean"})
    assert json.loads(state.read_text()) == {"result": "clean"}
    assert state.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in state.parent.iterdir()] == ["last-scan.json"]


def test_scan_without_existing_paths_still_records_a_state(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(scan.syslog, "syslog", lambda *args: logged.append(args))
    monkeypatch.setattr(scan.syslog, "openlog", lambda *args: None)
    state = tmp_path / "last-scan.json"
    code = scan.main(
        ["--quarantine", str(tmp_path / "q"), "--state", str(state), "--", str(tmp_path / "missing")]
    )
    assert code == 0
    recorded = json.loads(state.read_text())
    assert recorded["result"] == "clean"
    assert recorded["skipped"] == [str(tmp_path / "missing")]
    assert any("scan finished" in args[-1] for args in logged)
