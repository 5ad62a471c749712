"""Parsing and judgement of the backup status module (library/ereje_backup_status.py)."""

import datetime
import json

import ereje_backup_status as status
import pytest

NOW = datetime.datetime(2026, 11, 22, 12, 0, tzinfo=datetime.UTC)


def listing(*times):
    return json.dumps(
        {"archives": [{"name": f"web-{t}", "time": t, "start": t} for t in times], "repository": {"id": "x"}}
    )


def test_env_file_lines_are_parsed_like_systemd():
    env = status.parse_env(
        "# comment\n\nBORG_REPO=ssh://borg@b:22/srv/borg/repos/web\n"
        'BORG_PASSCOMMAND="cat /etc/ereje-backup/passphrase"\nBORG_RSH=ssh -i key -o A=b\nnonsense\n'
    )
    assert env == {
        "BORG_REPO": "ssh://borg@b:22/srv/borg/repos/web",
        "BORG_PASSCOMMAND": "cat /etc/ereje-backup/passphrase",
        "BORG_RSH": "ssh -i key -o A=b",
    }


def test_newest_archive_is_the_latest_time_not_the_last_listed():
    newest = status.newest_archive(listing("2026-11-22T01:30:00.000000", "2026-11-20T01:30:00.000000"))
    assert newest == {
        "name": "web-2026-11-22T01:30:00.000000",
        "time": "2026-11-22T01:30:00.000000",
        "count": 2,
    }


def test_empty_repository_has_no_newest_archive_and_fails_the_rpo():
    assert status.newest_archive(listing()) is None
    age, problems = status.rpo_problems(None, NOW, 26)
    assert age is None
    assert problems == ["the repository holds no archive"]


def test_archive_within_rpo_passes():
    age, problems = status.rpo_problems({"name": "a", "time": "2026-11-22T01:30:00"}, NOW, 26)
    assert age == 10.5
    assert problems == []


def test_archive_older_than_rpo_fails_with_its_age():
    age, problems = status.rpo_problems({"name": "a", "time": "2026-11-20T12:00:00"}, NOW, 26)
    assert age == 48
    assert "RPO of 26 h exceeded" in problems[0]


def test_an_archive_dated_in_the_future_is_a_finding_not_a_fresh_backup():
    """A compromised client dating an archive ahead would otherwise hide every missed backup."""
    age, problems = status.rpo_problems({"name": "forged", "time": "2031-01-01T00:00:00"}, NOW, 26)
    assert age < 0
    assert "in the future" in problems[0] and "forged" in problems[0]
    # A client clock a few minutes ahead is not a forgery.
    assert status.rpo_problems({"name": "a", "time": "2026-11-22T12:20:00"}, NOW, 26)[1] == []


def test_time_with_offset_is_honoured():
    assert status.age_hours("2026-11-22T17:00:00+06:00", NOW) == 1


def test_drill_passed_and_recent_is_fine():
    text = json.dumps({"time": "2026-11-21T04:00:00+00:00", "result": "passed", "archive": "a"})
    drill, problems = status.drill_problems(text, NOW, 192)
    assert problems == []
    assert drill["age_hours"] == 32


def test_drill_failed_old_missing_or_garbled_is_reported():
    failed = json.dumps({"time": "2026-11-01T04:00:00+00:00", "result": "failed", "error": "no archive"})
    _, problems = status.drill_problems(failed, NOW, 192)
    assert any("failed: no archive" in p for p in problems)
    assert any("h old" in p for p in problems)
    assert status.drill_problems(None, NOW, 192)[1] == ["no restore drill has been recorded"]
    assert "not valid JSON" in status.drill_problems("{", NOW, 192)[1][0]
    assert "no valid time" in status.drill_problems('{"result": "passed"}', NOW, 192)[1][0]


def test_a_failed_drill_names_what_did_not_come_back():
    """The evidence of a failed drill names the files, rows and declared checks that did not match."""
    drill = {
        "result": "failed",
        "files_checked": 630,
        "files_failed": 3,
        "files_failed_sample": ["var/mail/vhosts/ereje.test/aigerim/Maildir/new/1.mail"],
        "databases": {"site": {"ok": False, "differences": {"news": [12, 11]}}, "other": {"ok": True}},
        "checks": {
            "mailbox": ["FAILED: restored mailboxes differ: aigerim/Maildir: 0 messages, 3 at backup time"],
            "samba_dc": ["declared present: 4 of 4"],
        },
    }
    assert status.drill_failure(drill) == (
        "3 of 630 files differ from the manifest"
        " (first: var/mail/vhosts/ereje.test/aigerim/Maildir/new/1.mail); "
        "database site: rows differ {'news': [12, 11]}; "
        "mailbox: restored mailboxes differ: aigerim/Maildir: 0 messages, 3 at backup time"
    )
    assert status.drill_failure({"result": "failed", "error": "no archive"}) == "no archive"
    assert status.drill_failure({"result": "failed"}) == "data did not match its manifest"


def test_summary_of_a_healthy_repository_names_archive_drill_and_check():
    result = {
        "newest_archive": {"name": "web-1", "time": "2026-11-22T01:30:00"},
        "age_hours": 10.5,
        "rpo_hours": 26,
        "drill": {"result": "passed", "age_hours": 32},
        "repository_ok": True,
    }
    assert status.summary(result) == (
        "newest archive web-1 is 10.5 h old (RPO 26 h); last restore drill passed 32 h ago; "
        "borg check: no damage"
    )
    assert status.summary({"rpo_hours": 26, "repository_ok": None}) == "no archive"


def test_a_time_that_is_not_iso_is_refused():
    with pytest.raises(ValueError, match="not an ISO time"):
        status.parse_time("yesterday", NOW)
