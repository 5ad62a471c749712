#!/usr/bin/python3
"""Ansible module: state of a host's BorgBackup repository against its recovery-point objective."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ereje_backup_status
short_description: Age of the newest backup, last restore drill and repository health; fails past the RPO
description:
  - Reads the repository named in the backup client's environment file (or given directly), finds the newest
    archive and its age, reads the last restore drill result, and optionally runs C(borg check).
  - Fails when the newest archive is older than I(rpo_hours) (a missing daily backup, KNMU-3-a), when
    there is no archive, when the last drill failed or is too old, or when the check finds damage
    (ATU-5.14-a, ATU-8.4-c).
  - Only reads; behaves the same in check mode and never reports a change.
options:
  fail_on_problem:
    description: Fail the task when a problem is found (the audit); false only reports.
    type: bool
    default: true
  env_file:
    description: KEY=VALUE file with BORG_REPO, BORG_PASSCOMMAND, BORG_RSH (backup_client role).
    type: path
    default: /etc/ereje-backup/borg.env
  repository:
    description: Repository read instead of the environment file's BORG_REPO (e.g. a path on the server).
    type: str
  passphrase_file:
    description: File holding the passphrase, instead of the environment file's BORG_PASSCOMMAND.
    type: path
  rpo_hours:
    description: Recovery-point objective; the newest archive must be younger.
    type: float
    default: 26
  drill_result:
    description: JSON result of the last restore drill (ereje-backup drill).
    type: path
    default: /var/lib/ereje-backup/drill.json
  require_drill:
    description: Fail when there is no drill result, it failed, or it is older than I(drill_max_age_hours).
    type: bool
    default: true
  drill_max_age_hours:
    description: Age after which the last drill no longer counts.
    type: float
    default: 192
  check:
    description: C(repository) runs C(borg check --repository-only) (segment checksums), C(full) a full check.
    type: str
    choices: [none, repository, full]
    default: none
author: Ereje
"""

EXAMPLES = r"""
- name: Backups | status of this client (fails past the RPO)
  ereje.compliance.ereje_backup_status:
    rpo_hours: 26
    check: repository

# On the server, read a repository as its owner: root would leave root-owned files in it.
- name: Backups | a repository read locally on the server
  become_user: borg
  ereje.compliance.ereje_backup_status:
    repository: /srv/borg/repos/web
    passphrase_file: /etc/ereje-backup/repos.d/web.pass
    require_drill: false
"""

RETURN = r"""
repository:
  description: Repository read.
  returned: always
  type: str
archives:
  description: Number of archives.
  returned: when the repository could be read
  type: int
newest_archive:
  description: Name and time of the newest archive.
  returned: when there is one
  type: dict
age_hours:
  description: Age of the newest archive in hours.
  returned: when there is one
  type: float
rpo_exceeded:
  description: Whether the newest archive is older than the RPO (or missing).
  returned: always
  type: bool
drill:
  description: The last drill result (time, archive, result, files and databases checked).
  returned: when the file exists
  type: dict
repository_ok:
  description: Result of borg check; null when not checked.
  returned: always
  type: bool
ok:
  description: No problem was found.
  returned: always
  type: bool
problems:
  description: What is wrong, in words; empty when all is well.
  returned: always
  type: list
msg:
  description: The problems, or when there is none what was checked (the audit's evidence).
  returned: always
  type: str
"""

import datetime
import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.dates import as_datetime
from ansible_collections.ereje.compliance.plugins.module_utils.status import FAIL_ON_PROBLEM, exit_status


def parse_env(text: str) -> dict[str, str]:
    """KEY=VALUE lines (systemd EnvironmentFile style); comments and blank lines ignored."""
    env = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key.strip()] = value
    return env


# Clocks of client and server may differ this much before an archive's date counts as forged.
FUTURE_TOLERANCE_HOURS = 1


def parse_time(text: str, now: datetime.datetime) -> datetime.datetime:
    """Borg prints local time without an offset; an offset, when present, is honoured."""
    moment = as_datetime(text, now.tzinfo)
    if moment is None:
        raise ValueError(f"{text!r} is not an ISO time")
    return moment


def newest_archive(listing: str) -> dict | None:
    """The newest archive of `borg list --json` output, or None for an empty repository."""
    archives = json.loads(listing).get("archives", [])
    if not archives:
        return None
    newest = max(archives, key=lambda a: a.get("time") or a.get("start"))
    return {"name": newest["name"], "time": newest.get("time") or newest.get("start"), "count": len(archives)}


def age_hours(moment: str, now: datetime.datetime) -> float:
    return round((now - parse_time(moment, now)).total_seconds() / 3600, 2)


def drill_failure(drill: dict) -> str:
    """What a failed drill found (ereje-backup's drill.json): its error, or the files, databases and
    the roles' declared checks that did not match, so that the evidence names the lost data."""
    if drill.get("error"):
        return drill["error"]
    found = []
    if drill.get("files_failed"):
        sample = (drill.get("files_failed_sample") or ["?"])[0]
        found.append(
            f"{drill['files_failed']} of {drill.get('files_checked', '?')} files differ from the manifest"
            f" (first: {sample})"
        )
    for name, database in sorted((drill.get("databases") or {}).items()):
        if isinstance(database, dict) and not database.get("ok", True):
            found.append(f"database {name}: rows differ {database.get('differences', {})}")
    for service, said in sorted((drill.get("checks") or {}).items()):
        found += [f"{service}: {line.removeprefix('FAILED: ')}" for line in said if line.startswith("FAILED")]
    return "; ".join(found) or "data did not match its manifest"


def drill_problems(text: str | None, now: datetime.datetime, max_age_hours: float) -> tuple[dict, list[str]]:
    """The drill result and what is wrong with it."""
    if text is None:
        return {}, ["no restore drill has been recorded"]
    try:
        drill = json.loads(text)
    except ValueError:
        return {}, ["the restore drill result is not valid JSON"]
    problems = []
    if drill.get("result") != "passed":
        problems.append(f"the last restore drill failed: {drill_failure(drill)}")
    try:
        age = age_hours(drill["time"], now)
    except (KeyError, ValueError):
        problems.append("the restore drill result has no valid time")
    else:
        drill["age_hours"] = age
        if age > max_age_hours:
            problems.append(f"the last restore drill is {age:.0f} h old (more than {max_age_hours:g} h)")
    return drill, problems


def rpo_problems(
    newest: dict | None, now: datetime.datetime, rpo_hours: float
) -> tuple[float | None, list[str]]:
    if newest is None:
        return None, ["the repository holds no archive"]
    age = age_hours(newest["time"], now)
    # A client chooses its archives' dates (borg create --timestamp): one from the future would hide
    # every missed backup behind a "fresh" newest archive, so it is a finding, never a pass.
    if age < -FUTURE_TOLERANCE_HOURS:
        return age, [
            f"the newest archive {newest['name']} is dated {newest['time']}, {-age:.1f} h in the future:"
            " its date cannot be trusted (the backup server flags such archives)"
        ]
    if age > rpo_hours:
        return age, [
            f"the newest archive {newest['name']} is {age:.1f} h old: RPO of {rpo_hours:g} h exceeded"
        ]
    return age, []


def summary(result: dict) -> str:
    """The evidence of a healthy repository in one line (the audit report shows it)."""
    newest = result.get("newest_archive")
    parts = [
        f"newest archive {newest['name']} is {result['age_hours']:.1f} h old (RPO {result['rpo_hours']:g} h)"
        if newest
        else "no archive"
    ]
    drill = result.get("drill") or {}
    if drill.get("result"):
        age = drill.get("age_hours")
        parts.append(
            f"last restore drill {drill['result']}" + (f" {age:.0f} h ago" if age is not None else "")
        )
    if result.get("repository_ok") is not None:
        parts.append("borg check: " + ("no damage" if result["repository_ok"] else "damage"))
    return "; ".join(parts)


def read_repository(module, p: dict, now: datetime.datetime, result: dict) -> list[str]:
    """Newest archive against the RPO and, when asked, borg check; fills result, returns problems."""
    problems = []
    borg = module.get_bin_path("borg", required=True)
    rc, out, err = module.run_command([borg, "list", "--json"])
    if rc != 0:
        problems.append(f"the repository cannot be read: {err.strip()[-500:]}")
        result["rpo_exceeded"] = True
    else:
        newest = newest_archive(out)
        result["archives"] = newest["count"] if newest else 0
        if newest:
            result["newest_archive"] = {"name": newest["name"], "time": newest["time"]}
        age, found = rpo_problems(newest, now, p["rpo_hours"])
        result["age_hours"] = age
        result["rpo_exceeded"] = bool(found)
        problems += found
    if p["check"] != "none":
        args = [borg, "check"] + (["--repository-only"] if p["check"] == "repository" else [])
        rc, out, err = module.run_command(args)
        result["repository_ok"] = rc == 0
        if rc != 0:
            problems.append(f"borg check found damage: {(err or out).strip()[-800:]}")
    return problems


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "env_file": {"type": "path", "default": "/etc/ereje-backup/borg.env"},
            "repository": {"type": "str"},
            "passphrase_file": {"type": "path", "no_log": False},
            "rpo_hours": {"type": "float", "default": 26},
            "drill_result": {"type": "path", "default": "/var/lib/ereje-backup/drill.json"},
            "require_drill": {"type": "bool", "default": True},
            "drill_max_age_hours": {"type": "float", "default": 192},
            "check": {"type": "str", "choices": ["none", "repository", "full"], "default": "none"},
            **FAIL_ON_PROBLEM,
        },
        supports_check_mode=True,
    )
    p = module.params
    env = {}
    if os.path.exists(p["env_file"]):
        with open(p["env_file"]) as handle:
            env = parse_env(handle.read())
    if p["repository"]:
        env["BORG_REPO"] = p["repository"]
    if p["passphrase_file"]:
        env["BORG_PASSCOMMAND"] = f"cat {p['passphrase_file']}"
    if not env.get("BORG_REPO"):
        module.fail_json(
            msg=f"no repository: give repository or an env_file with BORG_REPO ({p['env_file']})"
        )
    env["BORG_RELOCATED_REPO_ACCESS_IS_OK"] = "yes"
    module.run_command_environ_update = env

    now = datetime.datetime.now().astimezone()
    result = {
        "repository": env["BORG_REPO"],
        "rpo_hours": p["rpo_hours"],
        "repository_ok": None,
    }
    problems = read_repository(module, p, now, result)
    text = None
    if os.path.exists(p["drill_result"]):
        with open(p["drill_result"]) as handle:
            text = handle.read()
    drill, found = drill_problems(text, now, p["drill_max_age_hours"])
    if drill:
        result["drill"] = drill
    if p["require_drill"]:
        problems += found

    exit_status(module, problems, summary(result), fail=p["fail_on_problem"], **result)


if __name__ == "__main__":
    main()
