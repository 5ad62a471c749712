"""The audit of the whole lab: all pass after converge, drift found with evidence, fixed by site.yml.

ATU 8.7 asks for reports on the state of the IT infrastructure; ATU 5.23 for monitoring that
finds what is insufficient. These tests run playbooks/audit.yml against the lab converged with the
real site.yml (every host, every role), as `./ereje audit` does on yours. Pytest runs this file
before test_lab.py: the first audit is the one right after the converge.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from conftest import (
    INVENTORY,
    LAB_HOSTS,
    ROOT,
    at_once,
    broken_controls,
    catalog_breaks,
    lab_vars,
    replica_breaks,
)
from support import molecule

# The host the drift and ansible-runner tests work on: the workstation (baseline, events, antivirus).
NODE = "ws1"

CHROMIUM = [
    "chromium",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def failing(report: dict) -> list[str]:
    """Controls that fail or were not checked, and the audit's own errors: none may hide in a pass."""
    return [
        f"{r['host']} {r['control']} {r['status']}: {r['evidence'][:2]}"
        for r in report["results"]
        if r["status"] in ("fail", "not_checked")
    ] + [f"error of the audit on {e['host']} at {e['task']}: {e['message'][:300]}" for e in report["errors"]]


def test_audit_after_converge_is_all_pass(audit_after_converge):
    """ATU-8.7-a: after site.yml every automated control holds on every host of the lab.

    The audit runs site.yml in check mode on every host, so this is also the lab's no-drift check
    (the second domain controller included: its replica is checked against the declaration). It
    is made with the catalog's breaks in place (one audit serves both): every control that no
    break concerns must pass on every host here; the broken ones are judged by the break test,
    and the repaired controls are audited again after site.yml put them right.
    """
    report, _ = audit_after_converge
    concerned = broken_controls()
    untouched = [
        f"{r['host']} {r['control']} {r['status']}: {r['evidence'][:2]}"
        for r in report["results"]
        if r["status"] in ("fail", "not_checked") and r["control"] not in concerned.get(r["host"], set())
    ]
    errors = [f for f in failing(report) if f.startswith("error of the audit")]
    assert not untouched + errors, untouched + errors
    assert report["summary"]["pass"] > 0
    assert {r["host"] for r in report["results"]} == LAB_HOSTS
    assert report["revision"] and report["revision"] != "unknown"


def test_register_of_equipment_lists_every_host(audit_after_converge):
    """ATU-6.4-a: the report carries a register of the IT equipment, from each host's own facts."""
    report, _ = audit_after_converge
    register = report["register"]
    assert set(register) == LAB_HOSTS
    for host in LAB_HOSTS:
        assert register[host]["os"].startswith("Debian 12"), register[host]
        assert register[host]["addresses"], register[host]
    rows = [r for r in report["results"] if r["control"] == "ATU-6.4-a"]
    assert {r["host"] for r in rows} == LAB_HOSTS
    assert all(r["status"] == "pass" for r in rows), rows


def test_audit_changes_nothing(audit_after_converge):
    """ATU-8.7-a: the audit is read-only: every play of it ran in check mode, nothing changed.

    On the hosts the catalog's breaks left alone the recap shows nothing changed. On the broken
    ones check mode counts what a converge would change (that is the drift the break test reads),
    so there the proof is the repair after it: site.yml still finds each break to put right
    (test_site_repairs_every_break_and_the_repaired_controls_then_pass).
    """
    _, recap = audit_after_converge
    assert set(recap) >= LAB_HOSTS, sorted(recap)
    for host in set(recap) - set(broken_controls()):  # the controller's own plays included
        assert recap[host]["changed"] == 0, (host, recap[host])


def run_under_ansible_runner(playbook: str, private: Path, *cmdline: str, limit: str = NODE) -> str:
    """Run playbooks/<playbook> on ``limit`` through ansible-runner (AWX's engine); it must succeed.
    Returns the run's output."""
    runner = Path(os.environ.get("VIRTUAL_ENV", "/nonexistent")) / "bin" / "ansible-runner"
    runner = str(runner) if runner.exists() else shutil.which("ansible-runner")
    assert runner, "ansible-runner is pinned in requirements.txt"
    # A job limited to one host still reads the other hosts' facts (the workstation's DNS servers
    # are the DCs' addresses): from the fact cache the converge filled, as AWX reads them from its
    # fact storage. Without this, ansible-runner starts a cache of its own.
    (private / "env").mkdir(parents=True)
    (private / "env" / "settings").write_text(
        json.dumps({"fact_cache_type": "jsonfile", "fact_cache": str(molecule.ephemeral_dir() / "facts")})
    )
    result = subprocess.run(
        [
            runner,
            "run",
            str(private),
            "--project-dir",
            str(ROOT),
            "-p",
            f"playbooks/{playbook}",
            "--inventory",
            str(INVENTORY),
            "--limit",
            limit,
            # "=" so that argparse does not read "--check" as an option of its own.
            f"--cmdline={' '.join([*cmdline, *lab_vars()])}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=os.environ | {"ANSIBLE_FORCE_COLOR": "0"},
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    status = (private / "artifacts").glob("*/status")
    assert [p.read_text() for p in status] == ["successful"]
    # ansible-runner keeps Ansible's colours in its artifacts whatever ANSIBLE_FORCE_COLOR says.
    output = "".join(p.read_text() for p in (private / "artifacts").glob("*/stdout"))
    return re.sub(r"\x1b\[[0-9;]*m", "", output)


def test_each_break_fails_its_control_with_evidence(audit_after_converge):
    """ATU-5.23-b: every break the control catalog names (a setting changed by hand, a daemon
    stopped, a port opened, events no longer forwarded, an extension dropped from the mail filter
    ...) was made before the audit; the audit then fails each broken control on its host with
    evidence naming what was broken, and no control that no break concerns.
    """
    report, _ = audit_after_converge
    breaks = catalog_breaks()
    assert NODE in breaks, f"the catalog names no break for {NODE}"
    rows = {(r["host"], r["control"]): r for r in report["results"]}
    # On the broken host, and on a replica that pulled the change, with the same evidence.
    for by_host in (breaks, replica_breaks()):
        for host, changes in by_host.items():
            for control, change in changes.items():
                row = rows[host, control]
                evidence = "\n".join(row["evidence"])
                assert row["status"] == "fail", f"{host} {control} {row['status']}: {evidence[:600]}"
                assert change["evidence"] in evidence, (
                    f"{host} {control}: {change['evidence']!r} not in {evidence[:1500]}"
                )
    # Nothing else moved: the controls that fail are exactly the broken ones (and those whose own
    # checks read the same broken thing, which the catalog names beside the break).
    for host, expected in broken_controls().items():
        broken = {c for (h, c), r in rows.items() if h == host and r["status"] in ("fail", "not_checked")}
        assert broken == expected, [f for f in failing(report) if f.startswith(f"{host} ")]


def repair_jobs() -> dict[str, dict[str, set[str]]]:
    """The repair's jobs: {name: {host: its broken controls}}, one job limited to the union of its
    hosts' tags.

    Tags select tasks for every host of a run, so one run with the union of every break's tags
    would also run, on the six other hosts, the tasks of the controls every host has (the
    baseline's and the antivirus's), which the catalog breaks on the workstation: that run did 1,130
    tasks where the breaks need about 690 (and 109 s of the controller's CPU against 68 s, on the
    dev lab). So the workstation is repaired in a job of its own, every other broken host in the
    other; a replica stays in the job of the host it replicates from, which a run limited to the
    replica alone would find still broken (its play repairs the primary first).
    """
    broken = broken_controls()
    jobs = {"workstation": {NODE: broken.pop(NODE)}, "servers": broken}
    for source, changes in catalog_breaks().items():
        for change in changes.values():
            if "replica" in change:
                replica = change["replica"]["host"]
                assert (source in jobs["servers"]) == (replica in jobs["servers"]), (source, replica)
    return jobs


def repair_and_audit(job: str, breaks: dict[str, set[str]], private: Path) -> tuple[str, dict, str]:
    """site.yml on the job's hosts with their controls' tags, then audit.yml in check mode on the
    same hosts and tags (both through ansible-runner); returns the repair's output, the audit's
    report and the tags."""
    hosts = ",".join(sorted(breaks))
    tags = ",".join(sorted(set().union(*breaks.values())))
    output = run_under_ansible_runner("site.yml", private / "site", "--tags", tags, limit=hosts)
    reports = molecule.ephemeral_dir() / f"audit-repaired-{job}"
    run_under_ansible_runner(
        "audit.yml",
        private / "audit",
        "--check",
        "--tags",
        tags,
        "-e",
        f"ereje_audit_report_dir={reports}",
        limit=hosts,
    )
    return output, json.loads((reports / "latest" / "report.json").read_text()), tags


def test_site_repairs_every_break_and_the_repaired_controls_then_pass(audit_after_converge, tmp_path):
    """ATU-5.23-b: site.yml, limited to the broken controls' tags, puts every break right, and an
    audit of the broken hosts limited to the same tags then finds every one of them holding again.

    The audit after the repair checks what the repair touched: the repair ran only the tasks of
    those tags, and the whole audit before it had found every other control holding on every host
    (a whole second audit of the five hosts re-checked those unchanged controls, about three minutes
    of the scenario). The narrowed report says so: each control it did not check is "not checked:
    this audit was limited to --tags ...", never a pass. The repair runs as two jobs at once
    (repair_jobs: the workstation's breaks are the controls every host has).

    ATU-8.7-a: the repair and the audit after it run through ansible-runner, AWX's engine, as a
    university that schedules them in AWX runs them: the repository works unchanged as an AWX
    project (site.yml for real, audit.yml, which imports every play of site.yml, in check mode).
    Pytest runs this before test_lab.py, whose tests use the repaired hosts.
    """
    jobs = repair_jobs()
    done = at_once(
        *(functools.partial(repair_and_audit, job, hosts, tmp_path / job) for job, hosts in jobs.items())
    )
    for (job, breaks), (output, repaired, tags) in zip(jobs.items(), done, strict=True):
        # The audit before had left every break in place: the repair finds something to change on
        # each broken host (a replica only pulls the repaired copy, which changes nothing of its own).
        recap = molecule.parse_recap(output)
        for host in set(catalog_breaks()) & set(breaks):
            assert recap.get(host, {}).get("changed", 0) > 0, recap.get(host, output[-3000:])
        assert repaired["limited_to"] == f"--tags {tags}"
        assert not repaired["errors"], repaired["errors"]
        rows = {(r["host"], r["control"]): r for r in repaired["results"]}
        still = [
            f"{host} {control} {rows[host, control]['status']}: {rows[host, control]['evidence'][:2]}"
            for host, controls in breaks.items()
            for control in sorted(controls)
            if rows[host, control]["status"] != "pass"
        ]
        assert not still, still
        # Nothing the narrowed audit did check fails; what it did not check says why.
        assert not [r for r in repaired["results"] if r["status"] == "fail"], job
        for row in repaired["results"]:
            if row["status"] == "not_checked":
                assert row["evidence"] == [f"not checked: this audit was limited to --tags {tags}"], row


def test_html_report_renders_in_a_browser(audit_after_converge, tmp_path):
    """ATU-8.7-a: the HTML report opens in a browser: summary, trilingual labels, the Kazakh text."""
    report_html = molecule.ephemeral_dir() / "audit-converged" / "latest" / "report.html"
    text = report_html.read_text(encoding="utf-8")
    assert "Орындалды · Выполнено · Pass" in text
    assert "ATU-5.17-a" in text
    assert shutil.which("chromium"), "chromium is installed by scripts/prepare-host.sh"
    png = molecule.ephemeral_dir() / "audit-report.png"
    dom = subprocess.run(
        [*CHROMIUM, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", report_html.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Қорытынды · Итог · Summary" in dom.stdout
    subprocess.run(
        [
            *CHROMIUM,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,1800",
            f"--screenshot={png}",
            report_html.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert png.is_file() and png.stat().st_size > 20_000, "the screenshot of the report is empty"
