"""Structural rules the audit depends on."""

from pathlib import Path

import yaml

from support.playbooks import when_groups

ROOT = Path(__file__).resolve().parents[1]
# audit.yml sets ereje_audit=true: every play in check mode, a failure a finding. Otherwise the
# command line decides: a play-level `check_mode: false` would override `--check` and change hosts.
SWITCHES = {
    "check_mode": "{{ ereje_audit | default(false) or ansible_check_mode }}",
    "diff": "{{ ereje_audit | default(false) or ansible_diff_mode }}",
    "ignore_errors": "{{ ereje_audit | default(false) }}",
}


def test_every_site_play_runs_in_check_mode_under_the_audit_and_honours_check():
    """playbooks/audit.yml imports site.yml with ereje_audit=true: no play may then change anything,
    and `site.yml --check` (the README's drift check) changes nothing either."""
    plays = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())
    missing = [
        p["name"]
        for p in plays
        if "import_playbook" not in p
        and "ansible.builtin.import_playbook" not in p
        and any(p.get(keyword) != switch for keyword, switch in SWITCHES.items())
    ]
    assert not missing, f"plays without {SWITCHES}: {missing}"


def _site_roles() -> set[tuple[str, str, str]]:
    """(group, role, entry point) of every play of site.yml: roles:, import_role, and the Services
    play's include_role on the groups its `when` names."""
    applied = set()
    for play in yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text()):
        if "hosts" not in play or play["hosts"] == "localhost":
            continue
        for role in play.get("roles", []):
            applied.add((play["hosts"], role["role"] if isinstance(role, dict) else role, "main"))
        for task in play.get("tasks", []):
            imported = task.get("ansible.builtin.import_role")
            if imported:
                applied.add((play["hosts"], imported["name"], imported.get("tasks_from", "main")))
            included = task.get("ansible.builtin.include_role")
            if included:
                for group in when_groups(task):
                    applied.add((group, included["name"], included.get("tasks_from", "main")))
    return applied


def test_the_services_play_includes_each_role_on_the_groups_it_serves_and_under_any_tags():
    """An include_role pulls in its tasks only when the include itself runs: `always`, so that
    `site.yml --tags <control>` reaches the role's tasks; `apply` gives each task its role's tag;
    the play covers every group its includes name and no other."""
    plays = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())
    services = [p for p in plays if p.get("strategy") == "mitogen_free"]
    assert len(services) == 1
    play = services[0]
    named = set()
    for task in play["tasks"]:
        included = task["ansible.builtin.include_role"]
        assert task["tags"] == ["always"], task["name"]
        assert included["name"] in included["apply"]["tags"], task["name"]
        named.update(when_groups(task))
    assert set(play["hosts"].split(":")) == named


def _validate_roles() -> set[tuple[str, str, str]]:
    """(group, role, entry point) of every include_role of validate.yml, its group from `when`."""
    applied = set()
    for play in yaml.safe_load((ROOT / "playbooks" / "validate.yml").read_text()):
        for task in play.get("tasks", []):
            included = task.get("ansible.builtin.include_role")
            if included:
                for group in when_groups(task):
                    applied.add((group, included["name"], included.get("tasks_from", "main")))
    return applied


def test_validate_checks_the_roles_site_applies_to_the_same_groups():
    """playbooks/validate.yml applies site.yml's roles (group, role, entry point) on the
    controller; a role or group added to one and not the other fails here."""
    assert _validate_roles() == _site_roles()
