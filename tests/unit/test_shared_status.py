"""The result contract of the status modules (module_utils/status.py), which the audit reads."""

import pytest

from ansible_collections.ereje.compliance.plugins.module_utils.status import (
    FAIL_ON_PROBLEM,
    exit_status,
    status_result,
)


class Ended(Exception):
    pass


class FakeModule:
    """What AnsibleModule does at the end: remember how it ended, and stop."""

    def __init__(self):
        self.ended = None

    def exit_json(self, **result):
        self.ended = ("exit", result)
        raise Ended

    def fail_json(self, **result):
        self.ended = ("fail", result)
        raise Ended


def end(problems, evidence="", **kwargs):
    module = FakeModule()
    with pytest.raises(Ended):
        exit_status(module, problems, evidence, **kwargs)
    return module.ended


def test_a_healthy_host_is_ok_and_its_evidence_is_the_message():
    result = status_result([], "no failed service; disks used: / 41%", filesystems=[{"mount": "/"}])
    assert result == {
        "changed": False,
        "ok": True,
        "problems": [],
        "msg": "no failed service; disks used: / 41%",
        "filesystems": [{"mount": "/"}],
    }


def test_problems_are_the_message_and_the_host_is_not_ok():
    result = status_result(iter(["clamd is not running", "no signature database"]), "unused evidence")
    assert result["ok"] is False
    assert result["problems"] == ["clamd is not running", "no signature database"]
    assert result["msg"] == "clamd is not running; no signature database"


def test_what_a_module_read_cannot_override_the_contract():
    result = status_result(["disk full"], ok=True, changed=True, msg="fine")
    assert (result["ok"], result["changed"], result["msg"]) == (False, False, "disk full")


def test_a_problem_fails_the_task_unless_only_a_report_is_asked():
    assert end(["disk full"], fail=True)[0] == "fail"
    how, result = end(["disk full"], fail=False)
    assert how == "exit" and result["ok"] is False and result["problems"] == ["disk full"]
    assert end([], "all well")[0] == "exit"


def test_every_status_module_takes_fail_on_problem_defaulting_to_fail():
    assert FAIL_ON_PROBLEM == {"fail_on_problem": {"type": "bool", "default": True}}
