"""The production example, used as the README tells a sysadmin to use it.

Copy inventories/production, make group_vars/all/vault.yml from vault.yml.example, run
playbooks/validate.yml: every role's argument_specs and own validation, for every host of the
example, on the controller (no host is contacted). The example must pass; the same inventory with
mistakes a sysadmin makes must fail, on the host that carries the mistake, with a message that
names the variable; and the playbook refuses to run without --tags validate.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "inventories" / "production"


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    copy = tmp_path / "production"
    shutil.copytree(EXAMPLE, copy)
    vault = copy / "group_vars" / "all"
    shutil.copy(vault / "vault.yml.example", vault / "vault.yml")
    return copy


def _validate(inventory: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(ROOT / "playbooks" / "validate.yml"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def _recap(output: str) -> dict[str, dict[str, int]]:
    recap = {}
    for host, counts in re.findall(r"^(\S+)\s+: (ok=.*)$", output, re.MULTILINE):
        recap[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
    return recap


def _hosts(inventory: Path) -> set[str]:
    out = subprocess.run(
        ["ansible-inventory", "-i", str(inventory), "--list"],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
    ).stdout
    return set(yaml.safe_load(out)["_meta"]["hostvars"])


def _set(inventory: Path, group: str, name: str, key: str, value) -> None:
    path = inventory / "group_vars" / group / name
    data = yaml.safe_load(path.read_text())
    data[key] = value
    path.write_text(yaml.safe_dump(data))


def test_the_production_example_passes_every_roles_validation(inventory):
    result = _validate(inventory, "--tags", "validate")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    recap = _recap(output)
    assert set(recap) == _hosts(inventory) | {"localhost"}, recap
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in recap.values()), recap
    # Each role's argument_specs were applied where site.yml applies the role.
    for role in (
        "baseline",
        "antivirus",
        "samba_dc",
        "domain_member",
        "mail_gateway",
        "mailbox",
        "web_host",
        "backup_server",
        "backup_client",
        "log_collector",
    ):
        assert f"TASK [{role} : Validating arguments against arg spec 'main'" in output, role
    assert "TASK [antivirus : Validating arguments against arg spec 'windows'" in output


def test_mistakes_fail_on_the_host_that_carries_them_and_name_the_variable(inventory):
    _set(inventory, "all", "samba.yml", "samba_dc_realm", "univ.example.kz")
    _set(inventory, "web_hosts", "backup.yml", "backup_client_rpo_hours", "daily")
    _set(inventory, "mail_gateways", "mail_gateway.yml", "mail_gateway_mailbox_nexthop", "")
    result = _validate(inventory, "--tags", "validate")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    recap = _recap(output)
    failed = {host for host, r in recap.items() if r["failed"]}
    # The realm is shared: both DCs and the members (which join that realm) refuse it.
    assert failed == {
        "dc1.univ.example.kz",
        "dc2.univ.example.kz",
        "adm-ws01.univ.example.kz",
        "www1.univ.example.kz",
        "mx1.univ.example.kz",
        "mail-store.univ.example.kz",
    }, recap
    assert "samba_dc_realm" in output
    assert "backup_client_rpo_hours" in output
    assert "mail_gateway_mailbox_nexthop" in output
    # Hosts without a mistake were validated to the end.
    assert recap["siem1.univ.example.kz"]["failed"] == 0


def test_a_mail_store_quota_that_is_no_size_is_refused_before_any_change(inventory):
    _set(inventory, "mailboxes", "mailbox.yml", "mailbox_quota", "5 GB")
    result = _validate(inventory, "--tags", "validate")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    failed = {host for host, r in _recap(output).items() if r["failed"]}
    assert failed == {"mail-store.univ.example.kz"}, failed
    assert "mailbox_quota ('5 GB') a size such as 2G or 500M" in output


def test_without_the_validate_tag_nothing_runs(inventory):
    result = _validate(inventory)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "run it with --tags validate" in output
    assert "Validating arguments" not in output
