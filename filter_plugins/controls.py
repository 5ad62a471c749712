"""Filters that check inventory data against the control catalog (controls/catalog.yml).

A waiver lets an approved exception stand for a while, with its reason on record::

    ereje_waivers:
      - control: ATU-5.17-a
        hosts: [legacy-app1]
        justification: Vendor supports only the frozen package set until migration.
        approved_by: Head of IT department, order 42 of 2026-10-01
        expires: 2027-03-31

``waiver_problems`` returns what is wrong with each waiver in words a sysadmin can act on;
the preflight play fails on any of them before a host is touched. Expiry is not a problem
here: the audit reports an expired waiver as a failing control.
"""

from __future__ import annotations

import difflib

from ansible.errors import AnsibleFilterError

from ansible_collections.ereje.compliance.plugins.module_utils.dates import as_date

WAIVER_FIELDS = ("control", "hosts", "justification", "approved_by", "expires")


def control_ids(catalog: dict) -> list[str]:
    """The IDs of every control in the catalog."""
    try:
        return [control["id"] for control in catalog["controls"]]
    except (TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"the control catalog is malformed: {exc}") from None


def unknown_controls(ids: list, catalog: dict) -> list[str]:
    """Problems for each ID in ``ids`` that the catalog does not know, with a suggestion."""
    known = control_ids(catalog)
    problems = []
    for control in ids:
        if control in known:
            continue
        hint = difflib.get_close_matches(str(control), known, n=1)
        suggestion = f" (did you mean {hint[0]}?)" if hint else ""
        problems.append(f"{control!r} is not a control of controls/catalog.yml{suggestion}")
    return problems


def waiver_problems(waivers: object, catalog: dict) -> list[str]:
    """Everything wrong with a list of waivers; empty when all are usable."""
    if waivers is None:
        return []
    if not isinstance(waivers, list):
        return [f"must be a list of waivers, not {type(waivers).__name__}"]
    problems: list[str] = []
    for index, waiver in enumerate(waivers, start=1):
        label = f"waiver #{index}"
        if not isinstance(waiver, dict):
            problems.append(f"{label} must be a mapping with {', '.join(WAIVER_FIELDS)}")
            continue
        if waiver.get("control"):
            label = f"waiver #{index} ({waiver['control']})"
        missing = [field for field in WAIVER_FIELDS if not waiver.get(field)]
        if missing:
            problems.append(f"{label} lacks {', '.join(missing)}")
        unknown = sorted(set(waiver) - set(WAIVER_FIELDS))
        if unknown:
            problems.append(f"{label} has unknown field(s) {', '.join(unknown)}")
        if waiver.get("control"):
            problems += [f"{label}: {p}" for p in unknown_controls([waiver["control"]], catalog)]
        if waiver.get("expires") and as_date(waiver["expires"]) is None:
            problems.append(f"{label}: expires {waiver['expires']!r} is not a date like 2027-03-31")
        hosts = waiver.get("hosts")
        if hosts and not (
            hosts == "all" or (isinstance(hosts, list) and all(isinstance(h, str) for h in hosts))
        ):
            problems.append(f"{label}: hosts must be a list of inventory host names, or 'all'")
    return problems


class FilterModule:
    """Ereje control-catalog filters."""

    def filters(self):
        return {
            "control_ids": control_ids,
            "unknown_controls": unknown_controls,
            "waiver_problems": waiver_problems,
        }
