#!/usr/bin/python3
"""Ansible module: the health of a Linux host as the audit reads it (ATU-8.4-d)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ereje_host_health
short_description: Report (and judge) failed services, full disks and declared ports nobody answers on
description:
  - Reads, without changing anything, the systemd units in the C(failed) state, the use of every
    writable local filesystem (space and inodes), and the ports that the host's roles declared when
    they opened them in the firewall (one JSON file per service in O(ports_dir), written by the
    baseline role's C(firewall_open) entry point).
  - A declared TCP port must have a listening socket that accepts a connection; a declared UDP port
    must have a bound socket (UDP has no handshake to test without speaking the service's protocol).
  - Fails when a unit has failed (unless it matches O(ignore_units)), when a filesystem is used above
    O(max_disk_percent) or its inodes above O(max_inode_percent), or when a declared port does not
    answer, unless O(fail_on_problem=false). Each problem is one sentence naming what is wrong.
  - Filesystem use is computed as df(1) does it (used / (used + available to users)). Pseudo and
    read-only filesystems, mounts under /proc, /sys and /dev, and files mounted over files (a
    container's /etc/hosts) are not disks and are skipped.
  - Read-only, so check mode returns the same answer.
version_added: "0.1.0"
author: Ereje
options:
  ports_dir:
    description: Directory of the declared ports, one C(<service>.json) per service.
    type: path
    default: /etc/ereje/ports.d
  max_disk_percent:
    description: A filesystem used above this percentage is a problem (1-100).
    type: int
    default: 90
  max_inode_percent:
    description: A filesystem whose inodes are used above this percentage is a problem (1-100).
    type: int
    default: 90
  ignore_units:
    description:
      - Failed units that are accepted, as shell patterns (C(fnmatch)) on the unit's full name,
        e.g. C(ereje-test-*.service). Use for a unit whose failure is known and tracked elsewhere.
    type: list
    elements: str
    default: []
  connect_timeout:
    description: Seconds to wait for a TCP connection to a declared port.
    type: float
    default: 3
  fail_on_problem:
    description: Fail the task when a problem is found (the audit); false only reports.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Audit | no failed service, no full disk, every declared port answers
  ereje.compliance.ereje_host_health:
    max_disk_percent: 85
    ignore_units: [apt-daily.service]

- name: Report only
  ereje.compliance.ereje_host_health:
    fail_on_problem: false
  register: health
"""

RETURN = r"""
ok:
  description: No problem was found.
  type: bool
  returned: always
problems:
  description: What is wrong, one sentence each, in words a sysadmin understands.
  type: list
  elements: str
  returned: always
msg:
  description: The problems, or when there is none what was checked (the audit's evidence).
  type: str
  returned: always
failed_units:
  description: Units in the failed state, with C(ignored) true for those matching O(ignore_units).
  type: list
  elements: dict
  returned: always
filesystems:
  description:
    - C(mount), C(fstype), C(use_percent) and C(inode_use_percent) (null when the filesystem keeps
      no inode count).
  type: list
  elements: dict
  returned: always
ports:
  description:
    - One entry per declared port, C(service), C(name), C(port), C(proto), C(listening) (the
      addresses bound) and C(answers) (TCP connection accepted; null for UDP).
  type: list
  elements: dict
  returned: always
on_demand:
  description:
    - Declared ports opened on demand (C(probe) false, such as Samba's dynamic RPC range), each
      C(service), C(name), C(port), C(proto) and C(probe) false; never probed.
  type: list
  elements: dict
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.health import evaluate, read_status, summary
from ansible_collections.ereje.compliance.plugins.module_utils.status import FAIL_ON_PROBLEM, exit_status


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "ports_dir": {"type": "path", "default": "/etc/ereje/ports.d"},
            "max_disk_percent": {"type": "int", "default": 90},
            "max_inode_percent": {"type": "int", "default": 90},
            "ignore_units": {"type": "list", "elements": "str", "default": []},
            "connect_timeout": {"type": "float", "default": 3},
            **FAIL_ON_PROBLEM,
        },
        supports_check_mode=True,
    )
    params = module.params
    for name in ("max_disk_percent", "max_inode_percent"):
        if not 1 <= params[name] <= 100:
            module.fail_json(msg=f"{name} must be a percentage from 1 to 100, not {params[name]}")
    if params["connect_timeout"] <= 0:
        module.fail_json(
            msg=f"connect_timeout must be a number of seconds above 0, not {params['connect_timeout']}"
        )

    try:
        status = read_status(module.run_command, params)
    except RuntimeError as error:
        module.fail_json(msg=str(error))
    exit_status(
        module,
        evaluate(status, params),
        summary(status),
        fail=params["fail_on_problem"],
        failed_units=status["failed_units"],
        filesystems=status["filesystems"],
        ports=status["ports"],
        on_demand=status["on_demand"],
    )


if __name__ == "__main__":
    main()
