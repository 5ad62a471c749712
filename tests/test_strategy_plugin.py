"""The corrections plugin_utils/mitogen_strategy.py makes to Mitogen, held to what they promise.

Each would be lost silently if Mitogen's or Ansible's internals moved (their versions are pinned;
these tests are what tells a maintainer who upgrades them): no CPU pinning, the installed
collections listed once per run instead of once per task and host, Jinja's plugins loaded before
the workers fork, and a template text compiled once per run with the same result as before
(README, "Speed").
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import ansible.collections.list
import ansible_mitogen.affinity
import ansible_mitogen.planner
import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import filter_loader, test_loader
from ansible.plugins.strategy.free import StrategyModule as AnsibleFree
from ansible.plugins.strategy.linear import StrategyModule as AnsibleLinear
from ansible.template import Templar, trust_as_template
from ansible_mitogen.plugins.strategy.mitogen_free import StrategyModule as MitogenFree
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule as MitogenLinear

from ansible_collections.ereje.compliance.plugins.plugin_utils import mitogen_strategy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def plugin():
    return mitogen_strategy


@pytest.mark.parametrize(
    ("name", "mitogen", "ansible"),
    [("mitogen_linear", MitogenLinear, AnsibleLinear), ("mitogen_free", MitogenFree, AnsibleFree)],
)
def test_both_strategies_make_the_corrections_before_the_workers_fork(name, mitogen, ansible, monkeypatch):
    spec = importlib.util.spec_from_file_location(f"ereje_{name}", ROOT / "strategy_plugins" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert issubclass(module.StrategyModule, mitogen)
    calls = []
    monkeypatch.setattr(mitogen_strategy, "before_workers_fork", lambda *args: calls.append("fork"))
    monkeypatch.setattr(ansible, "run", lambda *args: calls.append("ansible") or 0)
    monkeypatch.setattr(mitogen, "run", lambda *args: calls.append("mitogen") or 0)
    strategy = object.__new__(module.StrategyModule)

    class Iterator:
        class _play:
            connection = "local"

    strategy.run(Iterator, None)
    Iterator._play.connection = "ssh"
    monkeypatch.setattr(mitogen_strategy.C, "DEFAULT_STRATEGY", "linear")
    strategy.run(Iterator, None)
    monkeypatch.setattr(mitogen_strategy.C, "DEFAULT_STRATEGY", name)
    strategy.run(Iterator, None)
    # The corrections always; Ansible's own run on the controller and when Mitogen is ruled out.
    assert calls == ["fork", "ansible", "fork", "ansible", "fork", "mitogen"]


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


def _render(text, **variables):
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(text))


def test_a_template_text_is_compiled_once_and_renders_as_before(plugin, monkeypatch):
    compiled = []
    jinja_compile = plugin._jinja_compile

    def counting(*args, **kwargs):
        compiled.append(args[1])
        return jinja_compile(*args, **kwargs)

    monkeypatch.setattr(plugin, "_jinja_compile", counting)
    monkeypatch.setattr(plugin, "_compiled", {})
    text = "{{ ereje_audit | default(false) or ansible_check_mode }}"

    # Each Templar has its own environment, as each task of a worker has.
    results = [_render(text, ereje_audit=audit, ansible_check_mode=False) for audit in (False, True, False)]

    assert results == [False, True, False]
    assert compiled == [text]


def test_the_cache_keeps_ansibles_backslash_escaping_apart(plugin, monkeypatch):
    monkeypatch.setattr(plugin, "_compiled", {})
    # Ansible escapes backslashes of string constants in expressions from YAML; a cached compile
    # must give the same text every time.
    text = 'a\\tb {{ "c:\\newfile" }}'
    assert _render(text) == _render(text) == "a\\tb c:\\newfile"


def test_a_template_that_does_not_compile_is_not_remembered(plugin, monkeypatch):
    monkeypatch.setattr(plugin, "_compiled", {})
    with pytest.raises(Exception, match="unexpected"):
        _render("{{ 1 + }}")
    assert not plugin._compiled


def test_jinja_plugins_are_loaded_before_workers_fork(plugin, monkeypatch):
    for loader in (filter_loader, test_loader):
        monkeypatch.setattr(loader, "_cached_non_collection_wrappers", {})
    plugin._load_jinja_plugins.cache_clear()
    plugin._load_jinja_plugins()
    # Loaded in this process, so a forked worker finds them without importing anything.
    assert "ansible.builtin.default" in filter_loader._cached_non_collection_wrappers
    assert "ansible.builtin.match" in test_loader._cached_non_collection_wrappers
