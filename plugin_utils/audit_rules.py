"""The audit's rules: what a host's check results mean for each control (pure functions).

The callback (callback_plugins/ereje_audit.py) collects, per host and control, the results of the
tasks tagged with that control ("events": ok, changed or failed, with a detail); these functions
turn them into a verdict and its evidence:

- a task that *would change* something is drift: the control fails, the diff is the evidence;
- a task that fails fails the control, with what it said as evidence;
- otherwise the control passes, with what the checks looked at as evidence;
- no result at all is "not checked": never a pass.

Waivers, the catalog's manual/planned/not-applicable statuses and the report-period control
(ATU-8.7-a) are applied here too. Nothing here reads Ansible objects or files: unit-tested in
tests/unit/test_audit_report.py.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json

from ansible_collections.ereje.compliance.plugins.module_utils.dates import as_date

STATUSES = ("pass", "fail", "not_checked", "waived", "manual", "not_applicable")
MAX_EVIDENCE_LINES = 24
# ATU 6.4: the register of IT equipment, from the facts every host reports.
REGISTER_CONTROL = "ATU-6.4-a"
# ATU 8.7: reports on the state of the infrastructure, monthly or quarterly: each audit states when
# the one before it ran (the reports kept beside it) and fails past ereje_audit_period_days.
REPORT_CONTROL = "ATU-8.7-a"
DEFAULT_AUDIT_PERIOD_DAYS = 92


def report_event(previous: dt.datetime | None, current: dt.datetime, period_days: int) -> dict:
    """ATU-8.7-a on one host: this report, the one before it, and whether the gap is within the period."""
    this = f"this report {current.isoformat(timespec='minutes')}"
    if previous is None:
        detail, status = f"{this}; no earlier report kept: the first of the series", "ok"
    else:
        days = (current - previous).total_seconds() / 86400
        detail = (
            f"{this}; previous report {previous.isoformat(timespec='minutes')}, {days:.1f} day(s) before "
            f"(period {period_days} days)"
        )
        status = "ok" if days <= period_days else "failed"
        if status == "failed":
            detail += ": the infrastructure went unreported for longer than the period"
    return {
        "task": "Audit report",
        "status": status,
        "detail": detail,
        "time": current.isoformat(timespec="seconds"),
    }


def applies(control: dict, host_groups: set[str]) -> bool:
    groups = set(control.get("applies_to") or [])
    return "all" in groups or bool(groups & host_groups)


def find_waiver(waivers: list, control_id: str, host: str) -> dict | None:
    for waiver in waivers or []:
        hosts = waiver.get("hosts")
        if waiver.get("control") == control_id and (hosts == "all" or host in (hosts or [])):
            return waiver
    return None


def evaluate(
    control: dict,
    events: list[dict],
    host_error: str | None,
    waiver: dict | None,
    today: dt.date,
    *,
    limited_to: str | None = None,
) -> dict:
    """The status of one control on one host, with the evidence for it.

    ``limited_to`` says how the run was narrowed (``--tags``/``--skip-tags``), if it was: a control
    none of whose checks ran is then "not checked" because of that, and the evidence says so.
    """
    status = control["status"]
    if status == "not_applicable":
        return {"status": "not_applicable", "evidence": [control.get("reason", "")]}
    if status in ("manual", "planned"):
        prefix = f"Not automated yet (issue {control.get('issue')}): " if status == "planned" else ""
        return {"status": "manual", "evidence": [prefix + control.get("reason", "")]}

    failed = [e for e in events if e["status"] == "failed"]
    changed = [e for e in events if e["status"] == "changed"]
    if failed or changed:
        # Everything observed: a failed check and the drift that explains it (a setting changed by
        # hand fails the check of its effect and shows the diff of the file) both go to the report.
        result = {
            "status": "fail",
            "evidence": [f"{e['task']}: {e['detail']}" for e in failed]
            + [f"drift, would change: {e['task']}\n{e['detail']}".rstrip() for e in changed],
        }
    elif events:
        checked = [e for e in events if e["status"] == "ok"]
        evidence = [f"{len(checked)} check(s), nothing to change"]
        evidence += [f"{e['task']}: {e['detail']}" for e in checked if e["detail"]]
        if status == "partial":
            evidence.append(f"partial control: {control.get('reason', '')}")
        result = {"status": "pass", "evidence": evidence}
    elif host_error:
        result = {"status": "not_checked", "evidence": [f"not checked: {host_error}"]}
    else:
        why = (
            f"this audit was limited to {limited_to}"
            if limited_to
            else "no check of this control ran on this host"
        )
        result = {"status": "not_checked", "evidence": [f"not checked: {why}"]}

    if waiver:
        expires = as_date(waiver.get("expires"))
        note = (
            f"waiver approved by {waiver.get('approved_by')} until {waiver.get('expires')}: "
            f"{waiver.get('justification')}"
        )
        if expires is None or expires < today:
            result = {"status": "fail", "evidence": [f"EXPIRED {note}", *result["evidence"]]}
        elif result["status"] == "fail":
            result = {"status": "waived", "evidence": [note, *result["evidence"]]}
    return result


def diff_text(diff: object) -> str:
    """A short unified diff from a module's diff result (dict or list of dicts)."""
    parts = diff if isinstance(diff, list) else [diff]
    lines: list[str] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        before, after = part.get("before", ""), part.get("after", "")
        if isinstance(before, str) and isinstance(after, str):
            lines += difflib.unified_diff(
                before.splitlines(),
                after.splitlines(),
                part.get("before_header", "before"),
                part.get("after_header", "after"),
                lineterm="",
                n=1,
            )
        elif before != after:
            lines.append(f"- {json.dumps(before, default=str)[:300]}")
            lines.append(f"+ {json.dumps(after, default=str)[:300]}")
    if len(lines) > MAX_EVIDENCE_LINES:
        lines = [*lines[:MAX_EVIDENCE_LINES], f"... ({len(lines) - MAX_EVIDENCE_LINES} more lines)"]
    return "\n".join(lines)


def detail_of(result: dict, no_log: bool, path: object = None) -> str:
    """What a drifting or failing check found: its diff, its message, else what it observed (a
    service found stopped: its state). A loop: the items that drifted or failed, not Ansible's
    "All items completed". ``path``, the file a drifting task manages: named when the detail does
    not name it (a file to be created shows "--- before"); a loop's path ("{{ item }}") is not,
    its items name themselves."""
    detail = _detail_of(result, no_log)
    if isinstance(path, str) and path and "{{" not in path and path not in detail:
        return f"{path}: {detail}" if detail else path
    return detail


def _detail_of(result: dict, no_log: bool) -> str:
    if no_log or result.get("censored"):
        return "(details hidden: the task handles secrets)"
    items = result.get("results")
    if isinstance(items, list):
        parts = [
            _item_detail(item)
            for item in items
            if isinstance(item, dict) and (item.get("changed") or item.get("failed"))
        ]
        if any(parts):
            return "; ".join(part for part in parts if part)[:1000]
    if result.get("diff"):
        text = diff_text(result["diff"])
        if text:
            return text
    said = result.get("stderr") or result.get("stdout")
    if result.get("failed") and result.get("rc") not in (None, 0) and said:
        # A command that failed: what it said and its exit code, not Ansible's "non-zero return code".
        return f"exit {result['rc']}: {str(said).strip()[-1000:]}"
    for key in ("msg", "stderr"):
        value = result.get(key)
        if value:
            return str(value).strip()[:1000]
    return observed(result)


def _item_detail(item: dict) -> str:
    """One drifting or failing item of a loop, named by its item when its detail does not name it
    (a file to be created has no name in its diff: "--- before")."""
    text = detail_of(item, False)
    label = item.get("_ansible_item_label", item.get("item"))
    if isinstance(label, (str, int)) and str(label) and str(label) not in text:
        return f"{label}: {text}" if text else str(label)
    return text


MAX_OBSERVED_ITEMS = 8


def observed(result: dict) -> str:
    """What a task that found nothing to change looked at, in a few words (issue 16: evidence is
    what was observed): the file with its owner and mode, the service and its state, the probe's
    answer. Empty when the result says nothing about it (an assertion, a fact set)."""
    items = result.get("results")
    if isinstance(items, list):  # a loop: what each item looked at
        parts = [text for text in (observed(r) for r in items if isinstance(r, dict)) if text]
        more = len(parts) - MAX_OBSERVED_ITEMS
        return "; ".join(parts[:MAX_OBSERVED_ITEMS]) + (f"; and {more} more" if more > 0 else "")
    for reader in (_observed_stat, _observed_file, _observed_service, _observed_output):
        text = reader(result)
        if text:
            return text
    return ""


def _observed_stat(result: dict) -> str:
    stat = result.get("stat")
    if not isinstance(stat, dict):
        return ""
    path = stat.get("path", "file")
    if not stat.get("exists"):
        return f"{path}: absent"
    return f"{path}: {stat.get('pw_name', '?')}:{stat.get('gr_name', '?')} {stat.get('mode', '?')}"


def _observed_file(result: dict) -> str:
    path = result.get("dest") or result.get("path")
    if not isinstance(path, str) or not path:
        return ""
    owner = f"{result['owner']}:{result.get('group', '?')}" if result.get("owner") else ""
    attributes = " ".join(str(a) for a in (owner, result.get("mode"), result.get("state")) if a)
    return f"{path} ({attributes}) as declared" if attributes else f"{path} as declared"


def _observed_service(result: dict) -> str:
    status = result.get("status")
    if not isinstance(status, dict) or not result.get("name"):
        return ""
    return f"{result['name']}: {status.get('ActiveState', '?')}, {status.get('UnitFileState', '?')}"


def _observed_output(result: dict) -> str:
    stdout = result.get("stdout")
    if not isinstance(stdout, str) or not stdout.strip():
        return ""
    lines = stdout.strip().splitlines()
    text = " | ".join(line.strip() for line in lines[:3])
    return text[:240] + (f" (and {len(lines) - 3} more lines)" if len(lines) > 3 else "")


def equipment_entry(facts: dict) -> dict[str, str]:
    """One line of the equipment register from a host's facts (empty when facts are missing)."""
    if not facts.get("ansible_hostname") and not facts.get("hostname"):
        return {}

    def fact(name: str, default: object = "") -> object:
        return facts.get(f"ansible_{name}", facts.get(name, default))

    memory = fact("memtotal_mb", 0) or 0
    addresses = fact("all_ipv4_addresses", []) or []
    return {
        "fqdn": str(fact("fqdn")),
        "os": f"{fact('distribution')} {fact('distribution_version')}".strip(),
        "kernel": str(fact("kernel")),
        "architecture": str(fact("architecture")),
        "cpus": str(fact("processor_vcpus") or fact("processor_count")),
        "memory": f"{round(int(memory) / 1024, 1)} GiB" if memory else "",
        "addresses": " ".join(str(a) for a in addresses),
        "virtualization": f"{fact('virtualization_type')}/{fact('virtualization_role')}".strip("/"),
        "serial": str(fact("product_serial")),
    }


def tag_limit(tags: tuple | list | None, skip_tags: tuple | list | None) -> str | None:
    """How a run was narrowed by tags, in words for the report (tags sorted: Ansible keeps them as a
    set); None for a whole run."""
    parts = []
    if tags and set(tags) != {"all"}:
        parts.append("--tags " + ",".join(sorted(tags)))
    if skip_tags:
        parts.append("--skip-tags " + ",".join(sorted(skip_tags)))
    return " ".join(parts) or None


def summarise(rows: list[dict]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row["status"]] += 1
    return counts


def host_rows(
    host: str,
    groups: set[str],
    controls: list[dict],
    events: dict[str, list[dict]],
    *,
    host_error: str | None,
    waivers: list,
    report_period: tuple[dt.datetime | None, dt.datetime, int] | None,
    today: dt.date,
    limited_to: str | None = None,
) -> list[dict]:
    """One report row per catalog control that applies to a host in these groups.

    ``events`` are the host's results per control; ``report_period`` is (previous report, this
    report, period in days) for ATU-8.7-a, None when the host did not answer.
    """
    rows = []
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for control in controls:
        if not applies(control, groups):
            continue
        seen = events.get(control["id"], [])
        if control["id"] == REPORT_CONTROL and report_period is not None:
            seen = [*seen, report_event(*report_period)]
        waiver = find_waiver(waivers, control["id"], host)
        outcome = evaluate(control, seen, host_error, waiver, today, limited_to=limited_to)
        rows.append(
            {
                "host": host,
                "control": control["id"],
                "clause": control["clause"],
                "title": control["title"],
                "status": outcome["status"],
                "evidence": outcome["evidence"],
                "checked_at": seen[-1]["time"] if seen else now,
            }
        )
    return rows
