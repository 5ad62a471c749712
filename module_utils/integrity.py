"""File integrity (ATU-5.11-a): reading AIDE's report and telling who made each change.

Shared by the module ereje_file_integrity (the audit and a converge, against the reference kept on
the controller) and the daily check on each host (roles/file_integrity/files/ereje-integrity-check,
which finds this file beside it in /usr/local/lib/ereje). Plain Python, nothing of Ansible's.

An entry is AIDE's difference: ``path``, ``kind`` (added, removed, changed) and ``summary`` (AIDE's
attribute summary, first letter the type: f file, d directory, l link); ``by`` says who made it:
``run`` (this run of a playbook, by ctime), ``package`` (a Debian package update that dpkg
verifies) or ``before`` (someone else, before the run: a finding until a person accepts it).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable

# AIDE's exit status: bits 1, 2 and 4 say entries were added, removed or changed; any other bit
# (14 and above) is an error.
DIFFERENCES = 7
MADE = re.compile(r"^# Time of generation was (.+)$", re.MULTILINE)


def parse_report(text: str) -> tuple[int, list[dict]]:
    """The number of entries checked and the differences of AIDE's JSON report (report_format=json)."""
    report = json.loads(text)
    entries = [
        {"path": path, "kind": kind, "summary": summary.strip()}
        for kind in ("added", "removed", "changed")
        for path, summary in sorted(report.get(kind, {}).items())
    ]
    return int(report.get("number_of_entries", {}).get("total", 0)), entries


def changed_at(entry: dict) -> float | None:
    """When the entry last changed on the host: its ctime, a removed entry's directory's (None if gone)."""
    path = os.path.dirname(entry["path"]) if entry["kind"] == "removed" else entry["path"]
    try:
        return os.lstat(path).st_ctime
    except OSError:
        return None


def attribute(entries: list[dict], since: float | None) -> list[dict]:
    """Each entry with ``by``: run when it changed at or after ``since``, before otherwise."""
    if since is None:  # no run (the daily check): nothing is a run's, no file need be looked at
        return [{**entry, "by": "before"} for entry in entries]
    out = []
    for entry in entries:
        when = changed_at(entry)
        out.append({**entry, "by": "run" if when is not None and when >= since else "before"})
    return out


# Debian 12 merged /bin into /usr/bin: dpkg may know a program by either name.
MERGED_USR = (("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/"), ("/usr/lib/", "/lib/"))


def dpkg_names(path: str) -> list[str]:
    """The names dpkg may have registered a file under."""
    return [path] + [alias + path[len(usr) :] for usr, alias in MERGED_USR if path.startswith(usr)]


def parse_owners(text: str) -> tuple[dict[str, set[str]], set[str]]:
    """`dpkg-query -S` output: the packages owning each path, and the paths a diversion concerns."""
    owners: dict[str, set[str]] = {}
    diverted: set[str] = set()
    for line in text.splitlines():
        packages, sep, path = line.partition(": ")
        if not sep:
            continue
        if packages.startswith("diversion by "):
            diverted.add(path.strip())
            continue
        owners[path.strip()] = {name.strip().split(":")[0] for name in packages.split(",")}
    return owners, diverted


def parse_verify(text: str) -> set[str]:
    """`dpkg --verify` output: the files that do not match their package (content or missing)."""
    return {
        line.split()[-1] for line in text.splitlines() if line.split() and line.split()[-1].startswith("/")
    }


def dpkg_facts(
    run: Callable[[list[str]], str], entries: list[dict]
) -> tuple[dict[str, str], dict[str, set[str]]]:
    """What dpkg says of the entries changed before this run: the files a Debian package owns whose
    content dpkg verifies against the package's checksums ({path: package}), and the packages that
    own each changed directory ({path: packages}). ``run`` runs a command and returns its standard
    output (dpkg-query exits 1 when it knows a path of no package: that is an answer, not an error)."""
    before = [e for e in entries if e["by"] == "before" and e["kind"] in ("added", "changed")]
    names = {
        name: e["path"] for e in before if e["summary"][:1] in ("f", "d") for name in dpkg_names(e["path"])
    }
    if not names:
        return {}, {}
    owners, diverted = parse_owners(run(["dpkg-query", "-S", "--", *names]))
    owned = {name: found for name, found in owners.items() if name in names and name not in diverted}
    is_dir = {e["path"] for e in before if e["summary"].startswith("d")}
    directories: dict[str, set[str]] = {}
    for name, found in owned.items():
        if names[name] in is_dir:
            directories.setdefault(names[name], set()).update(found)
    files = {name: found for name, found in owned.items() if names[name] not in is_dir}
    if not files:
        return {}, directories
    failing = parse_verify(run(["dpkg", "--verify", *sorted(set().union(*files.values()))]))
    return {
        names[name]: sorted(found)[0] for name, found in files.items() if name not in failing
    }, directories


def by_packages(entries: list[dict], vouched: dict[str, str], directories: dict[str, set[str]]) -> list[dict]:
    """Entries a package update explains get ``by: package``: a changed file dpkg verifies; a new
    file of a package that also changed a file that was there (an upgrade, not a package someone
    installed); a directory of such an upgraded package with no other change listed inside it."""
    out = [
        {**e, "by": "package", "package": vouched[e["path"]]}
        if e["path"] in vouched and e["kind"] != "removed"
        else e
        for e in entries
    ]
    upgraded = {e["package"] for e in out if e["by"] == "package" and e["kind"] == "changed"}
    out = [
        {**e, "by": "before"}
        if e["by"] == "package" and e["kind"] == "added" and e["package"] not in upgraded
        else e
        for e in out
    ]
    for entry in out:
        if entry["by"] != "before" or entry["kind"] != "changed" or not entry["summary"].startswith("d"):
            continue
        inside = [e for e in out if os.path.dirname(e["path"]) == entry["path"]]
        mine = directories.get(entry["path"], set()) & upgraded
        explained = any(e["by"] == "package" for e in inside) or mine
        if explained and all(e["by"] in ("run", "package") for e in inside):
            entry.update(by="package", package=", ".join(sorted(mine)) or "its updated files")
    return out


def listed(entries: list[dict], limit: int) -> str:
    """'added /a, changed /b ... and N more' for a message."""
    names = [f"{e['kind']} {e['path']}" for e in entries[:limit]]
    more = len(entries) - limit
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def made(database: str) -> str:
    """When AIDE made a database (its header), or ''."""
    found = MADE.search(database[:400])
    return found.group(1).strip() if found else ""
