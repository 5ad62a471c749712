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
import os
import syslog
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.integrity import (
    DIFFERENCES,
    attribute,
    by_packages,
    dpkg_facts,
    listed,
    made,
    parse_report,
)
from ansible_collections.ereje.compliance.plugins.module_utils.status import FAIL_ON_PROBLEM, status_result


def dpkg_output(module: AnsibleModule, argv: list[str]) -> str:
    """What a dpkg command says (its standard output), in the C locale."""
    return module.run_command(argv, environ_update={"LC_ALL": "C"})[1]


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
    if rc & ~DIFFERENCES:
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
    entries = by_packages(entries, *dpkg_facts(lambda argv: dpkg_output(module, argv), entries))
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
