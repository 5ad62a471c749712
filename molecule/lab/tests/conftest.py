"""Fixtures and helpers of the lab scenario: the whole lab (inventories/lab), its secrets, and its audit.

The scenario creates the lab under its own prefix and secrets directory (molecule.yml), so the
playbooks the tests run get the same two extra variables.
"""

import functools
import json
import shlex
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
import yaml

from support import molecule, podman_exec

ROOT = Path(__file__).resolve().parents[3]
INVENTORY = ROOT / "inventories" / "lab" / "hosts.yml"
PREFIX = "ereje-mol-lab"
DOMAIN = "ereje.test"
LAB_HOSTS = {"dc1", "dc2", "mail", "mailbox", "web", "backup", "ws1"}
# Every Debian host but the backup server backs up (inventories/lab/group_vars/linux/backup.yml).
BACKUP_CLIENTS = LAB_HOSTS - {"backup"}
T = TypeVar("T")


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


def group_var(group: str, name: str):
    """A variable as the lab inventory's group_vars/<group>/ sets it (the YAML, not templated)."""
    for path in sorted((INVENTORY.parent / "group_vars" / group).glob("*.yml")):
        data = yaml.safe_load(path.read_text()) or {}
        if name in data:
            return data[name]
    raise KeyError(f"{name} is not set in group_vars/{group}")


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
    # Each host's breaks in the catalog's order, the hosts at the same time (a break touches only
    # its own host).
    on_each_host(catalog_breaks(), lambda change: change["do"])
    # Then the replicas pull what the breaks changed on the host they replicate from.
    on_each_host(replica_breaks(), lambda change: change["replica"]["do"])
    return run_audit(molecule.ephemeral_dir() / "audit-converged")


def at_once(*calls: Callable[[], T]) -> list[T]:
    """Run the calls at the same time, a thread each, and return their results in order once all
    have ended; a call's failure (an assertion of a test's step) is raised here."""
    with ThreadPoolExecutor(max_workers=max(len(calls), 1)) as pool:
        running = [pool.submit(call) for call in calls]
    return [call.result() for call in running]


def on_each_host(changes_by_host: dict[str, dict[str, dict]], command) -> None:
    """Run ``command(change)`` of every change on its host: one host's in order, the hosts at once."""

    def apply(host: str) -> None:
        for control, change in changes_by_host[host].items():
            done = lab_host(host).run(command(change))
            assert done.rc == 0, f"{host} {control}: {command(change)!r} failed: {done.stderr}"

    at_once(*(functools.partial(apply, host) for host in changes_by_host))


# ---- Mail as the workstation's users see it ---------------------------------------------------

# Runs on the workstation: submission to the gateway with STARTTLS and the staff login, as a
# mail client would. Arguments come in the environment (HEADERS: extra header fields as JSON);
# prints the SMTP refusals as JSON, or {"refused": ...} when every recipient was refused.
SUBMIT = r"""
import json, os, smtplib, ssl
from email.message import EmailMessage
m = EmailMessage()
m["From"], m["To"], m["Subject"] = os.environ["FROM"], os.environ["TO"], os.environ["SUBJECT"]
m["Message-ID"] = "<%s@ws1.ereje.test>" % os.environ["SUBJECT"]
for name, value in json.loads(os.environ.get("HEADERS") or "{}").items():
    m[name] = value
m.set_content("Lab scenario message " + os.environ["SUBJECT"])
if os.environ.get("ATTACH"):
    m.add_attachment(bytes.fromhex(os.environ["ATTACH_HEX"]), maintype="application",
                     subtype="octet-stream", filename=os.environ["ATTACH"])
ctx = ssl.create_default_context()
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # the lab's self-signed certificate
with smtplib.SMTP(os.environ["GATEWAY"], 587, timeout=60) as s:
    s.starttls(context=ctx)
    s.login(os.environ["LOGIN"], os.environ["PASSWORD"])
    try:
        print(json.dumps(s.send_message(m)))
    except smtplib.SMTPRecipientsRefused as refused:
        print(json.dumps({"refused": {k: [v[0], v[1].decode()] for k, v in refused.recipients.items()}}))
"""

# A Windows executable's first bytes (the DOS header and its "MZ" magic).
DOS_HEADER = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
PE_STUB = (DOS_HEADER + bytes(44) + b"\x80\x00\x00\x00").hex()


def on_workstation(script: str, env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess:
    """Run a Python ``script`` on the workstation (ws1) with ``env``, as its user's program would."""
    done = podman_exec.run(
        container("ws1"), ["python3", "-"], input=script.encode(), env=env, timeout=timeout
    )
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def submit_from_workstation(
    subject: str,
    attachment: str | None = None,
    login: str = "aigerim",
    to: str = f"yerlan@{DOMAIN}",
    headers: dict[str, str] | None = None,
) -> dict:
    """Submit a message from the workstation as ``login`` (the staff's submission password);
    returns the refusals ({} when every recipient was accepted)."""
    result = on_workstation(
        SUBMIT,
        {
            # By name: the workstation finds the gateway in the domain's DNS, as a mail client would.
            "GATEWAY": f"mail.{DOMAIN}",
            "LOGIN": login,
            "PASSWORD": secret(f"mail/{login}.pw"),
            "FROM": f"{login}@{DOMAIN}",
            "TO": to,
            "SUBJECT": subject,
            "HEADERS": json.dumps(headers or {}),
            "ATTACH": attachment or "",
            "ATTACH_HEX": PE_STUB,
        },
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def stored_for(address: str) -> str:
    """The shell command that lists the message files stored for ``address`` on the mailbox host
    (its Delivered-To:, in the user's own mailbox or a domain Maildir)."""
    domain = address.split("@")[1]
    return f"grep -rlsx -F {shlex.quote('Delivered-To: ' + address)} /var/mail/vhosts/{domain}"


def stored_mentioning(address: str, text: str) -> list[str]:
    """The message files stored for ``address`` that mention ``text``."""
    return (
        lab_host("mailbox")
        .run(f"{stored_for(address)} | xargs -r grep -ls -F {shlex.quote(text)}")
        .stdout.split()
    )


def delivered(address: str, text: str, itself: bool = False) -> bool:
    """A message mentioning ``text`` is stored for the address on the mailbox host; with ``itself``,
    the message whose own Message-ID is <text@ws1...> (not a notice quoting it)."""
    files = stored_for(address)
    if itself:
        # The first paragraph of a message file is its own header.
        command = (
            f'for f in $({files}); do awk \'BEGIN{{RS=""}} NR==1{{print; exit}}\' "$f"; done '
            f"| grep -i -F {shlex.quote(f'Message-ID: <{text}@ws1.{DOMAIN}>')}"
        )
        return bool(lab_host("mailbox").run(command).stdout.strip())
    return bool(stored_mentioning(address, text))
