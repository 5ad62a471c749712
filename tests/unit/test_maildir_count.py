"""The mail store's message counts (roles/mailbox/files/ereje-maildir-count): a restore drill fails
when a restored mailbox holds fewer or other messages than at backup time (ATU-8.4-c)."""

from __future__ import annotations

import json
from pathlib import Path

from support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
counter = load_script(ROOT / "roles" / "mailbox" / "files" / "ereje-maildir-count", "ereje_maildir_count")


def store(root: Path) -> Path:
    """Two users' Maildirs: aigerim's inbox (one new, two read) and Junk folder, bolat's empty inbox,
    and a delivery not finished yet in aigerim's tmp."""
    inbox = root / "ereje.test" / "aigerim" / "Maildir"
    folders = [
        (inbox, {"new": 1, "cur": 2, "tmp": 1}),
        (inbox / ".Junk", {"new": 0, "cur": 1, "tmp": 0}),
        (root / "ereje.test" / "bolat" / "Maildir", {"new": 0, "cur": 0, "tmp": 0}),
    ]
    for folder, files in folders:
        for sub, n in files.items():
            (folder / sub).mkdir(parents=True)
            for i in range(n):
                (folder / sub / f"17000{i}.M1P1.mail:2,S").write_text(f"Subject: {i}\n\nbody\n")
    return root


def test_count_is_per_folder_and_leaves_out_unfinished_deliveries(tmp_path):
    counts = counter.count(store(tmp_path / "vhosts"))
    assert counts == {
        "ereje.test/aigerim/Maildir": 3,
        "ereje.test/aigerim/Maildir/.Junk": 1,
        "ereje.test/bolat/Maildir": 0,
    }
    assert counter.summary(counts) == "2 mailboxes, 3 folders, 4 messages"


def test_check_passes_on_an_identical_restore_and_fails_on_a_short_or_missing_mailbox(tmp_path, capsys):
    live = store(tmp_path / "vhosts")
    counts = tmp_path / "counts.json"
    assert counter.main(["count", str(live), str(counts)]) == 0
    assert json.loads(counts.read_text())["folders"]["ereje.test/aigerim/Maildir"] == 3
    assert counter.main(["check", str(live), str(counts)]) == 0
    assert "restored 2 mailboxes, 3 folders, 4 messages, as counted at backup time" in capsys.readouterr().out
    # A message lost from the inbox, and bolat's mailbox gone: both named, the drill fails.
    next((live / "ereje.test" / "aigerim" / "Maildir" / "cur").iterdir()).unlink()
    for sub in ("cur", "new", "tmp"):
        (live / "ereje.test" / "bolat" / "Maildir" / sub).rmdir()
    assert counter.main(["check", str(live), str(counts)]) == 1
    said = capsys.readouterr().out
    assert "ereje.test/aigerim/Maildir: 2 messages, 3 at backup time" in said
    assert "ereje.test/bolat/Maildir: missing (0 messages at backup time)" in said
    # A folder the backup did not have is a difference too (the archive is not what was counted).
    assert counter.differences({}, {"x/Maildir": 1}) == ["x/Maildir: not there at backup time (1 messages)"]


def test_a_store_that_is_not_there_and_bad_usage_are_errors(tmp_path):
    try:
        counter.count(tmp_path / "absent")
    except SystemExit as stop:
        assert "is not a directory" in str(stop)
    else:
        raise AssertionError("counting a missing store must stop")
    assert counter.main(["count", str(tmp_path)]) == 2
