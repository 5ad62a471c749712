"""The join account's rights and the machine account quota, as planned (ereje_samba_join_delegation)."""

import ereje_samba_join_delegation as m

SID = "S-1-5-21-1-2-3-1105"
OTHER = "S-1-5-21-1-2-3-1106"
# A container's DACL as Samba prints it, with entries of other principals around.
DACL = (
    "O:DAG:DAD:AI(A;;RPLCLORC;;;AU)(OA;;CCDC;bf967a86-0de6-11d0-a285-00aa003049e2;;DA)"
    "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)"
)


def test_the_join_account_gets_five_rights_on_computer_objects_only():
    aces = dict(m.join_aces(SID))
    assert len(aces) == 5
    assert aces["create and delete computer objects"] == f"(OA;;CCDC;{m.COMPUTER};;{SID})"
    # Every right but the creation applies to computer objects only (inherit-only, object type).
    for what, ace in aces.items():
        assert ace.endswith(f";{SID})")
        if what != "create and delete computer objects":
            assert ace.startswith("(OA;CIIO;") and f";{m.COMPUTER};{SID})" in ace, ace
    # Nothing like full control, write-DACL or write-owner.
    assert not any(right in ace for ace in aces.values() for right in ("GA", "WD", "WO", "SD;"))


def test_split_aces_reads_each_entry_of_the_dacl_only():
    assert m.split_aces(DACL) == [
        "(A;;RPLCLORC;;;AU)",
        "(OA;;CCDC;bf967a86-0de6-11d0-a285-00aa003049e2;;DA)",
        "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)",
    ]
    assert m.split_aces("O:DAG:DAD:PS:(AU;SA;WP;;;WD)") == []


def test_nothing_to_do_when_every_right_and_the_quota_are_there():
    wanted = m.join_aces(SID)
    present = m.split_aces(DACL) + [ace.upper() for _, ace in wanted]
    missing, actions = m.plan(present, wanted, 0, 0)
    assert missing == [] and actions == []


def test_missing_rights_and_the_default_quota_are_planned_in_words():
    wanted = m.join_aces(SID)
    present = [*m.split_aces(DACL), wanted[0][1]]
    missing, actions = m.plan(present, wanted, 10, 0)
    assert [what for what, _ in missing] == [what for what, _ in wanted[1:]]
    assert actions[0] == "allow the join account to reset a computer's password"
    assert actions[-1] == "set ms-DS-MachineAccountQuota from 10 to 0"


def test_another_principals_rights_do_not_count_for_the_join_account():
    wanted = m.join_aces(SID)
    present = [ace.replace(SID, OTHER) for _, ace in wanted]
    missing, _ = m.plan(present, wanted, None, 0)
    assert len(missing) == 5


def test_an_unset_quota_is_set():
    _, actions = m.plan([ace for _, ace in m.join_aces(SID)], m.join_aces(SID), None, 0)
    assert actions == ["set ms-DS-MachineAccountQuota from unset to 0"]
