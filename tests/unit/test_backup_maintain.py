"""Retention of the backup server (roles/backup_server/files/ereje-backup-maintain): by the times the
server first saw each archive, never by the dates a client wrote into them."""

from __future__ import annotations

import datetime
import io
import json
import re
from pathlib import Path

import pytest

from support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "roles" / "backup_server" / "files" / "ereje-backup-maintain"


maintain = load_script(SCRIPT, "ereje_backup_maintain")
UTC = datetime.UTC
NOW = datetime.datetime(2026, 12, 1, 5, 30, tzinfo=UTC)
LIMITS = {"time_tolerance": 3600, "max_new_archives": 24}
KEEP = {"within": "2d", "daily": 7, "weekly": 4, "monthly": 12}


def archive(n: int, when: datetime.datetime) -> dict:
    return {"id": f"id{n:04d}", "name": f"web-{n:04d}", "time": when.isoformat()}


def daily_history(days: int) -> tuple[dict, list[dict]]:
    """A ledger as daily runs would have built it: one archive a day, each seen by the next run."""
    ledger, archives = {}, []
    for day in range(days, 0, -1):
        made = NOW - datetime.timedelta(days=day, hours=3)
        archives.append(archive(days - day, made))
        ledger = maintain.observe(ledger, archives, made + datetime.timedelta(hours=3), LIMITS)
    return ledger, archives


def test_daily_archives_are_not_flagged_and_retention_follows_borg_prune_rules():
    ledger, archives = daily_history(120)
    ledger = maintain.observe(ledger, archives, NOW, LIMITS)
    assert not [e for e in ledger["archives"].values() if e["flag"]]
    doomed = set(maintain.retention(ledger["archives"], NOW, KEEP))
    kept = {a["name"] for a in archives} - doomed
    # 2 days within, 7 daily, then weekly and monthly ones: far fewer than 120, the newest kept.
    assert archives[-1]["name"] in kept and archives[-2]["name"] in kept
    assert 7 + 4 <= len(kept) <= 2 + 7 + 4 + 12
    assert archives[0]["name"] in doomed


def test_archives_dated_in_the_future_are_flagged_and_change_no_retention():
    """The attack: two dozen archives dated years ahead, so that borg prune would keep only them."""
    ledger, archives = daily_history(30)
    forged = [archive(1000 + i, datetime.datetime(2031, 1, 1 + i, tzinfo=UTC)) for i in range(24)]
    ledger = maintain.observe(ledger, archives + forged, NOW, LIMITS)
    flagged = {e["name"]: e["flag"] for e in ledger["archives"].values() if e["flag"]}
    assert set(flagged) == {a["name"] for a in forged}
    assert all("in the future" in reason for reason in flagged.values())
    # Even were it run, retention by server time would keep every archive of the last two days.
    doomed = maintain.retention(ledger["archives"], NOW, KEEP)
    assert not {a["name"] for a in forged} & set(doomed)
    assert archives[-1]["name"] not in doomed


def test_a_back_dated_archive_and_a_burst_are_flagged():
    ledger, archives = daily_history(5)
    backdated = archive(2000, NOW - datetime.timedelta(days=3))
    flagged = maintain.observe(ledger, [*archives, backdated], NOW, LIMITS)["archives"]["id2000"]["flag"]
    assert "before the previous run" in flagged
    burst = [archive(3000 + i, NOW - datetime.timedelta(minutes=30 - i)) for i in range(25)]
    seen = maintain.observe(ledger, archives + burst, NOW, LIMITS)["archives"]
    assert all("one of 25 archives added" in seen[a["id"]]["flag"] for a in burst)
    assert maintain.observe(ledger, archives + burst[:24], NOW, LIMITS)["archives"]["id3000"]["flag"] is None


def test_a_flag_stays_until_accepted_and_first_seen_times_are_kept():
    ledger, archives = daily_history(3)
    first = dict(ledger["archives"]["id0000"])
    late = archive(4000, NOW + datetime.timedelta(days=2))
    ledger = maintain.observe(ledger, [*archives, late], NOW, LIMITS)
    later = NOW + datetime.timedelta(hours=1)
    again = maintain.observe(ledger, [*archives, late], later, LIMITS)
    assert again["archives"]["id4000"]["flag"]
    assert again["archives"]["id0000"]["first_seen"] == first["first_seen"]
    again["archives"]["id4000"]["accepted"] = later.isoformat()
    again["archives"]["id4000"]["flag"] = None
    assert maintain.observe(again, [*archives, late], later, LIMITS)["archives"]["id4000"]["flag"] is None


def test_the_first_run_trusts_nothing_in_the_future_but_has_no_previous_run_to_compare():
    archives = [archive(1, NOW - datetime.timedelta(days=40)), archive(2, NOW + datetime.timedelta(days=9))]
    ledger = maintain.observe({}, archives, NOW, LIMITS)["archives"]
    assert ledger["id0001"]["flag"] is None
    assert "in the future" in ledger["id0002"]["flag"]


def test_keep_within_accepts_borg_intervals():
    assert maintain.parse_within("36H") == datetime.timedelta(hours=36)
    assert maintain.parse_within("2d") == datetime.timedelta(days=2)
    assert maintain.parse_within("1w") == datetime.timedelta(days=7)


def test_passphrases_are_read_as_borg_reads_them_from_a_command(tmp_path):
    """Read as root before the run goes on as the repository account: trailing newlines dropped, as
    borg drops them from BORG_PASSCOMMAND's answer, and nothing else."""
    (tmp_path / "web.pass").write_text("s3cret with spaces\n")
    (tmp_path / "mail.pass").write_text("no-newline")
    assert maintain.read_passphrases(tmp_path, ["web", "mail"]) == {
        "web": "s3cret with spaces",
        "mail": "no-newline",
    }


def test_passphrases_brought_by_the_controller_are_read_from_stdin(monkeypatch):
    """A server without passphrases gets them for one run on standard input; every named client
    needs one, and nothing but a JSON object of non-empty strings is taken."""
    monkeypatch.setattr("sys.stdin", io.StringIO('{"web": "s3cret", "mail": "other"}'))
    assert maintain.passphrases_from_stdin(["web"]) == {"web": "s3cret"}
    monkeypatch.setattr("sys.stdin", io.StringIO('{"web": "s3cret", "mail": "other"}'))
    assert maintain.passphrases_from_stdin([]) == {"mail": "other", "web": "s3cret"}
    for given, names, message in (
        ('{"web": "s3cret"}', ["web", "mail"], "no passphrase given for mail"),
        ("s3cret", ["web"], "not a JSON object"),
        ('{"web": ""}', ["web"], '{"CLIENT": "passphrase", ...}'),
        ('["s3cret"]', ["web"], '{"CLIENT": "passphrase", ...}'),
    ):
        monkeypatch.setattr("sys.stdin", io.StringIO(given))
        with pytest.raises(SystemExit, match=re.escape(message)):
            maintain.passphrases_from_stdin(names)


def test_a_server_without_passphrases_finds_its_repositories_by_borg_config(tmp_path):
    """Without passphrase files the nightly check still covers every repository: a directory with
    borg's config file; anything else under the root is not one."""
    for name in ("web", "mail"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config").write_text("[repository]\n")
    (tmp_path / "lost+found").mkdir()
    assert maintain.repositories({"repository_root": str(tmp_path)}) == ["mail", "web"]


# ---- The hourly watch: backups keep arriving within the recovery-point objective -------------------


def test_the_watch_times_an_archive_by_when_it_first_saw_it_not_by_its_date():
    old, new = archive(1, NOW - datetime.timedelta(days=1)), archive(2, NOW + datetime.timedelta(days=30))
    seen = {"id0001": (NOW - datetime.timedelta(hours=20)).isoformat()}
    # An archive new since the previous watch arrived since, whatever date its client gave it.
    times = maintain.arrivals(seen, [old, new], {}, NOW)
    assert times == {"id0001": seen["id0001"], "id0002": maintain.iso(NOW)}
    line = maintain.freshness("web", [old, new], times, NOW + datetime.timedelta(hours=1), 26)
    assert line.startswith("OK web: newest archive web-0002 arrived 2026-12-01T05:30:00+00:00, 1.0 h ago")
    assert line.endswith("(RPO 26 h); 2 archives")


def test_the_first_watch_takes_the_ledgers_sightings_and_never_a_date_in_the_future():
    ledger, archives = daily_history(3)
    forged = archive(9, NOW + datetime.timedelta(days=300))
    times = maintain.arrivals(None, [*archives, forged], ledger, NOW)
    assert times["id0000"] == ledger["archives"]["id0000"]["first_seen"]
    assert times["id0009"] == maintain.iso(NOW)


def test_a_client_whose_backups_stopped_is_overdue_past_its_objective_and_an_empty_one_too():
    made = archive(1, NOW - datetime.timedelta(hours=30))
    times = {"id0001": (NOW - datetime.timedelta(hours=27, minutes=30)).isoformat()}
    assert maintain.freshness("dc2", [made], times, NOW, 26) == (
        "OVERDUE dc2: no backup has arrived for 27.5 h (newest archive web-0001 arrived "
        "2026-11-30T02:00:00+00:00; RPO 26 h)"
    )
    assert maintain.freshness("dc2", [made], times, NOW, 28).startswith("OK dc2: ")
    assert maintain.freshness("dc2", [made], times, NOW, 0.1).startswith(
        "OVERDUE dc2: no backup has arrived for 27.5 h"
    )
    assert maintain.duration(0.25) == "15 min" and maintain.duration(2) == "2.0 h"
    assert (
        maintain.freshness("ws1", [], {}, NOW, 26)
        == "OVERDUE ws1: the repository holds no archive (RPO 26 h)"
    )


def test_each_clients_objective_is_its_registrations_unless_one_is_asked_for(tmp_path):
    (tmp_path / "web.rpo").write_text("12\n")
    assert maintain.read_rpo(tmp_path, ["web", "dc1"], 26, None) == {"web": 12.0, "dc1": 26}
    assert maintain.read_rpo(tmp_path, ["web", "dc1"], 26, 0.5) == {"web": 0.5, "dc1": 0.5}


def test_the_watch_keeps_its_sightings_and_a_repository_it_cannot_list_fails_the_unit(
    tmp_path, monkeypatch, capsys
):
    # The first watch: the archive's own date (no ledger), an hour ago by the test's clock.
    listed = {"archives": [archive(1, datetime.datetime.now(UTC) - datetime.timedelta(hours=1))]}
    answers = iter([{"ok": True, "rc": 0, "output": "", "stdout": json.dumps(listed)}])
    monkeypatch.setattr(maintain, "run", lambda *a, **k: next(answers))
    cfg = {"state_dir": str(tmp_path), "repository_root": "/srv/borg/repos", "lock_wait": 5}
    assert maintain.watch(cfg, "web", "secret", 26) is True
    said = capsys.readouterr().out
    assert said.startswith("OK web: newest archive web-0001 arrived ")
    assert said.endswith(", 1.0 h ago (RPO 26 h); 1 archive\n")
    kept = json.loads((tmp_path / "web.watch.json").read_text())
    assert set(kept["arrived"]) == {"id0001"}
    monkeypatch.setattr(
        maintain, "run", lambda *a, **k: {"ok": False, "rc": 2, "output": "Repository does not exist."}
    )
    assert maintain.watch(cfg, "web", "secret", 26) is False
    assert capsys.readouterr().out == "ERROR web: borg list failed (rc 2): Repository does not exist.\n"
