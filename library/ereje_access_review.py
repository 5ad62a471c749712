#!/usr/bin/python3
"""Ansible module: who holds administrative access on a Debian host, against what is declared (ATU-6.3-a)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ereje_access_review
short_description: Review who holds administrative access to a Debian host against what is declared
description:
  - Control ATU-6.3-a (access to information resources is reviewed). Reads who holds administrative
    access and compares it with what the inventory and the roles declared; anything undeclared is a
    problem naming the account.
  - Reads the members of O(admin_group) and of every group in O(privileged_groups) (supplementary
    members in C(/etc/group) and accounts whose primary group it is), the accounts with UID 0, the
    principals of the sudoers rules (C(cvtsudoers -f json /etc/sudoers), which follows
    C(@includedir)), and the SSH keys of every account (C(~/.ssh/authorized_keys),
    C(~/.ssh/authorized_keys2) and each declared O(declared[].ssh_keys_file)).
  - Declared are O(admins) (in O(admin_group), with exactly their O(admins[].ssh_keys)), the
    entries of O(declared), and those the roles wrote in O(access_dir).
  - With O(remove_undeclared=true), outside check mode, what can be removed safely is removed and
    the host read again; the problems are what remains. Removed are undeclared members of the
    admin and privileged groups (C(gpasswd -d)) and the key files of accounts whose keys nobody
    declared (moved to O(quarantine_dir), as evidence).
  - Only reported, never removed (a person decides) are a membership by primary group, a UID-0
    account other than root, a sudoers rule (its file may be a package's), an administrator's
    extra key (the baseline role's exclusive authorized_key task removes it), and the access of
    the account Ansible connected as (C(SUDO_USER) unless root, or the login of an SSH session),
    whose loss would lock the next run out.
  - While a declaration in O(access_dir) cannot be read, nothing is removed (its accounts would be
    taken for intruders).
  - In check mode nothing changes; what would be removed is returned in RV(removed) and reported
    as a change (drift for C(--check --diff)), and the task fails on every problem found.
version_added: "0.1.0"
author: Ereje
options:
  admin_group:
    description: The group that grants sudo to the administrators (its members must be O(admins)).
    type: str
    required: true
  admins:
    description: The administrators declared present.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Login name.
        type: str
        required: true
      ssh_keys:
        description:
          - Their public keys, one C(authorized_keys) line each; the keys found must be exactly
            these (compared by type and key, not comment).
        type: list
        elements: str
        default: []
  privileged_groups:
    description:
      - Groups that give root or near-root power besides O(admin_group). Every member must be
        declared with the group in O(declared[].groups) (not even an administrator, whose way to
        sudo is the admin group). Groups that do not exist on the host are skipped (RV(observed)
        lists them). O(admin_group) in this list is reviewed as the admin group.
      - The sudoers rules may grant sudo to these groups, since their members are reviewed.
    type: list
    elements: str
    default: [sudo, wheel, root, disk, shadow, docker, lxd, libvirt]
  declared:
    description: Access that is not an administrator's, declared in the inventory.
    type: list
    elements: dict
    default: []
    suboptions:
      account:
        description: Login name.
        type: str
        required: true
      groups:
        description: Privileged groups (or O(admin_group)) the account may be a member of.
        type: list
        elements: str
        default: []
      ssh_keys_file:
        description: An C(authorized_keys) file the account may have (any keys in it). Absolute path.
        type: path
      sudo:
        description: A sudoers rule may name the account.
        type: bool
        default: false
      by:
        description: Who declared it (shown in the evidence).
        type: str
        default: inventory
      why:
        description: Why the account holds this access (for the auditor; not judged).
        type: str
  access_dir:
    description:
      - Declarations written by roles (C(tasks_from=access_declare) of the baseline role), merged with
        O(declared). Each C(*.json) file is an object with C(by) (the role that wrote it) and
        C(accounts) (a list of entries as in O(declared)).
      - A file that cannot be read is a problem naming it.
    type: path
    default: /etc/ereje/access.d
  remove_undeclared:
    description: Outside check mode, remove what can be removed safely, then review again.
    type: bool
    default: true
  quarantine_dir:
    description:
      - Where removed C(authorized_keys) files are moved (created with mode 0700), each renamed
        C(<UTC time YYYYmmddTHHMMSSZ>-<account>-<file name>), so the evidence is kept.
    type: path
    default: /var/lib/ereje/access-removed
  fail_on_problem:
    description: Fail the task when a problem is found (the audit); false only reports.
    type: bool
    default: true
  root:
    description:
      - For tests only. Prefix of every file read or written (C(/etc/passwd), C(/etc/group),
        C(/etc/sudoers), homes, O(access_dir), O(quarantine_dir)); C(gpasswd) is given it as
        C(--root). Paths in messages are the host's, without it. C(cvtsudoers) follows an
        C(@includedir) of the prefixed sudoers as written (an absolute path outside the prefix).
    type: path
    default: /
notes:
  - Keys are read where OpenSSH looks by default; an C(AuthorizedKeysFile) or
    C(AuthorizedKeysCommand) of sshd_config elsewhere is not reviewed here.
"""

EXAMPLES = r"""
- name: Access | who holds administrative access is what the inventory and the roles declare
  ereje.compliance.ereje_access_review:
    admin_group: ereje-admins
    admins:
      - name: ereje-admin
        ssh_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC... ereje-admin@controller"]
    declared:
      - account: nagios
        sudo: true
        why: the monitoring agent's checks (ticket IT-142)
  tags: [ATU-6.3-a]

- name: Access | report only, change nothing
  ereje.compliance.ereje_access_review:
    admin_group: ereje-admins
    remove_undeclared: false
    fail_on_problem: false
  register: access
"""

RETURN = r"""
ok:
  description: No problem remains.
  type: bool
  returned: always
problems:
  description: What is undeclared (or could not be read), one sentence each, naming the account.
  type: list
  elements: str
  returned: always
msg:
  description:
    - The problems, or when there is none the evidence in one line (what was observed), preceded
      by what this run removed.
  type: str
  returned: always
removed:
  description:
    - What was removed, one sentence each (in check mode, what would be), e.g.
      C(removed 'intruder' from group sudo).
  type: list
  elements: str
  returned: always
observed:
  description:
    - What was read (after the removals outside check mode). C(admin_group) (C(name), C(members)),
      C(privileged_groups) (members of each group that exists), C(missing_groups), C(uid0),
      C(sudo_principals) (in sudoers notation, C(%group), C(#uid)), C(ssh_keys) (per account
      C(files), C(count), C(declared), C(by)).
  type: dict
  returned: always
changed:
  description: Something was removed (in check mode, would be).
  type: bool
  returned: always
diff:
  description: Group memberships and key files removed, before and after (with C(--diff)).
  type: dict
  returned: when something is removed and diff mode is on
"""

import os
import shutil
from datetime import UTC, datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.access import (
    build_policy,
    connected_accounts,
    evidence,
    plural,
    read_access_dir,
    read_host,
    read_sudo,
    review,
    under,
)
from ansible_collections.ereje.compliance.plugins.module_utils.status import FAIL_ON_PROBLEM, status_result

# ---- Removal -------------------------------------------------------------------------------


def quarantine_target(quarantine_dir: str, now: datetime, account: str, path: str) -> str:
    """Where a removed key file goes: dated and named after its account, so nothing is overwritten."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return os.path.join(quarantine_dir, f"{stamp}-{account}-{os.path.basename(path)}")


def removal_sentence(removal: dict, target: str | None = None) -> str:
    if removal["kind"] == "group":
        return f"removed '{removal['account']}' from group {removal['group']}"
    return f"moved {removal['path']} ({plural(removal['count'], 'key')}) to {target}"


def render_diff(host: dict, removals: list[dict], targets: dict[str, str]) -> dict:
    """Before and after of what is removed: the groups' member lists and the key files."""
    before, after = [], []
    for group in dict.fromkeys(r["group"] for r in removals if r["kind"] == "group"):
        members = host["groups"][group]["members"]
        gone = {r["account"] for r in removals if r["kind"] == "group" and r["group"] == group}
        before.append(f"group {group}: {', '.join(members) or '(none)'}\n")
        after.append(f"group {group}: {', '.join(m for m in members if m not in gone) or '(none)'}\n")
    for removal in removals:
        if removal["kind"] == "keys":
            before.append(f"{removal['path']}: {', '.join(removal['labels'])}\n")
            after.append(f"{removal['path']}: moved to {targets[removal['path']]}\n")
    return {"before": "".join(before), "after": "".join(after)}


def remove_from_group(module: AnsibleModule, root: str, account: str, group: str) -> str | None:
    """Take a supplementary membership away with gpasswd; the error text, or None when done."""
    gpasswd = module.get_bin_path("gpasswd")
    if not gpasswd:
        return f"gpasswd not found: '{account}' was not removed from group {group}"
    command = [gpasswd, *(["--root", root] if os.path.normpath(root) != "/" else []), "-d", account, group]
    rc, out, err = module.run_command(command, environ_update={"LC_ALL": "C"})
    if rc != 0:
        return f"gpasswd -d {account} {group} failed (rc {rc}): {(err or out).strip()}"
    return None


def quarantine(root: str, path: str, target: str) -> str:
    """Move a key file into the quarantine directory (0700); the host path it went to."""
    directory = under(root, os.path.dirname(target))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    final, n = target, 1
    while os.path.lexists(under(root, final)):
        n += 1
        final = f"{target}-{n}"
    shutil.move(under(root, path), under(root, final))
    return final


def apply_removals(
    module: AnsibleModule, removals: list[dict], root: str, targets: dict[str, str]
) -> tuple[list[str], list[str]]:
    """Remove what was planned: sentences of what was done, and errors (the host is read again after)."""
    done, errors = [], []
    moved: set[str] = set()
    for removal in removals:
        if removal["kind"] == "group":
            error = remove_from_group(module, root, removal["account"], removal["group"])
            if error:
                errors.append(error)
            else:
                done.append(removal_sentence(removal))
        elif removal["path"] not in moved:
            try:
                final = quarantine(root, removal["path"], targets[removal["path"]])
            except OSError as error:
                errors.append(f"{removal['path']} could not be moved to quarantine: {error}")
                continue
            moved.add(removal["path"])
            done.append(removal_sentence(removal, final))
    return done, errors


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "admin_group": {"type": "str", "required": True},
            "admins": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "ssh_keys": {"type": "list", "elements": "str", "default": []},
                },
            },
            "privileged_groups": {
                "type": "list",
                "elements": "str",
                "default": ["sudo", "wheel", "root", "disk", "shadow", "docker", "lxd", "libvirt"],
            },
            "declared": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "account": {"type": "str", "required": True},
                    "groups": {"type": "list", "elements": "str", "default": []},
                    "ssh_keys_file": {"type": "path"},
                    "sudo": {"type": "bool", "default": False},
                    "by": {"type": "str", "default": "inventory"},
                    "why": {"type": "str"},
                },
            },
            "access_dir": {"type": "path", "default": "/etc/ereje/access.d"},
            "remove_undeclared": {"type": "bool", "default": True},
            "quarantine_dir": {"type": "path", "default": "/var/lib/ereje/access-removed"},
            "root": {"type": "path", "default": "/"},
            **FAIL_ON_PROBLEM,
        },
        supports_check_mode=True,
    )
    p = module.params
    root = p["root"]
    if not os.path.isdir(root):
        module.fail_json(msg=f"root must be an existing directory, not {root!r}")
    try:
        access_files, access_problems = read_access_dir(root, p["access_dir"])
        policy = build_policy(p, access_files, access_problems)
    except ValueError as error:
        module.fail_json(msg=str(error))
    protected = connected_accounts(dict(os.environ))

    try:
        host = read_host(root, policy["declared"])
    except OSError as error:
        module.fail_json(msg=f"the accounts cannot be reviewed: {error}")
    host["sudo"] = read_sudo(
        lambda argv: module.run_command(argv, environ_update={"LC_ALL": "C"}),
        module.get_bin_path("cvtsudoers"),
        root,
    )
    found = review(host, policy, protected)
    planned = found["removals"] if p["remove_undeclared"] else []
    now = datetime.now(UTC)
    targets = {
        r["path"]: quarantine_target(p["quarantine_dir"], now, r["account"], r["path"])
        for r in planned
        if r["kind"] == "keys"
    }
    diff = render_diff(host, planned, targets) if planned else None

    if planned and not module.check_mode:
        removed, errors = apply_removals(module, planned, root, targets)
        sudo = host["sudo"]  # sudoers is never changed here
        try:
            host = read_host(root, policy["declared"])
        except OSError as error:
            module.fail_json(
                msg=f"the accounts cannot be read again after the removals: {error}", removed=removed
            )
        host["sudo"] = sudo
        final = review(host, policy, protected)
        problems, observed = final["problems"] + errors, final["observed"]
        done = "; ".join(removed) + "; " if removed else ""
    else:
        removed = [removal_sentence(r, targets.get(r.get("path"))) for r in planned]
        problems, observed, done = found["problems"], found["observed"], ""

    result = status_result(problems, done + evidence(observed), observed=observed, removed=removed)
    # Not only a status module: it removes undeclared access (changed is what it removed, or in
    # check mode would remove, so the audit sees the drift too).
    result["changed"] = bool(removed)
    if diff and module._diff:
        result["diff"] = diff
    if problems and p["fail_on_problem"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
