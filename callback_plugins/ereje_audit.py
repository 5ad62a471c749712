"""Feed the audit's rules with a check-mode run of the roles, and write the report once.

``playbooks/audit.yml`` runs ``site.yml`` with every play in check mode (it changes nothing),
then the read-only status modules. Every task that enforces a control carries the control ID as a
tag; this callback collects each task result under the controls it is tagged with, per host, from
Ansible's public events. What the results mean is the rules' business
(plugin_utils/audit_rules.py: drift or a failure fails a control, no result is "not checked",
waivers, the report period); the four renderings are the report's (plugin_utils/audit_report.py).

A task that fails without a control tag is an error of the audit itself, not a finding against
some control: it is listed at the top of the report and fails the audit run.

The report is written once, when the play marked ``ereje_audit_report: true`` starts (the last
play of audit.yml, which then reads it to decide the run's exit status), or at the end of the run
when that play never started (every host failed, or the run was interrupted): a broken audit never
passes silently.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import yaml
from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.ereje.compliance.plugins.module_utils.controls import ControlIds
from ansible_collections.ereje.compliance.plugins.plugin_utils.audit_report import (
    find_catalog,
    previous_audit,
    repository_revision,
    write_report,
)
from ansible_collections.ereje.compliance.plugins.plugin_utils.audit_rules import (
    DEFAULT_AUDIT_PERIOD_DAYS,
    REGISTER_CONTROL,
    STATUSES,
    detail_of,
    equipment_entry,
    host_rows,
    observed,
    summarise,
    tag_limit,
)

DOCUMENTATION = """
    name: ereje_audit
    type: aggregate
    short_description: the Ereje audit report (per host and control) from a check-mode run
    description:
      - Active only in plays whose variables set C(ereje_audit) to true (playbooks/audit.yml).
      - Writes report.html, report.json, report.csv and report.junit.xml into a new directory
        under C(ereje_audit_report_dir) (default C(reports/) beside the catalog) and points
        C(latest) at it.
    requirements:
      - controls/catalog.yml in the repository
"""

FACT_ACTIONS = {
    "gather_facts",
    "setup",
    "ansible.builtin.gather_facts",
    "ansible.builtin.setup",
    "ansible.legacy.setup",
    "ansible.legacy.gather_facts",
}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "ereje_audit"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self):
        super().__init__()
        self.catalog_path: Path | None = None
        self.catalog: dict = {}
        self.control_ids: ControlIds | None = None
        self.active = False
        self.events: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        self.host_errors: dict[str, str] = {}
        # Failed tasks without a control tag and hosts that did not answer: errors of the audit.
        self.audit_errors: list[dict] = []
        self.unreachable: set[str] = set()
        # The hosts results came from (public Host objects): the report covers exactly these.
        self.hosts: dict[str, object] = {}
        self.play = None
        self.written: Path | None = None
        self.facts: dict[str, dict] = {}

    def v2_playbook_on_play_start(self, play):
        play_vars = play.get_vars() or {}
        if self.catalog_path is None:
            self._load_catalog(play)
        self.active = bool(play_vars.get("ereje_audit"))
        self.play = play
        if play_vars.get("ereje_audit_report") and self.catalog_path and self.written is None:
            try:
                self.written = self._write(play)
            except Exception as exc:  # a broken report must say why, not hide the audit
                self._display.error(f"ereje_audit: could not write the report: {exc}")

    def v2_playbook_on_stats(self, stats):
        # The run ended before the report play (every host failed, or an interrupted run):
        # still report what was seen, so a broken audit never passes silently.
        if self.written is None and self.hosts and self.catalog_path and self.play is not None:
            try:
                self.written = self._write(self.play)
            except Exception as exc:
                self._display.error(f"ereje_audit: could not write the report: {exc}")

    def _load_catalog(self, play) -> None:
        """The control catalog of the repository the playbook belongs to (controls/catalog.yml
        beside or above the playbook's directory)."""
        playbook_dir = play.get_variable_manager().get_vars(play=play).get("playbook_dir")
        self.catalog_path = find_catalog(Path(str(playbook_dir or ".")).resolve())
        if self.catalog_path:
            self.catalog = yaml.safe_load(self.catalog_path.read_text(encoding="utf-8"))
            self.control_ids = ControlIds.of(self.catalog)

    # Results ------------------------------------------------------------------------------------
    def _record(self, result, status: str) -> None:
        if not self.active or self.control_ids is None:  # no catalog: nothing to report on
            return
        host = result.host.get_name()
        self.hosts[host] = result.host
        task = result.task
        controls = self.control_ids.among(task.tags)
        if status == "failed" and not controls:
            self.host_errors.setdefault(host, f"the audit failed on this host at task '{task.get_name()}'")
            message = detail_of(result.result, bool(task.no_log)) or "failed"
            self.audit_errors.append({"host": host, "task": task.get_name(), "message": message})
        if not controls:
            return
        # Drift and failures explain themselves; a status module's finding (signature age, newest
        # backup ...) is its message; any other passing check shows what it looked at.
        is_status_module = task.action.split(".")[-1].startswith("ereje_")
        if status != "ok" or is_status_module:
            args = result.task_fields.get("args") or {}
            path = (args.get("dest") or args.get("path")) if isinstance(args, dict) else None
            detail = detail_of(result.result, bool(task.no_log), path=path if status == "changed" else None)
        else:  # what the check looked at and found as declared (nothing of a task that hides secrets)
            detail = "" if task.no_log or result.result.get("censored") else observed(result.result)
        event = {
            "task": task.get_name(),
            "status": status,
            "detail": detail,
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        # A check of several controls that says which of them its problems break (failed_controls)
        # fails only those; for the others of its tags it is a check that found nothing wrong.
        named = result.result.get("failed_controls") if status == "failed" else None
        for control in controls:
            if isinstance(named, list) and named and control not in named:
                self.events[host][control].append(
                    event | {"status": "ok", "detail": f"checked; its problems concern {', '.join(named)}"}
                )
            else:
                self.events[host][control].append(event)

    def v2_runner_on_ok(self, result):
        if self.active and result.task.action in FACT_ACTIONS:
            self._register(result)
        self._record(result, "changed" if result.result.get("changed") else "ok")

    def _register(self, result) -> None:
        """ATU 6.4: the register of IT equipment comes from the facts each host reports."""
        host = result.host.get_name()
        entry = equipment_entry(result.result.get("ansible_facts") or {})
        if not entry:
            return
        self.facts[host] = entry
        summary = ", ".join(f"{k}: {v}" for k, v in entry.items() if v)
        self.events[host][REGISTER_CONTROL].append(
            {
                "task": "Gathering Facts",
                "status": "ok",
                "detail": summary,
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        )

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_unreachable(self, result):
        if self.active:
            host = result.host.get_name()
            self.hosts[host] = result.host
            self.host_errors[host] = f"unreachable: {result.result.get('msg', '')}".strip()
            self.unreachable.add(host)
            self.audit_errors.append(
                {"host": host, "task": result.task.get_name(), "message": self.host_errors[host]}
            )

    # Report -------------------------------------------------------------------------------------
    def _write(self, play) -> Path:
        root = self.catalog_path.parents[1]
        variables = play.get_variable_manager()
        play_vars = play.get_vars() or {}
        base = Path(
            str(
                variables.extra_vars.get("ereje_audit_report_dir")
                or play_vars.get("ereje_audit_report_dir")
                or root / "reports"
            )
        )
        if not base.is_absolute():
            base = root / base
        current = dt.datetime.now(dt.UTC)
        previous = previous_audit(base)
        results, sources = [], set()
        # An audit narrowed by tags (e.g. after a repair of a few controls) checks only those: the
        # report says so, on every control it did not check and in its header.
        limited_to = tag_limit(context.CLIARGS.get("tags"), context.CLIARGS.get("skip_tags"))
        for name, host in sorted(self.hosts.items()):
            if host.implicit:  # the controller itself (preflight), not an audited host
                continue
            host_vars = variables.get_vars(host=host, play=play)
            sources.add(str(host_vars.get("inventory_file") or ""))
            period = int(host_vars.get("ereje_audit_period_days") or DEFAULT_AUDIT_PERIOD_DAYS)
            results += host_rows(
                name,
                {group.name for group in host.get_groups()},
                self.catalog["controls"],
                self.events[name],
                host_error=self.host_errors.get(name),
                waivers=host_vars.get("ereje_waivers") or [],
                # A host that did not answer has no report-period result either (not checked).
                report_period=None if name in self.unreachable else (previous, current, period),
                today=current.date(),
                limited_to=limited_to,
            )
        report = {
            "generated_at": current.isoformat(timespec="seconds"),
            "revision": str(play_vars.get("awx_project_revision") or repository_revision(root)),
            "inventory": ", ".join(sorted(sources - {""})),
            "limited_to": limited_to,
            "summary": summarise(results),
            "errors": list(self.audit_errors),
            "results": results,
            "register": {h: self.facts[h] for h in sorted(self.facts) if h in {r["host"] for r in results}},
            "controls": [
                {k: c.get(k) for k in ("id", "clause", "title", "statement", "quote", "status", "reason")}
                for c in self.catalog["controls"]
            ],
        }
        target = write_report(report, base)
        counts = report["summary"]
        self._display.display(
            "Audit: "
            + ", ".join(f"{counts[s]} {s.replace('_', ' ')}" for s in STATUSES)
            + (f"; {len(report['errors'])} error(s) of the audit itself" if report["errors"] else "")
            + f"\nReport: {target}/report.html"
        )
        return target
