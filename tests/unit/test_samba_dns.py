"""Declaration, parsing of ``samba-tool dns query`` and the plan of ereje_samba_dns."""

import ereje_samba_dns as m
import pytest

# Printed by Samba 4.17 (Debian 12) for `samba-tool dns query 127.0.0.1 ereje.test @ ALL -P`.
SOA = (
    "    SOA: serial=27, refresh=900, retry=600, expire=86400, minttl=3600, ns=dc1.ereje.test., "
    "email=hostmaster.ereje.test. (flags=600000f0, serial=27, ttl=3600)\n"
)
ZONE_TOP = (
    "  Name=, Records=7, Children=0\n"
    + SOA
    + """    NS: dc1.ereje.test. (flags=600000f0, serial=110, ttl=900)
    A: 10.89.2.14 (flags=600000f0, serial=110, ttl=900)
    A: 10.89.2.15 (flags=600000f0, serial=110, ttl=900)
    MX: mail.ereje.test. (10) (flags=600000f0, serial=24, ttl=900)
    TXT: "v=spf1","mx","-all" (flags=600000f0, serial=25, ttl=900)
  Name=_msdcs, Records=0, Children=0
  Name=_tcp, Records=0, Children=4
  Name=dc1, Records=1, Children=0
    A: 10.89.2.14 (flags=f0, serial=1, ttl=900)
  Name=DC2, Records=1, Children=0
    A: 10.89.2.15 (flags=f0, serial=20, ttl=900)
  Name=mail, Records=2, Children=0
    A: 10.89.2.50 (flags=f0, serial=21, ttl=900)
    AAAA: fd00:0000:0000:0000:0000:0000:0000:0005 (flags=f0, serial=22, ttl=900)
  Name=www, Records=1, Children=0
    CNAME: web.ereje.test. (flags=f0, serial=23, ttl=900)
  Name=old, Records=0, Children=0
"""
)


def zone():
    return m.parse_zone_top(ZONE_TOP)


def declare(*records, reserved=("dc1", "dc2")):
    return m.declaration(list(records), list(reserved))


# ---- parsing -----------------------------------------------------------------------------------


def test_parse_reads_each_name_with_canonical_values():
    parsed = zone()
    assert parsed["@"] == {
        "A": {"10.89.2.14", "10.89.2.15"},
        "MX": {"mail.ereje.test 10"},
        "TXT": {"v=spf1 mx -all"},  # three strings, shell-quoted as samba-tool splits them
    }
    assert parsed["mail"] == {"A": {"10.89.2.50"}, "AAAA": {"fd00::5"}}
    assert parsed["www"] == {"CNAME": {"web.ereje.test"}}
    assert parsed["dc2"] == {"A": {"10.89.2.15"}}, "names are compared in lower case"
    assert parsed["old"] == {}


def test_parse_txt_keeps_strings_with_spaces_apart():
    text = '  Name=, Records=1, Children=0\n    TXT: "hello world","second" (flags=f0, serial=26, ttl=900)\n'
    assert m.parse_query(text)[""] == {"TXT": {"'hello world' second"}}


def test_parse_refuses_an_mx_it_does_not_understand():
    with pytest.raises(ValueError, match="MX record"):
        m.parse_query(
            "  Name=, Records=1, Children=0\n    MX: mail.ereje.test. (flags=f0, serial=1, ttl=9)\n"
        )


# ---- the declaration ---------------------------------------------------------------------------


def test_declaration_normalises_names_addresses_and_hosts():
    records = declare(
        {"name": "Mail.", "type": "a", "value": " 192.0.2.25 "},
        {"name": "mail", "type": "AAAA", "value": "FD00:0:0::5"},
        {"name": "@", "type": "MX", "value": "Mail.Ereje.Test.", "priority": "5"},
        {"name": "www", "type": "CNAME", "value": "web.ereje.test"},
        {"name": "sel._domainkey", "type": "TXT", "value": "v=DKIM1; k=rsa"},
    )
    assert [(r["name"], r["type"], r["value"]) for r in records] == [
        ("mail", "A", "192.0.2.25"),
        ("mail", "AAAA", "fd00::5"),
        ("@", "MX", "mail.ereje.test 5"),
        ("www", "CNAME", "web.ereje.test"),
        ("sel._domainkey", "TXT", "'v=DKIM1; k=rsa'"),
    ]


def test_long_txt_is_split_into_255_character_strings():
    key = "p=" + "A" * 600
    (record,) = declare({"name": "sel._domainkey", "type": "TXT", "value": key})
    assert m.shlex.split(record["value"]) == [key[:255], key[255:510], key[510:]]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"name": "mail", "type": "A", "value": "192.0.2.300"}, "not an IP address"),
        ({"name": "mail", "type": "A", "value": "fd00::5"}, "not an IPv4 address"),
        ({"name": "mail", "type": "AAAA", "value": "192.0.2.5"}, "not an IPv6 address"),
        ({"name": "mail", "type": "A", "value": ""}, "value is empty"),
        ({"name": "mail", "type": "SRV", "value": "x"}, "type must be one of"),
        ({"name": "bad name", "type": "A", "value": "192.0.2.5"}, "name must be @ or a host name"),
        ({"name": "www", "type": "CNAME", "value": "web"}, "not a fully qualified host name"),
        ({"name": "@", "type": "MX", "value": "mail.ereje.test", "priority": 70000}, "priority must be"),
        ({"name": "mail", "type": "A", "value": "192.0.2.5", "priority": 1}, "MX records only"),
        ({"name": "mail", "type": "A", "value": "192.0.2.5", "ttl": 60}, "unknown keys"),
        ({"name": "mail", "type": "A", "value": "192.0.2.5", "state": "gone"}, "state must be"),
        ({"name": "dc1", "type": "A", "value": "192.0.2.5"}, "domain controller's own name"),
        ({"name": "@", "type": "A", "value": "192.0.2.5"}, "registered by themselves"),
        ({"name": "_ldap._tcp", "type": "TXT", "value": "x"}, "Samba keeps for the domain"),
    ],
)
def test_bad_records_are_refused_with_the_reason(record, message):
    with pytest.raises(ValueError, match=message):
        declare(record)


def test_cname_beside_other_records_is_refused_and_every_problem_is_listed():
    with pytest.raises(ValueError) as error:
        declare(
            {"name": "www", "type": "CNAME", "value": "web.ereje.test"},
            {"name": "www", "type": "A", "value": "192.0.2.8"},
            {"name": "mail", "type": "A", "value": "nowhere"},
        )
    assert "CNAME and other records" in str(error.value)
    assert "not an IP address" in str(error.value)


# ---- the plan ----------------------------------------------------------------------------------


def test_matching_zone_needs_no_step():
    records = declare(
        {"name": "mail", "type": "A", "value": "10.89.2.50"},
        {"name": "@", "type": "MX", "value": "mail.ereje.test", "priority": 10},
        {"name": "www", "type": "CNAME", "value": "web.ereje.test"},
    )
    assert m.plan(records, zone()) == []


def test_new_address_replaces_the_old_one_and_leaves_other_types():
    records = declare({"name": "mail", "type": "A", "value": "10.89.2.51"})
    assert m.plan(records, zone()) == [
        ("delete", "mail", "A", "10.89.2.50"),
        ("add", "mail", "A", "10.89.2.51"),
    ]


def test_unlisted_names_and_the_dcs_own_records_are_left_alone():
    records = declare({"name": "web", "type": "A", "value": "10.89.2.60"})
    assert m.plan(records, zone()) == [("add", "web", "A", "10.89.2.60")]


def test_cname_replaces_the_records_of_its_name_deletions_first():
    records = declare({"name": "mail", "type": "CNAME", "value": "mx.ereje.test"})
    assert m.plan(records, zone()) == [
        ("delete", "mail", "A", "10.89.2.50"),
        ("delete", "mail", "AAAA", "fd00::5"),
        ("add", "mail", "CNAME", "mx.ereje.test"),
    ]


def test_address_replaces_a_cname():
    records = declare({"name": "www", "type": "A", "value": "10.89.2.60"})
    assert m.plan(records, zone()) == [
        ("delete", "www", "CNAME", "web.ereje.test"),
        ("add", "www", "A", "10.89.2.60"),
    ]


def test_absent_deletes_only_that_value_and_only_when_present():
    records = declare(
        {"name": "mail", "type": "AAAA", "value": "fd00::5", "state": "absent"},
        {"name": "mail", "type": "A", "value": "10.0.0.1", "state": "absent"},
    )
    assert m.plan(records, zone()) == [("delete", "mail", "AAAA", "fd00::5")]


def test_txt_split_differently_is_replaced():
    records = declare({"name": "@", "type": "TXT", "value": "v=spf1 mx -all"})
    assert m.plan(records, zone()) == [
        ("delete", "@", "TXT", "v=spf1 mx -all"),
        ("add", "@", "TXT", "'v=spf1 mx -all'"),
    ]


def test_diff_shows_the_declared_names_before_and_after():
    records = declare({"name": "mail", "type": "A", "value": "10.89.2.51"})
    current = zone()
    steps = m.plan(records, current)
    assert m.render(current, {"mail"}) == "mail A 10.89.2.50\nmail AAAA fd00::5\n"
    assert m.render(m.apply(current, steps), {"mail"}) == "mail A 10.89.2.51\nmail AAAA fd00::5\n"
    assert current["mail"]["A"] == {"10.89.2.50"}, "apply works on a copy"
