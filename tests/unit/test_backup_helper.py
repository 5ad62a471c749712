"""The backup client's helper (roles/backup_client/files/ereje-backup): the manifest's hashes are
read again only for files that changed since the last backup."""

from __future__ import annotations

import json
import os
from pathlib import Path

from support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
helper = load_script(ROOT / "roles" / "backup_client" / "files" / "ereje-backup", "ereje_backup_helper")


def tree(root: Path) -> Path:
    (root / "site" / "pages").mkdir(parents=True)
    for n in range(5):
        (root / "site" / "pages" / f"p{n}.html").write_text(f"page {n}\n")
    return root / "site"


def test_an_unchanged_file_is_not_read_again_and_a_changed_one_is(tmp_path):
    site, cache = tree(tmp_path), tmp_path / "state" / "hashes.json"
    first, read, _ = helper.file_hashes([str(site)], cache)
    assert read == 5
    assert first[str(site / "pages" / "p0.html").lstrip("/")] == helper.sha256(site / "pages" / "p0.html")
    # Nothing changed: nothing is read, the hashes are the same, the cache is the owner's alone.
    again, read, _ = helper.file_hashes([str(site)], cache)
    assert (again, read) == (first, 0)
    assert cache.stat().st_mode & 0o777 == 0o600
    # One file rewritten (same size, its old modification time put back by hand: the change time
    # still moves) and one added: those two are read, and their hashes are the new contents'.
    page = site / "pages" / "p1.html"
    before = page.stat()
    page.write_text("PAGE 1\n")
    os.utime(page, ns=(before.st_atime_ns, before.st_mtime_ns))
    (site / "pages" / "p9.html").write_text("new page\n")
    changed, read, _ = helper.file_hashes([str(site)], cache)
    assert read == 2
    assert changed[str(page).lstrip("/")] == helper.sha256(page) != first[str(page).lstrip("/")]
    # A file that is gone leaves the cache with the manifest.
    (site / "pages" / "p0.html").unlink()
    helper.file_hashes([str(site)], cache)
    assert str(site / "pages" / "p0.html").lstrip("/") not in json.loads(cache.read_text())


def test_a_cache_that_cannot_be_read_means_every_file_is_read(tmp_path):
    site, cache = tree(tmp_path), tmp_path / "hashes.json"
    cache.write_text("{not json")
    hashes, read, _ = helper.file_hashes([str(site)], cache)
    assert read == 5 and len(hashes) == 5
    # And a cache entry with a matching key but a wrong shape is not trusted.
    entry = str(site / "pages" / "p2.html").lstrip("/")
    cache.write_text(json.dumps({entry: "sha"}))
    assert helper.file_hashes([str(site)], cache)[1] == 5


def test_declared_commands_get_their_directories_in_place_of_the_placeholders(tmp_path):
    """A verify command sees its own restored dump as {restored} and the whole archive as {root}."""
    argv, done = helper.run_declared(
        ["sh", "-c", 'echo "$0 $1"', "{restored}/counts.json", "{root}/var/mail/vhosts"],
        {"{restored}": tmp_path / "dump" / "mailbox", "{root}": tmp_path},
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"{tmp_path}/dump/mailbox/counts.json {tmp_path}/var/mail/vhosts"
    assert argv[3] == f"{tmp_path}/dump/mailbox/counts.json"
    # A program that is not there: exit 127 and the reason, not an exception.
    _, missing = helper.run_declared(["/nonexistent/check", "{dump}"], {"{dump}": tmp_path})
    assert missing.returncode == 127 and "No such file" in missing.stderr


def test_a_log_that_grew_during_the_backup_matches_and_one_rewritten_does_not(tmp_path):
    """Collected logs (declared append_only) are appended to while the backup runs: the manifest holds
    each one's size and the hash of that many bytes, and a restored copy that begins with them
    matches, longer or not; a copy whose earlier events differ, or that is shorter, does not."""
    logs = tmp_path / "var" / "log" / "remote" / "web"
    logs.mkdir(parents=True)
    (logs / "2026-12-07.log").write_text("event 1\nevent 2\n")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hostname").write_text("collector\n")
    hashes, read, sizes = helper.file_hashes(
        [str(tmp_path / "etc"), str(tmp_path / "var")],
        tmp_path / "state" / "hashes.json",
        [str(tmp_path / "var")],
    )
    name = str(logs / "2026-12-07.log").lstrip("/")
    assert read == 2 and sizes == {name: 16}
    assert (
        hashes[name] == helper.sha256(logs / "2026-12-07.log") == helper.sha256(logs / "2026-12-07.log", 16)
    )
    # The archive was read after two more events arrived: it begins with what the manifest saw.
    with (logs / "2026-12-07.log").open("a") as log:
        log.write("event 3\nevent 4\n")
    assert helper.restored_as(logs / "2026-12-07.log", hashes[name], sizes[name])
    # Without the append-only mark the same file no longer matches (it is not the file hashed).
    assert not helper.restored_as(logs / "2026-12-07.log", hashes[name], None)
    # An earlier event rewritten (same length), or the log cut short: it does not match.
    (logs / "2026-12-07.log").write_text("event X\nevent 2\nevent 3\n")
    assert not helper.restored_as(logs / "2026-12-07.log", hashes[name], sizes[name])
    (logs / "2026-12-07.log").write_text("event 1\n")
    assert not helper.restored_as(logs / "2026-12-07.log", hashes[name], sizes[name])
    assert not helper.restored_as(logs / "absent.log", hashes[name], sizes[name])
    # A file outside the growing roots is whole-file as before.
    etc = str(tmp_path / "etc" / "hostname").lstrip("/")
    assert etc not in sizes and helper.restored_as(tmp_path / "etc" / "hostname", hashes[etc], None)
