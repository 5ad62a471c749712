"""Host health (ATU-8.4-d): failed services, full filesystems, declared ports that do not answer.

Shared by the module ereje_host_health (every converge and audit) and the hourly check on each host
(roles/baseline/files/ereje-health-check, which finds this file in /usr/local/lib/ereje and reports
to the journal, where the collector's alert rule reads it). Plain Python, nothing of Ansible's.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import socket
import sys
from collections.abc import Callable
from pathlib import Path

# Filesystems that hold no data of their own (kernel interfaces, container plumbing).
PSEUDO_FILESYSTEMS = frozenset({
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs",
    "efivarfs", "fusectl", "fuse.lxcfs", "hugetlbfs", "iso9660", "mqueue", "nsfs", "proc", "pstore",
    "ramfs", "rpc_pipefs", "securityfs", "squashfs", "sysfs", "tracefs", "udf",
})  # fmt: skip
NOT_DISKS = ("/proc", "/sys", "/dev")
TCP_LISTEN, UDP_BOUND = "0A", "07"
OCTAL = re.compile(r"\\([0-7]{3})")


def parse_mounts(text: str) -> list[dict]:
    """Writable, data-holding mounts of /proc/self/mounts, in order."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        # The kernel escapes blanks and backslashes in paths as octal (\040).
        mount = OCTAL.sub(lambda m: chr(int(m[1], 8)), fields[1])
        fstype, options = fields[2], fields[3].split(",")
        if fstype in PSEUDO_FILESYSTEMS or "ro" in options:
            continue
        if any(mount == top or mount.startswith(top + "/") for top in NOT_DISKS):
            continue
        mounts.append({"mount": mount, "fstype": fstype})
    return mounts


def use_percent(used: int, available: int) -> int:
    """Percentage used as df(1) prints it: rounded up, of what users can have."""
    total = used + available
    if total <= 0:
        return 0
    return -(-used * 100 // total)


def filesystem_usage(mount: dict, stat: os.statvfs_result) -> dict | None:
    """Space and inode use of one mount from its statvfs; None for a filesystem without blocks."""
    if stat.f_blocks == 0:
        return None
    used = stat.f_blocks - stat.f_bfree
    inodes = None
    if stat.f_files:
        inodes = use_percent(stat.f_files - stat.f_ffree, stat.f_ffree)
    return {**mount, "use_percent": use_percent(used, stat.f_bavail), "inode_use_percent": inodes}


def _address(hex_address: str) -> str:
    """An address of /proc/net/{tcp,udp}[6]: hex of 32-bit words in the host's byte order."""
    raw = bytes.fromhex(hex_address)
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, raw)


def parse_proc_net(text: str, state: str) -> list[tuple[str, int]]:
    """(address, port) of the sockets of one /proc/net table in the given state."""
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != state:
            continue
        address, _, port = fields[1].partition(":")
        sockets.append((_address(address), int(port, 16)))
    return sockets


def parse_failed_units(text: str) -> list[str]:
    """Unit names of ``systemctl list-units --state=failed --plain --no-legend``."""
    units = []
    for line in text.splitlines():
        fields = line.split()
        # A unit whose file is gone is listed with a leading marker (●) in some versions.
        if fields and fields[0] in ("●", "*"):
            fields = fields[1:]
        if fields:
            units.append(fields[0])
    return units


def parse_declarations(files: dict[str, str]) -> tuple[list[dict], list[str]]:
    """Declared ports of every service file; the problems of files that cannot be read."""
    ports, problems = [], []
    for name, text in sorted(files.items()):
        # A file counts whole or not at all: one bad entry leaves none of its ports checked, as
        # the problem says, rather than the ports listed before it.
        declared = []
        try:
            data = json.loads(text)
            service = str(data["service"])
            # "on_demand": opened but not expected to answer (Samba's RPC range); kept, marked.
            entries = [(e, True) for e in data["ports"]] + [(e, False) for e in data.get("on_demand", [])]
            for entry, probe in entries:
                port, proto = int(entry["port"]), str(entry.get("proto", "tcp"))
                if proto not in ("tcp", "udp") or not 1 <= port <= 65535:
                    raise ValueError(f"{proto}/{port}")
                declared.append(
                    {"service": service, "name": str(entry["name"]), "port": port, "proto": proto}
                    | ({} if probe else {"probe": False})
                )
        except (ValueError, KeyError, TypeError) as error:
            problems.append(
                f"the port declaration {name} cannot be read ({error}): its ports are not checked"
            )
            continue
        ports.extend(declared)
    return ports, problems


def connect_address(bound: str) -> str:
    """Where to connect to reach a socket bound to ``bound`` (the wildcard means loopback)."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(bound, bound)


def tcp_answers(address: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def evaluate(status: dict, limits: dict) -> list[str]:
    """Problems of a host, given what was read and the limits of the inventory."""
    problems = list(status.get("declaration_problems", []))
    for unit in status["failed_units"]:
        if not unit["ignored"]:
            problems.append(f"service {unit['unit']} has failed (systemctl status {unit['unit']})")
    for fs in status["filesystems"]:
        if fs["use_percent"] > limits["max_disk_percent"]:
            problems.append(
                f"filesystem {fs['mount']} is {fs['use_percent']}% full (limit {limits['max_disk_percent']}%)"
            )
        inodes = fs["inode_use_percent"]
        if inodes is not None and inodes > limits["max_inode_percent"]:
            problems.append(
                f"filesystem {fs['mount']} has used {inodes}% of its inodes "
                f"(limit {limits['max_inode_percent']}%)"
            )
    for port in status["ports"]:
        label = f"{port['service']} declares {port['name']} on {port['port']}/{port['proto']}"
        if not port["listening"]:
            problems.append(f"{label}, but nothing listens there")
        elif port["answers"] is False:
            problems.append(f"{label}, but a connection to it is not accepted")
    return problems


def summary(status: dict) -> str:
    """The evidence of a healthy host in one line (the audit report shows it)."""
    disks = ", ".join(f"{fs['mount']} {fs['use_percent']}%" for fs in status["filesystems"]) or "none"
    ports = (
        ", ".join(f"{p['port']}/{p['proto']} ({p['service']} {p['name']})" for p in status["ports"])
        or "none declared"
    )
    ignored = [u["unit"] for u in status["failed_units"] if u["ignored"]]
    units = f"no failed service (accepted: {', '.join(ignored)})" if ignored else "no failed service"
    return f"{units}; disks used: {disks}; ports served: {ports}"


def read_status(run: Callable[[list[str]], tuple[int, str, str]], params: dict) -> dict:
    """Failed units, filesystems' use and the declared ports as this host serves them.

    ``run`` runs a command (status, output, errors); RuntimeError when systemd cannot list units.
    ``params``: ports_dir, ignore_units, connect_timeout.
    """
    rc, out, err = run(
        ["systemctl", "list-units", "--state=failed", "--plain", "--no-legend", "--no-pager", "--all"]
    )
    if rc != 0:
        raise RuntimeError(f"cannot list the failed units: {err.strip() or out.strip()}")
    failed_units = [
        {"unit": unit, "ignored": any(fnmatch.fnmatchcase(unit, p) for p in params["ignore_units"])}
        for unit in parse_failed_units(out)
    ]

    filesystems, seen = [], set()
    for mount in parse_mounts(Path("/proc/self/mounts").read_text()):
        try:
            if not os.path.isdir(mount["mount"]):
                continue  # a file mounted over a file (/etc/hosts in a container)
            device = os.stat(mount["mount"]).st_dev
            usage = filesystem_usage(mount, os.statvfs(mount["mount"]))
        except OSError:
            continue  # gone or not readable since /proc/self/mounts was read
        if usage and device not in seen:
            seen.add(device)
            filesystems.append(usage)

    directory = Path(params["ports_dir"])
    files = {p.name: p.read_text() for p in sorted(directory.glob("*.json"))} if directory.is_dir() else {}
    declared, declaration_problems = parse_declarations(files)
    bound: dict[str, list[tuple[str, int]]] = {"tcp": [], "udp": []}
    for proto, state in (("tcp", TCP_LISTEN), ("udp", UDP_BOUND)):
        for table in (proto, proto + "6"):
            path = Path("/proc/net") / table
            if path.exists():
                bound[proto] += parse_proc_net(path.read_text(), state)
    ports, on_demand = [], []
    for port in declared:
        if port.get("probe") is False:
            on_demand.append(port)
            continue
        listening = sorted({addr for addr, number in bound[port["proto"]] if number == port["port"]})
        answers = None
        if port["proto"] == "tcp" and listening:
            answers = any(
                tcp_answers(connect_address(addr), port["port"], params["connect_timeout"])
                for addr in listening
            )
        ports.append({**port, "listening": listening, "answers": answers})
    return {
        "failed_units": failed_units,
        "filesystems": filesystems,
        "ports": ports,
        "on_demand": on_demand,
        "declaration_problems": declaration_problems,
    }
