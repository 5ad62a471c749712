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
import re
import xml.etree.ElementTree as ET

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.status import FAIL_ON_PROBLEM, exit_status

# nmap's table of known ports, with how often each was found open on the Internet.
NMAP_SERVICES = "/usr/share/nmap/nmap-services"


def top_tcp_ports(services: str, count: int) -> list[int]:
    """The ``count`` TCP ports of an nmap-services text most often found open (nmap's --top-ports,
    which cannot be combined with a list of ports of one's own)."""
    ranked = []
    for line in services.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 3 or not fields[1].endswith("/tcp"):
            continue
        ranked.append((-float(fields[2]), int(fields[1].split("/")[0])))
    return [port for _, port in sorted(ranked)[:count]]


def covered(ports: str) -> set[int] | None:
    """The port numbers an nmap spec of numbers and ranges names (None: other syntax, unknown)."""
    found: set[int] = set()
    for item in ports.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", item)
        if not match:
            return None
        first = int(match[1])
        found.update(range(first, int(match[2] or first) + 1))
    return found


def port_spec(ports: str, declared: list[dict], top: list[int] = ()) -> tuple[str, int | None]:
    """nmap's -p argument (the ports asked for, then every declared TCP port and every one of
    ``top`` outside them) and how many ports that is (None when ``ports`` is not plain numbers)."""
    asked = covered(ports)
    wanted = {int(d["port"]) for d in declared if d.get("proto", "tcp") == "tcp"} | set(top)
    if asked is None:
        extra = ranges(sorted(wanted))
        return (f"{ports},{extra}" if extra else ports), None
    return ranges(sorted(asked | wanted)), len(asked | wanted)


def ranges(ports: list[int]) -> str:
    """Sorted port numbers as nmap's -p list, neighbours joined: [1, 2, 3, 8080] -> "1-3,8080"."""
    runs: list[list[int]] = []
    for port in ports:
        if runs and port == runs[-1][1] + 1:
            runs[-1][1] = port
        else:
            runs.append([port, port])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


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


def scope(ports: str, top: int, count: int | None) -> str:
    """What was scanned, in words: "1,862 TCP ports (1-1024, nmap's 1000 most common, the declared ones)"."""
    parts = [ports] + ([f"nmap's {top} most common"] if top else []) + ["the declared ones"]
    return f"{count:,} TCP ports ({', '.join(parts)})" if count is not None else f"TCP {', '.join(parts)}"


def evidence(judged: list[dict], target: str, scanner: str, scanned: str) -> str:
    ports = ", ".join(f"{p['port']}/tcp ({p['declared_by']})" for p in judged) or "none"
    return f"from {scanner} to {target}: open {ports}; scanned {scanned}"


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
    top = []
    if nmap and p["top_ports"]:
        try:
            with open(NMAP_SERVICES, encoding="utf-8", errors="replace") as services:
                top = top_tcp_ports(services.read(), p["top_ports"])
        except (OSError, ValueError) as exc:
            module.fail_json(
                msg=f"nmap's table of common ports cannot be read on {scanner} ({exc}): set top_ports to 0"
            )
    try:
        scanned, count = port_spec(p["ports"], p["declared"], top)
    except (KeyError, TypeError, ValueError) as exc:
        module.fail_json(msg=f"declared ports must each have a numeric port: {exc}")

    def unknown(problem: str) -> None:
        """Nothing was seen: the exposure cannot be known, which is a problem, never a pass."""
        exit_status(module, [problem], fail=p["fail_on_problem"], open=[], scanned=scanned)

    if not nmap:
        unknown(f"nmap is missing on {scanner}: the exposure of {p['target']} cannot be known")
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
        unknown(f"{p['target']} did not answer {scanner}: its exposure cannot be known")
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
        evidence(judged, p["target"], scanner, scope(p["ports"], len(top), count)),
        fail=p["fail_on_problem"],
        open=judged,
        scanned=scanned,
    )


if __name__ == "__main__":
    main()
