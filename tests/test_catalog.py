"""The control catalog, the roles' tags and the tests agree with each other.

The build fails when:
- a control is malformed (ID syntax, missing reason, unknown status ...);
- a tag that looks like a control ID names no control of the catalog;
- an automated or partial control has no task tagged with its ID in its enforcing roles;
- a role tags a control that the catalog does not say that role enforces;
- a verified_by entry points at a test that does not exist, or whose docstring does not name
  the control; or a Molecule test names a control in its docstring without being listed.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from ansible_collections.ereje.compliance.plugins.module_utils.controls import ControlIds
from support.playbooks import when_groups

ROOT = Path(__file__).resolve().parents[1]
CATALOG = yaml.safe_load((ROOT / "controls" / "catalog.yml").read_text(encoding="utf-8"))
CONTROLS = {c["id"]: c for c in CATALOG["controls"]}
IDS = ControlIds.of(CATALOG)
STATUSES = {"automated", "partial", "planned", "manual", "not_applicable"}
IMPLEMENTED = {"automated", "partial"}
GROUPS = {
    "all",
    "linux",
    "windows",
    "domain_controllers",
    "mail_gateways",
    "mailboxes",
    "web_hosts",
    "backup_servers",
    "log_collectors",
    "workstations",
}


def _tags_in(node, found: list) -> None:
    if isinstance(node, dict):
        tags = node.get("tags")
        if isinstance(tags, str):
            found.extend(t.strip() for t in tags.split(","))
        elif isinstance(tags, list):
            found.extend(str(t) for t in tags)
        for value in node.values():
            _tags_in(value, found)
    elif isinstance(node, list):
        for item in node:
            _tags_in(item, found)


def tags_by_owner() -> dict[str, dict[str, list[str]]]:
    """{owner: {tag: [files]}}; owner is a role name, or a playbook's path (playbooks/audit.yml)."""
    owners: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    files = [
        (p.relative_to(ROOT / "roles").parts[0], p)
        for p in (ROOT / "roles").glob("*/**/*.yml")
        if p.relative_to(ROOT / "roles").parts[1] in ("tasks", "handlers")
    ]
    files += [(str(p.relative_to(ROOT)), p) for p in (ROOT / "playbooks").glob("*.yml")]
    for owner, path in files:
        found: list[str] = []
        _tags_in(yaml.safe_load(path.read_text(encoding="utf-8")), found)
        for tag in found:
            owners[owner][tag].append(str(path.relative_to(ROOT)))
    return owners


TAGS = tags_by_owner()


def test_catalog_has_controls_with_unique_ids():
    ids = [c["id"] for c in CATALOG["controls"]]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert len(ids) >= 40


@pytest.mark.parametrize("control", CATALOG["controls"], ids=lambda c: c["id"])
def test_control_is_well_formed(control):
    assert IDS.exact.match(control["id"]), f"{control['id']}: not DOC-clause-letter"
    doc = control["id"].split("-")[0]
    assert doc in CATALOG["documents"]
    assert control["clause"].split(" ")[0] == doc
    for field in ("title", "statement", "quote", "status", "applies_to"):
        assert control.get(field), f"{control['id']}: {field} is missing"
    assert control["status"] in STATUSES
    assert set(control["applies_to"]) <= GROUPS, f"{control['id']}: unknown group"
    if control["status"] != "automated":
        assert control.get("reason"), f"{control['id']}: a {control['status']} control needs a reason"
    if control["status"] in IMPLEMENTED:
        assert control.get("enforced_by"), f"{control['id']}: which role enforces it?"
        assert control.get("verified_by"), f"{control['id']}: which test verifies it?"
    else:
        assert not control.get("enforced_by") and not control.get("verified_by"), (
            f"{control['id']}: a {control['status']} control cannot claim roles or tests"
        )
    if control["status"] == "planned":
        assert isinstance(control.get("issue"), int), f"{control['id']}: planned for which issue?"


def _inventory_hosts(group: dict) -> set[str]:
    """Every host named under an inventory group, its children included."""
    hosts = set((group or {}).get("hosts") or {})
    for child in ((group or {}).get("children") or {}).values():
        hosts |= _inventory_hosts(child)
    return hosts


# The lab's hosts a break can be made on, read from the lab inventory itself.
LAB_HOSTS = _inventory_hosts(yaml.safe_load((ROOT / "inventories" / "lab" / "hosts.yml").read_text())["all"])


@pytest.mark.parametrize("control", [c for c in CATALOG["controls"] if "break" in c], ids=lambda c: c["id"])
def test_a_break_is_a_change_on_a_lab_host_that_an_implemented_control_must_catch(control):
    """ComplianceAsCode's .fail.sh beside .pass.sh: a break is a concrete change made by hand on a lab
    host, the words its evidence must show, and the other controls whose own checks read the same
    broken thing; molecule/lab/tests/test_audit.py makes every break and audits once."""
    change = control["break"]
    assert control["status"] in IMPLEMENTED, f"{control['id']}: only an implemented control can be broken"
    assert set(change) <= {"host", "do", "evidence", "also_fails", "replica"}, (
        f"{control['id']}: unknown keys {set(change)}"
    )
    # A replica (dc2 of dc1's directory) pulls the change at once and fails the same controls.
    if "replica" in change:
        replica = change["replica"]
        assert set(replica) == {"host", "do"}, f"{control['id']}: a replica is a host and what it runs"
        assert replica["host"] in LAB_HOSTS and replica["host"] != change.get("host"), control["id"]
        assert isinstance(replica["do"], str) and replica["do"].strip(), control["id"]
    assert change.get("host") in LAB_HOSTS, f"{control['id']}: break on which lab host?"
    assert isinstance(change.get("do"), str) and change["do"].strip(), (
        f"{control['id']}: what does the break do?"
    )
    assert isinstance(change.get("evidence"), str) and change["evidence"], (
        f"{control['id']}: what must it show?"
    )
    for other in change.get("also_fails", []):
        assert other in CONTROLS and CONTROLS[other]["status"] in IMPLEMENTED, f"{control['id']}: {other}?"


@pytest.mark.parametrize(
    "control", [c for c in CATALOG["controls"] if c["status"] in IMPLEMENTED], ids=lambda c: c["id"]
)
def test_an_implemented_control_is_broken_on_the_lab_or_says_why_not(control):
    """Issue 16: every automated or partial control is shown to fail, by a break the lab scenario makes;
    one that has none yet says why in `no_break` (what stands in the way, and where else it is shown
    failing), so the auditors read which passes are not yet proven able to fail."""
    has_break, reason = "break" in control, control.get("no_break")
    assert has_break != bool(reason), (
        f"{control['id']}: needs a break, or a no_break reason (not both)"
        if not has_break
        else f"{control['id']}: it has a break, so no no_break reason"
    )
    assert reason is None or (isinstance(reason, str) and len(reason.split()) >= 8), (
        f"{control['id']}: no_break must say why, in a sentence"
    )


def test_a_control_that_is_not_implemented_has_no_break_entries():
    stray = [
        c["id"]
        for c in CATALOG["controls"]
        if c["status"] not in IMPLEMENTED and ({"break", "no_break"} & set(c))
    ]
    assert not stray, stray


def test_every_control_shaped_tag_is_a_known_control():
    unknown = {
        tag: files
        for owner in TAGS.values()
        for tag, files in owner.items()
        if IDS.lookalike.match(tag) and tag not in CONTROLS
    }
    assert not unknown, f"tags that name no control of controls/catalog.yml: {unknown}"


@pytest.mark.parametrize(
    "control", [c for c in CATALOG["controls"] if c["status"] in IMPLEMENTED], ids=lambda c: c["id"]
)
def test_implemented_control_is_enforced_by_tagged_tasks(control):
    for owner in control["enforced_by"]:
        # An enforcer is a role, or a playbook (the audit enforces the reporting controls).
        exists = (ROOT / owner).is_file() if "/" in owner else (ROOT / "roles" / owner).is_dir()
        assert exists, f"{control['id']}: {owner} does not exist"
        assert control["id"] in TAGS.get(owner, {}), (
            f"{control['id']}: {owner} has no task tagged {control['id']}"
        )


def test_roles_only_tag_controls_the_catalog_says_they_enforce():
    wrong = []
    for owner, tags in TAGS.items():
        for tag in tags:
            control = CONTROLS.get(tag)
            if not control:
                continue
            # A playbook may check any implemented control (the audit's status plays);
            # a role that tags a control must be listed as enforcing it.
            enforces = owner in control["enforced_by"] or "/" in owner
            if control["status"] not in IMPLEMENTED or not enforces:
                wrong.append(
                    f"{owner} tags {tag} ({control['status']}, enforced_by {control['enforced_by']})"
                )
    assert not wrong, wrong


def _test_functions(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name: ast.get_docstring(node) or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


@pytest.mark.parametrize(
    "control", [c for c in CATALOG["controls"] if c["status"] in IMPLEMENTED], ids=lambda c: c["id"]
)
def test_implemented_control_is_verified_by_existing_tests(control):
    for ref in control["verified_by"]:
        file, _, name = ref.partition("::")
        path = ROOT / file
        assert path.is_file(), f"{control['id']}: {file} does not exist"
        functions = _test_functions(path)
        assert name in functions, f"{control['id']}: {file} has no test {name}"
        assert control["id"] in functions[name], f"{control['id']}: the docstring of {ref} does not name it"


def test_every_test_that_names_a_control_is_listed():
    missing = []
    for path in sorted(ROOT.glob("molecule/*/tests/test_*.py")):
        for name, doc in _test_functions(path).items():
            ref = f"{path.relative_to(ROOT)}::{name}"
            for control in IDS.in_text.findall(doc):
                assert control in CONTROLS, f"{ref} names unknown control {control}"
                if ref not in CONTROLS[control]["verified_by"]:
                    missing.append(f"{control}: {ref}")
    assert not missing, f"tests that prove a control but are not in its verified_by: {missing}"


def _groups_where_roles_run() -> dict[str, set[str]]:
    where: dict[str, set[str]] = defaultdict(set)
    for play in yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text()):
        if "hosts" not in play:
            continue
        for role in play.get("roles", []):
            where[role["role"] if isinstance(role, dict) else role].add(play["hosts"])
        for task in play.get("tasks", []):
            for key in ("ansible.builtin.import_role", "ansible.builtin.include_role"):
                if key in task:
                    # The Services play includes each role on the groups its `when` names.
                    groups = when_groups(task) or [play["hosts"]]
                    where[task[key]["name"]].update(groups)
    return where


@pytest.mark.parametrize(
    "control", [c for c in CATALOG["controls"] if c["status"] in IMPLEMENTED], ids=lambda c: c["id"]
)
def test_control_applies_only_where_its_roles_run(control):
    """The audit fails a control on a host where no enforcing task runs: applies_to must match."""
    roles = [owner for owner in control["enforced_by"] if "/" not in owner]
    if not roles:
        return
    where = set().union(*(_groups_where_roles_run().get(role, set()) for role in roles))
    linux = GROUPS - {"all", "windows"}
    # A play on "linux:!backup_servers" runs on every Debian group but the one left out.
    for pattern in [w for w in where if ":!" in w]:
        included, excluded = pattern.split(":!")
        where |= (linux if included == "linux" else {included}) - {excluded}
    covered = (
        where | (linux if "linux" in where else set()) | ({"all"} if {"linux", "windows"} <= where else set())
    )
    assert set(control["applies_to"]) <= covered, (
        f"applies_to {control['applies_to']}, roles run on {sorted(where)}"
    )
