"""Filters that turn declared firewall policy into nftables rules.

Roles and inventories declare the ports a host opens as data::

    - {name: smtp, port: 25, proto: tcp, sources: [10.0.0.0/8]}
    - {name: rpc-dynamic, port: 49152, proto: tcp, probe: false}
    - {name: syslog-tls, port: 6514, sources: [10.0.0.0/8], max_connections_per_source: 4}

``nft_accept_rules`` checks every rule and renders it as nftables statements for the
``inet ereje_filter`` table (``max_connections_per_source``: an address that already holds that
many connections to the port is refused with a TCP reset, counted by conntrack, so one sender
cannot take every session of the service); ``health_ports`` lists the ports the service must answer on (the
health check of ATU-8.4-d skips those with ``probe: false``). Bad input stops the play before
anything changes, with a message that names the rule and what is wrong with it (control ATU-5.15-a).
"""

from __future__ import annotations

import ipaddress
import re

from ansible.errors import AnsibleFilterError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,63}$")
_PROTOCOLS = ("tcp", "udp")
_KEYS = ("name", "port", "proto", "sources", "probe", "max_connections_per_source")


def _port(rule_label: str, value: object) -> int:
    # bool is an int in Python: "port: yes" must not become port 1.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise AnsibleFilterError(f"{rule_label}: port {value!r} is not a number from 1 to 65535")
    try:
        port = int(value)
    except ValueError:
        raise AnsibleFilterError(f"{rule_label}: port {value!r} is not a number from 1 to 65535") from None
    if not 1 <= port <= 65535:
        raise AnsibleFilterError(f"{rule_label}: port {port} is outside 1-65535")
    return port


def _networks(rule_label: str, sources: object) -> tuple[list[str], list[str]]:
    if sources is None:
        return [], []
    if isinstance(sources, str) or not isinstance(sources, list):
        raise AnsibleFilterError(
            f"{rule_label}: sources must be a list of networks such as [10.0.0.0/8], not {sources!r}"
        )
    v4: list[str] = []
    v6: list[str] = []
    for source in sources:
        try:
            net = ipaddress.ip_network(str(source), strict=False)
        except ValueError:
            raise AnsibleFilterError(
                f"{rule_label}: source {source!r} is not an IP address or network (e.g. 192.0.2.0/24)"
            ) from None
        (v4 if net.version == 4 else v6).append(str(net))
    return v4, v6


def _checked_rules(rules: object) -> list[dict]:
    """Every declared rule, checked, as {name, port, proto, v4, v6, probe, limit} (v4/v6: its sources;
    limit: max_connections_per_source or None)."""
    if rules is None:
        return []
    if not isinstance(rules, list):
        raise AnsibleFilterError(f"firewall rules must be a list of rules, not {type(rules).__name__}")
    checked: list[dict] = []
    seen: set[str] = set()
    for index, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict):
            raise AnsibleFilterError(
                f"firewall rule #{index} must be a mapping like {{name: smtp, port: 25}}, not {rule!r}"
            )
        name = rule.get("name")
        label = f"firewall rule #{index} ({name!r})" if name else f"firewall rule #{index}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise AnsibleFilterError(
                f"{label}: name is required (letters, digits, space, _ . : / -; at most 64 characters)"
            )
        unknown = sorted(set(rule) - set(_KEYS))
        if unknown:
            allowed = ", ".join(_KEYS)
            raise AnsibleFilterError(f"{label}: unknown key(s) {', '.join(unknown)}; allowed: {allowed}")
        if "port" not in rule:
            raise AnsibleFilterError(f"{label}: port is required")
        port = _port(label, rule["port"])
        proto = rule.get("proto", "tcp")
        if proto not in _PROTOCOLS:
            raise AnsibleFilterError(f"{label}: proto must be tcp or udp, not {proto!r}")
        probe = rule.get("probe", True)
        if not isinstance(probe, bool):
            raise AnsibleFilterError(f"{label}: probe must be true or false, not {probe!r}")
        key = f"{proto}/{port}/{sorted(rule.get('sources') or [])}"
        if key in seen:
            raise AnsibleFilterError(f"{label}: {proto} port {port} is declared twice")
        seen.add(key)
        limit = rule.get("max_connections_per_source")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise AnsibleFilterError(
                f"{label}: max_connections_per_source must be a whole number of 1 or more, not {limit!r}"
            )
        if limit is not None and proto != "tcp":
            raise AnsibleFilterError(f"{label}: max_connections_per_source needs proto tcp (connections)")
        v4, v6 = _networks(label, rule.get("sources"))
        checked.append(
            {"name": name, "port": port, "proto": proto, "v4": v4, "v6": v6, "probe": probe, "limit": limit}
        )
    return checked


def nft_accept_rules(rules: object) -> list[str]:
    """Render declared rules as nftables ``accept`` statements, checking each one."""
    statements: list[str] = []
    for rule in _checked_rules(rules):
        port = f"{rule['proto']} dport {rule['port']}"
        comment = f'comment "{rule["name"]}"'
        if rule["limit"]:
            # Before the accept: a meter (a set nft keeps per address) counts each address's
            # connections; one more than the limit is reset. Named after the port: one per rule.
            for family, addr in (("v4", "ip"), ("v6", "ip6")):
                statements.append(
                    f"{port} ct state new meter ereje-conn-{rule['port']}-{family} "
                    f"{{ {addr} saddr ct count over {rule['limit']} }} reject with tcp reset {comment}"
                )
        match = f"{port} accept {comment}"
        if not rule["v4"] and not rule["v6"]:
            statements.append(match)
        if rule["v4"]:
            statements.append(f"ip saddr {{ {', '.join(rule['v4'])} }} {match}")
        if rule["v6"]:
            statements.append(f"ip6 saddr {{ {', '.join(rule['v6'])} }} {match}")
    return statements


def health_ports(rules: object) -> list[dict]:
    """The ports a service must answer on (ATU-8.4-d): every declared rule except ``probe: false``
    (ports opened on demand, such as Samba's dynamic RPC range). One entry per port and protocol."""
    ports: list[dict] = []
    for rule in _checked_rules(rules):
        entry = {"name": rule["name"], "port": rule["port"], "proto": rule["proto"]}
        if rule["probe"] and all((p["port"], p["proto"]) != (rule["port"], rule["proto"]) for p in ports):
            ports.append(entry)
    return ports


def on_demand_ports(rules: object) -> list[dict]:
    """The declared ports opened on demand (``probe: false``): no answer is expected on them (the
    health check skips them), but they are declared, so the exposure scan (ATU-8.5-a) may find them
    open."""
    return [
        {"name": rule["name"], "port": rule["port"], "proto": rule["proto"]}
        for rule in _checked_rules(rules)
        if not rule["probe"]
    ]


class FilterModule:
    """Ereje firewall filters."""

    def filters(self):
        return {
            "nft_accept_rules": nft_accept_rules,
            "health_ports": health_ports,
            "on_demand_ports": on_demand_ports,
        }
