"""The mail store's messages (roles/mailbox/files/ereje-maildir-count): a restore drill fails when a
message the backup saw is not in the restored mailbox (ATU-8.4-c); mail read or arrived meanwhile
is no loss."""

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


def test_messages_are_listed_per_folder_by_unique_name_without_unfinished_deliveries(tmp_path):
    found = counter.messages(store(tmp_path / "vhosts"))
    assert {folder: len(names) for folder, names in found.items()} == {
        "ereje.test/aigerim/Maildir": 3,
        "ereje.test/aigerim/Maildir/.Junk": 1,
        "ereje.test/bolat/Maildir": 0,
    }
    # The unique name leaves out the flags (":2,S"), which change when the message is read.
    assert found["ereje.test/aigerim/Maildir/.Junk"] == ["170000.M1P1.mail"]
    assert counter.summary(found) == "2 mailboxes, 3 folders, 4 messages"


def test_check_passes_when_every_message_came_back_and_fails_when_one_is_lost(tmp_path, capsys):
    live = store(tmp_path / "vhosts")
    listed = tmp_path / "messages.json"
    assert counter.main(["count", str(live), str(listed)]) == 0
    assert len(json.loads(listed.read_text())["folders"]["ereje.test/aigerim/Maildir"]) == 3
    assert counter.main(["check", str(live), str(listed)]) == 0
    assert "restored 2 mailboxes, 3 folders, 4 messages as at backup time (0 more" in capsys.readouterr().out
    # Read by a mail client meanwhile (new/ -> cur/, flags changed), and new mail arrived: no loss.
    inbox = live / "ereje.test" / "aigerim" / "Maildir"
    unread = next((inbox / "new").iterdir())
    unread.rename(inbox / "cur" / (unread.name.split(":")[0] + ":2,RS"))
    (inbox / "new" / "17999.M9P9.mail").write_text("Subject: later\n\nhi\n")
    assert counter.main(["check", str(live), str(listed)]) == 0
    assert "(1 more arrived meanwhile)" in capsys.readouterr().out
    # A message lost from the inbox, and bolat's mailbox gone: both named, the drill fails.
    next((inbox / "cur").iterdir()).unlink()
    for sub in ("cur", "new", "tmp"):
        (live / "ereje.test" / "bolat" / "Maildir" / sub).rmdir()
    assert counter.main(["check", str(live), str(listed)]) == 1
    said = capsys.readouterr().out
    assert "ereje.test/aigerim/Maildir: 1 of 3 messages missing (first: " in said
    assert "ereje.test/bolat/Maildir: missing (0 messages at backup time)" in said


def test_a_store_that_is_not_there_and_bad_usage_are_errors(tmp_path):
    try:
        counter.messages(tmp_path / "absent")
    except SystemExit as stop:
        assert "is not a directory" in str(stop)
    else:
        raise AssertionError("counting a missing store must stop")
    assert counter.main(["count", str(tmp_path)]) == 2
