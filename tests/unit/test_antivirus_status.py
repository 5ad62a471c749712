"""Parsing and judging logic of the ereje_antivirus_status module (library/)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import ereje_antivirus_status as status

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC).timestamp()
HOUR = 3600


def cvd_header(text: str) -> bytes:
    return text.encode().ljust(512, b" ")


def healthy(**changes) -> dict:
    base = {
        "daemon": {"active": "active", "responding": True, "version": None},
        "onaccess": {"active": "inactive"},
        "signatures": {
            "version": 27465,
            "updated": "2026-11-22T08:00:00+00:00",
            "age_hours": 4.0,
            "source": "daily.cld",
            "databases": [{"name": "daily.cld"}],
        },
        "last_scan": None,
        "quarantine": {"count": 0, "files": []},
    }
    base.update(changes)
    return base


LIMITS = {"max_signature_age_hours": 48, "max_scan_age_hours": 0, "require_onaccess": False}


def test_cvd_header_with_unix_build_time():
    header = cvd_header("ClamAV-VDB:22 Nov 2026 08-25 +0000:27465:2070000:90:abc:dsig:builder:1795854300")
    assert status.parse_cvd_header(header) == {"version": 27465, "built": 1795854300}


def test_cvd_header_without_unix_time_uses_the_date():
    header = cvd_header("ClamAV-VDB:22 Nov 2026 08-25 +0000:27465:2070000:90")
    parsed = status.parse_cvd_header(header)
    assert parsed["version"] == 27465
    assert parsed["built"] == int(datetime(2026, 11, 22, 8, 25, tzinfo=UTC).timestamp())


def test_not_a_cvd_header():
    assert status.parse_cvd_header(b"44d88612fea8a8f36de82e1278abb02f:68:Eicar\n") is None
    assert status.parse_cvd_header(cvd_header("ClamAV-VDB:date:notanumber:1")) is None


def test_clamd_version_with_and_without_official_database():
    assert status.parse_clamd_version("ClamAV 1.4.6/27465/Sun Nov 22 08:25:00 2026\0") == {
        "engine": "1.4.6",
        "database": 27465,
        "raw": "ClamAV 1.4.6/27465/Sun Nov 22 08:25:00 2026",
    }
    assert status.parse_clamd_version("ClamAV 1.4.6 ")["database"] is None


def test_daily_database_decides_the_age_even_with_a_fresh_local_file():
    databases = [
        {"name": "daily.cld", "mtime": int(NOW), "version": 27460, "built": int(NOW - 72 * HOUR)},
        {"name": "main.cvd", "mtime": int(NOW), "version": 62, "built": int(NOW - 900 * HOUR)},
        {"name": "ereje-local.hdb", "mtime": int(NOW - 1 * HOUR)},
    ]
    summary = status.signature_summary(databases, NOW)
    assert summary["version"] == 27460
    assert summary["age_hours"] == 72.0
    assert summary["source"] == "daily.cld"


def test_local_set_age_is_its_newest_file():
    databases = [
        {"name": "a.hdb", "mtime": int(NOW - 10 * HOUR)},
        {"name": "b.ndb", "mtime": int(NOW - 2 * HOUR)},
    ]
    summary = status.signature_summary(databases, NOW)
    assert summary["age_hours"] == 2.0
    assert summary["source"] == "b.ndb"
    assert summary["version"] is None


def test_no_database():
    assert status.signature_summary([], NOW)["age_hours"] is None
    problems = status.evaluate(healthy(signatures=status.signature_summary([], NOW)), LIMITS, NOW)
    assert problems == ["no signature database: clamd cannot detect anything"]


def test_healthy_host_has_no_problem():
    assert status.evaluate(healthy(), LIMITS, NOW) == []


def test_stale_signatures_are_a_problem():
    stale = healthy()
    stale["signatures"]["age_hours"] = 49.5
    [problem] = status.evaluate(stale, LIMITS, NOW)
    assert "49.5 hours old" in problem
    assert "limit 48" in problem


def test_stopped_or_silent_daemon_is_a_problem():
    stopped = healthy(daemon={"active": "inactive", "responding": False, "version": None})
    assert status.evaluate(stopped, LIMITS, NOW) == ["clamd is not running (systemd state: inactive)"]
    silent = healthy(daemon={"active": "active", "responding": False, "version": None})
    assert status.evaluate(silent, LIMITS, NOW) == ["clamd runs but does not answer on its socket"]


def test_onaccess_only_required_when_asked():
    limits = LIMITS | {"require_onaccess": True}
    assert status.evaluate(healthy(), limits, NOW) == ["on-access scanning is not running (state: inactive)"]
    assert status.evaluate(healthy(onaccess={"active": "active"}), limits, NOW) == []


def test_scan_age_checked_only_with_a_limit():
    old = {"finished": "2026-11-20T12:00:00+00:00", "result": "clean", "findings": [], "infected": 0}
    assert status.evaluate(healthy(last_scan=old), LIMITS, NOW) == []
    limits = LIMITS | {"max_scan_age_hours": 25}
    assert status.evaluate(healthy(last_scan=old), limits, NOW) == [
        "the last scheduled scan finished 48.0 hours ago (limit 25)"
    ]
    assert status.evaluate(healthy(), limits, NOW) == ["no scheduled scan has completed yet"]


def test_failed_scan_is_a_problem():
    failed = {"finished": "2026-11-22T11:00:00+00:00", "result": "error", "errors": ["Could not connect"]}
    [problem] = status.evaluate(healthy(last_scan=status.parse_scan_state(json.dumps(failed))), LIMITS, NOW)
    assert "did not complete" in problem
    assert "Could not connect" in problem


def test_scan_state_parsing():
    assert status.parse_scan_state(None) is None
    assert status.parse_scan_state("") is None
    assert status.parse_scan_state("{not json")["result"] == "unreadable"
    assert status.parse_scan_state("[]")["result"] == "unreadable"
    state = status.parse_scan_state(json.dumps({"result": "infected", "findings": [{"path": "/x"}]}))
    assert state["infected"] == 1


def test_summary_line_names_problems():
    line = status.summary_line(healthy(), ["clamd is not running (systemd state: failed)"])
    assert line.startswith("status=PROBLEM daemon=active")
    assert "problems=clamd is not running" in line
    assert status.summary_line(healthy(), []).startswith("status=ok")
