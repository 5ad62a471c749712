"""nft_accept_rules: declared ports become nftables statements; bad input is named clearly."""

import pytest
from ansible.errors import AnsibleFilterError

from firewall import health_ports, nft_accept_rules, on_demand_ports


def test_port_open_to_everyone():
    assert nft_accept_rules([{"name": "smtp", "port": 25}]) == ['tcp dport 25 accept comment "smtp"']


def test_sources_split_by_address_family():
    rules = nft_accept_rules(
        [
            {
                "name": "ldaps",
                "port": "636",
                "proto": "tcp",
                "sources": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"],
            }
        ]
    )
    assert rules == [
        'ip saddr { 10.0.0.0/8, 192.0.2.7/32 } tcp dport 636 accept comment "ldaps"',
        'ip6 saddr { 2001:db8::/32 } tcp dport 636 accept comment "ldaps"',
    ]


def test_udp_and_empty_inputs():
    assert nft_accept_rules([{"name": "ntp", "port": 123, "proto": "udp"}]) == [
        'udp dport 123 accept comment "ntp"'
    ]
    assert nft_accept_rules([]) == []
    assert nft_accept_rules(None) == []


def test_connections_per_source_are_limited_before_the_accept():
    rules = nft_accept_rules(
        [{"name": "syslog-tls", "port": 6514, "sources": ["10.0.0.0/8"], "max_connections_per_source": 4}]
    )
    limit = 'reject with tcp reset comment "syslog-tls"'
    assert rules == [
        f"tcp dport 6514 ct state new meter ereje-conn-6514-v4 {{ ip saddr ct count over 4 }} {limit}",
        f"tcp dport 6514 ct state new meter ereje-conn-6514-v6 {{ ip6 saddr ct count over 4 }} {limit}",
        'ip saddr { 10.0.0.0/8 } tcp dport 6514 accept comment "syslog-tls"',
    ]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"name": "web", "port": "http"}], "port 'http' is not a number from 1 to 65535"),
        ([{"name": "web", "port": 70000}], "port 70000 is outside 1-65535"),
        ([{"name": "web", "port": 0}], "port 0 is outside 1-65535"),
        ([{"name": "web", "port": True}], "is not a number"),
        ([{"name": "web"}], "port is required"),
        ([{"port": 80}], "name is required"),
        ([{"name": 'x" accept; drop', "port": 80}], "name is required"),
        ([{"name": "web", "port": 80, "proto": "icmp"}], "proto must be tcp or udp"),
        ([{"name": "web", "port": 80, "sources": "10.0.0.0/8"}], "sources must be a list"),
        ([{"name": "web", "port": 80, "sources": ["10.0.0.300/8"]}], "is not an IP address or network"),
        ([{"name": "web", "port": 80, "src": ["10.0.0.0/8"]}], "unknown key(s) src"),
        ([{"name": "a", "port": 80}, {"name": "b", "port": 80}], "tcp port 80 is declared twice"),
        ([{"name": "web", "port": 80, "probe": "no"}], "probe must be true or false"),
        ([{"name": "web", "port": 80, "max_connections_per_source": 0}], "a whole number of 1 or more"),
        ([{"name": "web", "port": 80, "max_connections_per_source": "4"}], "a whole number of 1 or more"),
        ([{"name": "dns", "port": 53, "proto": "udp", "max_connections_per_source": 4}], "needs proto tcp"),
        (["80/tcp"], "must be a mapping"),
        ({"name": "web"}, "must be a list of rules"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_message(rules, message):
    with pytest.raises(AnsibleFilterError, match=None) as error:
        nft_accept_rules(rules)
    assert message in str(error.value)


def test_message_names_the_rule():
    with pytest.raises(AnsibleFilterError) as error:
        nft_accept_rules([{"name": "ok", "port": 1}, {"name": "smtp", "port": "twenty-five"}])
    assert "firewall rule #2 ('smtp')" in str(error.value)


def test_probe_false_opens_the_port_but_is_not_checked_for_an_answer():
    """ATU-8.4-d: the health check's ports are the declared ones, less those opened on demand."""
    rules = [
        {"name": "dns", "port": 53, "proto": "tcp"},
        {"name": "dns", "port": 53, "proto": "udp"},
        {"name": "smtp", "port": "25", "sources": ["10.0.0.0/8"]},
        {"name": "smtp", "port": 25, "sources": ["192.0.2.0/24"]},
        {"name": "rpc-dynamic", "port": 49152, "probe": False},
    ]
    assert len(nft_accept_rules(rules)) == 5
    assert health_ports(rules) == [
        {"name": "dns", "port": 53, "proto": "tcp"},
        {"name": "dns", "port": 53, "proto": "udp"},
        {"name": "smtp", "port": 25, "proto": "tcp"},
    ]
    # ATU-8.5-a: still declared, so a scan that finds them open finds nothing wrong.
    assert on_demand_ports(rules) == [{"name": "rpc-dynamic", "port": 49152, "proto": "tcp"}]


def test_health_ports_refuse_what_the_firewall_refuses():
    with pytest.raises(AnsibleFilterError, match="port 'http' is not a number"):
        health_ports([{"name": "web", "port": "http"}])
