#!/usr/bin/python3
"""Ansible module: installed packages whose security support has ended, as the audit reads it."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ereje_support_status
short_description: Report (and judge) installed packages past the end of their security support
description:
  - Asks C(check-support-status) (Debian's C(debian-security-support) package) which installed
    packages the Debian security team no longer supports (C(ended)), will stop supporting before the
    release's own end (C(earlyend)), or supports only for some uses (C(limited)).
  - Fails when an installed package's support has ended or ends early (ATU-5.23-b), naming the
    package, the date and Debian's reason, unless its source package is in O(accepted) or
    O(fail_on_problem=false). Limited support is reported in the evidence, never a problem.
  - Every answer is fresh. C(check-support-status) remembers what it already reported in a status
    file and stays silent about it afterwards (its daily mail uses that), so each run gets an empty
    status file of its own.
  - When C(check-support-status) is missing the answer cannot be known, and that is a problem.
  - Read-only, so check mode returns the same answer.
version_added: "0.1.0"
author: Ereje
options:
  accepted:
    description:
      - Source packages whose ended or early-ended support is accepted on this host (a waiver the
        inventory documents); they are listed in the evidence, not as problems.
    type: list
    elements: str
    default: []
  fail_on_problem:
    description: Fail the task when a problem is found (the audit); false only reports.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Updates | no installed package is past the end of its security support
  ereje.compliance.ereje_support_status:
    accepted: [mimetex]
"""

RETURN = r"""
ok:
  description: True when no installed package is past its end of support (accepted ones aside).
  returned: always
  type: bool
problems:
  description: One sentence per package past its end of support.
  returned: always
  type: list
ended:
  description: Source packages whose support has ended or ends early, with date, reason and binaries.
  returned: always
  type: list
  sample: [{source: mimetex, type: ended, date: "2026-06-12", version: 1.76-2,
            details: Upstream project no longer exists, packages: [mimetex], accepted: false}]
limited:
  description: Source packages with limited support, with Debian's reason and binaries.
  returned: always
  type: list
msg:
  description: The problems, or the evidence (what was read) when there are none.
  returned: always
  type: str
  sample: "no installed package past its end of security support; limited support: binutils"
"""

import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.status import FAIL_ON_PROBLEM, exit_status

# The kinds check-support-status knows; the first two are a problem, the last only evidence.
PROBLEM_TYPES = ("ended", "earlyend")
TYPES = (*PROBLEM_TYPES, "limited")
SOURCE = re.compile(r"^\* Source:(?P<source>\S+?)(?:, ended on (?P<date>\S+) at version (?P<version>\S+))?$")
BINARY = re.compile(r"^\s+- (?P<package>\S+) \(installed version: (?P<installed>[^)]+)\)$")


def parse_report(text: str, kind: str) -> list[dict]:
    """The source packages one `check-support-status --type KIND --no-heading` run lists.

    Each entry starts with "* Source:NAME" (for ended ones ", ended on DATE at version V"), then a
    "Details:" line with Debian's reason, then the installed binary packages built from it.
    """
    entries: list[dict] = []
    for line in text.splitlines():
        source = SOURCE.match(line.strip())
        if source:
            entries.append(
                {
                    "source": source["source"],
                    "type": kind,
                    "date": source["date"],
                    "version": source["version"],
                    "details": "",
                    "packages": [],
                }
            )
            continue
        if not entries:
            continue
        if line.strip().startswith("Details:"):
            entries[-1]["details"] = line.strip()[len("Details:") :].strip()
            continue
        binary = BINARY.match(line)
        if binary:
            entries[-1]["packages"].append(binary["package"].split(":")[0])
    return entries


def judge(entries: list[dict], accepted: list[str]) -> tuple[list[str], list[dict], list[dict]]:
    """Problems (ended and early-ended support not accepted), and the ended and limited entries."""
    problems, ended, limited = [], [], []
    for entry in entries:
        if entry["type"] == "limited":
            limited.append(entry)
            continue
        judged = {**entry, "accepted": entry["source"] in accepted}
        ended.append(judged)
        if not judged["accepted"]:
            when = f"on {judged['date']}" if judged["date"] else "before the release's own end"
            problems.append(
                f"security support {'ended' if judged['type'] == 'ended' else 'ends early'} {when} for "
                f"{', '.join(judged['packages']) or judged['source']} (source {judged['source']}): "
                f"{judged['details'] or 'no reason given'}; remove it, replace it, or accept it in "
                "baseline_updates_unsupported_accepted"
            )
    return problems, ended, limited


def evidence(ended: list[dict], limited: list[dict]) -> str:
    """What was read, when nothing is a problem."""
    accepted = [e["source"] for e in ended if e["accepted"]]
    said = "no installed package past its end of security support"
    if accepted:
        said += f" (accepted: {', '.join(accepted)})"
    names = ", ".join(e["source"] for e in limited)
    return f"{said}; limited support: {names or 'none'}"


def read(module: AnsibleModule, tool: str, kind: str) -> str:
    """One fresh report of a kind: a status file of its own, so nothing is left out as already said."""
    with tempfile.TemporaryDirectory(prefix="ereje-support-") as scratch:
        status_db = os.path.join(scratch, "status")
        rc, out, err = module.run_command(
            [tool, "--type", kind, "--no-heading", "--status-db", status_db], environ_update={"LC_ALL": "C"}
        )
    if rc != 0:
        module.fail_json(msg=f"check-support-status --type {kind} failed (rc {rc}): {(err or out).strip()}")
    return out


def main() -> None:
    module = AnsibleModule(
        argument_spec={"accepted": {"type": "list", "elements": "str", "default": []}, **FAIL_ON_PROBLEM},
        supports_check_mode=True,
    )
    p = module.params
    tool = module.get_bin_path("check-support-status")
    if not tool:
        exit_status(
            module,
            [
                "check-support-status is missing (package debian-security-support): which installed "
                "packages are past their end of security support cannot be known"
            ],
            fail=p["fail_on_problem"],
            ended=[],
            limited=[],
        )
    entries = [entry for kind in TYPES for entry in parse_report(read(module, tool, kind), kind)]
    problems, ended, limited = judge(entries, p["accepted"])
    exit_status(
        module, problems, evidence(ended, limited), fail=p["fail_on_problem"], ended=ended, limited=limited
    )


if __name__ == "__main__":
    main()
