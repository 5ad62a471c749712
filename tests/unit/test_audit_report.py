"""The audit's verdicts per host and control, and the four renderings of the report."""

import csv
import datetime as dt
import io
import json
from xml.etree import ElementTree as ET

import pytest

from ansible_collections.ereje.compliance.plugins.plugin_utils.audit_report import (
    previous_audit,
    render_csv,
    render_html,
    render_junit,
    write_report,
)
from ansible_collections.ereje.compliance.plugins.plugin_utils.audit_rules import (
    applies,
    detail_of,
    diff_text,
    equipment_entry,
    evaluate,
    find_waiver,
    host_rows,
    observed,
    report_event,
    summarise,
    tag_limit,
)

TODAY = dt.date(2026, 11, 22)
AUTOMATED = {"id": "ATU-5.17-a", "status": "automated", "applies_to": ["linux"]}


def event(status, task="Updates | policy", detail=""):
    return {"task": task, "status": status, "detail": detail, "time": "2026-11-22T10:00:00+00:00"}


def waiver(expires="2027-03-31", hosts=("web",)):
    return {
        "control": "ATU-5.17-a",
        "hosts": list(hosts),
        "justification": "vendor freeze",
        "approved_by": "Head of IT",
        "expires": expires,
    }


def test_no_drift_passes_with_the_number_of_checks():
    result = evaluate(AUTOMATED, [event("ok"), event("ok")], None, None, TODAY)
    assert result["status"] == "pass"
    assert result["evidence"][0] == "2 check(s), nothing to change"


def test_drift_fails_and_shows_what_would_change():
    result = evaluate(
        AUTOMATED,
        [event("ok"), event("changed", detail="-PermitRootLogin no\n+PermitRootLogin yes")],
        None,
        None,
        TODAY,
    )
    assert result["status"] == "fail"
    assert "would change: Updates | policy" in result["evidence"][0]
    assert "+PermitRootLogin yes" in result["evidence"][0]


def test_failed_status_module_fails_with_its_message():
    result = evaluate(
        AUTOMATED,
        [event("failed", task="Antivirus | status", detail="signatures are 9 days old")],
        None,
        None,
        TODAY,
    )
    assert result == {"status": "fail", "evidence": ["Antivirus | status: signatures are 9 days old"]}


def test_a_failed_check_and_the_drift_beside_it_are_both_evidence():
    """A hand edit fails the check of its effect (sshd -T) and shows the file's diff: both are shown."""
    result = evaluate(
        AUTOMATED,
        [
            event("changed", task="SSH | server policy", detail="+PermitRootLogin yes"),
            event("failed", task="SSH | effective", detail="sshd -T for root gives permitrootlogin yes"),
        ],
        None,
        None,
        TODAY,
    )
    assert result["status"] == "fail"
    assert result["evidence"] == [
        "SSH | effective: sshd -T for root gives permitrootlogin yes",
        "drift, would change: SSH | server policy\n+PermitRootLogin yes",
    ]


def test_nothing_ran_is_not_checked_never_a_pass():
    """Issue 16: no result is made up; a control with no check on a host is "not checked"."""
    assert evaluate(AUTOMATED, [], None, None, TODAY) == {
        "status": "not_checked",
        "evidence": ["not checked: no check of this control ran on this host"],
    }
    result = evaluate(AUTOMATED, [], "unreachable: timed out", None, TODAY)
    assert result == {"status": "not_checked", "evidence": ["not checked: unreachable: timed out"]}
    # A waiver forgives a known failure, not a control nobody looked at.
    assert evaluate(AUTOMATED, [], None, waiver(), TODAY)["status"] == "not_checked"


def test_an_audit_narrowed_by_tags_says_so_on_what_it_did_not_check():
    """A repair's audit runs only the repaired controls (--tags): the others are "not checked"
    because of that, said in their evidence, never a pass."""
    assert tag_limit(("all",), ()) is None
    assert tag_limit((), ()) is None
    limit = tag_limit({"KNMU-6-a", "ATU-5.17-a"}, ("ATU-6.4-a",))
    assert limit == "--tags ATU-5.17-a,KNMU-6-a --skip-tags ATU-6.4-a"
    assert evaluate(AUTOMATED, [], None, None, TODAY, limited_to=limit) == {
        "status": "not_checked",
        "evidence": [f"not checked: this audit was limited to {limit}"],
    }
    # What did run is judged as always.
    assert evaluate(AUTOMATED, [event("changed")], None, None, TODAY, limited_to=limit)["status"] == "fail"
    assert evaluate(AUTOMATED, [event("ok")], None, None, TODAY, limited_to=limit)["status"] == "pass"


def test_catalog_statuses_that_are_not_checked():
    assert evaluate({"status": "manual", "reason": "editorial"}, [], None, None, TODAY) == {
        "status": "manual",
        "evidence": ["editorial"],
    }
    planned = evaluate({"status": "planned", "issue": 6, "reason": "web role"}, [], None, None, TODAY)
    assert planned == {"status": "manual", "evidence": ["Not automated yet (issue 6): web role"]}
    assert evaluate({"status": "not_applicable", "reason": "no portal"}, [], None, None, TODAY)["status"] == (
        "not_applicable"
    )


def test_partial_control_says_what_is_not_proved():
    control = AUTOMATED | {"status": "partial", "reason": "clock belongs to the container host"}
    result = evaluate(control, [event("ok")], None, None, TODAY)
    assert result["status"] == "pass"
    assert "partial control: clock belongs to the container host" in result["evidence"]


def test_valid_waiver_turns_a_failure_into_waived():
    result = evaluate(AUTOMATED, [event("changed")], None, waiver(), TODAY)
    assert result["status"] == "waived"
    assert result["evidence"][0].startswith("waiver approved by Head of IT until 2027-03-31")


def test_waiver_does_not_hide_a_pass():
    assert evaluate(AUTOMATED, [event("ok")], None, waiver(), TODAY)["status"] == "pass"


@pytest.mark.parametrize("expires", ["2026-11-21", "someday"])
def test_expired_or_undated_waiver_counts_as_failure(expires):
    result = evaluate(AUTOMATED, [event("ok")], None, waiver(expires=expires), TODAY)
    assert result["status"] == "fail"
    assert result["evidence"][0].startswith("EXPIRED waiver")


def test_waiver_and_group_matching():
    assert find_waiver([waiver()], "ATU-5.17-a", "web")
    assert find_waiver([waiver()], "ATU-5.17-a", "mail") is None
    assert find_waiver([waiver(hosts=())], "ATU-5.17-a", "web") is None
    assert find_waiver([waiver() | {"hosts": "all"}], "ATU-5.17-a", "mail")
    assert applies(AUTOMATED, {"linux", "web_hosts"})
    assert not applies(AUTOMATED, {"windows"})
    assert applies({"applies_to": ["all"]}, {"windows"})


def test_diff_text_is_short_and_unified():
    text = diff_text(
        {"before": "a\nb\n", "after": "a\nc\n", "before_header": "/etc/x", "after_header": "/etc/x"}
    )
    assert "-b" in text and "+c" in text and "/etc/x" in text
    long = diff_text({"before": "\n".join(map(str, range(100))), "after": ""})
    assert long.endswith("more lines)")
    assert diff_text([{"before": {"state": "absent"}, "after": {"state": "directory"}}]).count("\n") == 1


REPORT = {
    "generated_at": "2026-11-22T10:00:00+00:00",
    "revision": "abc123",
    "inventory": "inventories/lab/hosts.yml",
    "results": [
        {
            "host": "web",
            "control": "ATU-5.17-a",
            "clause": "ATU 5.17",
            "title": "Updates <daily>",
            "status": "pass",
            "evidence": ["3 check(s)"],
            "checked_at": "t",
        },
        {
            "host": "web",
            "control": "ATU-5.13-a",
            "clause": "ATU 5.13",
            "title": "Admins",
            "status": "fail",
            "evidence": ["drift, would change: SSH | server policy\n+PermitRootLogin yes"],
            "checked_at": "t",
        },
        {
            "host": "mail",
            "control": "KNMU-4-a",
            "clause": "KNMU 4",
            "title": "Editorial",
            "status": "manual",
            "evidence": ["editors approve"],
            "checked_at": "t",
        },
        {
            "host": "mail",
            "control": "ATU-5.17-a",
            "clause": "ATU 5.17",
            "title": "Updates <daily>",
            "status": "not_checked",
            "evidence": ["not checked: the audit failed on this host at task 'Mail | read the policy'"],
            "checked_at": "t",
        },
    ],
    "errors": [{"host": "mail", "task": "Mail | read the policy", "message": "No such file: /etc/postfix/x"}],
    "controls": [
        {
            "id": "ATU-5.13-a",
            "clause": "ATU 5.13",
            "title": "Admins",
            "statement": "Named admins.",
            "quote": "Қызметкерлердің қол жеткізуін шектеу",
            "status": "automated",
        },
        {
            "id": "ATU-5.17-a",
            "clause": "ATU 5.17",
            "title": "Updates <daily>",
            "statement": "Updates.",
            "quote": "жаңартулар",
            "status": "automated",
        },
        {
            "id": "KNMU-4-a",
            "clause": "KNMU 4",
            "title": "Editorial",
            "statement": "s",
            "quote": "q",
            "status": "manual",
        },
    ],
}
REPORT["summary"] = summarise(REPORT["results"])


def test_summary_counts_every_status():
    assert REPORT["summary"] == {
        "pass": 1,
        "fail": 1,
        "not_checked": 1,
        "waived": 0,
        "manual": 1,
        "not_applicable": 0,
    }


def test_junit_has_a_suite_per_host_and_failures():
    root = ET.fromstring(render_junit(REPORT))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"web", "mail", "audit"}
    assert suites["web"].get("failures") == "1"
    failure = suites["web"].find("testcase/failure")
    assert "PermitRootLogin yes" in failure.text
    assert suites["mail"].find("testcase/skipped") is not None
    # Not checked is an error of the run, not a skip a CI dashboard would hide.
    assert suites["mail"].get("errors") == "1"
    assert "the audit failed on this host" in suites["mail"].find("testcase/error").text
    assert suites["audit"].find("testcase/error").text == "No such file: /etc/postfix/x"


def test_csv_has_one_row_per_host_and_control():
    rows = list(csv.DictReader(io.StringIO(render_csv(REPORT))))
    assert [(r["host"], r["control"], r["status"]) for r in rows] == [
        ("web", "ATU-5.17-a", "pass"),
        ("web", "ATU-5.13-a", "fail"),
        ("mail", "KNMU-4-a", "manual"),
        ("mail", "ATU-5.17-a", "not_checked"),
    ]
    assert rows[0]["revision"] == "abc123"


def test_html_is_trilingual_escaped_and_shows_the_original_text():
    page = render_html(REPORT)
    assert "Орындалмады · Не выполнено · Fail" in page
    assert "Қызметкерлердің қол жеткізуін шектеу" in page
    assert "Updates &lt;daily&gt;" in page and "<daily>" not in page
    assert page.index("PermitRootLogin yes") < page.index('id="ATU-5.13-a"')  # failures first
    # The audit's own errors come before everything, and "not checked" is its own status.
    assert page.index("Аудит қателері · Ошибки аудита · Errors of the audit itself") < page.index("Қорытынды")
    assert "No such file: /etc/postfix/x" in page
    assert "Тексерілмеді · Не проверено · Not checked" in page
    assert "limited to" not in page
    narrowed = render_html(REPORT | {"limited_to": "--tags ATU-5.17-a"})
    assert "limited to <code>--tags ATU-5.17-a</code>" in narrowed


def test_write_report_points_latest_at_the_new_report(tmp_path):
    first = write_report(REPORT, tmp_path)
    second = write_report(REPORT | {"generated_at": "2026-11-23T10:00:00+00:00"}, tmp_path)
    assert first != second
    assert (tmp_path / "latest").resolve() == second.resolve()
    data = json.loads((tmp_path / "latest" / "report.json").read_text())
    assert data["summary"]["fail"] == 1
    assert {p.name for p in second.iterdir()} == {
        "report.html",
        "report.json",
        "report.csv",
        "report.junit.xml",
    }


def test_equipment_register_line_from_facts():
    entry = equipment_entry(
        {
            "ansible_hostname": "web",
            "ansible_fqdn": "web.ereje.test",
            "ansible_distribution": "Debian",
            "ansible_distribution_version": "12.12",
            "ansible_memtotal_mb": 2048,
            "ansible_processor_vcpus": 2,
            "ansible_all_ipv4_addresses": ["10.89.1.4"],
            "ansible_virtualization_type": "podman",
            "ansible_virtualization_role": "guest",
        }
    )
    assert entry["os"] == "Debian 12.12"
    assert entry["memory"] == "2.0 GiB"
    assert entry["addresses"] == "10.89.1.4"
    assert entry["virtualization"] == "podman/guest"
    assert equipment_entry({}) == {}
    page = render_html(REPORT | {"register": {"web": entry}})
    assert "Жабдықтар тізілімі · Реестр оборудования · Register of IT equipment" in page
    assert "web.ereje.test" in page


def test_the_report_control_states_the_previous_report_and_fails_past_the_period(tmp_path):
    """ATU-8.7-a: what the report says of the series it belongs to; never a pass made up."""
    current = dt.datetime(2026, 12, 2, 0, 30, tzinfo=dt.UTC)
    first = report_event(previous_audit(tmp_path), current, 92)
    assert first["status"] == "ok"
    assert (
        first["detail"]
        == "this report 2026-12-02T00:30+00:00; no earlier report kept: the first of the series"
    )
    kept = tmp_path / "audit-20261101T000000+0000"
    kept.mkdir()
    (kept / "report.json").write_text(json.dumps({"generated_at": "2026-11-01T00:00:00+00:00"}))
    (tmp_path / "latest").symlink_to(kept.name)
    monthly = report_event(previous_audit(tmp_path), current, 92)
    assert monthly["status"] == "ok"
    assert "previous report 2026-11-01T00:00+00:00, 31.0 day(s) before (period 92 days)" in monthly["detail"]
    late = report_event(previous_audit(tmp_path), current, 30)
    assert late["status"] == "failed"
    assert late["detail"].endswith("went unreported for longer than the period")


def test_a_passing_check_shows_what_it_looked_at():
    """Issue 16: evidence is what was observed, not only that nothing would change."""
    template = {
        "changed": False,
        "dest": "/etc/ssh/sshd_config",
        "owner": "root",
        "group": "root",
        "mode": "0600",
    }
    assert observed(template) == "/etc/ssh/sshd_config (root:root 0600) as declared"
    service = {"name": "ssh", "status": {"ActiveState": "active", "UnitFileState": "enabled"}}
    assert observed(service) == "ssh: active, enabled"
    probe = {"stdout": "installed openssh-server\ninstalled sudo\ninstalled nftables\ninstalled chrony\n"}
    assert (
        observed(probe) == "installed openssh-server | installed sudo | installed nftables (and 1 more lines)"
    )
    assert observed({"stat": {"exists": False, "path": "/etc/hosts.equiv"}}) == "/etc/hosts.equiv: absent"
    loop = {"results": [{"path": f"/etc/cron.d/f{i}", "state": "absent"} for i in range(10)]}
    assert observed(loop).endswith("/etc/cron.d/f7 (absent) as declared; and 2 more")
    assert observed({"msg": "All assertions passed"}) == ""


def test_drift_without_a_diff_says_what_was_found():
    """Issue 16: a service found stopped is evidence by its state; a loop shows the items that
    drifted, never Ansible's "All items completed"; a message or a diff still comes first."""
    stopped = {
        "changed": True,
        "name": "clamav-daemon.service",
        "status": {"ActiveState": "inactive", "UnitFileState": "enabled"},
    }
    assert detail_of(stopped, False) == "clamav-daemon.service: inactive, enabled"
    loop = {
        "changed": True,
        "msg": "All items completed",
        "results": [
            {
                "changed": False,
                "name": "clamav-daemon.socket",
                "status": {"ActiveState": "active", "UnitFileState": "enabled"},
            },
            stopped,
        ],
    }
    assert detail_of(loop, False) == "clamav-daemon.service: inactive, enabled"
    assert detail_of({"changed": True, "msg": "would restart"}, False) == "would restart"
    # A file a loop would create: its diff names no file ("--- before"), the item does.
    created = {
        "changed": True,
        "item": "nginx",
        "_ansible_item_label": "nginx",
        "diff": {"before": "", "after": "[Service]\nRestart=on-failure\n", "after_header": "restart.conf.j2"},
    }
    assert detail_of({"changed": True, "results": [created]}, False).startswith(
        "nginx: --- before\n+++ restart"
    )
    # A single file to be created is named by the path the task manages (not a loop's "{{ item }}").
    new_file = {"changed": True, "diff": {"before": "", "after": "x\n"}}
    assert detail_of(new_file, False, path="/etc/a.conf").startswith("/etc/a.conf: --- before")
    assert detail_of(new_file, False, path="/etc/{{ item }}").startswith("--- before")
    assert detail_of(stopped | {"censored": "hidden"}, False).startswith("(details hidden")


def test_a_failed_command_shows_what_it_said_and_its_exit_code():
    """Issue 16: the evidence of a probe that failed is the probe's own answer, not Ansible's words."""
    failed = {
        "failed": True,
        "rc": 255,
        "msg": "non-zero return code",
        "stdout": "",
        "stderr": "Sorry but the jail 'ereje-web-flood' does not exist",
    }
    assert detail_of(failed, False) == "exit 255: Sorry but the jail 'ereje-web-flood' does not exist"
    items = [failed | {"item": "ereje-web-flood"}]
    loop = {"failed": True, "msg": "One or more items failed", "results": items}
    assert "does not exist" in detail_of(loop, False)
    # A command that ran but only drifted (or a module without an exit code) keeps its message.
    assert detail_of({"changed": True, "rc": 0, "stdout": "ok", "msg": "would run"}, False) == "would run"


def test_host_rows_cover_the_controls_of_the_hosts_groups_and_add_the_report_period():
    controls = [
        AUTOMATED | {"clause": "ATU 5.17", "title": "Updates"},
        {"id": "YU-1.3.2-a", "clause": "YU 1.3.2", "title": "Mail", "status": "automated"}
        | {"applies_to": ["mail"]},
        {"id": "ATU-8.7-a", "clause": "ATU 8.7", "title": "Reports", "status": "automated"}
        | {"applies_to": ["all"]},
    ]
    events = {"ATU-5.17-a": [event("changed", detail="--- a\n+++ b")]}
    now = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
    rows = host_rows(
        "web",
        {"linux", "web_hosts"},
        controls,
        events,
        host_error=None,
        waivers=[waiver()],
        report_period=(now - dt.timedelta(days=100), now, 92),
        today=TODAY,
    )
    by_control = {row["control"]: row for row in rows}
    # The mail control does not apply to a web host; drift under a valid waiver is "waived".
    assert set(by_control) == {"ATU-5.17-a", "ATU-8.7-a"}
    assert by_control["ATU-5.17-a"]["status"] == "waived"
    assert by_control["ATU-5.17-a"]["checked_at"] == "2026-11-22T10:00:00+00:00"
    # 100 days since the previous report, period 92: the report-period control fails on the host.
    assert by_control["ATU-8.7-a"]["status"] == "fail"
    assert "100.0 day(s) before" in by_control["ATU-8.7-a"]["evidence"][0]
    # A host that did not answer gets no report-period result: not checked, with the reason.
    silent = host_rows(
        "web",
        {"linux"},
        controls,
        {},
        host_error="unreachable: timeout",
        waivers=[],
        report_period=None,
        today=TODAY,
    )
    assert {row["status"] for row in silent} == {"not_checked"}
    assert silent[0]["evidence"] == ["not checked: unreachable: timeout"]
