"""A run limited to some controls' tags works: what those tasks read was set by tasks that run too.

The lab's break test repairs with `site.yml --tags <the broken controls>`, as a university repairs
one control without converging everything. Ansible then runs only the tasks carrying those tags:
a task that reads a registered result or a fact set by an untagged task fails ("... is undefined")
or, guarded by `is defined`, silently does nothing; a task in a file pulled in by `include_tasks`
runs only when the include itself carries the tag. Found on the lab: `--tags ATU-2.4.2-b` on dc1
failed on `samba_dc__samdb` and then `samba_dc__forwarders`; `--tags KNMU-6-a` skipped the whole
release flow of the web host. These rules read the roles' task files; they need no host.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.ereje.compliance.plugins.module_utils.controls import ControlIds

ROOT = Path(__file__).resolve().parents[1]
CONTROL_IDS = ControlIds.of(yaml.safe_load((ROOT / "controls" / "catalog.yml").read_text()))
IMPORT = {"import_tasks", "ansible.builtin.import_tasks"}
INCLUDE = {"include_tasks", "ansible.builtin.include_tasks"}
SET_FACT = {"set_fact", "ansible.builtin.set_fact"}
TEMPLATE = {"template", "ansible.builtin.template"}


def _tags(task: dict) -> set[str]:
    tags = task.get("tags") or []
    return {tags} if isinstance(tags, str) else set(tags)


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.items() for text in _strings(item)]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in _strings(item)]
    return [str(value)]


def _controls(tags: set[str]) -> set[str]:
    return set(CONTROL_IDS.among(sorted(tags)))


class Task:
    """A task as a tag-limited run sees it: its tags with those of the imports above it, and, when
    a dynamic include pulled it in, the tags that include can be selected by."""

    def __init__(self, role: str, file: str, data: dict, tags: set[str], selectable: set[str] | None):
        self.role, self.file, self.data, self.tags = role, file, data, tags
        self.name = str(data.get("name"))
        # Control tags under which this task can run at all.
        self.selectable = _controls(tags) if selectable is None else _controls(tags) & selectable

    def text(self) -> str:
        """What the task reads: every string in it and the template it renders."""
        text = "\n".join(_strings(self.data))
        for key in TEMPLATE & set(self.data):
            source = ROOT / "roles" / self.role / "templates" / str(self.data[key].get("src", ""))
            if source.is_file():
                text += source.read_text(encoding="utf-8")
        return text

    def sets(self) -> list[str]:
        names = [self.data["register"]] if self.data.get("register") else []
        for key in SET_FACT & set(self.data):
            names += [name for name in self.data[key] if name != "cacheable"]
        return names


def _expand(
    role: str, file: str, inherited: set[str], selectable: set[str] | None, *, out: list, includes: list
) -> None:
    for data in yaml.safe_load((ROOT / "roles" / role / "tasks" / file).read_text()) or []:
        own = _tags(data)
        if "block" in data:
            condition = {"when": data["when"]} if "when" in data else {}
            for sub in data["block"] + data.get("rescue", []) + data.get("always", []):
                out.append(Task(role, file, sub | condition, inherited | own | _tags(sub), selectable))
            continue
        module = next((key for key in data if key in IMPORT | INCLUDE), None)
        if module is None:
            out.append(Task(role, file, data, inherited | own, selectable))
            continue
        target = data[module] if isinstance(data[module], str) else data[module].get("file", "")
        if "{{" in target:
            continue
        if module in IMPORT:
            _expand(role, target, inherited | own, selectable, out=out, includes=includes)
        else:  # a dynamic include runs (and its tasks with it) only when it is selected itself
            inner: list[Task] = []
            selected_by = _controls(inherited | own) | ({"always"} & own)
            _expand(role, target, set(), selected_by, out=inner, includes=includes)
            includes.append((role, str(data.get("name")), inherited | own, target, inner))
            out.extend(inner)


def _role(role: str) -> tuple[list[Task], list]:
    tasks: list[Task] = []
    includes: list = []
    _expand(role, "main.yml", set(), None, out=tasks, includes=includes)
    return tasks, includes


ROLES = sorted(path.parent.parent.name for path in ROOT.glob("roles/*/tasks/main.yml"))


@pytest.mark.parametrize("role", ROLES)
def test_a_dynamic_include_carries_the_control_its_tasks_share(role):
    """The tasks of a file pulled in by include_tasks run under a control's tag only when the include
    carries it too: it must carry every control all of them are tagged with (the flow's control;
    the others a task carries name what its result is evidence of)."""
    _, includes = _role(role)
    wrong = []
    for _, name, tags, target, inner in includes:
        shared = set.intersection(*(_controls(task.tags) for task in inner)) if inner else set()
        if shared - tags and "always" not in tags:
            wrong.append(f"'{name}' ({target}) lacks {sorted(shared - tags)}")
    assert not wrong, wrong


def _reads(text: str, name: str) -> bool:
    """The text uses `name`, other than through a guard that copes with its absence."""
    if not re.search(rf"\b{re.escape(name)}\b", text):
        return False
    guarded = rf"\b{re.escape(name)}(\.\w+|\[[^\]]*\])*\s*(is\s+(not\s+)?defined|\|\s*default\b)"
    unguarded = re.sub(guarded, "", text)
    return bool(re.search(rf"\b{re.escape(name)}\b", unguarded))


@pytest.mark.parametrize("role", ROLES)
def test_what_a_control_tagged_task_reads_is_set_under_the_same_tags(role):
    """Under `--tags C`, a task tagged C that reads a registered result or a fact finds it set: the
    task that sets it runs under C too (or always)."""
    tasks, _ = _role(role)
    wrong = []
    for index, task in enumerate(tasks):
        if not task.selectable:
            continue
        text = task.text()
        for earlier in tasks[:index]:
            for name in earlier.sets():
                if not _reads(text, name):
                    continue
                runs_with = _controls(earlier.tags) | ({"always"} & earlier.tags)
                if "always" in runs_with or task.selectable <= runs_with:
                    continue
                wrong.append(
                    f"{task.file}: '{task.name}' under {sorted(task.selectable - runs_with)} reads {name}, "
                    f"set by '{earlier.name}' ({earlier.file}), "
                    f"tagged {sorted(runs_with) or 'with no control'}"
                )
    assert not wrong, "\n".join(wrong)
