"""Security updates the node misses are found by the check and installed by the converge.

ATU-5.17-a asks for current security updates, ATU-5.23-b for an audit that lists what is missing.
The node is made to miss one for real: tzdata goes back to the main archive's version (below the
security archive's), and unattended-upgrade's log says it last ran a week ago.
"""

from __future__ import annotations

from conftest import NODE
from support import molecule
from support.alerts import ALERTS, alerts


def flat(text: str) -> str:
    """The output with Ansible's line wrapping undone."""
    return " ".join(text.split())


def test_a_missed_security_update_fails_the_check_and_the_converge_installs_it(node, collector):
    """ATU-5.17-a, ATU-5.23-b: the daily check (started now) writes a FINDING naming tzdata and
    the collector alerts on it (ATU-5.18-c); the check-mode run fails naming tzdata; the converge
    installs it, and the daily check then finds nothing overdue."""
    rows = [line.split("|") for line in node.check_output("apt-cache madison tzdata").splitlines()]
    security = next(version.strip() for _, version, source in rows if "security" in source)
    older = next(version.strip() for _, version, source in rows if "security" not in source)
    node.check_output(f"DEBIAN_FRONTEND=noninteractive apt-get install -yq --allow-downgrades tzdata={older}")
    node.check_output(
        "mkdir -p /var/log/unattended-upgrades && "
        "echo \"$(date -d '7 days ago' '+%F %T'),000 INFO All upgrades installed\" "
        ">> /var/log/unattended-upgrades/unattended-upgrades.log"
    )
    assert node.package("tzdata").version == older

    (finding,) = molecule.scheduled(node, "ereje-updates-check")
    assert finding.startswith(
        "FINDING 1 security update(s) pending (tzdata) and unattended-upgrade last ran "
    ), finding
    assert molecule.wait_for(lambda: alerts(collector, "updates-overdue", "(tzdata)", NODE), timeout=60), (
        collector.run(f"tail -3 {ALERTS}").stdout
    )

    missed, recap = molecule.run_playbook("converge.yml", "--check", "--limit", NODE, "--tags", "ATU-5.23-b")
    assert recap[NODE]["failed"] == 1, missed.stdout[-3000:]
    # Ansible 2.19 prints a failed task's result on stderr.
    said = flat(missed.stdout + missed.stderr)
    assert "1 security update(s) pending (tzdata) and unattended-upgrade last ran" in said, said[-3000:]

    repaired, recap = molecule.run_playbook("converge.yml", "--limit", NODE, "--tags", "ATU-5.17-a")
    assert recap[NODE]["failed"] == 0, repaired.stdout[-3000:]
    assert node.package("tzdata").version == security

    checked, recap = molecule.run_playbook("converge.yml", "--check", "--limit", NODE, "--tags", "ATU-5.23-b")
    assert recap[NODE]["failed"] == 0, checked.stdout[-3000:]
    assert recap[NODE]["changed"] == 0, checked.stdout[-3000:]
    (current,) = molecule.scheduled(node, "ereje-updates-check")
    assert current.startswith("OK ") and " security update(s) pending" in current, current


def test_a_package_past_its_end_of_support_fails_the_check_until_it_is_accepted(node):
    """ATU-5.23-b: software still supported. mimetex is in Debian 12, but Debian's security team
    ended its support (debian-security-support's list): installed from the mirror, it fails the
    check-mode run with the package, the date and Debian's reason; accepted in the inventory
    (baseline_updates_unsupported_accepted), the same run passes and names it as accepted.
    """
    node.check_output("DEBIAN_FRONTEND=noninteractive apt-get install -yq --no-install-recommends mimetex")
    try:
        check = ("converge.yml", "--check", "--limit", NODE, "--tags", "ATU-5.23-b")
        found, recap = molecule.run_playbook(*check)
        said = flat(found.stdout + found.stderr)
        assert recap[NODE]["failed"] == 1, said[-3000:]
        assert "security support ended on " in said, said[-3000:]
        assert " for mimetex (source mimetex): " in said, said[-3000:]

        waiver = '{"baseline_updates_unsupported_accepted": ["mimetex"]}'
        accepted, recap = molecule.run_playbook(*check, "-v", "-e", waiver)
        said = flat(accepted.stdout + accepted.stderr)
        assert recap[NODE]["failed"] == 0, said[-3000:]
        assert "past its end of security support (accepted: mimetex)" in said, said[-3000:]
    finally:
        node.check_output("DEBIAN_FRONTEND=noninteractive apt-get purge -yq mimetex")
