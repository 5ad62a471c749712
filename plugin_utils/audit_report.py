"""The audit report's four renderings (HTML for people; JSON, CSV, JUnit XML for machines) and
where they are kept: reports/audit-<time>/ with ``latest`` pointing at the newest.

The HTML page is templates/audit_report.html.j2 (Jinja2, autoescaped); labels are trilingual
(Kazakh · Russian · English). Unit-tested in tests/unit/test_audit_report.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path
from xml.etree import ElementTree as ET

import jinja2

from ansible_collections.ereje.compliance.plugins.plugin_utils.audit_rules import STATUSES, summarise

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
TEMPLATES = Path(__file__).resolve().parent / "templates"


def trilingual(pair: tuple[str, str, str]) -> str:
    return " · ".join(pair)


def previous_audit(base: Path) -> dt.datetime | None:
    """When the last report kept under ``base`` was made (``latest``), None when there is none."""
    try:
        report = json.loads((base / "latest" / "report.json").read_text(encoding="utf-8"))
        return dt.datetime.fromisoformat(report["generated_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


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


def render_html(report: dict) -> str:
    """The page auditors read: errors of the audit first, the summary, what fails, the register of
    equipment, then every control with its original text and each host's verdict and evidence."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    results = report["results"]
    by_control: dict[str, list[dict]] = defaultdict(list)
    for row in results:
        by_control[row["control"]].append(row)
    hosts = sorted({row["host"] for row in results})
    return environment.get_template("audit_report.html.j2").render(
        report=report,
        errors=report.get("errors") or [],
        register=report.get("register") or {},
        statuses=STATUSES,
        labels={status: trilingual(pair) for status, pair in LABELS.items()},
        headings={key: trilingual(pair) for key, pair in HEADINGS.items()},
        host_counts={host: summarise([r for r in results if r["host"] == host]) for host in hosts},
        listed={status: [r for r in results if r["status"] == status] for status in ("fail", "not_checked")},
        by_control=by_control,
    )


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
