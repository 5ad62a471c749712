#!/usr/bin/python3
"""Ansible module: how current a domain controller's copy of the directory is (inbound replication)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ereje_samba_replication
short_description: Measure, without forcing it, the inbound replication of a Samba AD domain controller
description:
  - Reads C(samba-tool drs showrepl --json) on the domain controller it runs on, for every
    naming context and every other DC this one pulls from, the last attempt, its result, the
    number of failures in a row and the time of the last success.
  - Fails when a link has failed in a row, has never succeeded, or last succeeded more than
    O(max_age_minutes) ago (the replica is behind by at least that long), or when the DC pulls
    from fewer than O(min_partners) other DCs (ATU-7.2-a), unless O(fail_on_problem=false).
  - Read-only. It never starts a replication, so the audit measures what replication does by
    itself (Samba pulls from every partner every five minutes). Check mode returns the same answer.
version_added: "0.1.0"
author: Ereje
options:
  max_age_minutes:
    description: A link whose last success is older than this is a problem.
    type: int
    default: 60
  min_partners:
    description: The fewest other domain controllers this one must pull from (0 for the only DC).
    type: int
    default: 1
  naming_contexts:
    description:
      - Naming contexts (partitions) judged, by distinguished name, compared case-insensitively.
      - Empty judges every one the DC pulls.
    type: list
    elements: str
    default: []
  fail_on_problem:
    description: Fail the task when a problem is found; false only reports.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Directory | this replica pulls from the primary, and did so within the hour
  ereje.compliance.ereje_samba_replication:
    max_age_minutes: 60
    naming_contexts: ["DC=ereje,DC=test", "DC=DomainDnsZones,DC=ereje,DC=test"]
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
links:
  description:
    - One entry per naming context and source DC, as read; C(naming_context), C(source),
      C(last_attempt) and C(last_success) (ISO times, null for never), C(last_result),
      C(failures) (in a row), C(age_minutes) (since the last success, null for never).
  type: list
  elements: dict
  returned: always
partners:
  description: The other domain controllers this one pulls from.
  type: list
  elements: str
  returned: always
msg:
  description: The problems, or else the evidence in one line (what was read), as the audit report shows it.
  type: str
  returned: always
"""

import json
from datetime import UTC, datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.status import FAIL_ON_PROBLEM, exit_status

NEVER = "NTTIME(0)"


def parse_nttime(text: str | None) -> datetime | None:
    """A time as samba-tool prints it (``Tue Dec  1 23:10:05 2026 UTC``); None for never.

    The module runs samba-tool with TZ=UTC, so every time it prints is in UTC.
    """
    if not text or text.strip() == NEVER:
        return None
    words = text.split()
    if words and words[-1].isalpha() and len(words) == 6:
        words = words[:-1]  # the zone name: always UTC here (TZ=UTC)
    return datetime.strptime(" ".join(words), "%a %b %d %H:%M:%S %Y").replace(tzinfo=UTC)


def read_links(showrepl: dict, now: datetime) -> list[dict]:
    """The inbound links (repsFrom) of ``samba-tool drs showrepl --json``, deleted partners left out."""
    links = []
    for rep in showrepl.get("repsFrom", []):
        if rep.get("is deleted"):
            continue
        success = parse_nttime(rep.get("last success"))
        attempt = parse_nttime(rep.get("last attempt time"))
        links.append(
            {
                "naming_context": rep.get("NC dn", ""),
                "source": rep.get("DSA") or rep.get("NTDS DN", ""),
                "last_attempt": attempt.isoformat(timespec="seconds") if attempt else None,
                "last_result": str(rep.get("last attempt message", "")).strip(),
                "failures": int(rep.get("consecutive failures", 0)),
                "last_success": success.isoformat(timespec="seconds") if success else None,
                "age_minutes": int((now - success).total_seconds() // 60) if success else None,
            }
        )
    return links


def partner_name(source: str) -> str:
    """``Default-First-Site-Name\\DC1`` -> ``DC1``."""
    return source.rsplit("\\", 1)[-1]


def evaluate(
    links: list[dict], max_age: int, min_partners: int, contexts: list[str]
) -> tuple[list[dict], list[str]]:
    """The links judged and the problems found among them."""
    wanted = {c.lower() for c in contexts}
    judged = [link for link in links if not wanted or link["naming_context"].lower() in wanted]
    problems = []
    partners = sorted({partner_name(link["source"]) for link in judged})
    if len(partners) < min_partners:
        problems.append(
            f"pulls from {len(partners)} other domain controller(s) ({', '.join(partners) or 'none'}), "
            f"at least {min_partners} expected: this DC is not a working replica"
        )
    for context in sorted(wanted - {link["naming_context"].lower() for link in judged}):
        problems.append(f"{context} is pulled from no other domain controller")
    for link in judged:
        where = f"{link['naming_context']} from {partner_name(link['source'])}"
        if link["failures"]:
            problems.append(
                f"{where}: {link['failures']} failure(s) in a row, last attempt {link['last_attempt']} "
                f"{link['last_result']}"
            )
        if link["last_success"] is None:
            problems.append(f"{where}: never replicated successfully")
        elif link["age_minutes"] > max_age:
            problems.append(
                f"{where}: last success {link['last_success']}, {link['age_minutes']} min ago "
                f"(more than {max_age} min: this copy is behind)"
            )
    return judged, problems


def evidence(links: list[dict], max_age: int) -> str:
    """What was read, in one line per link."""
    if not links:
        return "samba-tool drs showrepl: no inbound replication link"
    parts = [
        f"{link['naming_context']} from {partner_name(link['source'])}: last success "
        f"{link['last_success'] or 'never'}"
        + (f" ({link['age_minutes']} min ago)" if link["age_minutes"] is not None else "")
        + f", {link['failures']} failure(s) in a row"
        for link in links
    ]
    return f"inbound replication (limit {max_age} min): " + "; ".join(parts)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "max_age_minutes": {"type": "int", "default": 60},
            "min_partners": {"type": "int", "default": 1},
            "naming_contexts": {"type": "list", "elements": "str", "default": []},
            **FAIL_ON_PROBLEM,
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["max_age_minutes"] < 1 or p["min_partners"] < 0:
        module.fail_json(msg="max_age_minutes must be at least 1 and min_partners at least 0")
    samba_tool = module.get_bin_path("samba-tool", required=True)
    rc, out, err = module.run_command(
        [samba_tool, "drs", "showrepl", "--json"], environ_update={"TZ": "UTC", "LC_ALL": "C"}
    )
    if rc != 0:
        module.fail_json(
            msg=f"samba-tool drs showrepl failed (rc {rc}): {err.strip() or out.strip()}",
            ok=False,
            problems=["the replication state could not be read"],
            links=[],
            partners=[],
        )
    try:
        showrepl = json.loads(out)
    except ValueError as exc:
        module.fail_json(msg=f"samba-tool drs showrepl --json printed no JSON ({exc}): {out[:300]}")
    links, problems = evaluate(
        read_links(showrepl, datetime.now(UTC)), p["max_age_minutes"], p["min_partners"], p["naming_contexts"]
    )
    exit_status(
        module,
        problems,
        evidence(links, p["max_age_minutes"]),
        fail=p["fail_on_problem"],
        links=links,
        partners=sorted({partner_name(link["source"]) for link in links}),
    )


if __name__ == "__main__":
    main()
