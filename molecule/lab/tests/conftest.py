"""Fixtures of the lab scenario: the whole lab (inventories/lab), its secrets, and its audit.

The scenario creates the lab under its own prefix and secrets directory (molecule.yml), so the
playbooks the tests run get the same two extra variables.
"""

import json
from pathlib import Path

import pytest
import yaml

from support import molecule

ROOT = Path(__file__).resolve().parents[3]
INVENTORY = ROOT / "inventories" / "lab" / "hosts.yml"
PREFIX = "ereje-mol-lab"
DOMAIN = "ereje.test"
LAB_HOSTS = {"dc1", "dc2", "mail", "mailbox", "web", "backup", "ws1"}


def container(name: str) -> str:
    """The container of the lab host ``name`` (inventory name)."""
    return f"{PREFIX}-{name}"


def lab_host(name: str):
    return molecule.host(container(name))


def secret(relative: str) -> str:
    """A secret the lab generated on the controller (lab_secrets_dir), e.g. ``samba/aigerim.pw``."""
    return (molecule.ephemeral_dir() / "secrets" / relative).read_text().strip()


def lab_vars() -> list[str]:
    return ["-e", f"lab_prefix={PREFIX}", "-e", f"lab_secrets_dir={molecule.ephemeral_dir() / 'secrets'}"]


def run_lab_playbook(playbook: str, *args: str):
    """Run playbooks/<playbook> on the scenario's lab, as `./ereje` runs it on yours."""
    return molecule.run_playbook(ROOT / "playbooks" / playbook, *lab_vars(), *args, inventory=INVENTORY)


def run_audit(report_dir: Path, *args: str) -> tuple[dict, dict[str, dict[str, int]]]:
    """Run playbooks/audit.yml on the lab; return the JSON report and the PLAY RECAP per host."""
    report_var = f"ereje_audit_report_dir={report_dir}"
    result, recap = run_lab_playbook("audit.yml", "--check", "-e", report_var, *args)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    return json.loads((report_dir / "latest" / "report.json").read_text()), recap


def catalog_breaks() -> dict[str, dict[str, dict]]:
    """The breaks the control catalog names, by host: {host: {control: {do, evidence, also_fails}}}."""
    catalog = yaml.safe_load((ROOT / "controls" / "catalog.yml").read_text())
    breaks: dict[str, dict[str, dict]] = {}
    for control in catalog["controls"]:
        if "break" in control:
            breaks.setdefault(control["break"]["host"], {})[control["id"]] = control["break"]
    return breaks


def replica_breaks() -> dict[str, dict[str, dict]]:
    """The breaks another host sees as its own, by that host: {replica: {control: break}}.

    A change to the directory on dc1 reaches dc2 by replication within minutes; the break's
    `replica` pulls it there at once (its `do`), so that dc2's copy fails the same controls with the
    same evidence at a moment the audit can count on, instead of whenever Samba's own pull comes.
    """
    seen: dict[str, dict[str, dict]] = {}
    for changes in catalog_breaks().values():
        for control, change in changes.items():
            if "replica" in change:
                seen.setdefault(change["replica"]["host"], {})[control] = change
    return seen


def broken_controls() -> dict[str, set[str]]:
    """The controls the catalog's breaks make fail, by host: each broken control and the ones whose
    own checks read the same broken thing (`also_fails`), on the broken host and on a replica that
    pulled the change."""
    broken: dict[str, set[str]] = {}
    for by_host in (catalog_breaks(), replica_breaks()):
        for host, changes in by_host.items():
            for name, change in changes.items():
                broken.setdefault(host, set()).update((name, *change.get("also_fails", [])))
    return broken


@pytest.fixture(scope="session")
def audit_after_converge():
    """The audit of the freshly converged lab, with every break of the control catalog made by hand
    first (run once, shared by the tests that read it).

    One audit of every host serves two questions: every control that no break concerns holds
    (test_audit_after_converge_is_all_pass), and every broken one fails with its evidence
    (test_each_break_fails_its_control_with_evidence); an audit of the broken hosts alone would
    run half the lab's checks a second time (about two minutes of the scenario).
    """
    for host, changes in catalog_breaks().items():
        for control, change in changes.items():
            done = lab_host(host).run(change["do"])
            assert done.rc == 0, f"{host} {control}: the break {change['do']!r} failed: {done.stderr}"
    # Then the replicas pull what the breaks changed on the host they replicate from.
    for host, changes in replica_breaks().items():
        for control, change in changes.items():
            done = lab_host(host).run(change["replica"]["do"])
            assert done.rc == 0, f"{host} {control}: {change['replica']['do']!r} failed: {done.stderr}"
    return run_audit(molecule.ephemeral_dir() / "audit-converged")
