"""Who holds administrative access, against what is declared (ereje_access_review, ATU-6.3-a)."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import ereje_access_review as m
import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ereje.compliance.plugins.module_utils import access
from support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]

ADMIN_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID9jnAhoskQI7t084chxHmVVa8h8O62czjZGecWjM/mj ereje-admin@controller"
)
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ5QLEM9tVSA/buaGhOEEP/gdVqoQ5bhi24Pd9oQn2/5 mallory@laptop"
CLIENT_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAyyi1kwWa/YHSgwJRXTE+zuEq6d5iJJHY7XZYngjIy+ root@web"
ECDSA_KEY = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBCg44rOFJsDLIl1ZNEVXBF"
    "NYUdi4mAu1ozYe1VXKxip8WewTexYEfLD/lt1LeYM1QEsYSCrZPZv5/Qo8bwbP2C0="
)

# A Debian 12 lab host after the baseline role: the administrator, the backup repository account.
PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
sshd:x:100:65534::/run/sshd:/usr/sbin/nologin
ereje-admin:x:1000:1000:Lab administrator:/home/ereje-admin:/bin/bash
borg:x:999:999::/srv/borg:/bin/sh
"""
GROUP = """\
root:x:0:
daemon:x:1:
disk:x:6:
sudo:x:27:
shadow:x:42:
nogroup:x:65534:
ereje-admin:x:1000:
ereje-admins:x:1001:ereje-admin
borg:x:999:
"""
# `cvtsudoers -f json /etc/sudoers` on that host (Debian's sudoers and the baseline's drop-in).
LAB_SUDOERS = json.loads("""{
  "Defaults": [{"Options": [{"env_reset": true}]}, {"Options": [{"syslog": "authpriv"}]}],
  "User_Aliases": {"EREJE_AUTOMATION": [{"username": "ereje-admin"}]},
  "User_Specs": [
    {"User_List": [{"username": "root"}], "Host_List": [{"hostname": "ALL"}],
     "Cmnd_Specs": [{"runasusers": [{"username": "ALL"}], "runasgroups": [{"usergroup": "ALL"}],
                     "Options": [{"setenv": true}], "Commands": [{"command": "ALL"}]}]},
    {"User_List": [{"usergroup": "sudo"}], "Host_List": [{"hostname": "ALL"}],
     "Cmnd_Specs": [{"runasusers": [{"username": "ALL"}], "runasgroups": [{"usergroup": "ALL"}],
                     "Options": [{"setenv": true}], "Commands": [{"command": "ALL"}]}]},
    {"User_List": [{"usergroup": "ereje-admins"}], "Host_List": [{"hostname": "ALL"}],
     "Cmnd_Specs": [{"runasusers": [{"username": "ALL"}], "runasgroups": [{"usergroup": "ALL"}],
                     "Options": [{"setenv": true}], "Commands": [{"command": "ALL"}]}]},
    {"User_List": [{"useralias": "EREJE_AUTOMATION"}], "Host_List": [{"hostname": "ALL"}],
     "Cmnd_Specs": [{"runasusers": [{"username": "ALL"}], "runasgroups": [{"usergroup": "ALL"}],
                     "Options": [{"authenticate": false}, {"setenv": true}],
                     "Commands": [{"command": "ALL"}]}]}
  ]
}""")
# A drifted host (cvtsudoers' real output of these lines, Host_List and Cmnd_Specs cut):
#   User_Alias OPS = ereje-admin, %ops, !bob      User_Alias NESTED = OPS, carol
#   NESTED ALL=(ALL) ALL     #1001 ALL=(ALL) ALL     %#27 ALL=(ALL) ALL     !dave, ALL ALL=(ALL) ALL
#   %:admins ALL=(ALL) ALL   +netgrp ALL=(ALL) ALL
DRIFTED_SUDOERS = {
    "User_Aliases": {
        "OPS": [{"username": "ereje-admin"}, {"usergroup": "ops"}, {"username": "bob", "negated": True}],
        "NESTED": [{"useralias": "OPS"}, {"username": "carol"}],
    },
    "User_Specs": [
        {"User_List": [{"username": "root"}]},
        {"User_List": [{"useralias": "NESTED"}]},
        {"User_List": [{"userid": 1001}]},
        {"User_List": [{"usergid": 27}]},
        {"User_List": [{"username": "dave", "negated": True}, {"username": "ALL"}]},
        {"User_List": [{"nonunixgroup": "admins"}]},
        {"User_List": [{"netgroup": "netgrp"}]},
    ],
}
BACKUP_DECLARATION = {
    "by": "backup_server",
    "accounts": [
        {
            "account": "borg",
            "ssh_keys_file": "/etc/ssh/ereje-backup-authorized_keys",
            "why": "each backup client's key, with a forced command",
        }
    ],
}
NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


def params(**overrides) -> dict:
    """The module's options as Ansible hands them over (defaults filled in)."""
    return {
        "admin_group": "ereje-admins",
        "admins": [{"name": "ereje-admin", "ssh_keys": [ADMIN_KEY]}],
        "privileged_groups": ["sudo", "wheel", "root", "disk", "shadow", "docker", "lxd", "libvirt"],
        "declared": [],
        "access_dir": "/etc/ereje/access.d",
        "quarantine_dir": "/var/lib/ereje/access-removed",
        **overrides,
    }


def write(root, path: str, text: str):
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def lab_root(tmp_path, passwd=PASSWD, group=GROUP):
    """A fake root with the lab host's accounts, the administrator's key and the role's declaration."""
    write(tmp_path, "/etc/passwd", passwd)
    write(tmp_path, "/etc/group", group)
    write(tmp_path, "/home/ereje-admin/.ssh/authorized_keys", ADMIN_KEY + "\n")
    write(
        tmp_path,
        "/etc/ssh/ereje-backup-authorized_keys",
        "# one line per backup client\n"
        f'command="borg serve --restrict-to-path /srv/borg/web",restrict {CLIENT_KEY}\n'
        f'command="borg serve --restrict-to-path /srv/borg/mail",restrict {OTHER_KEY}\n'
        f'command="borg serve --restrict-to-path /srv/borg/dc1",restrict {ECDSA_KEY} root@dc1\n',
    )
    write(tmp_path, "/etc/ereje/access.d/backup_server.json", json.dumps(BACKUP_DECLARATION))
    return tmp_path


def run_review(root, sudo=None, protected=frozenset(), **overrides):
    """The whole decision on a fake root: options and roles' files read, host read, judged."""
    p = params(**overrides)
    files, problems = access.read_access_dir(str(root), p["access_dir"])
    policy = access.build_policy(p, files, problems)
    host = access.read_host(str(root), policy["declared"])
    host["sudo"] = {"principals": access.sudo_principals(LAB_SUDOERS if sudo is None else sudo)}
    return access.review(host, policy, protected), host


# ---- Reading -------------------------------------------------------------------------------


def test_passwd_and_group_are_read_as_text_with_broken_and_nis_lines_skipped():
    accounts = access.parse_passwd(PASSWD + "+@nis::::::\n# comment\nbroken:x:1\nbad:x:uid:0::/:/bin/sh\n")
    assert [a["name"] for a in accounts] == ["root", "daemon", "nobody", "sshd", "ereje-admin", "borg"]
    assert accounts[-1] == {"name": "borg", "uid": 999, "gid": 999, "home": "/srv/borg"}
    groups = access.parse_group(GROUP + "sudo:x:99:late\n")
    assert groups["ereje-admins"] == {"gid": 1001, "members": ["ereje-admin"]}
    assert groups["sudo"] == {"gid": 27, "members": []}  # the first line of a name wins


def test_members_are_supplementary_and_by_primary_group_but_root_is_not_in_root():
    accounts = access.parse_passwd(PASSWD + "toor:x:0:0::/root:/bin/sh\nops:x:1002:27::/home/ops:/bin/bash\n")
    groups = access.parse_group(GROUP.replace("sudo:x:27:", "sudo:x:27:intruder,ops"))
    assert access.group_members("sudo", groups, accounts) == [
        {"name": "intruder", "supplementary": True, "primary": False},
        {"name": "ops", "supplementary": True, "primary": True},
    ]
    assert access.group_members("root", groups, accounts) == [
        {"name": "toor", "supplementary": False, "primary": True}
    ]


def test_key_lines_are_read_through_options_and_comments():
    text = (
        "# administrators\n\n"
        f"{ADMIN_KEY}\n"
        f'command="echo ssh-rsa AAAA fake",no-pty,from="10.0.0.1" {OTHER_KEY}\n'
        "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIKey yubikey\n"
        "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQ\n"
        "not a key at all\n"
    )
    keys = access.parse_authorized_keys(text)
    assert [(k["type"], k["comment"]) for k in keys] == [
        ("ssh-ed25519", "ereje-admin@controller"),
        ("ssh-ed25519", "mallory@laptop"),  # the quoted "ssh-rsa" is the command's, not the key's
        ("sk-ssh-ed25519@openssh.com", "yubikey"),
        ("ssh-ed25519-cert-v01@openssh.com", ""),
        (None, ""),
    ]
    assert keys[1]["blob"] == OTHER_KEY.split()[1]
    assert access.key_label(keys[3]) == "...1NTE5LWNlcnQ"  # no comment: the last 12 characters of the key
    assert access.key_label(keys[4]) == "a line that is not a known key type"
    assert "not a key" not in json.dumps(keys[4])  # only a digest of a line that is no key


def test_a_key_is_the_same_key_whatever_its_options_and_comment():
    plain = access.parse_key(ADMIN_KEY)
    restricted = access.parse_key(
        'restrict,command="uptime" ' + ADMIN_KEY.rsplit(" ", 1)[0] + " other-comment"
    )
    assert access.key_identity(plain) == access.key_identity(restricted)
    assert access.key_identity(plain) != access.key_identity(access.parse_key(OTHER_KEY))


# ---- sudoers -------------------------------------------------------------------------------


def test_sudo_principals_of_the_lab_host_with_the_alias_resolved():
    assert access.sudo_principals(LAB_SUDOERS) == ["root", "%sudo", "%ereje-admins", "ereje-admin"]


def test_sudo_principals_resolve_nested_aliases_and_skip_negations():
    assert access.sudo_principals(DRIFTED_SUDOERS) == [
        "root",
        "ereje-admin",
        "%ops",
        "carol",
        "#1001",
        "%#27",
        "ALL",
        "%:admins",
        "+netgrp",
    ]


def test_a_group_is_read_with_or_without_its_percent_sign_and_alias_loops_end():
    data = {
        "User_Aliases": {"A": [{"useralias": "B"}, {"usergroup": "%wheel"}], "B": [{"useralias": "A"}]},
        "User_Specs": [
            {"User_List": [{"useralias": "A"}, {"usergroup": "sudo"}, {"useralias": "UNDEFINED"}]}
        ],
    }
    assert access.sudo_principals(data) == ["%wheel", "%sudo"]
    assert access.sudo_principals({}) == []


def test_sudo_judged_against_root_the_groups_and_the_declared_accounts(tmp_path):
    lab_root(tmp_path)
    found, _ = run_review(
        tmp_path,
        sudo=DRIFTED_SUDOERS,
        declared=[{"account": "carol", "sudo": True, "groups": [], "by": "inventory"}],
    )
    sudo_problems = [p for p in found["problems"] if p.startswith("sudoers")]
    assert sudo_problems == [
        "sudoers grants sudo to group 'ops'",
        "sudoers grants sudo to user '#1001'",  # no account has that UID here
        "sudoers grants sudo to ALL users",
        "sudoers grants sudo to non-Unix group 'admins'",
        "sudoers grants sudo to netgroup 'netgrp'",
    ]  # root, the admin, carol (declared sudo) and %#27 (= sudo, a reviewed group) are allowed
    assert found["removals"] == []  # a sudoers rule is never removed


def test_a_uid_is_judged_as_the_account_it_is():
    policy = {"admins": {}, "declared": {}, "admin_group": "ereje-admins", "privileged_groups": ["sudo"]}
    accounts = access.parse_passwd(PASSWD)
    groups = access.parse_group(GROUP)
    assert access.judge_sudo(["#0", "#999", "%#1001", "%#999"], policy, accounts, groups) == [
        "sudoers grants sudo to user '#999' (borg)",
        "sudoers grants sudo to group '%#999' (borg)",
    ]


def test_sudo_rules_that_cannot_be_read_are_a_problem_not_a_pass(tmp_path):
    lab_root(tmp_path)
    p = params()
    policy = access.build_policy(p, *access.read_access_dir(str(tmp_path), p["access_dir"]))
    host = access.read_host(str(tmp_path), policy["declared"])
    host["sudo"] = {"error": "cvtsudoers not found (package sudo)"}
    found = access.review(host, policy)
    assert found["problems"] == ["the sudo rules cannot be read: cvtsudoers not found (package sudo)"]


# ---- The review ----------------------------------------------------------------------------


def test_everything_declared_passes_with_what_was_observed_as_evidence(tmp_path):
    lab_root(tmp_path)
    found, _ = run_review(tmp_path)
    assert found["problems"] == [] and found["removals"] == []
    assert found["observed"]["missing_groups"] == ["wheel", "docker", "lxd", "libvirt"]
    assert found["observed"]["ssh_keys"]["borg"] == {
        "files": ["/etc/ssh/ereje-backup-authorized_keys"],
        "count": 3,
        "declared": True,
        "by": "backup_server",
    }
    assert access.evidence(found["observed"]) == (
        "ereje-admins: ereje-admin; privileged groups sudo, root, disk, shadow: no members "
        "(wheel, docker, lxd, libvirt absent); UID 0: root; "
        "sudo granted to: root, %sudo, %ereje-admins, ereje-admin; "
        "SSH keys: ereje-admin 1 (declared admin), "
        "borg 3 in /etc/ssh/ereje-backup-authorized_keys (declared by backup_server)"
    )


def test_an_undeclared_sudo_member_is_a_problem_and_planned_for_removal(tmp_path):
    lab_root(
        tmp_path,
        passwd=PASSWD + "intruder:x:1005:1005::/home/intruder:/bin/bash\n",
        group=GROUP.replace("sudo:x:27:", "sudo:x:27:intruder"),
    )
    found, _ = run_review(tmp_path)
    assert found["problems"] == [
        "account 'intruder' is in privileged group sudo but nobody declared it there"
    ]
    assert found["removals"] == [{"kind": "group", "account": "intruder", "group": "sudo"}]
    assert found["observed"]["privileged_groups"]["sudo"] == ["intruder"]


def test_an_undeclared_admin_group_member_is_a_problem_and_planned_for_removal(tmp_path):
    lab_root(
        tmp_path,
        group=GROUP.replace("ereje-admins:x:1001:ereje-admin", "ereje-admins:x:1001:ereje-admin,borg"),
    )
    found, _ = run_review(tmp_path)
    assert found["problems"] == [
        "account 'borg' is in the admin group ereje-admins but is not a declared administrator"
    ]
    assert found["removals"] == [{"kind": "group", "account": "borg", "group": "ereje-admins"}]


def test_a_declared_account_may_be_in_the_groups_it_is_declared_in(tmp_path):
    lab_root(
        tmp_path,
        group=GROUP.replace("disk:x:6:", "disk:x:6:borg").replace(
            "ereje-admins:x:1001:ereje-admin", "ereje-admins:x:1001:ereje-admin,borg"
        ),
    )
    declaration = {
        **BACKUP_DECLARATION,
        "accounts": [{**BACKUP_DECLARATION["accounts"][0], "groups": ["disk"]}],
    }
    write(tmp_path, "/etc/ereje/access.d/backup_server.json", json.dumps(declaration))
    found, _ = run_review(
        tmp_path, declared=[{"account": "borg", "groups": ["ereje-admins"], "sudo": False, "by": "inventory"}]
    )
    assert found["problems"] == []
    assert found["observed"]["privileged_groups"]["disk"] == ["borg"]
    assert found["observed"]["ssh_keys"]["borg"]["by"] == "inventory, backup_server"


def test_an_administrator_is_not_allowed_in_a_privileged_group_by_being_one(tmp_path):
    lab_root(tmp_path, group=GROUP.replace("shadow:x:42:", "shadow:x:42:ereje-admin"))
    found, _ = run_review(tmp_path)
    assert found["problems"] == [
        "account 'ereje-admin' is in privileged group shadow but nobody declared it there"
    ]
    assert found["removals"] == [{"kind": "group", "account": "ereje-admin", "group": "shadow"}]


def test_a_membership_by_primary_group_is_reported_but_cannot_be_removed(tmp_path):
    lab_root(tmp_path, passwd=PASSWD + "ops:x:1002:27::/home/ops:/bin/bash\n")
    found, _ = run_review(tmp_path)
    assert found["problems"] == [
        "account 'ops' is in privileged group sudo but nobody declared it there "
        "(by its primary group: not removed, change it with usermod -g)"
    ]
    assert found["removals"] == []


def test_a_second_uid_0_account_is_a_problem_never_removed(tmp_path):
    lab_root(tmp_path, passwd=PASSWD + "toor:x:0:1002::/nonexistent:/bin/sh\n")
    found, _ = run_review(tmp_path)
    assert found["problems"] == ["account 'toor' has UID 0: only root may"]
    assert found["removals"] == []
    assert found["observed"]["uid0"] == ["root", "toor"]


def test_an_undeclared_key_file_of_root_is_planned_to_be_moved(tmp_path):
    lab_root(tmp_path)
    write(tmp_path, "/root/.ssh/authorized_keys", f"{OTHER_KEY}\n\n# old\n{CLIENT_KEY}\n")
    write(tmp_path, "/root/.ssh/authorized_keys2", "# nothing here\n")
    found, _ = run_review(tmp_path)
    assert found["problems"] == ["root: 2 SSH key(s) in /root/.ssh/authorized_keys that nobody declared"]
    assert found["removals"] == [
        {
            "kind": "keys",
            "account": "root",
            "path": "/root/.ssh/authorized_keys",
            "count": 2,
            "labels": ["'mallory@laptop'", "'root@web'"],
        }
    ]  # the empty authorized_keys2 is no problem and stays
    assert found["observed"]["ssh_keys"]["root"]["declared"] is False


def test_an_administrators_extra_key_is_reported_not_removed_and_a_missing_one_too(tmp_path):
    lab_root(tmp_path)
    key_without_comment = CLIENT_KEY.rsplit(" ", 1)[0]
    write(tmp_path, "/home/ereje-admin/.ssh/authorized_keys", f"{OTHER_KEY}\n{key_without_comment}\n")
    found, _ = run_review(tmp_path)
    assert found["problems"] == [
        "ereje-admin: SSH key 'mallory@laptop' in /home/ereje-admin/.ssh/authorized_keys is not one of its "
        "declared keys (not removed here: the baseline role's authorized_key task does it)",
        f"ereje-admin: SSH key ...{key_without_comment[-12:]} in /home/ereje-admin/.ssh/authorized_keys is "
        "not one of its declared keys (not removed here: the baseline role's authorized_key task does it)",
        "ereje-admin: declared SSH key 'ereje-admin@controller' is missing",
    ]
    assert found["removals"] == []


def test_a_declared_administrator_without_an_account_is_a_problem(tmp_path):
    lab_root(tmp_path)
    found, _ = run_review(tmp_path, admins=[{"name": "aigerim", "ssh_keys": [OTHER_KEY]}])
    assert (
        "declared administrator 'aigerim' has no account on this host (its 1 declared SSH key(s) are missing)"
        in (found["problems"])
    )


def test_a_declared_key_file_is_allowed_but_keys_in_the_accounts_home_are_not(tmp_path):
    lab_root(tmp_path)
    write(tmp_path, "/srv/borg/.ssh/authorized_keys", CLIENT_KEY + "\n")
    found, _ = run_review(tmp_path)
    assert found["problems"] == ["borg: 1 SSH key(s) in /srv/borg/.ssh/authorized_keys that nobody declared"]
    assert [r["path"] for r in found["removals"]] == ["/srv/borg/.ssh/authorized_keys"]
    assert found["observed"]["ssh_keys"]["borg"]["count"] == 4


def test_the_account_ansible_came_in_as_keeps_its_access(tmp_path):
    lab_root(tmp_path, group=GROUP.replace("sudo:x:27:", "sudo:x:27:root"))
    write(tmp_path, "/root/.ssh/authorized_keys", OTHER_KEY + "\n")
    found, _ = run_review(tmp_path, protected=frozenset({"root"}))
    assert found["problems"] == [
        "account 'root' is in privileged group sudo but nobody declared it there "
        "(not removed: Ansible connected as this account)",
        "root: 1 SSH key(s) in /root/.ssh/authorized_keys that nobody declared "
        "(not removed: Ansible connected as this account)",
    ]
    assert found["removals"] == []


def test_the_connecting_account_is_the_sudo_user_or_the_ssh_login():
    assert access.connected_accounts({"SUDO_USER": "ereje-admin", "USER": "root"}) == {"ereje-admin"}
    assert access.connected_accounts({"SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22", "LOGNAME": "root"}) == {
        "root"
    }
    assert access.connected_accounts({"USER": "root"}) == frozenset()  # podman exec: no login to keep
    assert access.connected_accounts({"SUDO_USER": "root"}) == frozenset()  # become from root (lab, Mitogen)


# ---- Declarations --------------------------------------------------------------------------


def test_a_malformed_declaration_file_is_a_problem_naming_it_and_nothing_is_removed(tmp_path):
    lab_root(
        tmp_path,
        passwd=PASSWD + "intruder:x:1005:1005::/home/intruder:/bin/bash\n",
        group=GROUP.replace("sudo:x:27:", "sudo:x:27:intruder"),
    )
    write(tmp_path, "/etc/ereje/access.d/backup_server.json", '{"by": "backup_server", "accounts": [')
    write(tmp_path, "/etc/ereje/access.d/README", "not read: not *.json")
    found, _ = run_review(tmp_path)
    assert found["problems"][0].startswith(
        "the access declaration /etc/ereje/access.d/backup_server.json cannot be read (Expecting value"
    )
    assert found["problems"][0].endswith(
        "its accounts are not declared, and nothing is removed until it is fixed"
    )
    assert "account 'intruder' is in privileged group sudo but nobody declared it there" in found["problems"]
    assert found["removals"] == []  # the borg keys file would be taken for an intruder's


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ([], "it must be an object"),
        ({"accounts": []}, '"by" must name the role'),
        ({"by": "web_host", "accounts": {"account": "www-data"}}, '"accounts" must be a list'),
        ({"by": "web_host", "accounts": [{"acount": "www-data"}]}, "unknown key(s) acount"),
        ({"by": "web_host", "accounts": [{"account": "deploy", "ssh_keys_file": "keys"}]}, "absolute path"),
        (
            {"by": "web_host", "accounts": [{"account": "deploy", "sudo": "yes"}]},
            "sudo must be true or false",
        ),
        (
            {"by": "web_host", "accounts": [{"account": "deploy", "groups": "docker"}]},
            "groups must be a list",
        ),
    ],
)
def test_declaration_files_are_checked_whole(data, reason):
    accounts, problems = access.parse_access_files({"/etc/ereje/access.d/web_host.json": json.dumps(data)})
    assert accounts == []
    assert len(problems) == 1 and reason in problems[0] and "web_host.json" in problems[0]


def test_declarations_merge_per_account_and_keep_who_declared_them():
    accounts, problems = access.parse_access_files(
        {
            "/x/a.json": json.dumps(
                {"by": "backup_server", "accounts": [{"account": "borg", "groups": ["disk"]}]}
            ),
            "/x/b.json": json.dumps(
                {"by": "web_host", "accounts": [{"account": "borg", "sudo": True, "by": "web_host deploy"}]}
            ),
        }
    )
    assert problems == []
    assert access.merge_declarations(accounts) == {
        "borg": {
            "groups": ["disk"],
            "ssh_keys_files": [],
            "sudo": True,
            "by": ["backup_server", "web_host deploy"],
        }
    }


def test_options_are_checked_with_messages_a_sysadmin_understands():
    with pytest.raises(ValueError, match=r"declared\[0\]: deploy: ssh_keys_file must be an absolute path"):
        access.build_policy(
            params(declared=[{"account": "deploy", "ssh_keys_file": "keys", "sudo": False}]), {}, []
        )
    with pytest.raises(
        ValueError, match=r"admins\[0\] \(ereje-admin\): ssh_keys\[0\] is not an SSH public key"
    ):
        access.build_policy(
            params(admins=[{"name": "ereje-admin", "ssh_keys": ["AAAAC3Nza ereje-admin"]}]), {}, []
        )
    with pytest.raises(ValueError, match="quarantine_dir must be an absolute path"):
        access.build_policy(params(quarantine_dir="quarantine"), {}, [])
    policy = access.build_policy(params(admin_group="sudo"), {}, [])
    assert "sudo" not in policy["privileged_groups"]  # reviewed as the admin group, not twice


# ---- Removal -------------------------------------------------------------------------------


class FakeModule:
    """What the removal uses of AnsibleModule: get_bin_path and run_command (no real gpasswd)."""

    def __init__(self, rc=0, binaries=("gpasswd",)):
        self.rc, self.binaries, self.commands = rc, binaries, []

    def get_bin_path(self, name):
        return f"/usr/bin/{name}" if name in self.binaries else None

    def run_command(self, argv, environ_update=None):
        self.commands.append(argv)
        return self.rc, "", "gpasswd: user 'intruder' is not a member of 'sudo'" if self.rc else ""


def test_key_files_are_moved_to_a_private_quarantine_named_by_time_and_account(tmp_path):
    lab_root(tmp_path)
    write(tmp_path, "/root/.ssh/authorized_keys", OTHER_KEY + "\n")
    found, _ = run_review(tmp_path)
    target = m.quarantine_target("/var/lib/ereje/access-removed", NOW, "root", "/root/.ssh/authorized_keys")
    assert target == "/var/lib/ereje/access-removed/20261206T030000Z-root-authorized_keys"
    done, errors = m.apply_removals(
        FakeModule(), found["removals"], str(tmp_path), {found["removals"][0]["path"]: target}
    )
    assert errors == []
    assert done == [f"moved /root/.ssh/authorized_keys (1 key) to {target}"]
    assert not (tmp_path / "root/.ssh/authorized_keys").exists()
    kept = tmp_path / "var/lib/ereje/access-removed/20261206T030000Z-root-authorized_keys"
    assert kept.read_text() == OTHER_KEY + "\n"
    assert stat.S_IMODE(os.stat(kept.parent).st_mode) == 0o700
    again, _ = run_review(tmp_path)
    assert again["problems"] == [] and again["removals"] == []


def test_a_quarantined_file_never_overwrites_an_earlier_one(tmp_path):
    write(tmp_path, "/var/lib/ereje/access-removed/T-root-authorized_keys", "earlier\n")
    (tmp_path / "var/lib/ereje/access-removed").chmod(0o755)  # made by hand, readable by all
    write(tmp_path, "/root/.ssh/authorized_keys", "later\n")
    final = m.quarantine(
        str(tmp_path), "/root/.ssh/authorized_keys", "/var/lib/ereje/access-removed/T-root-authorized_keys"
    )
    assert final == "/var/lib/ereje/access-removed/T-root-authorized_keys-2"
    assert (tmp_path / final.lstrip("/")).read_text() == "later\n"
    assert (tmp_path / "var/lib/ereje/access-removed/T-root-authorized_keys").read_text() == "earlier\n"
    assert stat.S_IMODE(os.stat(tmp_path / "var/lib/ereje/access-removed").st_mode) == 0o700


def test_a_group_membership_is_removed_with_gpasswd_in_the_root_given():
    module = FakeModule()
    removal = {"kind": "group", "account": "intruder", "group": "sudo"}
    assert m.apply_removals(module, [removal], "/", {}) == (["removed 'intruder' from group sudo"], [])
    assert module.commands == [["/usr/bin/gpasswd", "-d", "intruder", "sudo"]]
    chrooted = FakeModule()
    m.apply_removals(chrooted, [removal], "/srv/image", {})
    assert chrooted.commands == [["/usr/bin/gpasswd", "--root", "/srv/image", "-d", "intruder", "sudo"]]


def test_a_failed_or_impossible_removal_is_an_error_not_a_sentence():
    removal = {"kind": "group", "account": "intruder", "group": "sudo"}
    assert m.apply_removals(FakeModule(rc=3), [removal], "/", {}) == (
        [],
        ["gpasswd -d intruder sudo failed (rc 3): gpasswd: user 'intruder' is not a member of 'sudo'"],
    )
    assert m.apply_removals(FakeModule(binaries=()), [removal], "/", {}) == (
        [],
        ["gpasswd not found: 'intruder' was not removed from group sudo"],
    )


def test_the_diff_shows_the_memberships_and_files_before_and_after(tmp_path):
    lab_root(tmp_path, group=GROUP.replace("sudo:x:27:", "sudo:x:27:intruder,ops"))
    write(tmp_path, "/root/.ssh/authorized_keys", OTHER_KEY + "\n")
    found, host = run_review(tmp_path, declared=[{"account": "ops", "groups": ["sudo"], "sudo": False}])
    diff = m.render_diff(host, found["removals"], {"/root/.ssh/authorized_keys": "/q/T-root-authorized_keys"})
    assert diff == {
        "before": "group sudo: intruder, ops\n/root/.ssh/authorized_keys: 'mallory@laptop'\n",
        "after": "group sudo: ops\n/root/.ssh/authorized_keys: moved to /q/T-root-authorized_keys\n",
    }


# ---- The module as Ansible runs it -----------------------------------------------------------


@pytest.fixture
def drifted_host(tmp_path, monkeypatch):
    """The lab host with an intruder in sudo and a planted root key; cvtsudoers and gpasswd faked."""
    lab_root(
        tmp_path,
        passwd=PASSWD + "intruder:x:1005:1005::/home/intruder:/bin/bash\n",
        group=GROUP.replace("sudo:x:27:", "sudo:x:27:intruder"),
    )
    write(tmp_path, "/root/.ssh/authorized_keys", OTHER_KEY + "\n")
    calls = []

    def run_command(self, argv, environ_update=None, **_):
        calls.append(argv)
        if argv[0].endswith("cvtsudoers"):
            assert argv[-1] == f"{tmp_path}/etc/sudoers"
            return 0, json.dumps(LAB_SUDOERS), ""
        # gpasswd --root ROOT -d USER GROUP, as it would edit the root's /etc/group
        assert argv[1:3] == ["--root", str(tmp_path)] and argv[3] == "-d"
        group_file = tmp_path / "etc/group"
        group_file.write_text(group_file.read_text().replace(f"{argv[5]}:x:27:{argv[4]}", f"{argv[5]}:x:27:"))
        return 0, "", ""

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **k: f"/usr/bin/{name}")
    for name in ("SUDO_USER", "SSH_CONNECTION", "SSH_CLIENT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path, calls


def run_module(capsys, args: dict) -> dict:
    with patch_module_args(args), pytest.raises(SystemExit):
        m.main()
    return json.loads(capsys.readouterr().out)


def test_the_audit_in_check_mode_changes_nothing_reports_drift_and_fails(drifted_host, capsys):
    root, calls = drifted_host
    result = run_module(
        capsys,
        {**params(root=str(root)), "_ansible_check_mode": True, "_ansible_diff": True},
    )
    assert result["failed"] is True and result["changed"] is True
    assert result["problems"] == [
        "account 'intruder' is in privileged group sudo but nobody declared it there",
        "root: 1 SSH key(s) in /root/.ssh/authorized_keys that nobody declared",
    ]
    assert result["removed"][0] == "removed 'intruder' from group sudo"
    assert result["removed"][1].startswith(
        "moved /root/.ssh/authorized_keys (1 key) to /var/lib/ereje/access-removed/"
    )
    assert result["diff"]["before"].startswith("group sudo: intruder\n")
    assert [c[0] for c in calls] == ["/usr/bin/cvtsudoers"]  # no gpasswd
    assert (root / "root/.ssh/authorized_keys").exists() and "intruder" in (root / "etc/group").read_text()


def test_a_run_removes_what_is_undeclared_reads_again_and_passes(drifted_host, capsys):
    root, calls = drifted_host
    result = run_module(capsys, params(root=str(root)))
    assert result.get("failed") is not True and result["changed"] is True and result["problems"] == []
    moved = result["removed"][1].rsplit(" ", 1)[1]
    assert result["msg"] == (
        f"removed 'intruder' from group sudo; moved /root/.ssh/authorized_keys (1 key) to {moved}; "
        + "ereje-admins: ereje-admin; privileged groups sudo, root, disk, shadow: no members "
        "(wheel, docker, lxd, libvirt absent); UID 0: root; sudo granted to: root, %sudo, %ereje-admins, "
        "ereje-admin; SSH keys: ereje-admin 1 (declared admin), "
        "borg 3 in /etc/ssh/ereje-backup-authorized_keys (declared by backup_server)"
    )
    assert ["/usr/bin/gpasswd", "--root", str(root), "-d", "intruder", "sudo"] in calls
    assert (root / moved.lstrip("/")).read_text() == OTHER_KEY + "\n"
    again = run_module(capsys, params(root=str(root)))
    assert again["changed"] is False and again["removed"] == [] and again["ok"] is True


def test_report_only_removes_nothing_and_does_not_fail(drifted_host, capsys):
    root, calls = drifted_host
    result = run_module(capsys, params(root=str(root), remove_undeclared=False, fail_on_problem=False))
    assert result.get("failed") is not True and result["changed"] is False and result["ok"] is False
    assert len(result["problems"]) == 2 and result["removed"] == []
    assert (root / "root/.ssh/authorized_keys").exists()
    assert [c[0] for c in calls] == ["/usr/bin/cvtsudoers"]


def test_a_wrong_option_fails_with_its_name(drifted_host, capsys):
    root, _ = drifted_host
    result = run_module(capsys, params(root=str(root), declared=[{"account": "x", "ssh_keys_file": "rel"}]))
    assert result["failed"] is True
    assert result["msg"] == "declared[0]: x: ssh_keys_file must be an absolute path, not 'rel'"


# ---- The hourly review between converges (roles/baseline/files/ereje-access-review) --------------

SCRIPT = load_script(ROOT / "roles" / "baseline" / "files" / "ereje-access-review", "access_review_script")


def scheduled_lines(root, monkeypatch, policy: dict) -> list[str]:
    """The hourly review's journal lines on a fake root, cvtsudoers answering the lab's sudoers."""

    def run(argv):
        assert argv[-1] == f"{root}/etc/sudoers"
        return 0, json.dumps(LAB_SUDOERS), ""

    monkeypatch.setattr(SCRIPT, "run", run)
    monkeypatch.setattr(SCRIPT.shutil, "which", lambda name: f"/usr/bin/{name}")
    return SCRIPT.lines(json.dumps(policy), str(root))


def test_the_hourly_review_writes_a_finding_per_undeclared_access_and_removes_nothing(
    drifted_host, monkeypatch
):
    root, _ = drifted_host
    # Run by the connected account or not, the hourly review judges every account alike.
    monkeypatch.setenv("SUDO_USER", "intruder")
    assert scheduled_lines(root, monkeypatch, params()) == [
        "FINDING account 'intruder' is in privileged group sudo but nobody declared it there",
        "FINDING root: 1 SSH key(s) in /root/.ssh/authorized_keys that nobody declared",
    ]
    assert "intruder" in (root / "etc/group").read_text()
    assert (root / "root/.ssh/authorized_keys").exists()


def test_the_hourly_review_of_a_host_as_declared_says_what_it_saw(tmp_path, monkeypatch):
    (line,) = scheduled_lines(lab_root(tmp_path), monkeypatch, params())
    assert line.startswith("OK ereje-admins: ereje-admin; privileged groups ")
    assert "UID 0: root" in line and "borg 3 in /etc/ssh/ereje-backup-authorized_keys" in line


def test_the_hourly_review_that_cannot_review_fails_its_unit_with_the_reason(tmp_path, capsys):
    policy = tmp_path / "access-review.json"
    assert SCRIPT.main(["ereje-access-review", str(policy)]) == 1
    assert capsys.readouterr().out.startswith("ERROR the access review could not run: [Errno 2]")
    policy.write_text(json.dumps({"admin_group": "ereje-admins"}))
    assert SCRIPT.main(["ereje-access-review", str(policy)]) == 1
    assert "the policy must be an object with admin_group, admins" in capsys.readouterr().out
    policy.write_text(json.dumps(params(access_dir="etc/ereje/access.d")))
    assert SCRIPT.main(["ereje-access-review", str(policy)]) == 1
    assert "access_dir must be an absolute path" in capsys.readouterr().out
