"""Fixtures of the antivirus scenario: a server (no on-access) and a workstation (on-access)."""

import hashlib
import json
import os
import subprocess
import uuid

import pytest

from support import molecule

SERVER = "ereje-mol-antivirus-server"
WORKSTATION = "ereje-mol-antivirus-ws"
QUARANTINE = "/var/lib/ereje-antivirus/quarantine"
TEST_DATABASE = "/var/lib/clamav/ereje-test.hdb"


@pytest.fixture(scope="session")
def server():
    return molecule.host(SERVER)


@pytest.fixture(scope="session")
def workstation():
    return molecule.host(WORKSTATION)


def clamdscan(host, path: str):
    """Scan ``path`` through the running clamd (never clamscan: the daemon must do it)."""
    return host.run(f"clamdscan --fdpass --no-summary {path}")


def clamd_answers(host) -> bool:
    return host.run("clamdscan --ping 1").rc == 0


@pytest.fixture(scope="session")
def test_signature():
    """A signature of our own, installed by the test into both hosts' clamd, then removed.

    Returns (content, signature name): a file with that content is "malware" for clamd.
    """
    content = f"ereje antivirus test sample {uuid.uuid4()}\n"
    name = f"Ereje.Test.Planted-{uuid.uuid4().hex[:8]}"
    digest = hashlib.md5(content.encode(), usedforsecurity=False).hexdigest()
    line = f"{digest}:{len(content.encode())}:{name}"
    hosts = [molecule.host(SERVER), molecule.host(WORKSTATION)]
    probe = "/var/local/ereje-signature-probe"
    for host in hosts:
        host.run_test(f"printf '%s\\n' '{line}' > {TEST_DATABASE} && chown clamav:clamav {TEST_DATABASE}")
        host.run_test(f"printf '%s' '{content}' > {probe}")
        host.run_test("clamdscan --reload")
        assert molecule.wait_for(lambda h=host: name in clamdscan(h, probe).stdout, timeout=120), (
            f"clamd did not load the test signature: {clamdscan(host, probe).stdout}"
        )
        host.run(f"rm -f {probe}")
    yield content, name
    for host in hosts:
        host.run(f"rm -f {TEST_DATABASE} && clamdscan --reload")


def plant(host, path: str, content: str) -> None:
    host.run_test(f"mkdir -p $(dirname {path}) && printf '%s' '{content}' > {path}")


def status(host_name: str, **args) -> tuple[bool, dict]:
    """Run the ereje_antivirus_status module on one host, as the audit does (ad-hoc Ansible)."""
    arguments = " ".join(f"{k}={v}" for k, v in args.items())
    result = subprocess.run(
        [
            "ansible",
            host_name,
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            "-m",
            "ereje.compliance.ereje_antivirus_status",
        ]
        + (["-a", arguments] if arguments else []),
        capture_output=True,
        text=True,
        check=False,
        env=os.environ
        | {
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
        },
    )
    try:
        # The JSON document, whatever other callbacks print around it.
        output, _ = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index("{") :])
        answer = output["plays"][0]["tasks"][0]["hosts"][host_name]
    except (ValueError, KeyError, IndexError) as error:
        raise AssertionError(
            f"no module result ({error}):\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
        ) from error
    return result.returncode == 0 and not answer.get("failed"), answer
