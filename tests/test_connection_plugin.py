"""How the playbooks reach a container, tried against a real container of the project's image.

The project runs under Mitogen (ansible.cfg: strategy mitogen_linear, whose own podman transport
then carries every task); connection_plugins/podman.py carries them under Ansible's own linear
strategy (ANSIBLE_STRATEGY=linear, the fallback the README names). Both are held to the same
playbook: a module runs as root through become, files are copied in and fetched out, and async
tasks work; under linear, the module also goes through one `podman exec -i` (pipelined). `./ereje test` builds
the image before the unit tests; without podman or the image (a laptop) the test is skipped.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from support import containers

ROOT = Path(__file__).resolve().parents[1]

PLAYBOOK = """
- name: Connection plugin | a module, become, a copy, a fetch, an async task
  hosts: all
  gather_facts: false
  become: true
  tasks:
    - name: A module that reads
      ansible.builtin.command: id -u
      register: who
      changed_when: false
    - name: A file copied in
      ansible.builtin.copy:
        dest: /tmp/ereje-connection-test
        content: "{{ marker }}\\n"
        mode: "0600"
    - name: The same file fetched out
      ansible.builtin.fetch:
        src: /tmp/ereje-connection-test
        dest: "{{ fetched }}"
        flat: true
    - name: An async task
      ansible.builtin.command: sleep 1
      async: 30
      poll: 1
      changed_when: false
    - name: Root in the container
      ansible.builtin.assert:
        that: who.stdout == "0"
    - name: The process that ran the module (Mitogen names its interpreter in its command line)
      ansible.builtin.command:
        argv: [sh, -c, 'tr "\\000" " " < /proc/$PPID/cmdline']
      register: runner
      changed_when: false
    - name: Show it
      ansible.builtin.debug:
        msg: "module ran in: {{ runner.stdout }}"
"""


@pytest.fixture(scope="module")
def container():
    with containers.throwaway("ereje-test-connection") as name:
        yield name


def _run(container, tmp_path, **env_overrides):
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(PLAYBOOK)
    marker = uuid.uuid4().hex
    env = os.environ | {"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"} | env_overrides
    result = subprocess.run(
        [
            "ansible-playbook",
            "-vvv",
            "-i",
            f"{container},",
            "-c",
            "podman",
            "-e",
            f"marker={marker}",
            "-e",
            f"fetched={tmp_path / 'fetched'}",
            str(playbook),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert (tmp_path / "fetched").read_text() == marker + "\n"
    return output


def test_the_project_strategy_runs_modules_copies_fetches_and_async_tasks(container, tmp_path):
    output = _run(container, tmp_path)
    # Mitogen's interpreter ran the module: the project's ansible.cfg is what chose it.
    assert "module ran in: /usr/bin/python3(mitogen:root@" in output, output[-2000:]


def test_tasks_run_pipelined_through_the_project_podman_connection(container, tmp_path):
    output = _run(container, tmp_path, ANSIBLE_STRATEGY="linear")
    assert "module ran in: /usr/bin/python3 " in output, output[-2000:]
    # Pipelined: the modules went in on the stdin of one `podman exec -i`, not as copied files. The
    # upstream containers.podman.podman never pipelines, so this also proves that `-c podman` found
    # the project's plugin.
    assert "Pipelining is enabled." in output
    assert "b'exec', b'-i'" in output
