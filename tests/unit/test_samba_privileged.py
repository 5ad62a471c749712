"""Reading, validation and planning of the privileged groups' members (ereje_samba_privileged)."""

import ereje_samba_privileged as m

BASE = "DC=ereje,DC=test"
USERS = f"CN=Users,{BASE}"
BUILTIN = f"CN=Builtin,{BASE}"
ADMIN = f"CN=Administrator,{USERS}"
DOMAIN_ADMINS = f"CN=Domain Admins,{USERS}"
ENTERPRISE_ADMINS = f"CN=Enterprise Admins,{USERS}"
AIGERIM = f"CN=aigerim,OU=Engineering,OU=Faculties,{BASE}"
WS1 = f"CN=WS1,CN=Computers,{BASE}"


def entry(dn, classes, **attrs):
    return {"dn": [dn], "objectClass": classes} | {
        k: v if isinstance(v, list) else [v] for k, v in attrs.items()
    }


def group(dn, name, *members):
    return entry(dn, ["top", "group"], sAMAccountName=name, member=list(members))


def user(dn, name):
    return entry(dn, ["top", "person", "organizationalPerson", "user"], sAMAccountName=name)


def computer(dn, name):
    return entry(dn, ["top", "person", "organizationalPerson", "user", "computer"], sAMAccountName=name)


def fresh_domain(*extra, domain_admins=(ADMIN,), dns_admins=()):
    """The entries a freshly provisioned domain returns for the declared names and members."""
    return [
        group(f"CN=Administrators,{BUILTIN}", "Administrators", DOMAIN_ADMINS, ENTERPRISE_ADMINS, ADMIN),
        group(DOMAIN_ADMINS, "Domain Admins", *domain_admins),
        group(ENTERPRISE_ADMINS, "Enterprise Admins", ADMIN),
        group(f"CN=DnsAdmins,{USERS}", "DnsAdmins", *dns_admins),
        user(ADMIN, "Administrator"),
        *extra,
    ]


DECLARED = {
    "Administrators": ["Administrator", "Domain Admins", "Enterprise Admins"],
    "Domain Admins": ["Administrator"],
    "Enterprise Admins": ["Administrator"],
    "DnsAdmins": [],
}


def read(entries, groups=None):
    return m.current_state(entries, m.declared(DECLARED if groups is None else groups))


def test_a_fresh_domain_as_declared_plans_nothing_and_says_what_was_read():
    state, problems = read(fresh_domain())
    assert problems == []
    assert m.plan(state) == []
    assert m.summary(state, [], []) == (
        "Administrators: Administrator, Domain Admins, Enterprise Admins; Domain Admins: Administrator; "
        "Enterprise Admins: Administrator; DnsAdmins: no members"
    )


def test_undeclared_member_is_planned_for_removal_and_named_in_the_evidence():
    state, problems = read(fresh_domain(user(AIGERIM, "aigerim"), domain_admins=(ADMIN, AIGERIM)))
    assert problems == []
    actions = m.plan(state)
    assert [m.describe(a) for a in actions] == ["remove aigerim (user) from Domain Admins"]
    assert actions[0][1]["dn"] == DOMAIN_ADMINS and actions[0][2]["dn"] == AIGERIM
    msg = m.summary(state, actions, [])
    assert msg.startswith("remove aigerim (user) from Domain Admins; read: ")
    assert "Domain Admins: Administrator, aigerim;" in msg
    assert m.diff(state)["before"].splitlines()[1] == "Domain Admins: Administrator, aigerim"
    assert m.diff(state)["after"].splitlines()[1] == "Domain Admins: Administrator"


def test_missing_declared_member_is_planned_for_addition():
    entries = [
        group(f"CN=Schema Admins,{USERS}", "Schema Admins"),
        user(ADMIN, "Administrator"),
    ]
    state, problems = read(entries, {"Schema Admins": ["Administrator"]})
    assert problems == []
    actions = m.plan(state)
    assert [m.describe(a) for a in actions] == ["add Administrator (user) to Schema Admins"]
    assert actions[0][2]["dn"] == ADMIN
    assert m.summary(state, actions, []) == (
        "add Administrator (user) to Schema Admins; read: Schema Admins: no members"
    )
    assert m.diff(state) == {
        "before": "Schema Admins: no members\n",
        "after": "Schema Admins: Administrator\n",
    }


def test_names_match_case_insensitively_and_a_computer_with_or_without_its_dollar():
    entries = fresh_domain(computer(WS1, "WS1$"), dns_admins=(WS1, ADMIN))
    for ws1 in ("ws1", "ws1$", "WS1$"):
        declared = DECLARED | {"domain admins": ["ADMINISTRATOR"], "DnsAdmins": [ws1, "administrator"]}
        del declared["Domain Admins"]
        state, problems = read(entries, declared)
        assert problems == []
        assert m.plan(state) == [], ws1
    assert m.members_read(state)["DnsAdmins"] == [
        {"name": "Administrator", "type": "user"},
        {"name": "WS1$", "type": "computer"},
    ]


def test_a_declared_user_is_preferred_to_a_computer_of_the_same_name():
    ws1_user = f"CN=ws1,{USERS}"
    entries = fresh_domain(computer(WS1, "WS1$"), user(ws1_user, "ws1"), dns_admins=(WS1,))
    state, _ = read(entries, {"DnsAdmins": ["ws1"]})
    assert [m.describe(a) for a in m.plan(state)] == [
        "remove WS1$ (computer) from DnsAdmins",
        "add ws1 (user) to DnsAdmins",
    ]


def test_a_declared_group_missing_from_the_domain_is_an_error_naming_the_variable():
    state, problems = read(fresh_domain(), {"Domain Admin": ["Administrator"], "DnsAdmins": []})
    assert problems == ["samba_dc_privileged_groups: group 'Domain Admin' does not exist in the domain"]
    assert [item["group"]["name"] for item in state] == ["DnsAdmins"]
    assert m.summary(state, [], problems) == f"{problems[0]}; read: DnsAdmins: no members"


def test_a_declared_member_missing_from_the_domain_is_an_error_and_nothing_is_planned_for_its_group():
    state, problems = read(fresh_domain(), DECLARED | {"Domain Admins": ["Administrator", "bolat"]})
    assert problems == [
        "samba_dc_privileged_groups: member 'bolat' of 'Domain Admins' does not exist in the domain"
    ]
    assert "Domain Admins" not in m.members_read(state)


def test_a_name_that_is_not_a_group_is_an_error():
    _, problems = read(fresh_domain(), {"Administrator": []})
    assert problems == ["samba_dc_privileged_groups: 'Administrator' is a user in the domain, not a group"]


def test_two_spellings_of_one_account_and_a_group_in_itself_are_errors():
    entries = fresh_domain(computer(WS1, "WS1$"))
    _, problems = read(entries, {"DnsAdmins": ["ws1", "WS1$"], "Domain Admins": ["Domain Admins"]})
    assert problems == [
        "samba_dc_privileged_groups: 'ws1' and 'WS1$' in 'DnsAdmins' are the same account 'WS1$'",
        "samba_dc_privileged_groups: 'Domain Admins' cannot be a member of itself",
    ]


def test_declaration_shape_errors_name_the_variable():
    assert m.validate_declaration(DECLARED) == []
    assert m.validate_declaration({"DnsAdmins": None}) == []
    assert m.validate_declaration({}) == [
        "samba_dc_privileged_groups: declare at least one group with its members"
    ]
    assert m.validate_declaration({"Domain Admins": ["Administrator", "administrator"]}) == [
        "samba_dc_privileged_groups: member 'administrator' is declared more than once in 'Domain Admins'"
    ]
    assert m.validate_declaration({"Domain Admins": "Administrator"}) == [
        "samba_dc_privileged_groups: the members of 'Domain Admins' must be a list of account names"
    ]
    assert m.validate_declaration({"DnsAdmins": [], "dnsadmins": []}) == [
        "samba_dc_privileged_groups: group 'dnsadmins' is declared more than once"
    ]


def test_nested_group_is_typed_as_group_and_foreign_principals_are_named_by_sid():
    fsp = f"CN=S-1-5-11,CN=ForeignSecurityPrincipals,{BASE}"
    entries = [
        *fresh_domain(),
        group(f"CN=Pre-Windows 2000 Compatible Access,{BUILTIN}", "Pre-Windows 2000 Compatible Access", fsp),
        entry(fsp, ["top", "foreignSecurityPrincipal"]),
    ]
    state, problems = read(entries, DECLARED | {"Pre-Windows 2000 Compatible Access": ["S-1-5-11"]})
    assert problems == []
    assert m.plan(state) == []
    members = m.members_read(state)
    assert members["Administrators"] == [
        {"name": "Administrator", "type": "user"},
        {"name": "Domain Admins", "type": "group"},
        {"name": "Enterprise Admins", "type": "group"},
    ]
    assert members["Pre-Windows 2000 Compatible Access"] == [
        {"name": "S-1-5-11", "type": "foreign principal"}
    ]
    state, _ = read(entries, {"Administrators": ["Administrator"]})
    assert [m.describe(a) for a in m.plan(state)] == [
        "remove Domain Admins (group) from Administrators",
        "remove Enterprise Admins (group) from Administrators",
    ]


def test_searches_ask_for_declared_names_then_unread_members_by_dn():
    groups = m.declared({"Domain Admins": ["Administrator", "ws1$"], "Odd(*)": []})
    expression = m.name_filter(groups)
    assert expression == (
        "(|(sAMAccountName=domain admins)(sAMAccountName=administrator)(sAMAccountName=administrator$)"
        r"(sAMAccountName=ws1$)(sAMAccountName=odd\28\2a\29))"
    )
    entries = [group(DOMAIN_ADMINS, "Domain Admins", ADMIN, AIGERIM), user(ADMIN, "Administrator")]
    assert m.member_filter(entries, groups) == f"(|(distinguishedName={AIGERIM}))"
    assert m.member_filter([*entries, user(AIGERIM, "aigerim")], groups) is None
    assert "(&(objectClass=foreignSecurityPrincipal)(cn=s-1-5-11))" in m.name_filter(
        m.declared({"X": ["S-1-5-11"]})
    )


def test_a_member_whose_dn_was_not_read_is_still_removed_by_its_dn():
    ghost = f"CN=ghost,{USERS}"
    state, _ = read(fresh_domain(domain_admins=(ADMIN, ghost)))
    actions = m.plan(state)
    assert [m.describe(a) for a in actions] == ["remove ghost (object) from Domain Admins"]
    assert actions[0][2]["dn"] == ghost


def test_changes_are_applied_one_modify_per_group_removals_first():
    class FakeLdb:
        FLAG_MOD_ADD, FLAG_MOD_DELETE = 1, 2

        class Message(dict):
            pass

        @staticmethod
        def Dn(_samdb, dn):
            return dn

        @staticmethod
        def MessageElement(values, flag, attr):
            return (attr, flag, list(values))

    class FakeSamDB:
        def __init__(self):
            self.modified = []

        def modify(self, msg):
            self.modified.append((msg.dn, msg["member"]))

    entries = fresh_domain(user(AIGERIM, "aigerim"), domain_admins=(AIGERIM,))
    state, _ = read(entries, DECLARED | {"DnsAdmins": ["aigerim"]})
    samdb = FakeSamDB()
    m._apply(samdb, FakeLdb, m.plan(state))
    assert samdb.modified == [
        (DOMAIN_ADMINS, ("member", 2, [AIGERIM])),
        (DOMAIN_ADMINS, ("member", 1, [ADMIN])),
        (f"CN=DnsAdmins,{USERS}", ("member", 1, [AIGERIM])),
    ]
