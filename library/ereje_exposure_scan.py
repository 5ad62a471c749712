#!/usr/bin/python3
"""Ansible module: the TCP ports of a host that another host finds open, against what it declares."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ereje_exposure_scan
short_description: Scan a host's TCP ports from here (nmap) and judge them against its declared ports
description:
  - Runs on the scanning host (C(delegate_to)), never on the host it scans - a host's own firewall
    does not filter what it sends to itself. Scans the target's TCP ports O(ports), nmap's
    O(top_ports) most common TCP ports and every declared TCP port with C(nmap -sT) (a full
    connection, what any client on this network could open).
  - Fails when a port is open that no role declared (ATU-8.5-a), naming the port and what nmap
    guesses is behind it, unless O(fail_on_problem=false). A declared port that is closed is the
    health check's finding (ATU-8.4-d), not this one's.
  - A scan that finds no port open at all is a problem too - the host is down or drops the scanner,
    and nothing was seen.
  - UDP is not scanned (without an answer from the service, an open UDP port cannot be told from a
    filtered one).
  - Read-only, so check mode returns the same answer.
version_added: "0.1.0"
author: Ereje
options:
  target:
    description: Address of the host to scan, as the scanning host reaches it.
    type: str
    required: true
  declared:
    description:
      - The ports the target declares, each C(port), C(proto) (tcp or udp), C(service) and C(name)
        (the health check's C(ports) result, and the firewall rules an inventory adds).
    type: list
    elements: dict
    default: []
  ports:
    description:
      - The TCP ports always scanned, besides the declared ones and O(top_ports), in nmap's syntax
        (numbers and ranges, e.g. C(1-1024) or C(1-65535)).
    type: str
    default: 1-1024
  top_ports:
    description:
      - How many of the TCP ports most often found open, by the frequencies in nmap's own
        C(nmap-services) file on the scanning host, are scanned besides O(ports) (the usual
        alternative ports of web servers, databases and remote desktops, such as 8080, 8081, 3306,
        5432 and 3389). 0 scans O(ports) and the declared ports only.
      - Each scanned port costs time on the scanner, mostly for ports the firewall drops - 1-1024
        and the 1000 most common ports (about 1,900 ports) of six hosts at once took a few seconds on
        the lab, where 1-10000 took 26 s.
    type: int
    default: 1000
  min_rate:
    description:
      - Probes per second nmap keeps to at least (its C(--min-rate)). 10,000 ports of a default-deny host
        took 10 s at 2000 and 4 s at 5000 on the lab's network, with the same open ports found.
    type: int
    default: 5000
  fail_on_problem:
    description: Fail the task when a problem is found (the audit); false only reports.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Exposure | what a scan from the collector finds open, against what this host declares
  ereje.compliance.ereje_exposure_scan:
    target: "{{ ansible_facts.default_ipv4.address }}"
    declared: "{{ declared_ports.ports }}"
  delegate_to: siem1.univ.example.kz

- name: Exposure | every TCP port, where the scanner has the time
  ereje.compliance.ereje_exposure_scan:
    target: 192.0.2.10
    ports: 1-65535
    top_ports: 0
  delegate_to: siem1.univ.example.kz
"""

RETURN = r"""
ok:
  description: No undeclared port was found open.
  returned: always
  type: bool
problems:
  description: One sentence per open port nobody declared.
  returned: always
  type: list
open:
  description: The open TCP ports, each C(port), C(service) (nmap's guess) and C(declared_by).
  returned: always
  type: list
  sample:
    - {port: 22, service: ssh, declared_by: baseline ssh}
    - {port: 8081, service: blackice-icecap, declared_by: null}
scanned:
  description: The ports nmap scanned, in its -p syntax (neighbouring ports joined into ranges).
  returned: always
  type: str
msg:
  description: The problems, or the evidence (what was found open and what was scanned).
  returned: always
  type: str
  sample: >-
    from backup to 10.89.0.4: open 22/tcp (baseline ssh), 25/tcp (mail_gateway smtp); scanned 1,862 TCP
    ports (1-1024, nmap's 1000 most common, the declared ones)
"""

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.exposure import (
    NMAP_SERVICES,
    ScanError,
    scan,
    top_tcp_ports,
)
from ansible_collections.ereje.compliance.plugins.module_utils.status import FAIL_ON_PROBLEM, exit_status


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "target": {"type": "str", "required": True},
            "declared": {"type": "list", "elements": "dict", "default": []},
            "ports": {"type": "str", "default": "1-1024"},
            "top_ports": {"type": "int", "default": 1000},
            "min_rate": {"type": "int", "default": 5000},
            **FAIL_ON_PROBLEM,
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["top_ports"] < 0:
        module.fail_json(msg=f"top_ports is a number of ports, 0 or more, not {p['top_ports']}")
    scanner = platform.node()
    nmap = module.get_bin_path("nmap")
    if not nmap:
        # Nothing was seen: the exposure cannot be known, which is a problem, never a pass.
        problem = f"nmap is missing on {scanner}: the exposure of {p['target']} cannot be known"
        exit_status(module, [problem], fail=p["fail_on_problem"], open=[], scanned="")
    top = []
    if p["top_ports"]:
        try:
            with open(NMAP_SERVICES, encoding="utf-8", errors="replace") as services:
                top = top_tcp_ports(services.read(), p["top_ports"])
        except (OSError, ValueError) as exc:
            module.fail_json(
                msg=f"nmap's table of common ports cannot be read on {scanner} ({exc}): set top_ports to 0"
            )
    try:
        found = scan(
            lambda argv: module.run_command(argv, environ_update={"LC_ALL": "C"}),
            nmap,
            scanner,
            target=p["target"],
            declared=p["declared"],
            ports=p["ports"],
            top=top,
            min_rate=p["min_rate"],
        )
    except (ValueError, ScanError) as exc:
        module.fail_json(msg=str(exc))
    exit_status(
        module,
        found["problems"],
        found["evidence"],
        fail=p["fail_on_problem"],
        open=found["open"],
        scanned=found["scanned"],
    )


if __name__ == "__main__":
    main()
