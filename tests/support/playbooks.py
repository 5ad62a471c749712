"""Reading the playbooks' structure in tests (site.yml, validate.yml)."""

from __future__ import annotations

import re

_GROUP_TEST = re.compile(r"'(\w+)' in group_names")


def when_groups(task: dict) -> list[str]:
    """The groups an include's `when` names ("'workstations' in group_names or ..."), in order."""
    return _GROUP_TEST.findall(task.get("when", ""))
