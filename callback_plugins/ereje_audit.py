"""Turn a check-mode run of the roles into the auditors' report, host by host and control by control.

``playbooks/audit.yml`` runs ``site.yml`` with every play in check mode (it changes nothing),
then the read-only status modules. Every task that enforces a control carries the control ID
as a tag, so this callback can attribute each task result to controls:

- a task tagged with a control that *would change* something is drift: the control fails on
  that host, and the task name and diff are the evidence;
- a task that fails (a status module finding stale signatures, a service that is down) fails
  the control, with the module's message as evidence;
- otherwise the control passes on that host, with the checks that ran as evidence;
- a control with no result on a host (the host did not answer, or no check of it ran there) is
  "not checked": never a pass, and a failure under ``ereje_audit_strict``.

A task that fails without a control tag is an error of the audit itself, not a finding against
some control: it is listed at the top of the report (``errors``) and fails the audit run.

Controls that the catalog marks manual, planned or not applicable are reported as such, and an
approved waiver (``ereje_waivers``) turns a host's control into "waived" until it expires; an
expired waiver counts as a failure. When the play marked ``ereje_audit_report: true`` starts,
the report is written as HTML (for people), JSON, CSV and JUnit XML (for machines).
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import html
import io
import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path
from xml.etree import ElementTree as ET

import yaml
from ansible.plugins.callback import CallbackBase

from ansible_collections.ereje.compliance.plugins.module_utils.controls import ControlIds
from ansible_collections.ereje.compliance.plugins.module_utils.dates import as_date

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

STATUSES = ("pass", "fail", "not_checked", "waived", "manual", "not_applicable")
LABELS = {
    "pass": ("Орындалды", "Выполнено", "Pass"),
    "fail": ("Орындалмады", "Не выполнено", "Fail"),
    "not_checked": ("Тексерілмеді", "Не проверено", "Not checked"),
    "waived": ("Рұқсат етілген ауытқу", "Исключение", "Waived"),
    "manual": ("Қолмен тексеріледі", "Проверяется вручную", "Manual"),
    "not_applicable": ("Қолданылмайды", "Не применимо", "Not applicable"),
}
HEADINGS = {
    "title": (
        "Ереженің орындалуы туралы есеп",
        "Отчёт о выполнении регламента",
        "Regulation compliance report",
    ),
    "summary": ("Қорытынды", "Итог", "Summary"),
    "host": ("Хост", "Хост", "Host"),
    "control": ("Бақылау", "Контроль", "Control"),
    "evidence": ("Дәлел", "Доказательство", "Evidence"),
    "revision": ("Нұсқа", "Ревизия", "Revision"),
    "generated": ("Уақыты", "Время", "Generated"),
    "register": ("Жабдықтар тізілімі", "Реестр оборудования", "Register of IT equipment"),
    "errors": ("Аудит қателері", "Ошибки аудита", "Errors of the audit itself"),
}
MAX_EVIDENCE_LINES = 24
FACT_ACTIONS = {
    "gather_facts",
    "setup",
    "ansible.builtin.gather_facts",
    "ansible.builtin.setup",
    "ansible.legacy.setup",
    "ansible.legacy.gather_facts",
}
REGISTER_CONTROL = "ATU-6.4-a"
# ATU 8.7: reports on the state of the infrastructure, monthly or quarterly: each audit states when
# the one before it ran (the reports kept beside it) and fails past ereje_audit_period_days.
REPORT_CONTROL = "ATU-8.7-a"
DEFAULT_AUDIT_PERIOD_DAYS = 92


def trilingual(pair: tuple[str, str, str]) -> str:
    return " · ".join(pair)


# ---- evaluation (pure functions, unit-tested) ---------------------------------------------------


def previous_audit(base: Path) -> dt.datetime | None:
    """When the last report kept under ``base`` was made (``latest``), None when there is none."""
    try:
        report = json.loads((base / "latest" / "report.json").read_text(encoding="utf-8"))
        return dt.datetime.fromisoformat(report["generated_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
    control: dict, events: list[dict], host_error: str | None, waiver: dict | None, today: dt.date
) -> dict:
    """The status of one control on one host, with the evidence for it."""
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
        result = {
            "status": "not_checked",
            "evidence": ["not checked: no check of this control ran on this host"],
        }

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


def detail_of(result: dict, no_log: bool) -> str:
    """What a drifting or failing check found: its diff, its message, else what it observed (a
    service found stopped: its state). A loop: the items that drifted or failed, not Ansible's
    "All items completed"."""
    if no_log or result.get("censored"):
        return "(details hidden: the task handles secrets)"
    items = result.get("results")
    if isinstance(items, list):
        parts = [
            detail_of(item, False)
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


def summarise(rows: list[dict]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row["status"]] += 1
    return counts


# ---- rendering ---------------------------------------------------------------------------------


def render_json(report: dict) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2, default=str)


def render_csv(report: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["host", "control", "clause", "title", "status", "evidence", "checked_at", "revision"])
    for row in report["results"]:
        writer.writerow(
            [
                row["host"],
                row["control"],
                row["clause"],
                row["title"],
                row["status"],
                " | ".join(row["evidence"]),
                row["checked_at"],
                report["revision"],
            ]
        )
    return out.getvalue()


def render_junit(report: dict) -> str:
    suites = ET.Element("testsuites", name="ereje-audit")
    by_host: dict[str, list[dict]] = defaultdict(list)
    for row in report["results"]:
        by_host[row["host"]].append(row)
    for host, rows in sorted(by_host.items()):
        counts = summarise(rows)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=host,
            tests=str(len(rows)),
            failures=str(counts["fail"]),
            errors=str(counts["not_checked"]),
            skipped=str(len(rows) - counts["pass"] - counts["fail"] - counts["not_checked"]),
            timestamp=report["generated_at"],
        )
        for row in rows:
            case = ET.SubElement(suite, "testcase", classname=host, name=f"{row['control']} {row['title']}")
            text = "\n".join(row["evidence"])
            if row["status"] == "fail":
                ET.SubElement(
                    case, "failure", message=row["evidence"][0][:200] if row["evidence"] else ""
                ).text = text
            elif row["status"] == "not_checked":
                ET.SubElement(case, "error", message=text[:200]).text = text
            elif row["status"] != "pass":
                ET.SubElement(case, "skipped", message=f"{row['status']}: {text[:200]}")
            else:
                ET.SubElement(case, "system-out").text = text
    errors = report.get("errors") or []
    if errors:
        suite = ET.SubElement(
            suites, "testsuite", name="audit", tests=str(len(errors)), errors=str(len(errors))
        )
        for error in errors:
            case = ET.SubElement(suite, "testcase", classname=error["host"], name=error["task"])
            ET.SubElement(case, "error", message=error["message"][:200]).text = error["message"]
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


CSS = """
body{font-family:system-ui,'Noto Sans','DejaVu Sans',sans-serif;margin:2rem auto;max-width:1200px;
  color:#1d2733}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{margin-top:2rem;border-bottom:2px solid #d7dee6}
.meta{color:#566270} table{border-collapse:collapse;width:100%;margin:.6rem 0}
th,td{border:1px solid #d7dee6;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f6} .s{font-weight:600;white-space:nowrap;border-radius:4px;padding:.1rem .4rem}
.pass{background:#dff3e4;color:#17622f} .fail{background:#fbe1e1;color:#8f1d1d}
.waived{background:#fff2cc;color:#7a5600} .manual{background:#e6ecf5;color:#2c4a75}
.not_applicable{background:#eeeeee;color:#555} .not_checked{background:#ffe0c2;color:#7a3300}
h2.errors{color:#8f1d1d;border-color:#8f1d1d} th .s{white-space:normal;display:inline-block}
table.summary th,table.summary td{text-align:center} table.summary th:first-child{text-align:left}
.control{border:1px solid #d7dee6;border-radius:6px;margin:1rem 0;padding:.6rem 1rem}
.quote{font-style:italic;color:#3b4652;border-left:3px solid #c3ccd6;padding-left:.6rem}
pre{white-space:pre-wrap;margin:0;font-size:.85rem} details summary{cursor:pointer}
"""


def render_errors_html(errors: list[dict]) -> list[str]:
    """The audit's own errors, first on the page: what could not be checked, and why."""
    if not errors:
        return []
    esc = html.escape
    out = [
        f'<h2 class="errors">{esc(trilingual(HEADINGS["errors"]))}</h2>',
        f"<table><tr><th>{esc(trilingual(HEADINGS['host']))}</th><th>task</th><th>message</th></tr>",
    ]
    for error in errors:
        out.append(
            f"<tr><td>{esc(error['host'])}</td><td>{esc(error['task'])}</td>"
            f"<td><pre>{esc(error['message'])}</pre></td></tr>"
        )
    out.append("</table>")
    return out


def _badge(status: str) -> str:
    return f'<span class="s {status}">{html.escape(trilingual(LABELS[status]))}</span>'


def render_html(report: dict) -> str:
    esc = html.escape
    hosts = sorted({row["host"] for row in report["results"]})
    rows_by_control: dict[str, list[dict]] = defaultdict(list)
    for row in report["results"]:
        rows_by_control[row["control"]].append(row)
    total = report["summary"]
    out = [
        "<!DOCTYPE html>",
        '<html lang="kk"><head><meta charset="utf-8">',
        f"<title>{esc(trilingual(HEADINGS['title']))}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(trilingual(HEADINGS['title']))}</h1>",
        f'<p class="meta">{esc(trilingual(HEADINGS["generated"]))}: {esc(report["generated_at"])} &nbsp; '
        f"{esc(trilingual(HEADINGS['revision']))}: <code>{esc(report['revision'])}</code> &nbsp; "
        f"inventory: <code>{esc(report['inventory'])}</code></p>",
        *render_errors_html(report.get("errors") or []),
        f"<h2>{esc(trilingual(HEADINGS['summary']))}</h2>",
        '<table class="summary"><tr><th></th>' + "".join(f"<th>{_badge(s)}</th>" for s in STATUSES) + "</tr>",
        "<tr><th>Σ</th>" + "".join(f"<td>{total[s]}</td>" for s in STATUSES) + "</tr>",
    ]
    for host in hosts:
        counts = summarise([r for r in report["results"] if r["host"] == host])
        out.append(f"<tr><th>{esc(host)}</th>" + "".join(f"<td>{counts[s]}</td>" for s in STATUSES) + "</tr>")
    out.append("</table>")
    for status in ("fail", "not_checked"):
        listed = [r for r in report["results"] if r["status"] == status]
        if not listed:
            continue
        out.append(
            f"<h2>{_badge(status)}</h2><table><tr><th>{esc(trilingual(HEADINGS['host']))}</th>"
            f"<th>{esc(trilingual(HEADINGS['control']))}</th><th>{esc(trilingual(HEADINGS['evidence']))}</th></tr>"
        )
        for row in listed:
            out.append(
                f"<tr><td>{esc(row['host'])}</td>"
                f'<td><a href="#{esc(row["control"])}">{esc(row["control"])}</a>'
                f"<br>{esc(row['title'])}</td><td><pre>{esc(chr(10).join(row['evidence']))}</pre></td></tr>"
            )
        out.append("</table>")
    register = report.get("register") or {}
    if register:
        columns = list(next(iter(register.values())).keys())
        out.append(
            f"<h2>{esc(trilingual(HEADINGS['register']))}</h2><table><tr><th>{esc(trilingual(HEADINGS['host']))}</th>"
            + "".join(f"<th>{esc(c)}</th>" for c in columns)
            + "</tr>"
        )
        for host, entry in register.items():
            out.append(
                f"<tr><td>{esc(host)}</td>"
                + "".join(f"<td>{esc(str(entry.get(c, '')))}</td>" for c in columns)
                + "</tr>"
            )
        out.append("</table>")
    out.append(f"<h2>{esc(trilingual(HEADINGS['control']))}</h2>")
    for control in report["controls"]:
        rows = rows_by_control.get(control["id"], [])
        if not rows:
            continue
        out.append(
            f'<div class="control" id="{esc(control["id"])}"><h3>{esc(control["id"])} — '
            f"{esc(control['title'])} <small>({esc(control['clause'])})</small></h3>"
        )
        out.append(f'<p class="quote" lang="kk">{esc(control.get("quote", ""))}</p>')
        out.append(f'<p lang="en">{esc(control.get("statement", ""))}</p>')
        out.append(
            f"<table><tr><th>{esc(trilingual(HEADINGS['host']))}</th><th></th>"
            f"<th>{esc(trilingual(HEADINGS['evidence']))}</th></tr>"
        )
        for row in rows:
            evidence = esc("\n".join(row["evidence"]))
            if len(row["evidence"]) > 1 or len(evidence) > 160:
                first = esc(row["evidence"][0][:120])
                evidence = f"<details><summary>{first}</summary><pre>{evidence}</pre></details>"
            else:
                evidence = f"<pre>{evidence}</pre>"
            out.append(
                f"<tr><td>{esc(row['host'])}</td><td>{_badge(row['status'])}</td><td>{evidence}</td></tr>"
            )
        out.append("</table></div>")
    out.append("</body></html>")
    return "\n".join(out)


def write_report(report: dict, base: Path) -> Path:
    """Write the four renderings into a new directory under ``base`` and point ``latest`` at it."""
    stamp = report["generated_at"].replace(":", "").replace("-", "")
    target = base / f"audit-{stamp}"
    target.mkdir(parents=True, exist_ok=True)
    (target / "report.json").write_text(render_json(report), encoding="utf-8")
    (target / "report.csv").write_text(render_csv(report), encoding="utf-8")
    (target / "report.junit.xml").write_text(render_junit(report), encoding="utf-8")
    (target / "report.html").write_text(render_html(report), encoding="utf-8")
    latest = base / "latest"
    tmp = base / f".latest-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.name)
    tmp.replace(latest)  # atomic: readers never see a missing "latest"
    return target


# ---- the callback ------------------------------------------------------------------------------


def find_catalog(start: Path) -> Path | None:
    for directory in [start, *start.parents]:
        candidate = directory / "controls" / "catalog.yml"
        if candidate.is_file():
            return candidate
    return None


def repository_revision(root: Path) -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("EREJE_REVISION", "unknown")
    return f"{rev}{'+local-changes' if dirty else ''}"


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
        self.hosts_seen: set[str] = set()
        self.play = None
        self.written: Path | None = None
        self.facts: dict[str, dict] = {}

    def v2_playbook_on_start(self, playbook):
        self.catalog_path = find_catalog(Path(playbook._basedir).resolve())
        if self.catalog_path:
            self.catalog = yaml.safe_load(self.catalog_path.read_text(encoding="utf-8"))
            self.control_ids = ControlIds.of(self.catalog)

    def v2_playbook_on_play_start(self, play):
        play_vars = play.get_vars() or {}
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
        if self.written is None and self.hosts_seen and self.catalog_path and self.play is not None:
            try:
                self.written = self._write(self.play)
            except Exception as exc:
                self._display.error(f"ereje_audit: could not write the report: {exc}")

    # Results ------------------------------------------------------------------------------------
    def _record(self, result, status: str) -> None:
        if not self.active or self.control_ids is None:  # no catalog: nothing to report on
            return
        host = result.host.get_name()
        self.hosts_seen.add(host)
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
            detail = detail_of(result.result, bool(task.no_log))
            # A file that would be created shows no name in its diff ("--- before"): name it.
            args = result.task_fields.get("args") or {}
            path = (args.get("dest") or args.get("path")) if isinstance(args, dict) else None
            if status == "changed" and isinstance(path, str) and path and path not in detail:
                detail = f"{path}: {detail}" if detail else path
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
            self.hosts_seen.add(host)
            self.host_errors[host] = f"unreachable: {result.result.get('msg', '')}".strip()
            self.unreachable.add(host)
            self.audit_errors.append(
                {"host": host, "task": result.task.get_name(), "message": self.host_errors[host]}
            )

    # Report -------------------------------------------------------------------------------------
    def _write(self, play) -> Path:
        catalog = self.catalog
        root = self.catalog_path.parents[1]
        variables = play.get_variable_manager()
        inventory = variables._inventory
        today = dt.datetime.now(dt.UTC).date()
        play_vars = play.get_vars() or {}
        extra_vars = getattr(variables, "extra_vars", {}) or {}
        base = Path(
            str(
                extra_vars.get("ereje_audit_report_dir")
                or play_vars.get("ereje_audit_report_dir")
                or root / "reports"
            )
        )
        if not base.is_absolute():
            base = root / base
        current = dt.datetime.now(dt.UTC)
        previous = previous_audit(base)
        results = []
        for name in sorted(self.hosts_seen):
            host = inventory.get_host(name)
            if host is None or host.implicit:  # the controller itself (preflight), not an audited host
                continue
            groups = {g.name for g in host.get_groups()}
            host_vars = variables.get_vars(host=host, play=play)
            waivers = host_vars.get("ereje_waivers") or []
            for control in catalog["controls"]:
                if not applies(control, groups):
                    continue
                events = self.events[name].get(control["id"], [])
                if control["id"] == REPORT_CONTROL and name not in self.unreachable:
                    period = int(host_vars.get("ereje_audit_period_days") or DEFAULT_AUDIT_PERIOD_DAYS)
                    events = [*events, report_event(previous, current, period)]
                outcome = evaluate(
                    control,
                    events,
                    self.host_errors.get(name),
                    find_waiver(waivers, control["id"], name),
                    today,
                )
                results.append(
                    {
                        "host": name,
                        "control": control["id"],
                        "clause": control["clause"],
                        "title": control["title"],
                        "status": outcome["status"],
                        "evidence": outcome["evidence"],
                        "checked_at": events[-1]["time"]
                        if events
                        else dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    }
                )
        report = {
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "revision": str(play_vars.get("awx_project_revision") or repository_revision(root)),
            "inventory": ", ".join(str(s) for s in inventory._sources),
            "summary": summarise(results),
            "errors": list(self.audit_errors),
            "results": results,
            "register": {h: self.facts[h] for h in sorted(self.facts) if h in {r["host"] for r in results}},
            "controls": [
                {k: c.get(k) for k in ("id", "clause", "title", "statement", "quote", "status", "reason")}
                for c in catalog["controls"]
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
