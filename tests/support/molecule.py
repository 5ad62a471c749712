"""What every Molecule scenario's tests need: hosts, addresses, waiting, and the drift check.

The tests talk to the containers with ``podman exec`` (Testinfra's podman backend, through the
long-lived sessions of support/podman_exec.py) and, where a test must cross the network like a
user would (SSH, SMTP, HTTPS), from the controller to the container's address on the scenario's
podman network.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import testinfra

from support import podman_exec

podman_exec.use_sessions_in_testinfra()

RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


def scenario_dir() -> Path:
    return Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])


def ephemeral_dir() -> Path:
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])


def host(name: str):
    """A Testinfra host for the container ``name`` (commands run through podman exec)."""
    return testinfra.get_host(f"podman://{name}")


def address(name: str) -> str:
    """The container's address on its (first) podman network."""
    out = subprocess.run(["podman", "inspect", name], check=True, capture_output=True, text=True).stdout
    networks = json.loads(out)[0]["NetworkSettings"]["Networks"]
    return next(iter(networks.values()))["IPAddress"]


def wait_for(probe: Callable[[], bool], timeout: float = 60, interval: float = 1) -> bool:
    """Poll ``probe`` until it is true or ``timeout`` seconds pass; return its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if probe():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def project_dir() -> Path:
    return Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])


def run_playbook(
    playbook: str | Path, *args: str, inventory: str | Path | None = None
) -> tuple[subprocess.CompletedProcess, dict[str, dict[str, int]]]:
    """Run a playbook with Molecule's environment (ANSIBLE_CONFIG, roles and plugin paths).

    ``playbook`` is relative to the scenario directory (or absolute); ``inventory`` defaults to
    the one Molecule generated. Returns the finished process and the PLAY RECAP per host.
    """
    result = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(inventory or os.environ["MOLECULE_INVENTORY_FILE"]),
            str(scenario_dir() / playbook),
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        # Molecule forces colour; the recap is parsed, so no escape codes.
        env=os.environ | {"ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"},
    )
    return result, parse_recap(result.stdout)


def parse_recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP of an Ansible run's output (without colour codes), per host."""
    return {
        m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
        for m in RECAP.finditer(output)
    }


def assert_no_drift(playbook: str = "converge.yml", inventory: str | Path | None = None) -> None:
    """A --check --diff run right after converge must find nothing to change."""
    result, recap = run_playbook(playbook, "--check", "--diff", inventory=inventory)
    assert result.returncode == 0, f"--check run failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert recap, f"no PLAY RECAP in the --check output:\n{result.stdout[-3000:]}"
    drifted = {h: r["changed"] for h, r in recap.items() if r["changed"]}
    assert not drifted, f"--check reports drift {drifted}:\n{result.stdout[-8000:]}"


def journal_lines(host, identifier: str, command: str) -> list[str]:
    """Run ``command`` on ``host`` (a Testinfra host) and return the lines written to its journal
    under ``identifier`` (a program's SyslogIdentifier) meanwhile. From a microsecond timestamp: a
    second's granularity took the previous run's last lines when two runs came within one second."""
    since = host.check_output("date '+%Y-%m-%d %H:%M:%S.%6N'")
    host.run_test(command)
    return host.check_output(f"journalctl -t {identifier} --since '{since}' -o cat --no-pager").splitlines()


def scheduled(host, unit: str) -> list[str]:
    """Start a scheduled check's service now, as its timer would, and return what it wrote this time.
    The service writes under its unit's name; systemd's own lines about it are not included. A
    check's finding is no failure: the unit must not have failed."""
    found = journal_lines(host, unit, f"systemctl start {unit}.service")
    assert host.run(f"systemctl is-failed {unit}.service").stdout.strip() != "failed"
    return found
