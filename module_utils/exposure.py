"""Exposure scan (ATU-8.5-a): a host's TCP ports as another host finds them, against what it declares.

Shared by the module ereje_exposure_scan (the audit and a converge, delegated to the scanning
host) and the scheduled scan on each scanner (roles/baseline/files/ereje-exposure-scan, which finds
this file in /usr/local/lib/ereje and reports to the journal, where the collector's alert rule reads
it). Plain Python, nothing of Ansible's.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

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


class ScanError(Exception):
    """nmap could not scan, or said what cannot be read: no answer either way."""


def nmap_argv(nmap: str, target: str, scanned: str, min_rate: int) -> list[str]:
    """The scan's command line.

    -Pn: a host that drops pings is still scanned; -n: no DNS; --max-retries 2 so that a port
    dropped by the firewall is not waited on for long, while a lost answer is asked again. nmap
    reads the firewall's silent drops as congestion and slows down; --min-rate keeps a scan of a
    default-deny host to seconds.
    """
    argv = [nmap, "-Pn", "-n", "-sT", "-T4", "--max-retries", "2", "--min-rate", str(min_rate)]
    return [*argv, "-p", scanned, "-oX", "-", target]


def scan(
    run: Callable[[list[str]], tuple[int, str, str]],
    nmap: str,
    scanner: str,
    *,
    target: str,
    declared: list[dict],
    ports: str,
    top: list[int],
    min_rate: int,
) -> dict:
    """Scan ``target`` and judge it: ``problems``, ``evidence`` (None when nothing could be seen),
    ``open`` (each open port with who declared it) and ``scanned`` (nmap's -p).

    ``run`` runs a command in the C locale and returns status, output and errors. Raises ValueError
    for a declared port without a number and ScanError when nmap fails.
    """
    try:
        scanned, count = port_spec(ports, declared, top)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"declared ports must each have a numeric port: {exc}") from None
    argv = nmap_argv(nmap, target, scanned, min_rate)
    rc, out, err = run(argv)
    if rc != 0:
        raise ScanError(f"nmap failed (rc {rc}): {(err or out).strip()[-2000:]}")
    try:
        reached, open_ports = parse_nmap(out)
    except ET.ParseError as exc:
        raise ScanError(f"nmap's report cannot be read: {exc}") from None
    if not reached:
        # Nothing was seen: the exposure cannot be known, which is a problem, never a pass.
        problem = f"{target} did not answer {scanner}: its exposure cannot be known"
        return {"problems": [problem], "evidence": None, "open": [], "scanned": scanned}
    problems, judged = judge(open_ports, declared, target, scanner)
    if not judged:
        # With -Pn nmap calls every host up; a scan that found nothing open saw nothing at all (the
        # host is down, or its firewall drops the scanner), which proves nothing either way.
        problems.append(
            f"no TCP port of {target} answered {scanner}: the scan saw nothing, so it proves nothing "
            "(allow the scanner at least SSH through the host's firewall)"
        )
    said = evidence(judged, target, scanner, scope(ports, len(top), count))
    return {"problems": problems, "evidence": said, "open": judged, "scanned": scanned}
