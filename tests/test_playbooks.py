"""Structural rules the audit depends on."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
AUDIT_SWITCH = "{{ ereje_audit | default(false) }}"


def test_every_site_play_runs_in_check_mode_under_the_audit():
    """playbooks/audit.yml imports site.yml with ereje_audit=true: no play may then change anything."""
    plays = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())
    missing = [
        p["name"]
        for p in plays
        if "import_playbook" not in p
        and "ansible.builtin.import_playbook" not in p
        and any(p.get(keyword) != AUDIT_SWITCH for keyword in ("check_mode", "ignore_errors", "diff"))
    ]
    assert not missing, f'plays without check_mode: "{AUDIT_SWITCH}": {missing}'
