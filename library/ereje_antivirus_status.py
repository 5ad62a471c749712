#!/usr/bin/python3
"""Ansible module: the antivirus state of a Linux host (ClamAV), as the audit reads it."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ereje_antivirus_status
short_description: Report (and judge) the ClamAV state of a host
description:
  - Reads, without changing anything, whether clamd is running and answering on its socket,
    the version and age of the signature databases, the last scheduled scan and its findings,
    and what the quarantine holds.
  - Fails when the daemon is down or not answering, when there is no signature database, or
    when the newest signatures are older than O(max_signature_age_hours) (ATU-5.17-b, ATU-5.23-a),
    unless O(fail_on_problem=false).
  - Signature age is the build time of C(daily.cvd)/C(daily.cld) when the official databases are
    present, else the modification time of the newest database file (a local signature set).
  - Read-only, so check mode returns the same answer.
version_added: "0.1.0"
author: Ereje
options:
  service:
    description: systemd unit of the daemon.
    type: str
    default: clamav-daemon.service
  socket:
    description: clamd's local socket.
    type: path
    default: /run/clamav/clamd.ctl
  database_dir:
    description: Directory of the signature databases.
    type: path
    default: /var/lib/clamav
  scan_state:
    description: JSON state written by the scheduled scan (ereje-antivirus-scan).
    type: path
    default: /var/lib/ereje-antivirus/last-scan.json
  quarantine_dir:
    description: Where found files are moved.
    type: path
    default: /var/lib/ereje-antivirus/quarantine
  max_signature_age_hours:
    description: Signatures older than this are a problem.
    type: int
    default: 48
  max_scan_age_hours:
    description: A last scheduled scan older than this (or none) is a problem; 0 does not check.
    type: int
    default: 0
  require_onaccess:
    description: The on-access scanner (clamonacc) must be running.
    type: bool
    default: false
  onaccess_service:
    description: systemd unit of the on-access scanner.
    type: str
    default: clamav-clamonacc.service
  fail_on_problem:
    description: Fail the task when a problem is found (the audit); false only reports.
    type: bool
    default: true
  log_to_syslog:
    description:
      - Also write a one-line summary to syslog (tag ereje-antivirus-status), which the baseline forwards.
      - Nothing is written in check mode.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Audit | antivirus is running and current on every Linux host
  ereje.compliance.ereje_antivirus_status:
    max_signature_age_hours: 48

- name: Report only
  ereje.compliance.ereje_antivirus_status:
    fail_on_problem: false
  register: av
"""

RETURN = r"""
ok:
  description: No problem was found.
  type: bool
  returned: always
problems:
  description: What is wrong, in words a sysadmin understands.
  type: list
  elements: str
  returned: always
msg:
  description: The problems, or when there is none what was checked (the audit's evidence).
  type: str
  returned: always
daemon:
  description: C(active) (systemd state), C(responding) (answered PING), C(version) (clamd's VERSION answer).
  type: dict
  returned: always
onaccess:
  description: C(active) state of the on-access scanner unit.
  type: dict
  returned: always
signatures:
  description:
    - C(version) (daily database version or null), C(updated) (ISO time), C(age_hours),
    - C(source) (the file that decided the age) and C(databases) (one entry per file).
  type: dict
  returned: always
last_scan:
  description:
    - The scheduled scan's state (started, finished, result, infected, findings).
    - Null before the first scan.
  type: dict
  returned: always
quarantine:
  description: C(count) and C(files) (names) of quarantined files.
  type: dict
  returned: always
"""

import json
import os
import socket
import syslog
import time
from datetime import UTC, datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.dates import as_datetime
from ansible_collections.ereje.compliance.plugins.module_utils.files import read_text
from ansible_collections.ereje.compliance.plugins.module_utils.status import FAIL_ON_PROBLEM, exit_status

DATABASE_SUFFIXES = (
    ".cvd", ".cld", ".cud", ".hdb", ".hsb", ".hdu", ".hsu", ".mdb", ".msb", ".mdu", ".msu", ".ndb", ".ndu",
    ".ldb", ".ldu", ".idb", ".cdb", ".cbc", ".pdb", ".gdb", ".wdb", ".ftm", ".fp", ".sfp", ".ign", ".ign2",
    ".yar", ".yara", ".crb", ".info",
)  # fmt: skip
OFFICIAL = ("main", "daily", "bytecode")


def parse_cvd_header(header: bytes) -> dict | None:
    """Version and build time of a .cvd/.cld file from its 512-byte header.

    ``ClamAV-VDB:22 Nov 2026 08-25 +0000:27465:2070000:90:md5:dsig:builder:1795854300``
    """
    text = header[:512].split(b"\0", 1)[0].decode("ascii", errors="replace").strip()
    fields = text.split(":")
    if len(fields) < 4 or fields[0] != "ClamAV-VDB":
        return None
    try:
        version = int(fields[2])
    except ValueError:
        return None
    built = None
    if len(fields) >= 9 and fields[8].strip().isdigit():
        built = int(fields[8].strip())
    else:
        try:
            built = int(datetime.strptime(fields[1].strip(), "%d %b %Y %H-%M %z").timestamp())
        except ValueError:
            built = None
    return {"version": version, "built": built}


def parse_clamd_version(answer: str) -> dict:
    """clamd's VERSION answer: ``ClamAV 1.4.6/27465/Sun Nov 22 08:25:00 2026`` (or ``ClamAV 1.4.6``)."""
    answer = answer.strip().strip("\0").strip()
    parts = answer.split("/")
    engine = parts[0].replace("ClamAV", "").strip() or None
    database = int(parts[1]) if len(parts) > 1 and parts[1].strip().isdigit() else None
    return {"engine": engine, "database": database, "raw": answer}


def signature_summary(databases: list[dict], now: float) -> dict:
    """Version and age of the signatures from the database list.

    The official daily database (build time from its header) decides when present: it is what
    freshclam updates several times a day. Otherwise the newest file of the local set.
    """
    daily = [d for d in databases if d["name"].split(".")[0] == "daily" and d.get("built")]
    if daily:
        newest = max(daily, key=lambda d: d["built"])
        updated, version, source = newest["built"], newest.get("version"), newest["name"]
    elif databases:
        newest = max(databases, key=lambda d: d["mtime"])
        updated, version, source = newest["mtime"], None, newest["name"]
    else:
        return {"version": None, "updated": None, "age_hours": None, "source": None, "databases": []}
    return {
        "version": version,
        "updated": datetime.fromtimestamp(updated, UTC).isoformat(timespec="seconds"),
        "age_hours": round(max(now - updated, 0) / 3600, 1),
        "source": source,
        "databases": databases,
    }


def parse_scan_state(text: str | None) -> dict | None:
    """The scheduled scan's JSON state, or None when there is none (or it is unreadable)."""
    if not text:
        return None
    try:
        state = json.loads(text)
    except ValueError:
        return {"result": "unreadable", "findings": [], "infected": 0}
    if not isinstance(state, dict):
        return {"result": "unreadable", "findings": [], "infected": 0}
    state.setdefault("findings", [])
    state.setdefault("infected", len(state["findings"]))
    return state


def iso_age_hours(stamp: str | None, now: float) -> float | None:
    """Hours since ``stamp`` (ISO, UTC when it has no offset); None when there is no valid one."""
    moment = as_datetime(stamp, UTC) if stamp else None
    if moment is None:
        return None
    return round(max(now - moment.timestamp(), 0) / 3600, 1)


def evaluate(status: dict, limits: dict, now: float) -> list[str]:
    """Problems of a host, given what was read and the limits of the inventory."""
    problems = []
    daemon = status["daemon"]
    if daemon["active"] != "active":
        problems.append(f"clamd is not running (systemd state: {daemon['active']})")
    elif not daemon["responding"]:
        problems.append("clamd runs but does not answer on its socket")
    signatures = status["signatures"]
    if not signatures["databases"]:
        problems.append("no signature database: clamd cannot detect anything")
    elif signatures["age_hours"] is not None and signatures["age_hours"] > limits["max_signature_age_hours"]:
        problems.append(
            f"signatures are {signatures['age_hours']} hours old "
            f"(limit {limits['max_signature_age_hours']}): "
            f"newest is {signatures['source']} from {signatures['updated']}"
        )
    if limits.get("require_onaccess") and status["onaccess"]["active"] != "active":
        problems.append(f"on-access scanning is not running (state: {status['onaccess']['active']})")
    max_scan = limits.get("max_scan_age_hours") or 0
    if max_scan:
        scan = status["last_scan"]
        age = iso_age_hours(scan.get("finished"), now) if scan else None
        if age is None:
            problems.append("no scheduled scan has completed yet")
        elif age > max_scan:
            problems.append(f"the last scheduled scan finished {age} hours ago (limit {max_scan})")
    scan = status["last_scan"]
    if scan and scan.get("result") in ("error", "unreadable"):
        detail = scan.get("errors") or scan.get("result")
        problems.append(f"the last scheduled scan did not complete: {detail}")
    return problems


def summary_line(status: dict, problems: list[str]) -> str:
    sig = status["signatures"]
    scan = status["last_scan"] or {}
    return (
        f"status={'ok' if not problems else 'PROBLEM'} daemon={status['daemon']['active']} "
        f"signatures_version={sig['version']} signatures_age_hours={sig['age_hours']} "
        f"onaccess={status['onaccess']['active']} last_scan={scan.get('finished')} "
        f"last_scan_result={scan.get('result')} last_scan_infected={scan.get('infected')} "
        f"quarantined={status['quarantine']['count']}"
        + (f" problems={'; '.join(problems)}" if problems else "")
    )


# ---- reading the host (not unit-tested: it needs a host) ------------------------------------


def clamd_command(path: str, command: str, timeout: float = 30) -> str | None:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(path)
            conn.sendall(f"z{command}\0".encode())
            chunks = []
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\0" in chunk:
                    break
        return b"".join(chunks).decode(errors="replace").strip("\0").strip()
    except OSError:
        return None


def unit_state(module: AnsibleModule, unit: str) -> str:
    systemctl = module.get_bin_path("systemctl", required=True)
    _, out, _ = module.run_command([systemctl, "is-active", unit])
    return out.strip() or "unknown"


def read_databases(directory: str) -> list[dict]:
    databases = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return databases
    for name in names:
        path = os.path.join(directory, name)
        if not name.endswith(DATABASE_SUFFIXES) or not os.path.isfile(path):
            continue
        entry = {"name": name, "mtime": int(os.stat(path).st_mtime), "size": os.stat(path).st_size}
        if name.split(".")[0] in OFFICIAL or name.endswith((".cvd", ".cld")):
            with open(path, "rb") as handle:
                header = parse_cvd_header(handle.read(512))
            if header:
                entry.update(header)
        databases.append(entry)
    return databases


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "service": {"type": "str", "default": "clamav-daemon.service"},
            "socket": {"type": "path", "default": "/run/clamav/clamd.ctl"},
            "database_dir": {"type": "path", "default": "/var/lib/clamav"},
            "scan_state": {"type": "path", "default": "/var/lib/ereje-antivirus/last-scan.json"},
            "quarantine_dir": {"type": "path", "default": "/var/lib/ereje-antivirus/quarantine"},
            "max_signature_age_hours": {"type": "int", "default": 48},
            "max_scan_age_hours": {"type": "int", "default": 0},
            "require_onaccess": {"type": "bool", "default": False},
            "onaccess_service": {"type": "str", "default": "clamav-clamonacc.service"},
            "log_to_syslog": {"type": "bool", "default": False},
            **FAIL_ON_PROBLEM,
        },
        supports_check_mode=True,
    )
    p = module.params
    now = time.time()
    active = unit_state(module, p["service"])
    answer = clamd_command(p["socket"], "PING") if active == "active" else None
    version = clamd_command(p["socket"], "VERSION") if answer == "PONG" else None
    try:
        quarantined = sorted(n for n in os.listdir(p["quarantine_dir"]) if not n.startswith("."))
    except OSError:
        quarantined = []
    status = {
        "daemon": {
            "active": active,
            "responding": answer == "PONG",
            "version": parse_clamd_version(version) if version else None,
        },
        "onaccess": {"active": unit_state(module, p["onaccess_service"])},
        "signatures": signature_summary(read_databases(p["database_dir"]), now),
        "last_scan": parse_scan_state(read_text(p["scan_state"])),
        "quarantine": {"count": len(quarantined), "files": quarantined[:100]},
    }
    running = status["daemon"]["version"]
    if running and running["database"] and not status["signatures"]["version"]:
        status["signatures"]["version"] = running["database"]
    problems = evaluate(status, p, now)
    if p["log_to_syslog"] and not module.check_mode:
        syslog.openlog("ereje-antivirus-status", 0, syslog.LOG_DAEMON)
        syslog.syslog(syslog.LOG_WARNING if problems else syslog.LOG_INFO, summary_line(status, problems))
    exit_status(module, problems, summary_line(status, problems), fail=p["fail_on_problem"], **status)


if __name__ == "__main__":
    main()
