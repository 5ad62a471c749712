"""Fixtures of the audit scenario: two hosts converged with site.yml, and the audit of them."""

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))

from support import molecule

ROOT = Path(__file__).resolve().parents[3]
NODE = "ereje-mol-audit-node"
COLLECTOR = "ereje-mol-audit-collector"


def inventory() -> str:
    return os.environ["MOLECULE_INVENTORY_FILE"]


def run_audit(report_dir: Path, *args: str) -> tuple[dict, str]:
    """Run playbooks/audit.yml on the scenario's hosts; return the JSON report and the output."""
    result, _ = molecule.run_playbook(
        ROOT / "playbooks" / "audit.yml", "--check", "-e", f"ereje_audit_report_dir={report_dir}", *args
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return json.loads((report_dir / "latest" / "report.json").read_text()), output


@pytest.fixture(scope="session")
def audit_after_converge():
    """The audit of the freshly converged hosts (run once, shared by the tests that read it)."""
    return run_audit(molecule.ephemeral_dir() / "audit-converged")
