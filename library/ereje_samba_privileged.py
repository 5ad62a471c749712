#!/usr/bin/python3
"""Ansible module: the privileged groups of a Samba AD domain hold exactly the declared members.

Enforces ATU-6.3-a (access to information resources is reviewed): Domain Admins, Administrators
and the other privileged groups have exactly the direct members that the declaration names, and
the audit (check mode) shows who is in them. The reading and planning logic is in plain
functions, unit-tested without Samba.
"""

from __future__ import annotations

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.samba import (
    SAMDB_URL_OPTION,
    ldap_escape,
    open_samdb,
)
from ansible_collections.ereje.compliance.plugins.module_utils.status import FAIL_ON_PROBLEM

DOCUMENTATION = r"""
---
module: ereje_samba_privileged
short_description: Privileged groups of a Samba AD domain hold exactly the declared members
description:
  - Reads the declared groups and their direct members from the local C(sam.ldb) in two searches (the
    declared groups and members by name, then every current member by DN), plans the changes that
    make each group's direct members exactly the declared ones, and applies them in one transaction.
  - Members are compared by C(sAMAccountName), case-insensitively; a computer may be written with or
    without its trailing C($). Nested groups count as one member (the group), they are not expanded.
  - A declared group or member that does not exist, a name declared twice, or a member that is the
    group itself is a problem found before any change; the task fails unless O(fail_on_problem=false),
    which reports the problems and changes nothing.
  - Any group may be declared, not only the well-known privileged ones.
  - Supports check mode (for the audit a planned change is drift, and the result says who is where) and diff.
  - Enforces control ATU-6.3-a of the Ereje catalog.
options:
  groups:
    type: dict
    required: true
    description:
      - Group name (C(sAMAccountName)) -> list of its declared direct members (C(sAMAccountName) of a
        user, group or computer; a foreign security principal by its SID). An empty list (or null)
        means the group must have no members.
  fail_on_problem:
    type: bool
    default: true
    description:
      - Fail when the declaration names a group or member the domain does not hold; false only reports
        the problems (and changes nothing).
  samdb_url:
    type: str
    default: /var/lib/samba/private/sam.ldb
    description: The domain database.
author: Ereje
"""

EXAMPLES = r"""
- name: Domain | privileged groups hold exactly the declared members
  ereje.compliance.ereje_samba_privileged:
    groups:
      Administrators: [Administrator, Domain Admins, Enterprise Admins]
      Domain Admins: [Administrator]
      Enterprise Admins: [Administrator]
      Schema Admins: [Administrator]
      Group Policy Creator Owners: [Administrator]
      DnsAdmins: []
      Account Operators: []
      Server Operators: []
      Backup Operators: []
      Print Operators: []
"""

RETURN = r"""
actions:
  description: The planned changes, one sentence each (also in check mode, where nothing is changed).
  returned: always
  type: list
  elements: str
  sample: ["remove aigerim (user) from Domain Admins", "add Administrator (user) to Schema Admins"]
members:
  description:
    - Group -> its direct members as read before any change, sorted by name, each as C(name)
      (C(sAMAccountName); a foreign security principal by its SID) and C(type) (user, group,
      computer, service account, foreign principal or object). Groups not found are left out.
  returned: always
  type: dict
  sample: {"Domain Admins": [{"name": "Administrator", "type": "user"}], "DnsAdmins": []}
problems:
  description: What is wrong with the declaration against the domain, naming samba_dc_privileged_groups.
  returned: always
  type: list
  elements: str
msg:
  description: >-
    The problems or the planned actions when there are any, then (after C(read:)) the members read,
    one group after another; without actions or problems, only the members read. The audit's evidence.
  returned: always
  type: str
  sample: >-
    remove aigerim (user) from Domain Admins; read: Domain Admins: Administrator, aigerim;
    DnsAdmins: no members
"""

VAR = "samba_dc_privileged_groups"
SID = re.compile(r"^S-1-\d+(-\d+)+$", re.IGNORECASE)


# ---- declaration ---------------------------------------------------------------------------


def validate_declaration(groups) -> list[str]:
    """Problems in the shape of the declaration itself (no domain needed), each naming the variable."""
    if not isinstance(groups, dict) or not groups:
        return [f"{VAR}: declare at least one group with its members"]
    errors = []
    seen: set[str] = set()
    for group, members in groups.items():
        name = str(group).strip()
        if not name:
            errors.append(f"{VAR}: a group has an empty name")
            continue
        if name.lower() in seen:
            errors.append(f"{VAR}: group {name!r} is declared more than once")
        seen.add(name.lower())
        if members is None:
            continue
        if not isinstance(members, list) or not all(isinstance(x, str) and x.strip() for x in members):
            errors.append(f"{VAR}: the members of {name!r} must be a list of account names")
            continue
        lowered = [x.strip().lower() for x in members]
        for dup in sorted({x for x in lowered if lowered.count(x) > 1}):
            errors.append(f"{VAR}: member {dup!r} is declared more than once in {name!r}")
    return errors


def declared(groups: dict) -> list[tuple[str, list[str]]]:
    """The declaration as (group, [members]) pairs, names stripped, null read as no members."""
    return [(str(g).strip(), [x.strip() for x in members or []]) for g, members in groups.items()]


def name_filter(groups: list[tuple[str, list[str]]]) -> str:
    """First search: every declared group and member by name (a computer also with its ``$``)."""
    names: list[str] = []
    for group, members in groups:
        names.append(group)
        for member in members:
            names.append(member)
            if not member.endswith("$"):
                names.append(member + "$")
    terms = []
    for name in dict.fromkeys(n.lower() for n in names):
        terms.append(f"(sAMAccountName={ldap_escape(name)})")
        if SID.match(name):
            terms.append(f"(&(objectClass=foreignSecurityPrincipal)(cn={ldap_escape(name)}))")
    return "(|" + "".join(terms) + ")"


# ---- what the domain holds ------------------------------------------------------------------


def _first(entry: dict, attr: str, default=None):
    values = entry.get(attr) or []
    if not values:
        return default
    value = values[0]
    return value.decode() if isinstance(value, bytes) else str(value)


def _all(entry: dict, attr: str) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in entry.get(attr) or []]


def _rdn_value(dn: str) -> str:
    """``CN=S-1-5-11,CN=ForeignSecurityPrincipals,...`` -> ``S-1-5-11`` (escapes kept as written)."""
    first = re.split(r"(?<!\\),", dn, maxsplit=1)[0]
    return first.split("=", 1)[-1]


def account_type(classes: list[str]) -> str:
    """user, group, computer, service account, foreign principal or object, from the objectClass values."""
    lowered = {c.lower() for c in classes}
    if lowered & {"msds-groupmanagedserviceaccount", "msds-managedserviceaccount"}:
        return "service account"
    for cls, kind in (
        ("computer", "computer"),
        ("group", "group"),
        ("foreignsecurityprincipal", "foreign principal"),
        ("user", "user"),
    ):
        if cls in lowered:
            return kind
    return "object"


def accounts(entries: list[dict]) -> dict[str, dict]:
    """Search results ({attr: [values]} with ``dn``) -> {dn_lower: {dn, name, type, members}}."""
    found = {}
    for entry in entries:
        dn = _first(entry, "dn")
        found[dn.lower()] = {
            "dn": dn,
            "name": _first(entry, "sAMAccountName") or _rdn_value(dn),
            "type": account_type(_all(entry, "objectClass")),
            "members": _all(entry, "member"),
        }
    return found


def member_filter(entries: list[dict], groups: list[tuple[str, list[str]]]) -> str | None:
    """Second search: the current members of the declared groups not already read, by DN."""
    known = accounts(entries)
    by_name = {a["name"].lower(): a for a in known.values()}
    wanted = []
    for group, _ in groups:
        account = by_name.get(group.lower())
        if account is None or account["type"] != "group":
            continue
        wanted.extend(dn for dn in account["members"] if dn.lower() not in known)
    if not wanted:
        return None
    terms = "".join(f"(distinguishedName={ldap_escape(dn)})" for dn in dict.fromkeys(wanted))
    return f"(|{terms})"


def resolve(by_name: dict[str, dict], name: str) -> dict | None:
    """The account a declared name means: the exact name first, then the computer ``name$``."""
    account = by_name.get(name.lower())
    if account is None and not name.endswith("$"):
        account = by_name.get(name.lower() + "$")
    return account


def current_state(entries: list[dict], groups: list[tuple[str, list[str]]]) -> tuple[list[dict], list[str]]:
    """Per declared group: the group, its current direct members and the declared ones, resolved.

    Returns ([{declared, group, current, want}], problems); groups with a problem are left out.
    A current member whose DN was not read (it should always be) is kept, named by its RDN.
    """
    known = accounts(entries)
    by_name = {a["name"].lower(): a for a in known.values()}
    state = []
    problems = []
    for name, members in groups:
        group = by_name.get(name.lower())
        if group is None:
            problems.append(f"{VAR}: group {name!r} does not exist in the domain")
            continue
        if group["type"] != "group":
            problems.append(f"{VAR}: {name!r} is a {group['type']} in the domain, not a group")
            continue
        current = [
            known.get(dn.lower()) or {"dn": dn, "name": _rdn_value(dn), "type": "object", "members": []}
            for dn in group["members"]
        ]
        want: list[dict] = []
        declared_as: dict[str, str] = {}
        ok = True
        for member in members:
            account = resolve(by_name, member)
            if account is None:
                problems.append(f"{VAR}: member {member!r} of {group['name']!r} does not exist in the domain")
                ok = False
            elif account["dn"].lower() == group["dn"].lower():
                problems.append(f"{VAR}: {group['name']!r} cannot be a member of itself")
                ok = False
            elif account["dn"].lower() in declared_as:
                problems.append(
                    f"{VAR}: {declared_as[account['dn'].lower()]!r} and {member!r} in {group['name']!r} "
                    f"are the same account {account['name']!r}"
                )
                ok = False
            else:
                declared_as[account["dn"].lower()] = member
                want.append(account)
        if ok:
            state.append(
                {"declared": name, "group": group, "current": _sorted(current), "want": _sorted(want)}
            )
    return state, problems


def _sorted(members: list[dict]) -> list[dict]:
    return sorted(members, key=lambda a: (a["name"].lower(), a["dn"].lower()))


# ---- the plan -------------------------------------------------------------------------------


def plan(state: list[dict]) -> list[tuple[str, dict, dict]]:
    """(op, group, member) for every undeclared direct member to remove and declared one to add."""
    actions = []
    for item in state:
        current = {a["dn"].lower() for a in item["current"]}
        want = {a["dn"].lower() for a in item["want"]}
        actions += [("remove", item["group"], a) for a in item["current"] if a["dn"].lower() not in want]
        actions += [("add", item["group"], a) for a in item["want"] if a["dn"].lower() not in current]
    return actions


def describe(action: tuple[str, dict, dict]) -> str:
    """``remove aigerim (user) from Domain Admins`` / ``add Administrator (user) to Schema Admins``."""
    op, group, member = action
    return f"{op} {member['name']} ({member['type']}) {'from' if op == 'remove' else 'to'} {group['name']}"


def group_line(name: str, members: list[dict]) -> str:
    """``Domain Admins: Administrator, aigerim`` or ``DnsAdmins: no members``."""
    return f"{name}: {', '.join(a['name'] for a in members) if members else 'no members'}"


def evidence(state: list[dict]) -> str:
    """What was read, one group after another, for the audit."""
    return "; ".join(group_line(item["group"]["name"], item["current"]) for item in state)


def summary(state: list[dict], actions: list, problems: list[str]) -> str:
    """The result's msg: problems or actions first, then what was read."""
    read = evidence(state)
    first = problems or [describe(a) for a in actions]
    if not first:
        return read
    return "; ".join(first) + (f"; read: {read}" if read else "")


def members_read(state: list[dict]) -> dict[str, list[dict]]:
    """Group -> [{name, type}] as read, before any change."""
    return {
        item["group"]["name"]: [{"name": a["name"], "type": a["type"]} for a in item["current"]]
        for item in state
    }


def diff(state: list[dict]) -> dict[str, str]:
    """Before/after, one line per group; after keeps the order of what was read."""
    before, after = [], []
    for item in state:
        want = {a["dn"].lower() for a in item["want"]}
        kept = [a for a in item["current"] if a["dn"].lower() in want]
        current = {a["dn"].lower() for a in item["current"]}
        added = [a for a in item["want"] if a["dn"].lower() not in current]
        before.append(group_line(item["group"]["name"], item["current"]) + "\n")
        after.append(group_line(item["group"]["name"], _sorted(kept + added)) + "\n")
    return {"before": "".join(before), "after": "".join(after)}


# ---- applying it ----------------------------------------------------------------------------


def _apply(samdb, ldb, actions: list) -> None:
    """One modify per group and operation: removals first, then additions."""
    batches: dict[tuple[str, str], list[str]] = {}
    for op, group, member in actions:
        batches.setdefault((op, group["dn"]), []).append(member["dn"])
    for op in ("remove", "add"):
        flag = ldb.FLAG_MOD_DELETE if op == "remove" else ldb.FLAG_MOD_ADD
        for (kind, group_dn), members in batches.items():
            if kind != op:
                continue
            msg = ldb.Message()
            msg.dn = ldb.Dn(samdb, group_dn)
            msg["member"] = ldb.MessageElement(members, flag, "member")
            samdb.modify(msg)


def _read(samdb, ldb, base_dn: str, expression: str) -> list[dict]:
    res = samdb.search(
        base=base_dn,
        scope=ldb.SCOPE_SUBTREE,
        expression=expression,
        attrs=["objectClass", "sAMAccountName", "member"],
    )
    entries = []
    for msg in res:
        entry = {"dn": [str(msg.dn)]}
        for attr in msg:
            if attr.lower() != "dn":
                entry[attr] = [str(v) for v in msg[attr]]
        entries.append(entry)
    return entries


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "groups": {"type": "dict", "required": True},
            "samdb_url": dict(SAMDB_URL_OPTION),
            **FAIL_ON_PROBLEM,
        },
        supports_check_mode=True,
    )
    p = module.params

    def stop(problems: list[str], state: list[dict]) -> None:
        result = {
            "changed": False,
            "actions": [],
            "members": members_read(state),
            "problems": problems,
            "msg": summary(state, [], problems),
        }
        if p["fail_on_problem"]:
            module.fail_json(**result)
        for problem in problems:
            module.warn(problem)
        module.exit_json(**result)

    errors = validate_declaration(p["groups"])
    if errors:
        stop(errors, [])
    groups = declared(p["groups"])

    samdb, ldb = open_samdb(module, p["samdb_url"])
    base_dn = str(samdb.domain_dn())
    entries = _read(samdb, ldb, base_dn, name_filter(groups))
    more = member_filter(entries, groups)
    if more:
        entries += _read(samdb, ldb, base_dn, more)
    state, problems = current_state(entries, groups)
    if problems:
        stop(problems, state)

    actions = plan(state)
    result = {
        "changed": bool(actions),
        "actions": [describe(a) for a in actions],
        "members": members_read(state),
        "problems": [],
        "msg": summary(state, actions, []),
    }
    if module._diff:
        result["diff"] = diff(state)
    if actions and not module.check_mode:
        samdb.transaction_start()
        try:
            _apply(samdb, ldb, actions)
        except Exception as exc:  # anything Samba raises aborts the transaction
            samdb.transaction_cancel()
            module.fail_json(
                msg=f"changing the privileged groups failed, nothing was changed: {exc}",
                actions=result["actions"],
                members=result["members"],
            )
        samdb.transaction_commit()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
