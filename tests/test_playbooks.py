"""Structural rules the audit depends on."""

from pathlib import Path

import yaml

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
