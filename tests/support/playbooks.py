"""Reading the playbooks' structure in tests (site.yml, validate.yml)."""

from __future__ import annotations

import re

_GROUP_TEST = re.compile(r"'(\w+)' in group_names")


_GROUP_EXCLUDED = re.compile(r"'(\w+)' in group_names and '(\w+)' not in group_names")


def when_groups(task: dict) -> list[str]:
    """The groups an include's `when` names ("'workstations' in group_names or ..."), in order;
    "'linux' in group_names and 'backup_servers' not in group_names" is the play pattern
    linux:!backup_servers."""
    when = task.get("when", "")
    excluded = _GROUP_EXCLUDED.fullmatch(when)
    if excluded:
        return [f"{excluded[1]}:!{excluded[2]}"]
    return _GROUP_TEST.findall(when)
