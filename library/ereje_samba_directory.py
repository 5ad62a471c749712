#!/usr/bin/python3
"""Ansible module: the university's OUs, role groups and users in a Samba AD domain.

Enforces ATU-5.13-b (access by role through groups), ATU-8.4-b (accounts and memberships are
exactly the declared ones) and YU-1.1.6-a (dismissed users are disabled and removed from their
groups, never deleted). The planning logic is in plain functions, unit-tested without Samba.
"""

from __future__ import annotations

import os
import re
import secrets
import string

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.samba import SAMDB_URL_OPTION, open_samdb

DOCUMENTATION = r"""
---
module: ereje_samba_directory
short_description: Organisational units, groups and users of a Samba AD domain, as declared
description:
  - Reads the domain's OUs, groups and users from the local C(sam.ldb) in one search, plans the changes
    that make them match the declaration, and applies them in one transaction.
  - Declared groups are authoritative, their members are exactly the declared users that list them.
  - A user with O(users[].state=dismissed) is disabled and removed from every group; it is never deleted.
  - Users that are not declared (and not in O(protected)) are reported, and disabled when
    O(unlisted_users=disable).
  - New users get the declared password (from Vault), or a generated one written to
    O(password_dir) (mode 0600) that must be changed at first logon.
  - Supports check mode and diff.
options:
  ous:
    type: list
    elements: dict
    default: []
    description: OUs as C(name) (a path like C(Faculties/Engineering), parents first) and C(description).
  groups:
    type: list
    elements: dict
    default: []
    description: Groups as C(name), C(ou) (an OU path, empty for CN=Users) and C(description).
  users:
    type: list
    elements: dict
    default: []
    description:
      - Users as C(name), C(given_name), C(surname), C(ou), C(groups), C(password) and
        C(state) (present or dismissed).
  unlisted_users:
    type: str
    choices: [report, disable]
    default: disable
    description: What to do with user accounts that nobody declared.
  protected:
    type: list
    elements: str
    default: [Administrator, Guest, krbtgt]
    description: Accounts never touched by the unlisted rule.
  password_dir:
    type: path
    default: /var/lib/samba/private/ereje-initial-passwords
    description: Where generated initial passwords are written (root only).
  validate_only:
    type: bool
    default: false
    description: Only check the declaration (runs anywhere, e.g. on the controller before any change).
  samdb_url:
    type: str
    default: /var/lib/samba/private/sam.ldb
    description: The domain database.
author: Ereje
"""

EXAMPLES = r"""
- name: Domain | OUs, role groups and users
  ereje.compliance.ereje_samba_directory:
    ous: [{name: Faculties}, {name: Faculties/Engineering}]
    groups: [{name: teachers, ou: Faculties}]
    users:
      - {name: aigerim, given_name: Aigerim, surname: Nurlanova,
         ou: Faculties/Engineering, groups: [teachers]}
      - {name: bolat, state: dismissed}
  no_log: true
"""

RETURN = r"""
actions:
  description: The planned changes, one line each (passwords never appear).
  returned: always
  type: list
unlisted:
  description: User accounts found in the domain that nobody declared.
  returned: always
  type: list
msg:
  description: >-
    What was read, in numbers (accounts, groups, OUs, the declared share, dismissed users
    disabled, undeclared accounts), for the audit's evidence.
  returned: when the directory was read
  type: str
  sample: >-
    read 9 user accounts, 53 groups, 5 OUs; declared 4 OUs, 3 role groups (4 members), 5 users
    (1 dismissed, 1 of them disabled); undeclared accounts: none
"""

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$")
OU_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
UF_ACCOUNTDISABLE = 0x2
USER_STATES = ("present", "dismissed")


# ---- declaration ---------------------------------------------------------------------------


def ou_dn(path: str | None, base_dn: str, default: str = "CN=Users") -> str:
    """DN of the container for an OU path (``Faculties/Engineering``), or CN=Users when empty."""
    if not path:
        return f"{default},{base_dn}"
    parts = [p for p in path.split("/") if p]
    return ",".join(f"OU={p}" for p in reversed(parts)) + f",{base_dn}"


def validate(ous: list, groups: list, users: list) -> list[str]:  # noqa: PLR0912
    """Problems in the declaration, each naming the variable; empty when it is consistent."""
    errors = []
    ou_names = [o.get("name", "") for o in ous]
    for name in ou_names:
        parts = name.split("/")
        if not name or not all(OU_PART.match(p) for p in parts):
            errors.append(f"samba_dc_ous: {name!r} is not an OU path like Faculties/Engineering")
        elif len(parts) > 1 and "/".join(parts[:-1]) not in ou_names:
            errors.append(f"samba_dc_ous: {name!r} needs its parent {'/'.join(parts[:-1])!r} declared too")
    for dup in sorted({n for n in ou_names if ou_names.count(n) > 1}):
        errors.append(f"samba_dc_ous: {dup!r} is declared more than once")
    group_names = [g.get("name", "") for g in groups]
    user_names = [u.get("name", "") for u in users]
    for var, names in (("samba_dc_groups", group_names), ("samba_dc_users", user_names)):
        for name in names:
            if not NAME.match(name or ""):
                errors.append(f"{var}: {name!r} is not an account name (letters, digits, . _ -; at most 20)")
        lowered = [n.lower() for n in names]
        for dup in sorted({n for n in lowered if lowered.count(n) > 1}):
            errors.append(f"{var}: duplicate account name {dup!r}")
    clash = {n.lower() for n in group_names} & {n.lower() for n in user_names}
    for dup in sorted(clash):
        errors.append(f"samba_dc_users: {dup!r} is also the name of a group in samba_dc_groups")
    for var, items in (("samba_dc_groups", groups), ("samba_dc_users", users)):
        for item in items:
            if item.get("ou") and item["ou"] not in ou_names:
                errors.append(
                    f"{var}: {item.get('name')!r} is in OU {item['ou']!r}, "
                    "which samba_dc_ous does not declare"
                )
    known_groups = {n.lower() for n in group_names}
    for user in users:
        if user.get("state", "present") not in USER_STATES:
            errors.append(
                f"samba_dc_users: {user.get('name')!r} has state {user.get('state')!r}, "
                "expected present or dismissed"
            )
        for group in user.get("groups") or []:
            if group.lower() not in known_groups:
                errors.append(
                    f"samba_dc_users: {user.get('name')!r} is in group {group!r}, "
                    "which samba_dc_groups does not declare"
                )
    return errors


# ---- what the domain holds ------------------------------------------------------------------


def _first(entry: dict, attr: str, default=None):
    values = entry.get(attr) or []
    if not values:
        return default
    value = values[0]
    return value.decode() if isinstance(value, bytes) else str(value)


def _all(entry: dict, attr: str) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in entry.get(attr) or []]


def current_state(entries: list[dict]) -> dict:
    """Turn search results ({attr: [values]}, with ``dn`` and ``objectClass``) into the state.

    {ous: {dn_lower: {...}}, groups: {name_lower: {...}}, users: {name_lower: {...}}}.
    Computers, and critical system objects are left out of users.
    """
    state: dict = {"ous": {}, "groups": {}, "users": {}}
    for entry in entries:
        classes = {c.lower() for c in _all(entry, "objectClass")}
        dn = _first(entry, "dn")
        if "organizationalunit" in classes:
            state["ous"][dn.lower()] = {"dn": dn, "description": _first(entry, "description", "")}
        elif "group" in classes:
            name = _first(entry, "sAMAccountName")
            state["groups"][name.lower()] = {
                "dn": dn,
                "name": name,
                "description": _first(entry, "description", ""),
                "members": {m.lower(): m for m in _all(entry, "member")},
            }
        elif "user" in classes and "computer" not in classes:
            name = _first(entry, "sAMAccountName")
            if name.endswith("$"):
                continue
            state["users"][name.lower()] = {
                "dn": dn,
                "name": name,
                "given_name": _first(entry, "givenName", ""),
                "surname": _first(entry, "sn", ""),
                "disabled": bool(int(_first(entry, "userAccountControl", "0")) & UF_ACCOUNTDISABLE),
                "critical": _first(entry, "isCriticalSystemObject", "FALSE").upper() == "TRUE",
                "member_of": _all(entry, "memberOf"),
            }
    return state


def observed(state: dict, ous: list, groups: list, users: list, unlisted: list[str]) -> str:
    """What the module read, in numbers, for the audit's evidence (issue 16: what was observed).

    Counts what the domain holds and the declaration's share of it; the plan says whether that
    share is as declared (no planned action) or not.
    """
    declared = {g["name"].lower() for g in groups}
    members = sum(len(state["groups"][name]["members"]) for name in declared if name in state["groups"])
    dismissed = [u for u in users if u.get("state") == "dismissed"]
    disabled = [u for u in dismissed if state["users"].get(u["name"].lower(), {}).get("disabled")]
    return (
        f"read {len(state['users'])} user accounts, {len(state['groups'])} groups, {len(state['ous'])} OUs; "
        f"declared {len(ous)} OUs, {len(groups)} role groups ({members} members), {len(users)} users "
        f"({len(dismissed)} dismissed, {len(disabled)} of them disabled); "
        f"undeclared accounts: {', '.join(unlisted) or 'none'}"
    )


# ---- the plan -------------------------------------------------------------------------------


def _summary_user(user: dict | None, groups: list[str]) -> str:
    if user is None:
        return "absent"
    state = "disabled" if user["disabled"] else "enabled"
    return f"{user['dn']} {state} name={user['given_name']!r} {user['surname']!r} groups={sorted(groups)}"


def plan(  # noqa: PLR0912, PLR0915, PLR0917
    state: dict, ous: list, groups: list, users: list, base_dn: str, unlisted_users: str, protected: list
):
    """The actions that make the domain match the declaration, and a before/after diff.

    Actions are tuples; the first item names the operation. Nothing here touches Samba.
    """
    actions: list[tuple] = []
    before: list[str] = []
    after: list[str] = []

    for ou in ous:
        dn = ou_dn(ou["name"], base_dn)
        desc = ou.get("description") or ""
        cur = state["ous"].get(dn.lower())
        if cur is None:
            actions.append(("create_ou", dn, desc))
            after.append(f"ou {dn} description={desc!r}")
        elif desc and cur["description"] != desc:
            actions.append(("set_description", cur["dn"], desc))
            before.append(f"ou {dn} description={cur['description']!r}")
            after.append(f"ou {dn} description={desc!r}")

    group_dn: dict[str, str] = {}
    for group in groups:
        key = group["name"].lower()
        dn = f"CN={group['name']},{ou_dn(group.get('ou'), base_dn)}"
        desc = group.get("description") or ""
        cur = state["groups"].get(key)
        if cur is None:
            actions.append(("create_group", group["name"], dn, desc))
            after.append(f"group {dn} description={desc!r}")
        else:
            if cur["dn"].lower() != dn.lower():
                actions.append(("move", cur["dn"], dn))
                before.append(f"group {cur['dn']}")
                after.append(f"group {dn}")
            if desc and cur["description"] != desc:
                actions.append(("set_description", dn, desc))
                before.append(f"group {dn} description={cur['description']!r}")
                after.append(f"group {dn} description={desc!r}")
        group_dn[key] = dn

    # Where every user will be once moved; old DN -> new DN for the member lists.
    renamed: dict[str, str] = {}
    user_dn: dict[str, str] = {}
    declared = {u["name"].lower() for u in users}
    for user in users:
        key = user["name"].lower()
        dn = f"CN={user['name']},{ou_dn(user.get('ou'), base_dn)}"
        cur = state["users"].get(key)
        if cur is not None and cur["dn"].lower() != dn.lower():
            renamed[cur["dn"].lower()] = dn
        user_dn[key] = dn

    # Desired members of each declared group.
    desired_members: dict[str, set[str]] = {k: set() for k in group_dn}
    for user in users:
        if user.get("state", "present") == "present":
            for group in user.get("groups") or []:
                desired_members[group.lower()].add(user_dn[user["name"].lower()].lower())

    for user in users:
        key = user["name"].lower()
        dn = user_dn[key]
        cur = state["users"].get(key)
        dismissed = user.get("state", "present") == "dismissed"
        want_groups = [] if dismissed else sorted(user.get("groups") or [])
        given = user.get("given_name") or ""
        surname = user.get("surname") or ""
        if cur is None:
            if dismissed:
                continue  # never existed here: nothing to keep as evidence
            actions.append(("create_user", user["name"], dn, given, surname))
            after.append(
                _summary_user(
                    {"dn": dn, "disabled": False, "given_name": given, "surname": surname}, want_groups
                )
            )
            continue
        changes = []
        if cur["dn"].lower() != dn.lower():
            changes.append(("move", cur["dn"], dn))
        if (given and cur["given_name"] != given) or (surname and cur["surname"] != surname):
            changes.append(("set_names", dn, given or cur["given_name"], surname or cur["surname"]))
        if dismissed and not cur["disabled"]:
            changes.append(("disable", dn))
        if not dismissed and cur["disabled"]:
            changes.append(("enable", dn))
        if dismissed:
            # Out of every group, declared or not (Domain Admins added by hand included).
            for group in cur["member_of"]:
                changes.append(("remove_member", group, renamed.get(cur["dn"].lower(), cur["dn"])))
        if changes:
            actions.extend(changes)
            cur_groups = [g.split(",")[0][3:] for g in cur["member_of"]]
            before.append(_summary_user(cur, cur_groups))
            after.append(
                _summary_user(
                    cur
                    | {
                        "dn": dn,
                        "disabled": dismissed,
                        "given_name": given or cur["given_name"],
                        "surname": surname or cur["surname"],
                    },
                    want_groups,
                )
            )

    # Accounts nobody declared.
    protected_l = {p.lower() for p in protected}
    unlisted = []
    for key, cur in sorted(state["users"].items()):
        if key in declared or key in protected_l or cur["critical"]:
            continue
        unlisted.append(cur["name"])
        if unlisted_users == "disable" and not cur["disabled"]:
            actions.append(("disable", cur["dn"]))
            before.append(_summary_user(cur, [g.split(",")[0][3:] for g in cur["member_of"]]))
            after.append(
                _summary_user(cur | {"disabled": True}, [g.split(",")[0][3:] for g in cur["member_of"]])
            )

    # Membership of declared groups: exactly the declared users.
    already_removed = {(a[1].lower(), a[2].lower()) for a in actions if a[0] == "remove_member"}
    dn_as_declared = {dn.lower(): dn for dn in user_dn.values()}
    for key, dn in group_dn.items():
        cur = state["groups"].get(key)
        current = set()
        if cur is not None:
            current = {renamed.get(m, cur["members"][m]).lower() for m in cur["members"]}
        want = desired_members[key]
        for member in sorted(want - current):
            actions.append(("add_member", dn, dn_as_declared.get(member, member)))
        for member in sorted(current - want):
            if (dn.lower(), member) in already_removed or (
                cur and (cur["dn"].lower(), member) in already_removed
            ):
                continue
            actions.append(("remove_member", dn, cur["members"].get(member, member) if cur else member))
        if want != current:
            if cur is not None:
                before.append(f"group {dn} members={sorted(current)}")
            after.append(f"group {dn} members={sorted(want)}")

    diff = {
        "before": "".join(f"{line}\n" for line in before),
        "after": "".join(f"{line}\n" for line in after),
    }
    return actions, diff, unlisted


def describe(action: tuple) -> str:
    """One line per action for the result (never a password)."""
    return " ".join(str(a) for a in action)


def generate_password(length: int = 24) -> str:
    """A random password with every character class (meets AD complexity)."""
    alphabet = string.ascii_letters + string.digits + "#%+-.:=@_"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.isdigit() for c in candidate)
            and any(not c.isalnum() for c in candidate)
        ):
            return candidate


# ---- applying it ----------------------------------------------------------------------------


def _apply(samdb, ldb, actions: list, users: dict, base_dn: str, password_dir: str) -> None:  # noqa: PLR0912, PLR0917
    def modify(dn, attr, values, flag):
        msg = ldb.Message()
        msg.dn = ldb.Dn(samdb, dn)
        msg[attr] = ldb.MessageElement(values, flag, attr)
        samdb.modify(msg)

    def relative(dn):  # "CN=x,OU=a,DC=..": container without the domain DN, as samba wants
        container = dn.split(",", 1)[1]
        return (
            container[: -len(base_dn) - 1] if container.lower().endswith("," + base_dn.lower()) else container
        )

    # Member additions and removals are batched per group (one modify each).
    adds: dict[str, list[str]] = {}
    removes: dict[str, list[str]] = {}
    for action in actions:
        op = action[0]
        if op == "create_ou":
            samdb.create_ou(action[1], description=action[2] or None)
        elif op == "set_description":
            modify(action[1], "description", [action[2]], ldb.FLAG_MOD_REPLACE)
        elif op == "create_group":
            samdb.newgroup(action[1], groupou=relative(action[2]), description=action[3] or None)
        elif op == "move":
            samdb.rename(ldb.Dn(samdb, action[1]), ldb.Dn(samdb, action[2]))
        elif op == "create_user":
            spec = users[action[1].lower()]
            password = spec.get("password")
            must_change = not password
            if not password:
                password = generate_password()
                os.makedirs(password_dir, mode=0o700, exist_ok=True)
                os.chmod(password_dir, 0o700)
                path = os.path.join(password_dir, action[1])
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(password + "\n")
            samdb.newuser(
                action[1],
                password,
                force_password_change_at_next_login_req=must_change,
                useusernameascn=True,
                userou=relative(action[2]),
                surname=action[4] or None,
                givenname=action[3] or None,
            )
        elif op == "set_names":
            if action[2]:
                modify(action[1], "givenName", [action[2]], ldb.FLAG_MOD_REPLACE)
            if action[3]:
                modify(action[1], "sn", [action[3]], ldb.FLAG_MOD_REPLACE)
        elif op in ("disable", "enable"):
            res = samdb.search(base=action[1], scope=ldb.SCOPE_BASE, attrs=["userAccountControl"])
            uac = int(res[0]["userAccountControl"][0])
            uac = uac | UF_ACCOUNTDISABLE if op == "disable" else uac & ~UF_ACCOUNTDISABLE
            modify(action[1], "userAccountControl", [str(uac)], ldb.FLAG_MOD_REPLACE)
        elif op == "add_member":
            adds.setdefault(action[1], []).append(action[2])
        elif op == "remove_member":
            removes.setdefault(action[1], []).append(action[2])
    for group, members in removes.items():
        modify(group, "member", members, ldb.FLAG_MOD_DELETE)
    for group, members in adds.items():
        modify(group, "member", members, ldb.FLAG_MOD_ADD)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "ous": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {"name": {"type": "str", "required": True}, "description": {"type": "str"}},
            },
            "groups": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "ou": {"type": "str"},
                    "description": {"type": "str"},
                },
            },
            "users": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "given_name": {"type": "str"},
                    "surname": {"type": "str"},
                    "ou": {"type": "str"},
                    "groups": {"type": "list", "elements": "str", "default": []},
                    "state": {"type": "str", "choices": list(USER_STATES), "default": "present"},
                    "password": {"type": "str", "no_log": True},
                },
            },
            "unlisted_users": {"type": "str", "choices": ["report", "disable"], "default": "disable"},
            "protected": {"type": "list", "elements": "str", "default": ["Administrator", "Guest", "krbtgt"]},
            "password_dir": {
                "type": "path",
                "default": "/var/lib/samba/private/ereje-initial-passwords",
                "no_log": False,
            },
            "validate_only": {"type": "bool", "default": False},
            "samdb_url": dict(SAMDB_URL_OPTION),
        },
        supports_check_mode=True,
    )
    p = module.params
    errors = validate(p["ous"], p["groups"], p["users"])
    if errors:
        module.fail_json(msg="; ".join(errors))
    if p["validate_only"]:
        module.exit_json(changed=False, actions=[], unlisted=[])

    samdb, ldb = open_samdb(module, p["samdb_url"])
    base_dn = str(samdb.domain_dn())
    res = samdb.search(
        base=base_dn,
        scope=ldb.SCOPE_SUBTREE,
        expression="(|(objectClass=organizationalUnit)(objectClass=group)(&(objectClass=user)(!(objectClass=computer))))",
        attrs=[
            "objectClass",
            "sAMAccountName",
            "description",
            "member",
            "memberOf",
            "givenName",
            "sn",
            "userAccountControl",
            "isCriticalSystemObject",
        ],
    )
    entries = []
    for msg in res:
        entry = {"dn": [str(msg.dn)]}
        for attr in msg:
            if attr.lower() != "dn":
                entry[attr] = [str(v) for v in msg[attr]]
        entries.append(entry)
    state = current_state(entries)
    actions, diff, unlisted = plan(
        state, p["ous"], p["groups"], p["users"], base_dn, p["unlisted_users"], p["protected"]
    )

    if unlisted:
        module.warn(
            f"accounts not declared in samba_dc_users: {', '.join(unlisted)}"
            + (" (disabled)" if p["unlisted_users"] == "disable" else "")
        )
    result = {
        "changed": bool(actions),
        "actions": [describe(a) for a in actions],
        "unlisted": unlisted,
        "msg": observed(state, p["ous"], p["groups"], p["users"], unlisted),
    }
    if actions:
        result["diff"] = diff
    if actions and not module.check_mode:
        users = {u["name"].lower(): u for u in p["users"]}
        samdb.transaction_start()
        try:
            _apply(samdb, ldb, actions, users, base_dn, p["password_dir"])
        except Exception as exc:  # anything Samba raises aborts the transaction
            samdb.transaction_cancel()
            module.fail_json(
                msg=f"changing the directory failed, nothing was changed: {exc}", actions=result["actions"]
            )
        samdb.transaction_commit()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
