"""What every Ereje status module returns, and when it fails: the contract the audit reads.

A status module (ereje_antivirus_status, ereje_backup_status, ereje_host_health) only reads the
host and returns:

- ``ok``: true when no problem was found;
- ``problems``: one sentence a problem, in words a sysadmin can act on (empty when ok);
- ``msg``: the problems joined when there are any, else the evidence: one line saying what was
  checked, which the audit report shows for a passing control;
- ``changed``: always false (so check mode answers the same);
- what it read, under names of its own.

It fails the task when there is a problem, unless asked only to report (``fail_on_problem:
false``): the audit callback then fails the control the task is tagged with.
"""

from __future__ import annotations

from collections.abc import Iterable

# The option every status module takes (merged into its argument_spec).
FAIL_ON_PROBLEM = {"fail_on_problem": {"type": "bool", "default": True}}


def status_result(problems: Iterable[str], evidence: str = "", **read: object) -> dict:
    """The module's result: the contract's keys, then what it read."""
    problems = list(problems)
    return {
        **read,
        "changed": False,
        "ok": not problems,
        "problems": problems,
        "msg": "; ".join(problems) if problems else evidence,
    }


def exit_status(module, problems: Iterable[str], evidence: str = "", *, fail: bool = True, **read) -> None:
    """End the module by the contract: fail on a problem when ``fail``, else exit with the result."""
    result = status_result(problems, evidence, **read)
    if result["problems"] and fail:
        module.fail_json(**result)
    module.exit_json(**result)
