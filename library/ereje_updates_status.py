#!/usr/bin/python3
"""Ansible module: pending security updates and the support status of a Debian host, as read."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ereje_updates_status
short_description: Report (and judge) the security updates a Debian host is missing, and its release's support
description:
  - Reads, without changing anything, what C(apt-get --simulate dist-upgrade) would install from the
    host's current package lists, which of it comes from a security origin, how old the package lists
    are, when C(unattended-upgrade) last ran, and whether the Debian release is still supported.
  - Fails (ATU-5.17-a, ATU-5.23-b), unless O(fail_on_problem=false), when security updates are
    pending and unattended-upgrades has not run in the last O(max_days) days (a pending update is
    fine only until the next daily run), when the package lists are older than O(max_lists_age_days)
    (what is pending cannot be known), or when the release is past the end of support given in
    O(support_ends).
  - With O(install_overdue=true), security updates that are overdue (pending while unattended-upgrades
    has not run for O(max_days) days, or never) are installed at once by the same
    C(unattended-upgrade) run the daily timer makes (same origins, blacklist, reboot policy), and
    the host is read and judged again; in check mode that install is reported as a change.
  - The package lists are refreshed (C(apt-get update)) only with O(refresh_lists_after_hours) and
    only outside check mode, so an audit writes nothing; otherwise the daily apt timer does it.
version_added: "0.1.0"
author: Ereje
options:
  security_origin:
    description: Regular expression an origin of C(apt-get --simulate) output must match to count as security.
    type: str
    default: "-Security:|/[a-z]*-security "
  max_days:
    description:
      - Pending security updates are a problem when unattended-upgrade last ran longer ago than this
        (or never).
    type: int
    default: 2
  max_lists_age_days:
    description: Package lists older than this are a problem (the host cannot know what it misses).
    type: int
    default: 3
  support_ends:
    description:
      - End of security support per Debian major release (C(VERSION_ID) of C(/etc/os-release)),
        ISO dates, e.g. C(12) to C(2028-06-30) (Debian LTS included).
      - A release not listed is a problem (its support cannot be judged).
    type: dict
    default: {}
  log:
    description: The log unattended-upgrade writes on every run.
    type: path
    default: /var/log/unattended-upgrades/unattended-upgrades.log
  lists_dir:
    description: Where apt keeps the package lists.
    type: path
    default: /var/lib/apt/lists
  refresh_lists_after_hours:
    description:
      - Outside check mode, run C(apt-get update) first when the package lists are older than this
        many hours (or missing). V(0) never refreshes them.
    type: int
    default: 0
  install_overdue:
    description: Install overdue security updates with C(unattended-upgrade), then judge again.
    type: bool
    default: false
  fail_on_problem:
    description: Fail the task when a problem is found (the audit); false only reports.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Updates | overdue security updates installed now; what is pending and the release's support
  ereje.compliance.ereje_updates_status:
    install_overdue: true
    max_days: 2
    support_ends: {"12": "2028-06-30", "13": "2030-06-30"}
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
pending:
  description:
    - Every upgrade apt would make, each C(package), C(installed), C(candidate), C(origin), C(security).
  type: list
  elements: dict
  returned: always
installed:
  description: Names of the overdue security updates installed by this run (would be, in check mode).
  type: list
  elements: str
  returned: always
security:
  description: Names of the packages with a pending security update.
  type: list
  elements: str
  returned: always
lists_updated:
  description: When the package lists were last fetched (ISO time), null if there are none.
  type: str
  returned: always
lists_refreshed:
  description: Whether this run fetched the package lists first (O(refresh_lists_after_hours)).
  type: bool
  returned: always
last_unattended_upgrade:
  description: Time of the last line unattended-upgrade logged (ISO), null if it never ran.
  type: str
  returned: always
release:
  description: C(version) (VERSION_ID), C(name) (PRETTY_NAME), C(support_ends) (ISO date or null).
  type: dict
  returned: always
msg:
  description: The problems, or when there are none the evidence in one line, shown in the audit report.
  type: str
  returned: always
"""

import re
from datetime import UTC, date, datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.status import FAIL_ON_PROBLEM, status_result
from ansible_collections.ereje.compliance.plugins.module_utils.updates import (
    evaluate,
    evidence,
    lists_fetched,
    overdue,
    read_status,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "security_origin": {"type": "str", "default": "-Security:|/[a-z]*-security "},
            "max_days": {"type": "int", "default": 2},
            "max_lists_age_days": {"type": "int", "default": 3},
            "support_ends": {"type": "dict", "default": {}},
            "log": {"type": "path", "default": "/var/log/unattended-upgrades/unattended-upgrades.log"},
            "lists_dir": {"type": "path", "default": "/var/lib/apt/lists"},
            "install_overdue": {"type": "bool", "default": False},
            "refresh_lists_after_hours": {"type": "int", "default": 0},
            **FAIL_ON_PROBLEM,
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        re.compile(p["security_origin"])
        ends = {str(k): date.fromisoformat(str(v)).isoformat() for k, v in p["support_ends"].items()}
    except (re.error, ValueError) as exc:
        module.fail_json(
            msg=f"security_origin must be a regular expression and support_ends ISO dates: {exc}"
        )
    if p["max_days"] < 1 or p["max_lists_age_days"] < 1:
        module.fail_json(msg="max_days and max_lists_age_days must be at least 1")
    if p["refresh_lists_after_hours"] < 0:
        module.fail_json(msg="refresh_lists_after_hours must be 0 (never) or a number of hours")
    apt_get = module.get_bin_path("apt-get", required=True)
    refreshed = refresh_lists(module, apt_get, p)
    status = read(module, apt_get, p, ends)
    installed = []
    if p["install_overdue"] and overdue(status, p, datetime.now(UTC)):
        installed = status["security"]
        if not module.check_mode:
            upgrade = module.get_bin_path("unattended-upgrade", required=True)
            rc, out, err = module.run_command([upgrade], environ_update={"LC_ALL": "C"})
            if rc != 0:
                module.fail_json(msg=f"unattended-upgrade failed (rc {rc}): {(err or out).strip()[-2000:]}")
            status = read(module, apt_get, p, ends)
    problems = evaluate(status, p, datetime.now(UTC))
    done = f"installed {', '.join(installed)}; " if installed and not module.check_mode else ""
    result = status_result(
        problems,
        done + evidence(status),
        installed=installed,
        pending=status["pending"],
        security=status["security"],
        lists_updated=status["lists_updated"].isoformat(timespec="seconds")
        if status["lists_updated"]
        else None,
        last_unattended_upgrade=status["last_run"].isoformat(timespec="seconds")
        if status["last_run"]
        else None,
        release=status["release"],
        lists_refreshed=refreshed,
    )
    # Not only a status module: it installs what is overdue (the status contract's changed=false
    # holds whenever nothing was overdue, and always in the audit's answer of what it read).
    result["changed"] = bool(installed)
    if problems and p["fail_on_problem"]:
        module.fail_json(**result)
    module.exit_json(**result)


def read(module: AnsibleModule, apt_get: str, p: dict, ends: dict[str, str]) -> dict:
    """The host's status (module_utils/updates.py), or the task fails saying why apt could not tell."""
    try:
        return read_status(
            lambda argv: module.run_command(argv, environ_update={"LC_ALL": "C"}), apt_get, p, ends
        )
    except RuntimeError as error:
        module.fail_json(msg=str(error))


def refresh_lists(module: AnsibleModule, apt_get: str, p: dict) -> bool:
    """apt-get update when the lists are older than refresh_lists_after_hours (never in check mode)."""
    hours = p["refresh_lists_after_hours"]
    if not hours or module.check_mode:
        return False
    fetched = lists_fetched(p["lists_dir"])
    if fetched and (datetime.now(UTC) - fetched).total_seconds() < hours * 3600:
        return False
    rc, out, err = module.run_command([apt_get, "update", "-qq"], environ_update={"LC_ALL": "C"})
    if rc != 0:
        module.fail_json(msg=f"apt-get update failed (rc {rc}): {(err or out).strip()[-2000:]}")
    return True


if __name__ == "__main__":
    main()
