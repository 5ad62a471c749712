"""The corrections strategy_plugins/mitogen_linear.py makes to Mitogen, held to what they promise.

Each would be lost silently if Mitogen's internals moved (its version is pinned; these tests are
what tells a maintainer who upgrades it): no CPU pinning, and the installed collections listed
once per run instead of once per task and host (README, "Speed").
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import ansible.collections.list
import ansible_mitogen.affinity
import ansible_mitogen.planner
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def plugin():
    spec = importlib.util.spec_from_file_location(
        "ereje_mitogen_linear", ROOT / "strategy_plugins" / "mitogen_linear.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Invocation:
    def __init__(self):
        self._extra_sys_paths = set()


def test_no_process_is_pinned_to_a_core(plugin):
    # Mitogen's default on 2-3 cores pins Ansible and every host's interpreter to one core.
    assert type(ansible_mitogen.affinity.policy) is ansible_mitogen.affinity.Policy
    assert not isinstance(ansible_mitogen.affinity.policy, ansible_mitogen.affinity.FixedPolicy)


def test_collections_are_listed_once_and_every_task_gets_them_all(plugin, monkeypatch):
    # Ansible's own listing needs its collection loader, which only a playbook run installs; the
    # plugin's part is to ask once and hand every task the whole list.
    installed = [b"/c/ansible_collections/ansible/posix", b"/c/ansible_collections/ereje/compliance"]
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return iter(installed)

    monkeypatch.setattr(ansible.collections.list, "list_collection_dirs", counting)
    plugin._installed_collection_dirs.cache_clear()
    expected = {path.decode("utf-8") for path in installed}

    invocations = [_Invocation() for _ in range(5)]
    for invocation in invocations:
        ansible_mitogen.planner._load_collections(invocation)

    assert len(calls) == 1
    for invocation in invocations:
        assert invocation._extra_sys_paths == expected
    assert ansible_mitogen.planner._load_collections is plugin._load_collections
