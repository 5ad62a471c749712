"""Reading and judging what a Debian host misses (ereje_updates_status, ATU-5.17-a, ATU-5.23-b)."""

import json
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import ereje_updates_status as m
import pytest

from ansible_collections.ereje.compliance.plugins.module_utils import updates
from support.scripts import load_script

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SIMULATION = """NOTE: This is only a simulation!
Reading package lists...
Calculating upgrade...
The following packages will be upgraded:
  libpam0g tzdata vim-common
Inst libpam0g [1.5.2-6+deb12u2] (1.5.2-6+deb12u3 Debian-Security:12/oldstable-security [amd64])
Inst tzdata [2026b-0+deb12u1] (2026f-0+deb12u1 Debian-Security:12/oldstable-security [all])
Inst vim-common [2:9.0.1378-2] (2:9.0.1378-2+deb12u2 Debian:12.13/oldstable [all])
Conf libpam0g (1.5.2-6+deb12u3 Debian-Security:12/oldstable-security [amd64])
"""
PARAMS = {"max_days": 2, "max_lists_age_days": 3}
BOOKWORM = {"version": "12", "name": "Debian GNU/Linux 12 (bookworm)", "support_ends": "2028-06-30"}


def status(security=(), last_run=None, lists=NOW, release=BOOKWORM, pending=None):
    return {
        "pending": pending if pending is not None else [{"package": p} for p in security],
        "security": list(security),
        "last_run": last_run,
        "lists_updated": lists,
        "release": release,
    }


def test_the_simulation_is_read_and_security_origins_are_told_apart():
    pending = updates.parse_simulation(SIMULATION, "-Security:|/[a-z]*-security ")
    assert [(u["package"], u["security"]) for u in pending] == [
        ("libpam0g", True),
        ("tzdata", True),
        ("vim-common", False),
    ]
    assert pending[1]["installed"] == "2026b-0+deb12u1" and pending[1]["candidate"] == "2026f-0+deb12u1"
    assert pending[2]["origin"] == "Debian:12.13/oldstable"


def test_nothing_pending_on_a_supported_release_passes_with_what_was_read():
    read = status()
    assert updates.evaluate(read, PARAMS, NOW) == []
    line = updates.evidence(read)
    assert line.startswith("0 security update(s) pending, 0 other; package lists of 2026-12-01T12:00+00:00")
    assert (
        "unattended-upgrade last ran never; Debian GNU/Linux 12 (bookworm), supported until 2028-06-30"
        in line
    )


def test_pending_security_updates_are_late_only_after_the_daily_run_missed_them():
    fresh = status(["libpam0g", "tzdata"], last_run=datetime(2026, 12, 1, 6, 30, tzinfo=UTC))
    assert updates.evaluate(fresh, PARAMS, NOW) == []
    stale = status(["libpam0g", "tzdata"], last_run=datetime(2026, 11, 27, 6, 30, tzinfo=UTC))
    assert updates.evaluate(stale, PARAMS, NOW) == [
        "2 security update(s) pending (libpam0g, tzdata) and unattended-upgrade last ran "
        "2026-11-27T06:30+00:00, more than 2 day(s) ago"
    ]
    never = status(["tzdata"])
    assert updates.evaluate(never, PARAMS, NOW) == [
        "1 security update(s) pending (tzdata) and unattended-upgrade never ran"
    ]


def test_stale_or_missing_package_lists_are_a_problem():
    old = status(lists=datetime(2026, 11, 20, tzinfo=UTC))
    assert (
        "package lists last fetched 2026-11-20T00:00+00:00, more than 3 day(s) ago"
        in updates.evaluate(old, PARAMS, NOW)[0]
    )
    assert "apt-get update never ran" in updates.evaluate(status(lists=None), PARAMS, NOW)[0]


def test_a_release_past_or_without_its_end_of_support_is_a_problem():
    bullseye = {"version": "11", "name": "Debian GNU/Linux 11 (bullseye)", "support_ends": "2026-08-31"}
    assert updates.evaluate(status(release=bullseye), PARAMS, NOW) == [
        "Debian GNU/Linux 11 (bullseye) is past its end of security support (2026-08-31)"
    ]
    unknown = {"version": "14", "name": "Debian GNU/Linux 14 (forky)", "support_ends": None}
    assert (
        "no end of support declared for release '14'"
        in updates.evaluate(status(release=unknown), PARAMS, NOW)[0]
    )


def test_the_last_run_is_the_last_timestamped_line_of_the_log_in_local_time(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Almaty")
    time.tzset()
    try:
        log = (
            "2026-11-30 06:31:02,117 INFO Starting\n"
            "2026-12-01 11:30:00,001 INFO All upgrades installed\ntrailer\n"
        )
        assert updates.last_log_time(log) == datetime(2026, 12, 1, 6, 30, tzinfo=UTC)  # Almaty is UTC+5
        assert updates.last_log_time("") is None and updates.last_log_time(None) is None
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_lists_are_dated_by_the_later_of_the_files_and_the_last_fetch(tmp_path):
    release = tmp_path / "deb.debian.org_debian_dists_bookworm_InRelease"
    release.write_text("x")
    os.utime(release, (1_700_000_000, 1_700_000_000))
    assert updates.lists_fetched(str(tmp_path)) == datetime.fromtimestamp(1_700_000_000, UTC)
    partial = tmp_path / "partial"
    partial.mkdir()
    os.utime(partial, (1_800_000_000, 1_800_000_000))
    assert updates.lists_fetched(str(tmp_path)) == datetime.fromtimestamp(1_800_000_000, UTC)
    assert updates.lists_fetched(str(tmp_path / "none")) is None


def test_only_overdue_security_updates_are_installed_at_once():
    yesterday = datetime(2026, 11, 30, 6, 30, tzinfo=UTC)
    assert not updates.overdue(status(["tzdata"], last_run=yesterday), PARAMS, NOW)  # the daily run comes
    assert updates.overdue(status(["tzdata"], last_run=datetime(2026, 11, 20, tzinfo=UTC)), PARAMS, NOW)
    assert updates.overdue(status(["tzdata"]), PARAMS, NOW)  # never ran
    assert not updates.overdue(status([], pending=[{"package": "vim-common"}]), PARAMS, NOW)  # not security


class FakeModule:
    """What refresh_lists uses of AnsibleModule: check mode, run_command, fail_json."""

    def __init__(self, check_mode=False, rc=0):
        self.check_mode, self.rc, self.commands = check_mode, rc, []

    def run_command(self, argv, environ_update=None):
        self.commands.append(argv)
        return self.rc, "", "E: the mirror did not answer" if self.rc else ""

    def fail_json(self, **result):
        raise RuntimeError(result["msg"])


def test_lists_are_refreshed_only_when_old_and_never_in_check_mode(tmp_path):
    (tmp_path / "deb.debian.org_InRelease").write_text("")
    old = time.time() - 30 * 3600
    os.utime(tmp_path / "deb.debian.org_InRelease", (old, old))
    params = {"refresh_lists_after_hours": 24, "lists_dir": str(tmp_path)}
    module = FakeModule()
    assert m.refresh_lists(module, "/usr/bin/apt-get", params) is True
    assert module.commands == [["/usr/bin/apt-get", "update", "-qq"]]
    audit = FakeModule(check_mode=True)
    assert m.refresh_lists(audit, "/usr/bin/apt-get", params) is False
    assert audit.commands == []
    fresh = FakeModule()
    assert m.refresh_lists(fresh, "/usr/bin/apt-get", params | {"refresh_lists_after_hours": 48}) is False
    assert fresh.commands == []
    never = FakeModule()
    assert m.refresh_lists(never, "/usr/bin/apt-get", params | {"refresh_lists_after_hours": 0}) is False


def test_a_failed_refresh_stops_with_apt_gets_own_words(tmp_path):
    module = FakeModule(rc=100)
    params = {"refresh_lists_after_hours": 24, "lists_dir": str(tmp_path)}
    try:
        m.refresh_lists(module, "/usr/bin/apt-get", params)
    except RuntimeError as exc:
        assert "apt-get update failed (rc 100): E: the mirror did not answer" in str(exc)
    else:
        raise AssertionError("a failed apt-get update must fail the task")


# ---- The daily check between converges (roles/baseline/files/ereje-updates-check) -----------------

SCRIPT = load_script(
    Path(__file__).resolve().parents[2] / "roles/baseline/files/ereje-updates-check", "updates_check"
)


def check_lines(tmp_path, monkeypatch, log: str, simulation: str = SIMULATION) -> list[str]:
    """The daily check's lines on this machine's release (Debian 12), with apt's answer and a log of ours."""
    lists = tmp_path / "lists"
    (lists / "partial").mkdir(parents=True)
    (lists / "deb.debian.org_debian_dists_bookworm_InRelease").write_text("")
    (tmp_path / "uu.log").write_text(log)
    policy = {
        "security_origin": "-Security:|/[a-z]*-security ",
        "max_days": 2,
        "max_lists_age_days": 3,
        "support_ends": {"12": "2028-06-30"},
        "log": str(tmp_path / "uu.log"),
        "lists_dir": str(lists),
    }
    monkeypatch.setattr(SCRIPT, "run", lambda argv: (0, simulation, ""))
    monkeypatch.setattr(SCRIPT.shutil, "which", lambda name: f"/usr/bin/{name}")
    return SCRIPT.lines(json.dumps(policy), datetime.now(UTC))


def test_the_daily_check_writes_a_finding_when_security_updates_waited_too_long(tmp_path, monkeypatch):
    week_ago = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - 7 * 86400))
    found = check_lines(tmp_path, monkeypatch, f"{week_ago},000 INFO All upgrades installed\n")
    assert len(found) == 1 and found[0].startswith(
        "FINDING 2 security update(s) pending (libpam0g, tzdata) and unattended-upgrade last ran "
    ), found
    assert found[0].endswith("more than 2 day(s) ago")


def test_the_daily_check_of_a_current_host_says_what_it_read(tmp_path, monkeypatch):
    hour_ago = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - 3600))
    (line,) = check_lines(tmp_path, monkeypatch, f"{hour_ago},000 INFO All upgrades installed\n")
    assert line.startswith("OK 2 security update(s) pending (libpam0g, tzdata), 1 other; package lists of ")
    assert line.endswith("supported until 2028-06-30")


def test_the_daily_check_that_cannot_tell_fails_its_unit(tmp_path, monkeypatch, capsys):
    policy = tmp_path / "updates-check.json"
    policy.write_text(json.dumps({"max_days": 2}))
    assert SCRIPT.main(["ereje-updates-check", str(policy)]) == 1
    assert "the policy must be an object with security_origin, max_days" in capsys.readouterr().out
    monkeypatch.setattr(SCRIPT, "run", lambda argv: (100, "", "E: Could not open lock file"))
    with pytest.raises(RuntimeError, match=re.escape("dist-upgrade failed (rc 100): E: Could not open")):
        SCRIPT.updates.read_status(SCRIPT.run, "/usr/bin/apt-get", {"security_origin": "x"}, {})
