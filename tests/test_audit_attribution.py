"""The audit callback attributes a result to the controls its task is tagged with, or to none.

Issue 16: a task that failed without a control tag used to fail controls that had nothing to do
with it. Here a real ansible-playbook run, with the project's callback, checks one control and
fails an untagged task: the failure is an error of the audit itself, the checked control keeps
its own verdict, and the control no task checked is "not checked", never a pass or a made-up fail.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

CATALOG = {
    "documents": {"ATU": "Information security regulation"},
    "controls": [
        {"id": "ATU-5.17-a", "clause": "ATU 5.17", "title": "Updates", "statement": "Updates are installed."},
        {"id": "ATU-5.13-a", "clause": "ATU 5.13", "title": "Admins", "statement": "Admins are named."},
        {"id": "ATU-2.4.2-a", "clause": "ATU 2.4.2", "title": "Site", "statement": "Pages are there."},
        {"id": "ATU-5.15-a", "clause": "ATU 5.15", "title": "Firewall", "statement": "Ports are closed."},
    ],
}
for _control in CATALOG["controls"]:
    _control.update(status="automated", applies_to=["linux"], quote="ереже")

# A module that checks two controls and finds a problem that concerns only one of them, as
# ereje_site_audit does with a missing page (it names the controls of each finding).
PROBE_MODULE = """#!/usr/bin/python3
from ansible.module_utils.basic import AnsibleModule

module = AnsibleModule(argument_spec={}, supports_check_mode=True)
module.fail_json(msg="the Kazakh statistics page is missing", failed_controls=["ATU-2.4.2-a"])
"""

# ignore_errors below is what site.yml's plays set under the audit (ignore_errors: ereje_audit):
# a failed check is a finding, and the host goes on to the next one. The failures still reach the
# callback, which is what this test reads.
PLAYBOOK = """
- name: Audited play
  hosts: linux
  connection: local
  gather_facts: false
  vars:
    ereje_audit: true
  tasks:
    - name: Updates | the policy is read
      ansible.builtin.command: "true"
      changed_when: false
      tags: [ATU-5.17-a]
    - name: Mail | a probe without a control tag fails
      ansible.builtin.command: "false"
      changed_when: false
      ignore_errors: true
    - name: Site | one check of two controls, whose problem breaks only one
      two_controls_probe:
      ignore_errors: true
      tags: [ATU-5.13-a, ATU-2.4.2-a]

- name: Report
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ereje_audit_report: true
  tasks:
    - name: Report | written when this play starts
      ansible.builtin.debug:
        msg: done
"""


def test_an_untagged_failure_is_an_audit_error_not_a_finding(tmp_path):
    (tmp_path / "controls").mkdir()
    (tmp_path / "controls" / "catalog.yml").write_text(yaml.safe_dump(CATALOG))
    (tmp_path / "audit.yml").write_text(PLAYBOOK)
    (tmp_path / "hosts.yml").write_text("linux:\n  hosts:\n    node1:\n")
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "two_controls_probe.py").write_text(PROBE_MODULE)
    reports = tmp_path / "reports"
    result = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(tmp_path / "hosts.yml"),
            "-e",
            f"ereje_audit_report_dir={reports}",
            "-e",
            "ansible_python_interpreter=" + os.environ.get("PYTHON", "/usr/bin/python3"),
            str(tmp_path / "audit.yml"),
        ],
        capture_output=True,
        text=True,
        env=os.environ
        | {
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_STRATEGY": "linear",
            "ANSIBLE_LIBRARY": str(tmp_path / "library"),
        },
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    report = json.loads((reports / "latest" / "report.json").read_text())
    verdicts = {r["control"]: r for r in report["results"] if r["host"] == "node1"}
    assert verdicts["ATU-5.17-a"]["status"] == "pass", verdicts
    assert verdicts["ATU-5.15-a"]["status"] == "not_checked", verdicts
    assert (
        "the audit failed on this host at task 'Mail | a probe without a control tag fails'"
        in (verdicts["ATU-5.15-a"]["evidence"][0])
    )
    # The failed check of two controls fails the one its problem names, and only that one.
    assert verdicts["ATU-2.4.2-a"]["status"] == "fail", verdicts
    assert "the Kazakh statistics page is missing" in verdicts["ATU-2.4.2-a"]["evidence"][0]
    assert verdicts["ATU-5.13-a"]["status"] == "pass", verdicts
    assert "its problems concern ATU-2.4.2-a" in " ".join(verdicts["ATU-5.13-a"]["evidence"])
    assert [(e["host"], e["task"]) for e in report["errors"]] == [
        ("node1", "Mail | a probe without a control tag fails")
    ]
    assert report["summary"]["fail"] == 1 and report["summary"]["not_checked"] == 1
    assert "1 error(s) of the audit itself" in output
