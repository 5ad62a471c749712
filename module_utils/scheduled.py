"""What the checks the roles schedule between converges share (roles/baseline/files/ereje-*-check,
-review, -scan): running a command, reading the policy the last converge wrote, and the journal
lines the collector's alert rules read (OK with the evidence, or one FINDING per problem, or an
ERROR that fails the unit). Plain Python, nothing of Ansible's; installed in
/usr/local/lib/ereje/ereje_shared beside the code each check shares with its module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable


def run(argv: list[str]) -> tuple[int, str, str]:
    """A command's status, output and errors, in the C locale (the parsers read English)."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=os.environ | {"LC_ALL": "C"})
    return done.returncode, done.stdout, done.stderr


def policy(text: str, keys: tuple[str, ...]) -> dict:
    """The policy file's object (the module's arguments of the last converge); ValueError when it is
    not JSON or lacks one of ``keys``."""
    data = json.loads(text)
    if not isinstance(data, dict) or any(key not in data for key in keys):
        raise ValueError(f"the policy must be an object with {', '.join(keys)}")
    return data


def verdict(problems: list[str], evidence: str) -> list[str]:
    """The journal's lines: OK with what was observed, or a FINDING per problem."""
    return [f"FINDING {problem}" for problem in problems] if problems else [f"OK {evidence}"]


def main(argv: list[str], what: str, lines: Callable[[str], list[str]]) -> int:
    """``PROGRAM POLICY``: the check's lines on standard output (the journal), 0 whatever it found;
    1 with an ERROR line when it could not check (the unit fails: the service-failed alert)."""
    if len(argv) != 2:
        print(f"usage: {os.path.basename(argv[0])} POLICY", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as handle:
            found = lines(handle.read())
    except (OSError, ValueError, RuntimeError) as error:  # json's errors are ValueErrors
        print(f"ERROR the {what} could not run: {error}", flush=True)
        return 1
    for line in found:
        print(line, flush=True)
    return 0
