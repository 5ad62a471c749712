#!/usr/bin/python3
"""Ansible module: the TCP ports of a host that another host finds open, against what it declares."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ereje_exposure_scan
short_description: Scan a host's TCP ports from here (nmap) and judge them against its declared ports
description:
  - Runs on the scanning host (C(delegate_to)), never on the host it scans - a host's own firewall
    does not filter what it sends to itself. Scans the target's TCP ports O(ports) and every declared
    TCP port with C(nmap -sT) (a full connection, what any client on this network could open).
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
    description: The TCP ports scanned besides the declared ones, in nmap's syntax.
    type: str
    default: 1-10000
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
  description: The port specification nmap scanned.
  returned: always
  type: str
msg:
  description: The problems, or the evidence (what was found open and what was scanned).
  returned: always
  type: str
  sample: >-
    from backup to 10.89.0.4: open 22/tcp (baseline ssh), 25/tcp (mail_gateway smtp); scanned TCP 1-10000
"""

import platform
import xml.etree.ElementTree as ET

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.status import FAIL_ON_PROBLEM, exit_status


def port_spec(ports: str, declared: list[dict]) -> str:
    """nmap's -p argument: the range asked for and every declared TCP port outside it."""
    extra = sorted({int(d["port"]) for d in declared if d.get("proto", "tcp") == "tcp"})
    return ",".join([ports, *map(str, extra)]) if extra else ports


def parse_nmap(xml_text: str) -> tuple[bool, list[dict]]:
    """Whether nmap reached the host, and its open TCP ports (nmap -oX output)."""
    root = ET.fromstring(xml_text)
    host = root.find("host")
    if host is None:
        return False, []
    status = host.find("status")
    reached = status is None or status.get("state") == "up"
    found = []
    for port in host.iter("port"):
        state = port.find("state")
        if port.get("protocol") == "tcp" and state is not None and state.get("state") == "open":
            service = port.find("service")
            found.append(
                {
                    "port": int(port.get("portid")),
                    "service": service.get("name") if service is not None else "",
                }
            )
    return reached, sorted(found, key=lambda p: p["port"])


def judge(
    open_ports: list[dict], declared: list[dict], target: str, scanner: str
) -> tuple[list[str], list[dict]]:
    """Problems (open and undeclared) and the open ports with who declared each."""
    owners = {}
    for entry in declared:
        if entry.get("proto", "tcp") == "tcp":
            owners.setdefault(int(entry["port"]), f"{entry.get('service', '?')} {entry.get('name', '?')}")
    problems, judged = [], []
    for port in open_ports:
        owner = owners.get(port["port"])
        judged.append({**port, "declared_by": owner})
        if owner is None:
            guess = f" (nmap: {port['service']})" if port["service"] else ""
            problems.append(
                f"{port['port']}/tcp of {target} is open to {scanner}{guess} but no role declares it: "
                "close it, or declare it (a role's firewall_open, or baseline_firewall_allow)"
            )
    return problems, judged


def evidence(judged: list[dict], target: str, scanner: str, scanned: str) -> str:
    ports = ", ".join(f"{p['port']}/tcp ({p['declared_by']})" for p in judged) or "none"
    return f"from {scanner} to {target}: open {ports}; scanned TCP {scanned}"


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "target": {"type": "str", "required": True},
            "declared": {"type": "list", "elements": "dict", "default": []},
            "ports": {"type": "str", "default": "1-10000"},
            "min_rate": {"type": "int", "default": 5000},
            **FAIL_ON_PROBLEM,
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        scanned = port_spec(p["ports"], p["declared"])
    except (KeyError, TypeError, ValueError) as exc:
        module.fail_json(msg=f"declared ports must each have a numeric port: {exc}")
    scanner = platform.node()
    nmap = module.get_bin_path("nmap")
    if not nmap:
        exit_status(
            module,
            [f"nmap is missing on {scanner}: the exposure of {p['target']} cannot be known"],
            fail=p["fail_on_problem"],
            open=[],
            scanned=scanned,
        )
    # -Pn: a host that drops pings is still scanned; -n: no DNS; --max-retries 2 so that a port
    # dropped by the firewall is not waited on for long, while a lost answer is asked again. nmap
    # reads the firewall's silent drops as congestion and slows down; --min-rate keeps a scan of
    # a default-deny host to seconds.
    argv = [nmap, "-Pn", "-n", "-sT", "-T4", "--max-retries", "2", "--min-rate", str(p["min_rate"])]
    argv += ["-p", scanned, "-oX", "-", p["target"]]
    rc, out, err = module.run_command(argv, environ_update={"LC_ALL": "C"})
    if rc != 0:
        module.fail_json(msg=f"nmap failed (rc {rc}): {(err or out).strip()[-2000:]}", cmd=argv)
    try:
        reached, open_ports = parse_nmap(out)
    except ET.ParseError as exc:
        module.fail_json(msg=f"nmap's report cannot be read: {exc}")
    if not reached:
        exit_status(
            module,
            [f"{p['target']} did not answer {scanner}: its exposure cannot be known"],
            fail=p["fail_on_problem"],
            open=[],
            scanned=scanned,
        )
    problems, judged = judge(open_ports, p["declared"], p["target"], scanner)
    if not judged:
        # With -Pn nmap calls every host up; a scan that found nothing open saw nothing at all (the
        # host is down, or its firewall drops the scanner), which proves nothing either way.
        problems.append(
            f"no TCP port of {p['target']} answered {scanner}: the scan saw nothing, so it proves nothing "
            "(allow the scanner at least SSH through the host's firewall)"
        )
    exit_status(
        module,
        problems,
        evidence(judged, p["target"], scanner, scanned),
        fail=p["fail_on_problem"],
        open=judged,
        scanned=scanned,
    )


if __name__ == "__main__":
    main()
