"""Waivers and control IDs in the inventory are checked against the catalog."""

import datetime as dt
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from controls import control_ids, unknown_controls, waiver_problems

CATALOG = yaml.safe_load((Path(__file__).resolve().parents[2] / "controls" / "catalog.yml").read_text())
GOOD = {
    "control": "ATU-5.17-a",
    "hosts": ["legacy1"],
    "justification": "Vendor freeze until migration",
    "approved_by": "Head of IT, order 42",
    "expires": "2027-03-31",
}


def test_catalog_ids_are_read():
    assert "ATU-5.17-a" in control_ids(CATALOG)
    with pytest.raises(AnsibleFilterError, match="malformed"):
        control_ids({"controls": [{}]})


def test_unknown_control_gets_a_suggestion():
    assert unknown_controls(["ATU-5.17-a"], CATALOG) == []
    (problem,) = unknown_controls(["ATU-5.17a"], CATALOG)
    assert "'ATU-5.17a' is not a control" in problem
    assert "did you mean ATU-5.17-a?" in problem


def test_good_waivers_pass():
    assert waiver_problems([GOOD, GOOD | {"hosts": "all", "expires": dt.date(2027, 1, 1)}], CATALOG) == []
    assert waiver_problems(None, CATALOG) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"control": "ATU-99-z"}, "'ATU-99-z' is not a control"),
        ({"justification": ""}, "lacks justification"),
        ({"expires": "next spring"}, "is not a date like 2027-03-31"),
        ({"hosts": "web1"}, "hosts must be a list"),
        ({"approver": "me"}, "unknown field(s) approver"),
    ],
)
def test_bad_waivers_are_named(change, message):
    problems = waiver_problems([GOOD | change], CATALOG)
    assert any(message in p for p in problems), problems


def test_waivers_must_be_a_list_of_mappings():
    assert waiver_problems("ATU-5.17-a", CATALOG) == ["must be a list of waivers, not str"]
    assert "must be a mapping" in waiver_problems(["ATU-5.17-a"], CATALOG)[0]
