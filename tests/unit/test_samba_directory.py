"""Validation, reading and planning of OUs, groups and users (ereje_samba_directory)."""

import ereje_samba_directory as m

BASE = "DC=ereje,DC=test"
OUS = [{"name": "Faculties"}, {"name": "Faculties/Engineering"}]
GROUPS = [{"name": "teachers", "ou": "Faculties"}, {"name": "students", "ou": "Faculties"}]


def user(name, **kw):
    return {"name": name, "ou": "Faculties/Engineering", "groups": [], "state": "present"} | kw


def entry(dn, classes, **attrs):
    return {"dn": [dn], "objectClass": classes} | {
        k: v if isinstance(v, list) else [v] for k, v in attrs.items()
    }


def domain(*entries):
    return m.current_state(list(entries))


def test_ou_dn_builds_nested_path_and_defaults_to_users():
    assert m.ou_dn("Faculties/Engineering", BASE) == "OU=Engineering,OU=Faculties,DC=ereje,DC=test"
    assert m.ou_dn("", BASE) == "CN=Users,DC=ereje,DC=test"


def test_validate_accepts_a_consistent_declaration():
    assert m.validate(OUS, GROUPS, [user("alice", groups=["teachers"])]) == []


def test_validate_refuses_user_in_unknown_group_naming_the_variable():
    errors = m.validate(OUS, GROUPS, [user("alice", groups=["deans"])])
    assert errors == ["samba_dc_users: 'alice' is in group 'deans', which samba_dc_groups does not declare"]


def test_validate_refuses_duplicate_accounts_case_insensitively():
    errors = m.validate(OUS, GROUPS, [user("alice"), user("Alice")])
    assert "samba_dc_users: duplicate account name 'alice'" in errors


def test_validate_refuses_user_named_like_a_group_and_unknown_ou_and_orphan_ou():
    errors = m.validate(
        [{"name": "Faculties/Law"}],
        GROUPS,
        [user("teachers"), {"name": "bob", "ou": "Nowhere", "groups": []}],
    )
    assert any("needs its parent 'Faculties'" in e for e in errors)
    assert any("'teachers' is also the name of a group" in e for e in errors)
    assert any("'bob' is in OU 'Nowhere'" in e for e in errors)


def test_validate_refuses_bad_names():
    errors = m.validate([], [{"name": "bad name"}], [user("x" * 21, ou=None)])
    assert len(errors) == 2


def test_current_state_reads_users_groups_and_ous_and_skips_computers():
    state = domain(
        entry("OU=Faculties,DC=ereje,DC=test", ["top", "organizationalUnit"]),
        entry(
            "CN=teachers,OU=Faculties,DC=ereje,DC=test",
            ["top", "group"],
            sAMAccountName="teachers",
            member=["CN=alice,CN=Users,DC=ereje,DC=test"],
        ),
        entry(
            "CN=alice,CN=Users,DC=ereje,DC=test",
            ["top", "person", "user"],
            sAMAccountName="alice",
            userAccountControl="514",
            memberOf=["CN=teachers,OU=Faculties,DC=ereje,DC=test"],
        ),
        entry("CN=DC2,OU=Domain Controllers,DC=ereje,DC=test", ["user", "computer"], sAMAccountName="DC2$"),
    )
    assert list(state["ous"]) == ["ou=faculties,dc=ereje,dc=test"]
    assert state["groups"]["teachers"]["members"] == {
        "cn=alice,cn=users,dc=ereje,dc=test": "CN=alice,CN=Users,DC=ereje,DC=test"
    }
    assert state["users"]["alice"]["disabled"] is True
    assert list(state["users"]) == ["alice"]


def _plan(state, users, unlisted="disable"):
    return m.plan(state, OUS, GROUPS, users, BASE, unlisted, ["Administrator", "Guest", "krbtgt"])


def test_plan_on_empty_domain_creates_everything_in_order():
    actions, diff, unlisted = _plan(domain(), [user("alice", groups=["teachers"])])
    ops = [a[0] for a in actions]
    assert ops == ["create_ou", "create_ou", "create_group", "create_group", "create_user", "add_member"]
    assert actions[-1] == (
        "add_member",
        "CN=teachers,OU=Faculties,DC=ereje,DC=test",
        "CN=alice,OU=Engineering,OU=Faculties,DC=ereje,DC=test",
    )
    assert "CN=alice" in diff["after"]
    assert unlisted == []


def converged(*extra):
    alice = "CN=alice,OU=Engineering,OU=Faculties,DC=ereje,DC=test"
    return domain(
        entry("OU=Faculties,DC=ereje,DC=test", ["organizationalUnit"]),
        entry("OU=Engineering,OU=Faculties,DC=ereje,DC=test", ["organizationalUnit"]),
        entry(
            "CN=teachers,OU=Faculties,DC=ereje,DC=test", ["group"], sAMAccountName="teachers", member=[alice]
        ),
        entry("CN=students,OU=Faculties,DC=ereje,DC=test", ["group"], sAMAccountName="students"),
        entry(
            alice,
            ["user"],
            sAMAccountName="alice",
            userAccountControl="512",
            memberOf=["CN=teachers,OU=Faculties,DC=ereje,DC=test"],
        ),
        entry("CN=Administrator,CN=Users,DC=ereje,DC=test", ["user"], sAMAccountName="Administrator"),
        entry(
            "CN=krbtgt,CN=Users,DC=ereje,DC=test",
            ["user"],
            sAMAccountName="krbtgt",
            userAccountControl="514",
            isCriticalSystemObject="TRUE",
        ),
        *extra,
    )


def test_plan_is_empty_when_domain_matches():
    actions, diff, unlisted = _plan(converged(), [user("alice", groups=["teachers"])])
    assert actions == []
    assert diff == {"before": "", "after": ""}
    assert unlisted == []


def test_dismissed_user_is_disabled_and_removed_from_every_group_not_deleted():
    state = converged()
    state["users"]["alice"]["member_of"].append("CN=Domain Admins,CN=Users,DC=ereje,DC=test")
    actions, diff, _ = _plan(state, [user("alice", groups=["teachers"], state="dismissed")])
    alice = "CN=alice,OU=Engineering,OU=Faculties,DC=ereje,DC=test"
    assert ("disable", alice) in actions
    assert ("remove_member", "CN=teachers,OU=Faculties,DC=ereje,DC=test", alice) in actions
    assert ("remove_member", "CN=Domain Admins,CN=Users,DC=ereje,DC=test", alice) in actions
    assert not [a for a in actions if a[0] == "delete"]
    # the membership of the declared group is removed once, not twice
    assert len([a for a in actions if a[0] == "remove_member"]) == 2
    assert "disabled" in diff["after"]


def test_unlisted_account_is_disabled_or_only_reported():
    extra = entry(
        "CN=mallory,CN=Users,DC=ereje,DC=test", ["user"], sAMAccountName="mallory", userAccountControl="512"
    )
    actions, _, unlisted = _plan(converged(extra), [user("alice", groups=["teachers"])])
    assert unlisted == ["mallory"]
    assert actions == [("disable", "CN=mallory,CN=Users,DC=ereje,DC=test")]
    actions, _, unlisted = _plan(converged(extra), [user("alice", groups=["teachers"])], unlisted="report")
    assert unlisted == ["mallory"]
    assert actions == []


def test_membership_added_by_hand_to_a_declared_group_is_removed():
    state = converged()
    state["groups"]["students"]["members"]["cn=alice,ou=engineering,ou=faculties,dc=ereje,dc=test"] = (
        "CN=alice,OU=Engineering,OU=Faculties,DC=ereje,DC=test"
    )
    actions, _, _ = _plan(state, [user("alice", groups=["teachers"])])
    assert actions == [
        (
            "remove_member",
            "CN=students,OU=Faculties,DC=ereje,DC=test",
            "CN=alice,OU=Engineering,OU=Faculties,DC=ereje,DC=test",
        )
    ]


def test_user_moved_to_another_ou_keeps_its_memberships():
    actions, _, _ = _plan(converged(), [user("alice", ou="Faculties", groups=["teachers"])])
    assert actions == [
        (
            "move",
            "CN=alice,OU=Engineering,OU=Faculties,DC=ereje,DC=test",
            "CN=alice,OU=Faculties,DC=ereje,DC=test",
        )
    ]


def test_disabled_user_declared_present_is_enabled():
    state = converged()
    state["users"]["alice"]["disabled"] = True
    actions, _, _ = _plan(state, [user("alice", groups=["teachers"])])
    assert actions == [("enable", "CN=alice,OU=Engineering,OU=Faculties,DC=ereje,DC=test")]


def test_generated_password_meets_complexity():
    password = m.generate_password()
    assert len(password) == 24
    assert any(c.isupper() for c in password) and any(c.isdigit() for c in password)
    assert any(not c.isalnum() for c in password)


def test_describe_never_contains_more_than_the_action():
    assert m.describe(("disable", "CN=x")) == "disable CN=x"


def test_what_was_read_is_said_in_numbers_for_the_audit():
    """Issue 16: a pass shows what was observed, not only "nothing to change"."""
    state = converged()
    said = m.observed(state, OUS, GROUPS, [user("alice", groups=["teachers"])], [])
    users, groups, ous = len(state["users"]), len(state["groups"]), len(state["ous"])
    assert said.startswith(
        f"read {users} user accounts, {groups} groups, {ous} OUs; declared 2 OUs, 2 role groups"
    )
    assert said.endswith("1 users (0 dismissed, 0 of them disabled); undeclared accounts: none")
    state["users"]["alice"]["disabled"] = True
    said = m.observed(state, OUS, GROUPS, [user("alice", state="dismissed")], ["mallory"])
    assert "(1 dismissed, 1 of them disabled); undeclared accounts: mallory" in said
