#!/usr/bin/python3
"""Ansible module: a host's system files against the reference AIDE database kept off the host."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ereje_file_integrity
short_description: A host's files against the reference AIDE database kept off it; accept a run's changes
description:
  - Runs AIDE (C(aide --update)) on the host with its rules (O(config)) against the reference database
    O(reference), the text of the database the controller keeps for this host, not the copy on the host.
    A change made on the host and hidden by re-making the host's own database is still found.
  - Each entry AIDE reports (added, removed or changed, with AIDE's attribute summary) is attributed by its
    ctime (a removed entry by its directory's) to this run of site.yml (changed at or after O(since)) or to
    someone before it.
  - O(accept=none) (the audit, and check mode) only reports; any difference, or a host database that is not
    the reference, is a problem (ATU-5.11-a).
  - O(accept=run) (a converge) accepts what this run changed - the new database replaces the host's copy, and
    the role then keeps it as the new reference - but only when nothing changed before the run; otherwise
    nothing is accepted and each earlier change is a problem, until a person has looked at them and accepts
    them with O(accept=all).
  - O(accept=all) accepts every difference found (a person's decision, after review).
  - Without a reference (the first run) a converge makes the first database from the host as it is; the audit
    reports that there is none.
  - Every acceptance is written to the host's journal (tag C(ereje-integrity)), so the collector keeps the
    record.
version_added: "0.1.0"
author: Ereje
options:
  config:
    description: AIDE's rules for this host (paths, attributes); database and report lines are given apart.
    type: path
    required: true
  database:
    description: The host's own copy of the accepted database, which the daily check reads.
    type: path
    required: true
  reference:
    description:
      - The text of the reference database kept off the host (uncompressed AIDE database); empty when there is
        none yet.
    type: str
    default: ""
  accept:
    description: What to accept (see the description).
    type: str
    choices: [none, run, all]
    default: none
  since:
    description:
      - When this run began (seconds since the epoch): a change at or after it was made by the run.
      - Needed with O(accept=run); without it no change counts as the run's.
    type: float
  list_limit:
    description: How many entries a message names before it says how many more there are.
    type: int
    default: 20
  fail_on_problem:
    description: Fail the task when a problem is found (the audit); false only reports.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: File integrity | the files against the reference kept on the controller (audit)
  ereje.compliance.ereje_file_integrity:
    config: /etc/ereje/integrity/aide.conf
    database: /var/lib/ereje/integrity/aide.db
    reference: "{{ lookup('ansible.builtin.file', 'integrity/' ~ inventory_hostname ~ '.db') }}"

- name: File integrity | accept what this run changed
  ereje.compliance.ereje_file_integrity:
    config: /etc/ereje/integrity/aide.conf
    database: /var/lib/ereje/integrity/aide.db
    reference: "{{ reference_text }}"
    accept: run
    since: "{{ run_started }}"
"""

RETURN = r"""
ok:
  description: True when the files match the reference (after what was accepted) and the host's copy is it.
  returned: always
  type: bool
problems:
  description: One sentence per problem (changes nobody accepted, a host database that is not the reference).
  returned: always
  type: list
entries:
  description:
    - Every difference AIDE found, each C(path), C(kind) (added, removed, changed), C(summary) (AIDE's
      attribute summary) and C(by) (run when this run made it, before otherwise).
  returned: always
  type: list
  sample: [{path: /usr/local/bin/helper, kind: added, summary: "f++++++++++++++++", by: before}]
accepted:
  description: The entries this task accepted into the database.
  returned: always
  type: list
checked:
  description: How many entries (files, directories, links) AIDE compared.
  returned: always
  type: int
reference_made:
  description: When the reference database was made (AIDE's own header), empty without one.
  returned: always
  type: str
database_changed:
  description: True when the host's database was replaced (a new reference for the controller to keep).
  returned: always
  type: bool
msg:
  description: The problems, or the evidence (how many entries matched the reference made when).
  returned: always
  type: str
"""

import hashlib
import json
import os
import re
import syslog
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.status import FAIL_ON_PROBLEM, status_result

# AIDE's exit status: bits 1, 2 and 4 say entries were added, removed or changed; 14 and above are errors.
DIFFERENCES = 7
ERRORS = 14
MADE = re.compile(r"^# Time of generation was (.+)$", re.MULTILINE)


def parse_report(text: str) -> tuple[int, list[dict]]:
    """The number of entries checked and the differences of AIDE's JSON report (report_format=json)."""
    report = json.loads(text)
    entries = [
        {"path": path, "kind": kind, "summary": summary.strip()}
        for kind in ("added", "removed", "changed")
        for path, summary in sorted(report.get(kind, {}).items())
    ]
    return int(report.get("number_of_entries", {}).get("total", 0)), entries


def changed_at(entry: dict) -> float | None:
    """When the entry last changed on the host: its ctime, a removed entry's directory's (None if gone)."""
    path = os.path.dirname(entry["path"]) if entry["kind"] == "removed" else entry["path"]
    try:
        return os.lstat(path).st_ctime
    except OSError:
        return None


def attribute(entries: list[dict], since: float | None) -> list[dict]:
    """Each entry with ``by``: run when it changed at or after ``since``, before otherwise."""
    out = []
    for entry in entries:
        when = changed_at(entry)
        by_run = since is not None and when is not None and when >= since
        out.append({**entry, "by": "run" if by_run else "before"})
    return out


# Debian 12 merged /bin into /usr/bin: dpkg may know a program by either name.
MERGED_USR = (("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/"), ("/usr/lib/", "/lib/"))


def dpkg_names(path: str) -> list[str]:
    """The names dpkg may have registered a file under."""
    return [path] + [alias + path[len(usr) :] for usr, alias in MERGED_USR if path.startswith(usr)]


def parse_owners(text: str) -> tuple[dict[str, set[str]], set[str]]:
    """`dpkg-query -S` output: the packages owning each path, and the paths a diversion concerns."""
    owners: dict[str, set[str]] = {}
    diverted: set[str] = set()
    for line in text.splitlines():
        packages, sep, path = line.partition(": ")
        if not sep:
            continue
        if packages.startswith("diversion by "):
            diverted.add(path.strip())
            continue
        owners[path.strip()] = {name.strip().split(":")[0] for name in packages.split(",")}
    return owners, diverted


def parse_verify(text: str) -> set[str]:
    """`dpkg --verify` output: the files that do not match their package (content or missing)."""
    return {
        line.split()[-1] for line in text.splitlines() if line.split() and line.split()[-1].startswith("/")
    }


def dpkg_facts(module: AnsibleModule, entries: list[dict]) -> tuple[dict[str, str], dict[str, set[str]]]:
    """What dpkg says of the entries changed before this run: the files a Debian package owns whose
    content dpkg verifies against the package's checksums ({path: package}), and the packages that
    own each changed directory ({path: packages})."""
    before = [e for e in entries if e["by"] == "before" and e["kind"] in ("added", "changed")]
    names = {
        name: e["path"] for e in before if e["summary"][:1] in ("f", "d") for name in dpkg_names(e["path"])
    }
    if not names:
        return {}, {}
    _, out, _ = module.run_command(["dpkg-query", "-S", "--", *names], environ_update={"LC_ALL": "C"})
    owners, diverted = parse_owners(out)
    owned = {name: found for name, found in owners.items() if name in names and name not in diverted}
    is_dir = {e["path"] for e in before if e["summary"].startswith("d")}
    directories: dict[str, set[str]] = {}
    for name, found in owned.items():
        if names[name] in is_dir:
            directories.setdefault(names[name], set()).update(found)
    files = {name: found for name, found in owned.items() if names[name] not in is_dir}
    if not files:
        return {}, directories
    _, out, _ = module.run_command(["dpkg", "--verify", *sorted(set().union(*files.values()))])
    failing = parse_verify(out)
    return {
        names[name]: sorted(found)[0] for name, found in files.items() if name not in failing
    }, directories


def by_packages(entries: list[dict], vouched: dict[str, str], directories: dict[str, set[str]]) -> list[dict]:
    """Entries a package update explains get ``by: package``: a changed file dpkg verifies; a new
    file of a package that also changed a file that was there (an upgrade, not a package someone
    installed); a directory of such an upgraded package with no other change listed inside it."""
    out = [
        {**e, "by": "package", "package": vouched[e["path"]]} if e["path"] in vouched else e for e in entries
    ]
    upgraded = {e["package"] for e in out if e["by"] == "package" and e["kind"] == "changed"}
    out = [
        {**e, "by": "before"}
        if e["by"] == "package" and e["kind"] == "added" and e["package"] not in upgraded
        else e
        for e in out
    ]
    for entry in out:
        if entry["by"] != "before" or entry["kind"] != "changed" or not entry["summary"].startswith("d"):
            continue
        inside = [e for e in out if os.path.dirname(e["path"]) == entry["path"]]
        mine = directories.get(entry["path"], set()) & upgraded
        explained = any(e["by"] == "package" for e in inside) or mine
        if explained and all(e["by"] in ("run", "package") for e in inside):
            entry.update(by="package", package=", ".join(sorted(mine)) or "its updated files")
    return out


def listed(entries: list[dict], limit: int) -> str:
    """'added /a, changed /b ... and N more' for a message."""
    names = [f"{e['kind']} {e['path']}" for e in entries[:limit]]
    more = len(entries) - limit
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def made(database: str) -> str:
    """When AIDE made a database (its header), or ''."""
    found = MADE.search(database[:400])
    return found.group(1).strip() if found else ""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def read_database(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except OSError:
        return None


def install(database: str, text: str) -> None:
    """Replace the host's database at once (a temporary file renamed over it), private to root."""
    directory = os.path.dirname(database)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".aide.db.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, database)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def journal(message: str) -> None:
    """The acceptance on the host's journal (tag ereje-integrity): the collector keeps it."""
    syslog.openlog("ereje-integrity", 0, syslog.LOG_AUTH)
    syslog.syslog(syslog.LOG_NOTICE, message)
    syslog.closelog()


def run_aide(module: AnsibleModule, config: str, reference: str, scratch: str) -> tuple[int, list[dict], str]:
    """AIDE --update against ``reference`` (--init without one): entries, differences, new database."""
    aide = module.get_bin_path("aide", required=True)
    out_db = os.path.join(scratch, "aide.db.new")
    common = [
        "--config",
        config,
        "-B",
        f"database_out=file:{out_db}",
        "-B",
        "gzip_dbout=no",
    ]
    if not reference:
        rc, out, err = module.run_command([aide, "--init", *common])
        if rc != 0:
            module.fail_json(msg=f"aide --init failed (rc {rc}): {(err or out).strip()[-2000:]}")
        text = read_database(out_db) or ""
        return sum(1 for line in text.splitlines() if line[:1] not in ("@", "#", "")), [], text
    # report_format applies to the report URLs defined after it: none here, so AIDE's default (stdout).
    json_report = ["-B", "database_in=stdin", "-B", "report_format=json", "-B", "report_level=list_entries"]
    rc, out, err = module.run_command(
        [aide, "--update", *common, *json_report], data=reference, binary_data=True
    )
    if rc >= ERRORS or rc & ~DIFFERENCES:
        module.fail_json(msg=f"aide --update failed (rc {rc}): {(err or out).strip()[-2000:]}")
    try:
        checked, entries = parse_report(out)
    except (ValueError, AttributeError) as exc:
        module.fail_json(msg=f"aide's report could not be read ({exc}): {out[:500]}")
    return checked, entries, read_database(out_db) or ""


def judge(
    entries: list[dict], reference: str, host_copy: str | None, accept: str, limit: int
) -> tuple[list[str], list[dict], str | None]:
    """Problems, the entries accepted, and what the host's database becomes: "new" (AIDE's new
    database), "reference" (the reference put back) or None (left as it is). A package update dpkg
    verified is never a problem; a converge accepts it with the run's own changes."""
    problems: list[str] = []
    if not reference:
        if accept == "none":
            problems.append(
                "no reference database is kept off this host yet (the controller's "
                "file_integrity_reference_dir): run site.yml to make the first one"
            )
            return problems, [], None
        journal("ACCEPTED the first database: the host as it is now (no reference before)")
        return problems, [], "new"
    before = [e for e in entries if e["by"] == "before"]
    accepted = {"none": [], "run": entries if not before else [], "all": entries}[accept]
    becomes = None
    if accepted:
        becomes = "new"
        who = (
            "by an administrator (accept all)"
            if accept == "all"
            else "made by this run or by Debian package updates (dpkg verified them)"
        )
        journal(f"ACCEPTED {len(accepted)} change(s) {who}: {listed(accepted, limit)}")
    unaccepted = [e for e in entries if e not in accepted and (accept != "none" or e["by"] != "package")]
    if unaccepted:
        earlier = [e for e in unaccepted if e["by"] == "before"]
        problems.append(
            f"{len(unaccepted)} change(s) to watched files nobody accepted"
            + (f" ({len(earlier)} made before this run)" if accept == "run" else "")
            + f": {listed(unaccepted, limit)}; look at each, then accept them with "
            + "file_integrity_accept_all=true"
            + (" (this run's own changes are accepted with them)" if accept == "run" and earlier else "")
        )
    if becomes is None and host_copy != reference:
        if accept == "none":
            problems.append(
                "the database on this host is not the reference kept off the host "
                f"(sha256 {sha256(host_copy)[:16] if host_copy is not None else 'missing'} against "
                f"{sha256(reference)[:16]}): it was re-made or replaced here"
            )
        else:
            becomes = "reference"
            journal("RESTORED the host's database from the reference kept off the host: it differed")
    return problems, accepted, becomes


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "config": {"type": "path", "required": True},
            "database": {"type": "path", "required": True},
            "reference": {"type": "str", "default": ""},
            "accept": {"type": "str", "choices": ["none", "run", "all"], "default": "none"},
            "since": {"type": "float"},
            "list_limit": {"type": "int", "default": 20},
            **FAIL_ON_PROBLEM,
        },
        supports_check_mode=True,
    )
    p = module.params
    accept = "none" if module.check_mode else p["accept"]
    if not os.path.isfile(p["config"]):
        module.fail_json(msg=f"AIDE's rules {p['config']} are missing: the file_integrity role writes them")
    # A database ends with a newline; a lookup on the controller may have stripped it.
    reference = p["reference"]
    if reference and not reference.endswith("\n"):
        reference += "\n"
    host_copy = read_database(p["database"])

    with tempfile.TemporaryDirectory(prefix="ereje-integrity-") as scratch:
        checked, entries, new_db = run_aide(module, p["config"], reference, scratch)
    entries = attribute(entries, p["since"])
    entries = by_packages(entries, *dpkg_facts(module, entries))
    problems, accepted, becomes = judge(entries, reference, host_copy, accept, p["list_limit"])
    install_text = {"new": new_db, "reference": reference, None: None}[becomes]

    changed = install_text is not None and install_text != host_copy
    if changed and not module.check_mode:
        install(p["database"], install_text)
    current = install_text if install_text is not None else reference
    updated = [e for e in entries if e["by"] == "package" and e not in accepted]
    evidence = (
        f"{checked} entries {'compared with' if updated else 'match'} the reference database made "
        f"{made(current) or 'now'} (sha256 {sha256(current)[:16]}), kept off the host"
        + (f"; accepted {listed(accepted, p['list_limit'])}" if accepted else "")
    )
    if updated:
        evidence += (
            "; changed by Debian package updates, their content verified by dpkg (a converge accepts them): "
        )
        evidence += ", ".join(f"{e['kind']} {e['path']} ({e['package']})" for e in updated[: p["list_limit"]])
    result = status_result(
        problems,
        evidence,
        entries=entries,
        accepted=accepted,
        checked=checked,
        reference_made=made(reference),
        database_changed=changed,
    )
    result["changed"] = changed
    if changed:
        # Before: what differed from the reference; after: what still differs from the new database.
        result["diff"] = {
            "before": "".join(f"{e['kind']} {e['path']} ({e['summary']})\n" for e in entries)
            or ("no database\n" if not reference else "the host's database differed from the reference\n"),
            "after": "".join(
                f"{e['kind']} {e['path']} ({e['summary']})\n" for e in entries if e not in accepted
            ),
            "before_header": f"{p['database']}: differences from the reference",
            "after_header": f"{p['database']}: differences after this run",
        }
    if problems and p["fail_on_problem"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
