#!/usr/bin/python3
"""Ansible module: declared records in the Samba AD domain's DNS zone (ATU-2.2.1-a)."""

from __future__ import annotations

import ipaddress
import re
import shlex

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: ereje_samba_dns
short_description: Records of a Samba AD domain's internal DNS zone, as declared
description:
  - Reads the zone with C(samba-tool dns query), compares it with the declared records and adds or
    deletes only what differs (C(samba-tool dns add/delete)), through the DC's own RPC server with
    its machine account (run it as root on a domain controller).
  - For every name and type that is declared, the declared values become the only values of that
    type at that name (a host's new address replaces the old one). Names and types nobody declared
    are left alone, so the records Samba and the domain members register for themselves stay.
  - The names the DCs register for themselves (the zone's own addresses at C(@), the C(_msdcs),
    C(_tcp) ... locator records and the DCs' host names) are refused.
  - Supports check mode and diff. Enforces control ATU-2.2.1-a of the Ereje catalog.
options:
  zone:
    type: str
    required: true
    description: The zone, the AD DNS domain (C(university.edu.kz)).
  records:
    type: list
    elements: dict
    required: true
    description:
      - Records, each C(name) (relative to the zone, C(@) for the zone itself), C(type) (A, AAAA,
        CNAME, MX or TXT), C(value) (an address, a host name or a text) and for MX C(priority)
        (default 10). C(state=absent) deletes that value.
      - A TXT value longer than 255 characters (a DKIM key) is stored as consecutive strings of 255
        characters, as DNS requires (receivers join them).
  reserved_names:
    type: list
    elements: str
    default: []
    description: Names that no record may use (the DCs' host names).
  validate_only:
    type: bool
    default: false
    description: Only check the records and fail on a problem; reads and changes nothing (runs anywhere).
  server:
    type: str
    default: 127.0.0.1
    description: DNS RPC server, this DC.
  samba_tool: {type: path, default: /usr/bin/samba-tool, description: Path of samba-tool.}
author: Ereje
"""

EXAMPLES = r"""
- name: Domain | the university's servers in the domain's DNS
  ereje.compliance.ereje_samba_dns:
    zone: university.edu.kz
    reserved_names: [dc1, dc2]
    records:
      - {name: mail, type: A, value: 192.0.2.25}
      - {name: "@", type: MX, value: mail.university.edu.kz, priority: 10}
      - {name: www, type: CNAME, value: web.university.edu.kz}
      - {name: "@", type: TXT, value: "v=spf1 mx -all"}
      - {name: old-web, type: A, value: 192.0.2.80, state: absent}
"""

RETURN = r"""
actions:
  description: What was (or in check mode would be) added and deleted, one line each.
  returned: always
  type: list
  elements: str
  sample: ["add mail A 192.0.2.25", "delete mail A 192.0.2.24"]
"""

TYPES = ("A", "AAAA", "CNAME", "MX", "TXT")
TXT_CHUNK = 255
# Labels may start with "_" (_dmarc, selector._domainkey).
_NAME = re.compile(r"^(@|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*)$")
# Subtrees of the zone that Samba keeps for the domain itself (locator records, partitions).
SAMBA_OWN = {"_msdcs", "_sites", "_tcp", "_udp", "domaindnszones", "forestdnszones"}
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
_BLOCK = re.compile(r"^\s*Name=(?P<name>[^,]*), Records=\d+, Children=\d+\s*$")
_RECORD = re.compile(r"^\s+(?P<type>[A-Z]+): (?P<data>.*) \(flags=[0-9a-f]+, serial=\d+, ttl=\d+\)\s*$")
_MX = re.compile(r"^(?P<host>\S+) \((?P<priority>\d+)\)$")
_TXT = re.compile(r'"(.*?)"(?:,(?=")|$)')


# ---- the declaration ---------------------------------------------------------------------------


def normalise(record: dict, index: int) -> dict:
    """One declared record in canonical form; ValueError says what is wrong with it."""
    where = f"record {index + 1} ({record.get('name')!r} {record.get('type')!r})"
    name = str(record.get("name", "")).strip().lower().rstrip(".")
    rtype = str(record.get("type", "")).strip().upper()
    state = record.get("state", "present")
    unknown = set(record) - {"name", "type", "value", "priority", "state"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)} (name, type, value, priority, state)")
    if not _NAME.match(name):
        raise ValueError(f"{where}: name must be @ or a host name relative to the zone, such as mail")
    if rtype not in TYPES:
        raise ValueError(f"{where}: type must be one of {', '.join(TYPES)}")
    if state not in ("present", "absent"):
        raise ValueError(f"{where}: state must be present or absent")
    if "value" not in record or record["value"] in (None, ""):
        raise ValueError(
            f"{where}: value is empty (a value taken from another host's facts needs that host in the run "
            "or in the fact cache)"
        )
    if "priority" in record and rtype != "MX":
        raise ValueError(f"{where}: priority applies to MX records only")
    return {"name": name, "type": rtype, "value": canonical_value(rtype, record, where), "state": state}


def canonical_value(rtype: str, record: dict, where: str) -> str:
    value = str(record["value"]).strip()
    if rtype in ("A", "AAAA"):
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not an IP address") from None
        if address.version != (4 if rtype == "A" else 6):
            raise ValueError(f"{where}: {value} is not an IPv{4 if rtype == 'A' else 6} address")
        return str(address)
    if rtype == "TXT":
        return shlex.join(txt_chunks(value))
    host = value.lower().rstrip(".")
    if not _HOST.match(host):
        raise ValueError(f"{where}: {value!r} is not a fully qualified host name")
    if rtype == "MX":
        try:
            priority = int(record.get("priority", 10))
        except (TypeError, ValueError):
            priority = -1
        if not 0 <= priority <= 65535:
            raise ValueError(f"{where}: priority must be a number from 0 to 65535")
        return f"{host} {priority}"
    return host


def declaration(records: list, reserved: list) -> list[dict]:
    """Check and normalise the records; ValueError lists every problem at once."""
    problems, result = [], []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            problems.append(f"record {index + 1} is not a dictionary")
            continue
        try:
            result.append(normalise(record, index))
        except ValueError as exc:
            problems.append(str(exc))
    reserved_names = {str(name).lower() for name in reserved}
    present: dict[str, set[str]] = {}
    for record in result:
        name, rtype = record["name"], record["type"]
        if name in reserved_names or name.split(".")[0] in reserved_names:
            problems.append(f"{name} is a domain controller's own name, which the DC registers itself")
        if name.split(".")[-1] in SAMBA_OWN:
            problems.append(f"{name} is in a part of the zone that Samba keeps for the domain itself")
        if name == "@" and rtype in ("A", "AAAA"):
            problems.append("@ A/AAAA are the domain controllers' own addresses, registered by themselves")
        if record["state"] == "present":
            present.setdefault(name, set()).add(rtype)
    for name, types in sorted(present.items()):
        if "CNAME" in types and len(types) > 1:
            others = ", ".join(sorted(types))
            problems.append(f"{name} has a CNAME and other records ({others}): DNS allows a CNAME alone")
    if problems:
        raise ValueError("; ".join(problems))
    return result


# ---- what the zone holds -----------------------------------------------------------------------


def parse_query(text: str) -> dict[str, dict[str, set[str]]]:
    """Parse ``samba-tool dns query`` into {relative name: {type: {canonical values}}}.

    The first block is the queried name itself ("" in the result); the blocks after it are its
    children, under their own relative names. Types other than TYPES are skipped.
    """
    zone: dict[str, dict[str, set[str]]] = {}
    current = None
    for line in text.splitlines():
        block = _BLOCK.match(line)
        if block:
            current = zone.setdefault(block["name"].lower(), {})
            continue
        record = _RECORD.match(line)
        if record is None or current is None or record["type"] not in TYPES:
            continue
        current.setdefault(record["type"], set()).add(parse_value(record["type"], record["data"]))
    return zone


def parse_zone_top(text: str) -> dict[str, dict[str, set[str]]]:
    """Parse ``samba-tool dns query SERVER ZONE @ ALL``: the zone itself under "@", and its direct
    children (every single-label name) under their names."""
    return {("@" if name == "" else name): types for name, types in parse_query(text).items()}


def parse_value(rtype: str, data: str) -> str:
    if rtype in ("A", "AAAA"):
        return str(ipaddress.ip_address(data.strip()))
    if rtype == "MX":
        match = _MX.match(data.strip())
        if not match:
            raise ValueError(f"MX record {data!r} not understood")
        return f"{match['host'].lower().rstrip('.')} {int(match['priority'])}"
    if rtype == "TXT":
        return shlex.join(_TXT.findall(data.strip()))
    return data.strip().lower().rstrip(".")


def txt_chunks(value: str) -> list[str]:
    """A text as DNS stores it: character strings of at most 255 characters."""
    return [value[i : i + TXT_CHUNK] for i in range(0, len(value), TXT_CHUNK)]


# ---- the difference ----------------------------------------------------------------------------


def plan(declared: list[dict], current: dict[str, dict[str, set[str]]]) -> list[tuple[str, str, str, str]]:
    """(add|delete, name, type, value) steps from the zone as it is to the declaration.

    Deletions come first, so that a name that changes from an A to a CNAME has no A left when
    the CNAME is added.
    """
    wanted: dict[tuple[str, str], set[str]] = {}
    absent: dict[tuple[str, str], set[str]] = {}
    for record in declared:
        key = (record["name"], record["type"])
        target = wanted if record["state"] == "present" else absent
        target.setdefault(key, set()).add(record["value"])
    deletions, additions = [], []
    for (name, rtype), values in sorted(wanted.items()):
        have = current.get(name, {})
        for other in sorted(have.get(rtype, set()) - values):
            deletions.append(("delete", name, rtype, other))
        if rtype == "CNAME":
            for other_type in sorted(set(have) - {"CNAME"}):
                deletions += [("delete", name, other_type, v) for v in sorted(have[other_type])]
        elif "CNAME" in have:
            deletions += [("delete", name, "CNAME", v) for v in sorted(have["CNAME"])]
        additions += [("add", name, rtype, v) for v in sorted(values - have.get(rtype, set()))]
    for (name, rtype), values in sorted(absent.items()):
        have = current.get(name, {}).get(rtype, set())
        deletions += [("delete", name, rtype, v) for v in sorted(values & have)]
    return list(dict.fromkeys(deletions)) + additions


def render(zone: dict[str, dict[str, set[str]]], names: set[str]) -> str:
    lines = []
    for name in sorted(names):
        for rtype in sorted(zone.get(name, {})):
            lines += [f"{name} {rtype} {value}\n" for value in sorted(zone[name][rtype])]
    return "".join(lines)


def apply(zone: dict[str, dict[str, set[str]]], steps: list) -> dict[str, dict[str, set[str]]]:
    after = {name: {t: set(v) for t, v in types.items()} for name, types in zone.items()}
    for action, name, rtype, value in steps:
        values = after.setdefault(name, {}).setdefault(rtype, set())
        if action == "add":
            values.add(value)
        else:
            values.discard(value)
            if not values:
                del after[name][rtype]
    return after


# ---- samba-tool --------------------------------------------------------------------------------


class Zone:
    def __init__(self, module: AnsibleModule):
        self.module = module
        params = module.params
        self.base = [params["samba_tool"], "dns"]
        self.server, self.zone = params["server"], params["zone"].lower().rstrip(".")

    def _run(self, verb: str, *args: str) -> tuple[int, str, str]:
        # -P: the DC's machine account, so that no administrator password is needed here.
        return self.module.run_command([*self.base, verb, self.server, self.zone, *args, "-P"])

    def read(self, names: set[str]) -> dict[str, dict[str, set[str]]]:
        """The records of ``names``: the zone's top in one query, deeper names one by one."""
        rc, out, err = self._run("query", "@", "ALL")
        if rc != 0:
            self.module.fail_json(
                msg=f"cannot read DNS zone {self.zone} on {self.server}: is it the AD domain?",
                stdout=out,
                stderr=err,
            )
        zone = parse_zone_top(out)
        for name in sorted(n for n in names if "." in n):
            rc, out, err = self._run("query", name, "ALL")
            if rc == 0:
                zone[name] = parse_query(out).get("", {})
            elif "does not exist" not in err:
                self.module.fail_json(msg=f"cannot read the DNS records of {name}", stdout=out, stderr=err)
        return zone

    def change(self, action: str, name: str, rtype: str, value: str) -> None:
        # A canonical value is samba-tool's <data> (TXT: its strings, shell-quoted as it splits them).
        rc, out, err = self._run(action, name, rtype, value)
        if rc != 0:
            self.module.fail_json(
                msg=f"samba-tool dns {action} {name} {rtype} {value} failed",
                stdout=out,
                stderr=err,
            )


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "zone": {"type": "str", "required": True},
            "records": {"type": "list", "elements": "dict", "required": True},
            "reserved_names": {"type": "list", "elements": "str", "default": []},
            "validate_only": {"type": "bool", "default": False},
            "server": {"type": "str", "default": "127.0.0.1"},
            "samba_tool": {"type": "path", "default": "/usr/bin/samba-tool"},
        },
        supports_check_mode=True,
    )
    try:
        declared = declaration(module.params["records"], module.params["reserved_names"])
    except ValueError as exc:
        module.fail_json(msg=f"samba_dc_dns_records: {exc}")
    if module.params["validate_only"]:
        module.exit_json(changed=False, actions=[])

    zone = Zone(module)
    names = {record["name"] for record in declared}
    try:
        current = zone.read(names)
    except ValueError as exc:
        module.fail_json(msg=f"cannot understand samba-tool's answer: {exc}")
    steps = plan(declared, current)
    actions = [" ".join(step) for step in steps]
    result = {"changed": bool(steps), "actions": actions}
    if steps:
        result["diff"] = {"before": render(current, names), "after": render(apply(current, steps), names)}
        if not module.check_mode:
            for step in steps:
                zone.change(*step)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
