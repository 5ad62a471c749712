"""Access review (ATU-6.3-a): who holds administrative access on a Debian host, against what is declared.

Shared by the module ereje_access_review (the audit, and a converge that takes undeclared access
away) and the scheduled review on each host (roles/baseline/files/ereje-access-review, which finds
this file and files.py beside it in /usr/local/lib/ereje and reports to the journal, where the
collector's alert rule reads it). Reads and judges; removing is the module's.

A host is read into ``{"accounts", "groups", "key_files", "read_problems", "sudo"}``; a policy is
what ``build_policy`` makes of the declarations; ``review`` decides, ``evidence`` words it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable

from .files import read_text

KEY_TYPES = frozenset({
    "ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
})  # fmt: skip
CERT_SUFFIX = "-cert-v01@openssh.com"
HOME_KEY_FILES = ("authorized_keys", "authorized_keys2")
DECLARATION_KEYS = ("account", "groups", "ssh_keys_file", "sudo", "by", "why")


# ---- Reading files -------------------------------------------------------------------------


def under(root: str, path: str) -> str:
    """Where a host path is for this run: the same path below ``root`` (tests use a fake root)."""
    return os.path.join(root, path.lstrip("/"))


def parse_passwd(text: str) -> list[dict]:
    """Accounts of /etc/passwd, in order (NIS ``+``/``-`` lines and broken lines skipped)."""
    accounts = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 7 or not fields[0] or fields[0][0] in "#+-":
            continue
        try:
            uid, gid = int(fields[2]), int(fields[3])
        except ValueError:
            continue
        accounts.append({"name": fields[0], "uid": uid, "gid": gid, "home": fields[5]})
    return accounts


def parse_group(text: str) -> dict[str, dict]:
    """Groups of /etc/group by name: gid and supplementary members (the first line of a name wins, as NSS)."""
    groups: dict[str, dict] = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 4 or not fields[0] or fields[0][0] in "#+-" or fields[0] in groups:
            continue
        try:
            gid = int(fields[2])
        except ValueError:
            continue
        members = [m.strip() for m in fields[3].split(",") if m.strip()]
        groups[fields[0]] = {"gid": gid, "members": members}
    return groups


def group_members(name: str, groups: dict, accounts: list[dict]) -> list[dict]:
    """Who is in a group: supplementary members and accounts whose primary group it is.

    Both count, since both get the group's rights; only the supplementary ones can be taken out
    with gpasswd. root in group root gains nothing, so it is not listed.
    """
    group = groups[name]
    members = {m: {"name": m, "supplementary": True, "primary": False} for m in group["members"]}
    for account in accounts:
        if account["gid"] == group["gid"]:
            entry = members.setdefault(
                account["name"], {"name": account["name"], "supplementary": False, "primary": False}
            )
            entry["primary"] = True
    if name == "root":
        members.pop("root", None)
    return list(members.values())


# ---- SSH keys ------------------------------------------------------------------------------


def is_key_type(token: str) -> bool:
    return token in KEY_TYPES or token.endswith(CERT_SUFFIX)


def _after_options(line: str) -> str:
    """The line without its leading options field, which may quote blanks (command="a b")."""
    quoted, i = False, 0
    while i < len(line):
        char = line[i]
        if char == "\\" and quoted:
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char in " \t" and not quoted:
            break
        i += 1
    return line[i:].lstrip()


def parse_key(line: str) -> dict | None:
    """One authorized_keys line: type, key (base64) and comment; None for a blank or comment line.

    A line whose key type is not known is kept as an unknown key (type None): sshd may accept a
    type this module does not know, so it must not pass unseen. Its text is not echoed (the line
    may not be a key at all), only a digest of it.
    """
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    fields = text.split(None, 2)
    if not is_key_type(fields[0]):
        fields = _after_options(text).split(None, 2)
    if len(fields) >= 2 and is_key_type(fields[0]):
        return {"type": fields[0], "blob": fields[1], "comment": fields[2].strip() if len(fields) > 2 else ""}
    return {"type": None, "blob": hashlib.sha256(text.encode()).hexdigest(), "comment": ""}


def parse_authorized_keys(text: str) -> list[dict]:
    return [key for key in map(parse_key, text.splitlines()) if key]


def key_identity(key: dict) -> str:
    """What makes two keys the same key: type and base64, whatever their options and comment."""
    return f"{key['type'] or 'unknown'} {key['blob']}"


def key_label(key: dict) -> str:
    """How a key is named in a sentence: its comment, else the end of its base64."""
    if key["type"] is None:
        return "a line that is not a known key type"
    return repr(key["comment"]) if key["comment"] else f"...{key['blob'][-12:]}"


# ---- Declarations --------------------------------------------------------------------------


def declaration(entry: object, default_by: str) -> dict:
    """One declared account, checked: the inventory's entries and the roles' files share the shape."""
    if not isinstance(entry, dict):
        raise ValueError(f"an account must be a mapping, not {type(entry).__name__}")
    unknown = sorted(set(entry) - set(DECLARATION_KEYS))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(DECLARATION_KEYS)})")
    account = entry.get("account")
    if not isinstance(account, str) or not account.strip() or ":" in account:
        raise ValueError(f"account must be a login name, not {account!r}")
    groups = entry.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise ValueError(f"{account}: groups must be a list of group names, not {groups!r}")
    keys_file = entry.get("ssh_keys_file")
    if keys_file is not None and (not isinstance(keys_file, str) or not keys_file.startswith("/")):
        raise ValueError(f"{account}: ssh_keys_file must be an absolute path, not {keys_file!r}")
    sudo = entry.get("sudo", False)
    if not isinstance(sudo, bool):
        raise ValueError(f"{account}: sudo must be true or false, not {sudo!r}")
    by = entry.get("by") or default_by
    if not isinstance(by, str):
        raise ValueError(f"{account}: by must be a name, not {by!r}")
    return {
        "account": account.strip(),
        "groups": list(groups),
        "ssh_keys_file": os.path.normpath(keys_file) if keys_file else None,
        "sudo": sudo,
        "by": by,
    }


def parse_access_files(files: dict[str, str]) -> tuple[list[dict], list[str]]:
    """Declared accounts of the roles' files (path -> text); the problems of files that cannot be read.

    A file counts whole or not at all, so a problem names it rather than half of its accounts.
    """
    accounts, problems = [], []
    for path, text in sorted(files.items()):
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError('it must be an object {"by": ..., "accounts": [...]}')
            by = data.get("by")
            if not isinstance(by, str) or not by:
                raise ValueError('"by" must name the role that wrote it')
            entries = data.get("accounts")
            if not isinstance(entries, list):
                raise ValueError('"accounts" must be a list')
            declared = [declaration(entry, by) for entry in entries]
        except ValueError as error:  # json.JSONDecodeError is a ValueError
            problems.append(
                f"the access declaration {path} cannot be read ({error}): its accounts are not "
                "declared, and nothing is removed until it is fixed"
            )
            continue
        accounts.extend(declared)
    return accounts, problems


def merge_declarations(entries: list[dict]) -> dict[str, dict]:
    """Everything declared for each account, however many places declared it."""
    merged: dict[str, dict] = {}
    for entry in entries:
        account = merged.setdefault(
            entry["account"], {"groups": [], "ssh_keys_files": [], "sudo": False, "by": []}
        )
        account["groups"] += [g for g in entry["groups"] if g not in account["groups"]]
        if entry["ssh_keys_file"] and entry["ssh_keys_file"] not in account["ssh_keys_files"]:
            account["ssh_keys_files"].append(entry["ssh_keys_file"])
        account["sudo"] = account["sudo"] or entry["sudo"]
        if entry["by"] not in account["by"]:
            account["by"].append(entry["by"])
    return merged


def declared_admins(admins: list[dict]) -> dict[str, dict[str, dict]]:
    """The administrators' keys by identity, checked (a typo would otherwise flag the real key)."""
    result: dict[str, dict[str, dict]] = {}
    for i, admin in enumerate(admins):
        name = (admin.get("name") or "").strip()
        if not name:
            raise ValueError(f"admins[{i}]: name must be a login name")
        keys = result.setdefault(name, {})
        for j, text in enumerate(admin.get("ssh_keys") or []):
            parsed = parse_authorized_keys(text or "")
            if not parsed or any(key["type"] is None for key in parsed):
                raise ValueError(
                    f"admins[{i}] ({name}): ssh_keys[{j}] is not an SSH public key line "
                    f"('<type> <base64> [comment]'): {(text or '')[:40]!r}"
                )
            keys.update({key_identity(key): key for key in parsed})
    return result


# ---- sudoers -------------------------------------------------------------------------------


# User_List entries of cvtsudoers' JSON and their sudoers notation (username ALL stays ALL).
PRINCIPAL_NOTATION = {
    "username": "",
    "usergroup": "%",
    "userid": "#",
    "usergid": "%#",
    "nonunixgroup": "%:",
    "netgroup": "+",
}


def _principal(entry: dict) -> str:
    """One User_List entry, in sudoers notation (a group may come with or without its %)."""
    for kind, prefix in PRINCIPAL_NOTATION.items():
        if kind in entry:
            value = str(entry[kind])
            return prefix + (value.removeprefix("%") if kind == "usergroup" else value)
    kind, value = next(((k, v) for k, v in entry.items() if k != "negated"), ("entry", "?"))
    return f"{kind}:{value}"


def sudo_principals(data: dict) -> list[str]:
    """Every principal a sudoers rule grants to (``cvtsudoers -f json``), aliases resolved, in order.

    A negated entry (``!bob``) takes away rather than grants, so it grants nobody anything here.
    An alias that is not defined grants nothing (visudo refuses it anyway).
    """
    aliases = data.get("User_Aliases") or {}
    principals: list[str] = []

    def walk(entries: list, seen: frozenset) -> None:
        for entry in entries or []:
            if not isinstance(entry, dict) or entry.get("negated"):
                continue
            if "useralias" in entry:
                alias = entry["useralias"]
                if alias not in seen:
                    walk(aliases.get(alias, []), seen | {alias})
                continue
            principal = _principal(entry)
            if principal not in principals:
                principals.append(principal)

    for spec in data.get("User_Specs") or []:
        if isinstance(spec, dict):
            walk(spec.get("User_List"), frozenset())
    return principals


def judge_sudo(principals: list[str], policy: dict, accounts: list[dict], groups: dict) -> list[str]:
    """Problems of the sudoers principals: only root, the admin and privileged groups and the
    declared administrators and sudo accounts may be named (a #uid or %#gid counts as its name)."""
    users = {"root", *policy["admins"]} | {a for a, d in policy["declared"].items() if d["sudo"]}
    allowed_groups = {policy["admin_group"], *policy["privileged_groups"]}
    by_uid = {a["uid"]: a["name"] for a in accounts}
    by_gid = {g["gid"]: name for name, g in groups.items()}
    problems = []
    for principal in principals:
        if principal == "ALL":
            problems.append("sudoers grants sudo to ALL users")
        elif principal.startswith("%#"):
            gid = principal[2:]
            name = by_gid.get(int(gid)) if gid.isdigit() else None
            if name not in allowed_groups:
                problems.append(
                    f"sudoers grants sudo to group '{principal}'" + (f" ({name})" if name else "")
                )
        elif principal.startswith("%:"):
            problems.append(f"sudoers grants sudo to non-Unix group '{principal[2:]}'")
        elif principal.startswith("%"):
            if principal[1:] not in allowed_groups:
                problems.append(f"sudoers grants sudo to group '{principal[1:]}'")
        elif principal.startswith("+"):
            problems.append(f"sudoers grants sudo to netgroup '{principal[1:]}'")
        elif principal.startswith("#"):
            uid = principal[1:]
            name = by_uid.get(int(uid)) if uid.isdigit() else None
            if name not in users:
                problems.append(f"sudoers grants sudo to user '{principal}'" + (f" ({name})" if name else ""))
        elif ":" in principal:
            kind, _, value = principal.partition(":")
            problems.append(f"sudoers grants sudo to {kind} '{value}'")
        elif principal not in users:
            problems.append(f"sudoers grants sudo to user '{principal}'")
    return problems


# ---- The review ----------------------------------------------------------------------------


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _undeclared_members(
    members: list[dict], group: str, allowed: set[str], sentence: str, protected: frozenset
) -> tuple[list[str], list[dict]]:
    """The problem of each member of ``group`` not in ``allowed`` (``sentence`` with ``{name}``), and
    the removals gpasswd can make safely: a supplementary membership, not of the connected account."""
    problems, removals = [], []
    for member in members:
        name = member["name"]
        if name in allowed:
            continue
        problem = sentence.format(name=name)
        if member["primary"]:
            problem += " (by its primary group: not removed, change it with usermod -g)"
        elif name in protected:
            problem += " (not removed: Ansible connected as this account)"
        problems.append(problem)
        if member["supplementary"] and name not in protected:
            removals.append({"kind": "group", "account": name, "group": group})
    return problems, removals


def review_groups(host: dict, policy: dict, protected: frozenset) -> tuple[list[str], list[dict], dict]:
    """Members of the admin group who are not declared administrators (or declared there), and
    members of a privileged group not declared in it (an administrator's way is the admin group)."""
    accounts, groups, declared = host["accounts"], host["groups"], policy["declared"]
    admin_group = policy["admin_group"]

    def declared_in(group: str) -> set[str]:
        return {name for name, entry in declared.items() if group in entry.get("groups", [])}

    problems, removals = [], []
    observed: dict = {"admin_group": {"name": admin_group, "members": []}}
    if admin_group not in groups:
        problems.append(f"the admin group {admin_group} does not exist on this host")
    else:
        members = group_members(admin_group, groups, accounts)
        observed["admin_group"]["members"] = [m["name"] for m in members]
        found, removable = _undeclared_members(
            members,
            admin_group,
            set(policy["admins"]) | declared_in(admin_group),
            f"account '{{name}}' is in the admin group {admin_group} but is not a declared administrator",
            protected,
        )
        problems += found
        removals += removable

    observed["privileged_groups"], observed["missing_groups"] = {}, []
    for group in policy["privileged_groups"]:
        if group not in groups:
            observed["missing_groups"].append(group)
            continue
        members = group_members(group, groups, accounts)
        observed["privileged_groups"][group] = [m["name"] for m in members]
        found, removable = _undeclared_members(
            members,
            group,
            declared_in(group),
            f"account '{{name}}' is in privileged group {group} but nobody declared it there",
            protected,
        )
        problems += found
        removals += removable
    return problems, removals, observed


def admin_key_problems(
    name: str, files: list[dict], keys: dict[str, dict], allowed_files: list[str]
) -> list[str]:
    """An administrator's keys must be exactly the declared ones. Only reported: the baseline
    role's exclusive authorized_key task removes the extra ones and adds the missing ones."""
    problems, found = [], set()
    for key_file in files:
        for key in key_file["keys"]:
            found.add(key_identity(key))
            if key_identity(key) not in keys and key_file["path"] not in allowed_files:
                problems.append(
                    f"{name}: SSH key {key_label(key)} in {key_file['path']} is not one of its declared "
                    "keys (not removed here: the baseline role's authorized_key task does it)"
                )
    problems += [
        f"{name}: declared SSH key {key_label(key)} is missing" for i, key in keys.items() if i not in found
    ]
    return problems


def review_keys(host: dict, policy: dict, protected: frozenset) -> tuple[list[str], list[dict], dict]:
    """Every key file against the declarations. An undeclared account's non-empty file is moved
    whole (a key file is all or nothing to whoever planted it); an administrator's is only judged."""
    admins, declared = policy["admins"], policy["declared"]
    files_by_account: dict[str, list[dict]] = {}
    for key_file in host["key_files"]:
        files_by_account.setdefault(key_file["account"], []).append(key_file)
    existing = {a["name"] for a in host["accounts"]}
    problems, removals, observed, planned_paths = [], [], {}, set()
    for name in [*files_by_account, *(a for a in admins if a not in files_by_account)]:
        files = files_by_account.get(name, [])
        allowed_files = declared.get(name, {}).get("ssh_keys_files", [])
        by = "admins" if name in admins else ", ".join(declared[name]["by"]) if allowed_files else None
        observed[name] = {
            "files": [f["path"] for f in files],
            "count": sum(len(f["keys"]) for f in files),
            "declared": by is not None,
            "by": by,
        }
        if name in admins:
            if name in existing:
                problems += admin_key_problems(name, files, admins[name], allowed_files)
            else:
                problems.append(
                    f"declared administrator '{name}' has no account on this host "
                    f"(its {len(admins[name])} declared SSH key(s) are missing)"
                )
            continue
        for key_file in files:
            path, count = key_file["path"], len(key_file["keys"])
            if not count or path in allowed_files or path in planned_paths:
                continue  # empty, declared, or a home shared by two accounts (one problem, one move)
            planned_paths.add(path)
            sentence = f"{name}: {count} SSH key(s) in {path} that nobody declared"
            if name in protected:
                sentence += " (not removed: Ansible connected as this account)"
            else:
                labels = [key_label(k) for k in key_file["keys"]]
                removals.append(
                    {"kind": "keys", "account": name, "path": path, "count": count, "labels": labels}
                )
            problems.append(sentence)
    return problems, removals, observed


def review(host: dict, policy: dict, protected: frozenset = frozenset()) -> dict:
    """Problems, removals that would fix some of them, and what was observed: the whole decision.

    A removal is planned only for what is safe to take away; its problem is reported too (in
    check mode it is still there). Nothing is planned while a declaration cannot be read: its
    accounts would be taken for intruders.
    """
    problems = list(policy["declaration_problems"]) + list(host["read_problems"])
    group_problems, removals, observed = review_groups(host, policy, protected)
    problems += group_problems

    observed["uid0"] = [a["name"] for a in host["accounts"] if a["uid"] == 0]
    problems += [f"account '{name}' has UID 0: only root may" for name in observed["uid0"] if name != "root"]

    sudo = host["sudo"]
    observed["sudo_principals"] = sudo.get("principals", [])
    if "error" in sudo:
        problems.append(f"the sudo rules cannot be read: {sudo['error']}")
    else:
        problems += judge_sudo(sudo["principals"], policy, host["accounts"], host["groups"])

    key_problems, key_removals, observed["ssh_keys"] = review_keys(host, policy, protected)
    problems += key_problems
    removals += key_removals
    if policy["declaration_problems"]:
        removals = []
    return {"problems": problems, "removals": removals, "observed": observed}


def evidence(observed: dict) -> str:
    """What was observed, in one line with the names and counts (the audit report's evidence)."""
    admin = observed["admin_group"]
    parts = [f"{admin['name']}: {', '.join(admin['members']) or 'no members'}"]
    privileged = observed["privileged_groups"]
    empty = [g for g, members in privileged.items() if not members]
    held = [f"{g}: {', '.join(members)}" for g, members in privileged.items() if members]
    groups = "; ".join(([f"{', '.join(empty)}: no members"] if empty else []) + held) or "none on this host"
    missing = observed["missing_groups"]
    parts.append(f"privileged groups {groups}" + (f" ({', '.join(missing)} absent)" if missing else ""))
    parts.append(f"UID 0: {', '.join(observed['uid0']) or 'nobody'}")
    parts.append(f"sudo granted to: {', '.join(observed['sudo_principals']) or 'nobody'}")
    keys = []
    for name, info in observed["ssh_keys"].items():
        if not info["count"]:
            continue
        if info["by"] == "admins":
            keys.append(f"{name} {info['count']} (declared admin)")
        elif info["declared"]:
            keys.append(f"{name} {info['count']} in {', '.join(info['files'])} (declared by {info['by']})")
        else:
            keys.append(f"{name} {info['count']} in {', '.join(info['files'])} (undeclared)")
    parts.append(f"SSH keys: {', '.join(keys) or 'none'}")
    return "; ".join(parts)


# ---- Reading the host ----------------------------------------------------------------------


def read_access_dir(root: str, access_dir: str) -> tuple[dict[str, str], list[str]]:
    """Text of every declaration file (host path -> text), and the files that could not be read."""
    directory = under(root, access_dir)
    if not os.path.isdir(directory):
        return {}, []
    files, problems = {}, []
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json"):
            continue
        text = read_text(os.path.join(directory, name))
        path = os.path.join(access_dir, name)
        if text is None:
            problems.append(f"the access declaration {path} cannot be read: its accounts are not declared")
        else:
            files[path] = text
    return files, problems


def read_host(root: str, declared: dict[str, dict]) -> dict:
    """Accounts, groups and every SSH key file of the host (files only; sudo is read apart)."""
    texts = {}
    for path in ("/etc/passwd", "/etc/group"):
        texts[path] = read_text(under(root, path))
        if texts[path] is None:
            raise OSError(f"cannot read {path}")
    accounts = parse_passwd(texts["/etc/passwd"])
    groups = parse_group(texts["/etc/group"])
    key_files, problems = [], []
    for account in accounts:
        paths = []
        if account["home"].startswith("/"):
            paths += [os.path.normpath(os.path.join(account["home"], ".ssh", f)) for f in HOME_KEY_FILES]
        paths += [f for f in declared.get(account["name"], {}).get("ssh_keys_files", []) if f not in paths]
        for path in paths:
            if not os.path.isfile(under(root, path)):
                continue
            text = read_text(under(root, path))
            if text is None:
                problems.append(f"{account['name']}: the key file {path} cannot be read")
                continue
            key_files.append({"account": account["name"], "path": path, "keys": parse_authorized_keys(text)})
    return {"accounts": accounts, "groups": groups, "key_files": key_files, "read_problems": problems}


def read_sudo(run: Callable[[list[str]], tuple[int, str, str]], cvtsudoers: str | None, root: str) -> dict:
    """The sudoers principals through cvtsudoers, or the error that kept them from being read.

    ``run`` runs a command with LC_ALL=C and returns its status, output and errors (the module's
    run_command, the scheduled review's subprocess).
    """
    if not cvtsudoers:
        return {"error": "cvtsudoers not found (package sudo)"}
    rc, out, err = run([cvtsudoers, "-f", "json", under(root, "/etc/sudoers")])
    if rc != 0:
        return {"error": f"cvtsudoers -f json /etc/sudoers failed (rc {rc}): {(err or out).strip()}"}
    try:
        data = json.loads(out) if out.strip() else {}
    except ValueError as error:
        return {"error": f"cvtsudoers printed what is not JSON ({error})"}
    if not isinstance(data, dict):
        return {"error": "cvtsudoers printed JSON that is not an object"}
    return {"principals": sudo_principals(data)}


def connected_accounts(environ: dict) -> frozenset:
    """The account Ansible came in as: never stripped of its access (the next run would be locked out).

    sudo names it in SUDO_USER; without sudo, an SSH session's login. SUDO_USER root means root
    ran sudo (podman exec, a console, Mitogen's become as root): no login of root's to keep.
    """
    names = {environ.get("SUDO_USER")} - {"root"}
    if environ.get("SSH_CONNECTION") or environ.get("SSH_CLIENT"):
        names.add(environ.get("LOGNAME") or environ.get("USER"))
    return frozenset(n for n in names if n)


def build_policy(params: dict, access_files: dict[str, str], access_problems: list[str]) -> dict:
    """What is declared, from the options and the roles' files; ValueError for a bad option."""
    if not params["admin_group"].strip():
        raise ValueError("admin_group must name the group that grants sudo, e.g. ereje-admins")
    for name in ("access_dir", "quarantine_dir"):
        if not params[name].startswith("/"):
            raise ValueError(f"{name} must be an absolute path, not {params[name]!r}")
    entries = []
    for i, entry in enumerate(params["declared"]):
        try:
            entries.append(declaration({k: v for k, v in entry.items() if v is not None}, "inventory"))
        except ValueError as error:
            raise ValueError(f"declared[{i}]: {error}") from None
    from_files, file_problems = parse_access_files(access_files)
    admin_group = params["admin_group"].strip()
    return {
        "admin_group": admin_group,
        "admins": declared_admins(params["admins"]),
        "privileged_groups": [g for g in dict.fromkeys(params["privileged_groups"]) if g != admin_group],
        "declared": merge_declarations(entries + from_files),
        "declaration_problems": access_problems + file_problems,
    }
