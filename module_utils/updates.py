"""Security updates (ATU-5.17-a, ATU-5.23-b): what a Debian host misses, read from its package lists.

Shared by the module ereje_updates_status (the audit, and a converge that installs what is
overdue) and the daily check on each host (roles/baseline/files/ereje-updates-check, which finds
this file in /usr/local/lib/ereje and reports to the journal, where the collector's alert rule
reads it). Reads and judges; installing is the module's.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable
from datetime import UTC, date, datetime

from .files import read_text

# Inst libssl3 [3.0.15-1~deb12u1] (3.0.17-1~deb12u2 Debian-Security:12/oldstable-security [amd64])
INST = re.compile(
    r"^Inst (?P<package>\S+) (?:\[(?P<installed>[^\]]+)\] )?\((?P<candidate>\S+) (?P<origin>[^\[]*?)\s*\["
)
# 2026-12-01 06:31:02,117 INFO No packages found that can be upgraded unattended ...
LOG_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")


def parse_simulation(output: str, security_origin: str) -> list[dict]:
    """The upgrades in ``apt-get --simulate dist-upgrade`` output, security ones marked."""
    pattern = re.compile(security_origin)
    pending = []
    for line in output.splitlines():
        match = INST.match(line)
        if match:
            origin = match["origin"].strip()
            pending.append(
                {
                    "package": match["package"],
                    "installed": match["installed"],
                    "candidate": match["candidate"],
                    "origin": origin,
                    "security": bool(pattern.search(origin + " ")),
                }
            )
    return pending


def last_log_time(text: str | None) -> datetime | None:
    """The time of the last timestamped line of unattended-upgrade's log, in UTC.

    unattended-upgrade writes the host's local time (Asia/Almaty on a university server), which is
    this module's local time too: the naive time is read as local and converted.
    """
    for line in reversed((text or "").splitlines()):
        match = LOG_TIME.match(line)
        if match:
            return datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S").astimezone(UTC)
    return None


def lists_fetched(lists_dir: str) -> datetime | None:
    """When apt last fetched the package lists.

    apt dates each list file with the mirror's Last-Modified and leaves an unchanged file alone, so
    the files' dates tell how new the mirror's lists are; the directory of partial downloads, which
    every fetch works in, tells when the last fetch ran. The later of the two is the answer.
    """
    releases = glob.glob(os.path.join(lists_dir, "*Release"))
    if not releases:
        return None
    paths = releases + glob.glob(os.path.join(lists_dir, "partial"))
    return datetime.fromtimestamp(max(os.stat(path).st_mtime for path in paths), UTC)


def parse_os_release(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return values


def overdue(status: dict, params: dict, now: datetime) -> bool:
    """Security updates are pending and the daily run has not come by for max_days (or ever)."""
    last_run = status["last_run"]
    return bool(status["security"]) and (
        last_run is None or (now - last_run).total_seconds() > params["max_days"] * 86400
    )


def evaluate(status: dict, params: dict, now: datetime) -> list[str]:
    problems = []
    security = status["security"]
    last_run = status["last_run"]
    if overdue(status, params, now):
        names = ", ".join(security[:10]) + (f" and {len(security) - 10} more" if len(security) > 10 else "")
        if last_run is None:
            problems.append(
                f"{len(security)} security update(s) pending ({names}) and unattended-upgrade never ran"
            )
        else:
            problems.append(
                f"{len(security)} security update(s) pending ({names}) and unattended-upgrade last ran "
                f"{last_run.isoformat(timespec='minutes')}, more than {params['max_days']} day(s) ago"
            )
    lists = status["lists_updated"]
    if lists is None:
        problems.append("no package lists: what this host misses cannot be known (apt-get update never ran)")
    elif (now - lists).total_seconds() > params["max_lists_age_days"] * 86400:
        problems.append(
            f"package lists last fetched {lists.isoformat(timespec='minutes')}, more than "
            f"{params['max_lists_age_days']} day(s) ago: pending updates are unknown (is apt-daily.timer on?)"
        )
    release = status["release"]
    if release["support_ends"] is None:
        problems.append(
            f"{release['name']}: no end of support declared for release {release['version']!r} (support_ends)"
        )
    elif date.fromisoformat(release["support_ends"]) < now.date():
        problems.append(f"{release['name']} is past its end of security support ({release['support_ends']})")
    return problems


def evidence(status: dict) -> str:
    security = status["security"]
    names = ", ".join(security[:10]) + (" …" if len(security) > 10 else "")
    lists = status["lists_updated"]
    last_run = status["last_run"]
    release = status["release"]
    return (
        f"{len(security)} security update(s) pending{f' ({names})' if security else ''}, "
        f"{len(status['pending']) - len(security)} other; package lists of "
        f"{lists.isoformat(timespec='minutes') if lists else 'never'}; unattended-upgrade last ran "
        f"{last_run.isoformat(timespec='minutes') if last_run else 'never'}; {release['name']}, "
        f"supported until {release['support_ends'] or 'unknown'}"
    )


def read_status(
    run: Callable[[list[str]], tuple[int, str, str]], apt_get: str, p: dict, ends: dict[str, str]
) -> dict:
    """What the host misses, read from its package lists; its release and the last daily run.

    ``run`` runs a command in the C locale (status, output, errors). RuntimeError when apt cannot
    simulate the upgrade.
    """
    # Simulation only, without the lock: a daily apt run holding it must not fail the audit.
    rc, out, err = run([apt_get, "--simulate", "-o", "Debug::NoLocking=true", "dist-upgrade"])
    if rc != 0:
        raise RuntimeError(f"apt-get --simulate dist-upgrade failed (rc {rc}): {err.strip() or out.strip()}")
    pending = parse_simulation(out, p["security_origin"])
    os_release = parse_os_release(read_text("/etc/os-release") or "")
    version = os_release.get("VERSION_ID", "")
    return {
        "pending": pending,
        "security": sorted({u["package"] for u in pending if u["security"]}),
        "lists_updated": lists_fetched(p["lists_dir"]),
        "last_run": last_log_time(read_text(p["log"])),
        "release": {
            "version": version,
            "name": os_release.get("PRETTY_NAME", "unknown release"),
            "support_ends": ends.get(version),
        },
    }
