# Ereje: Mitogen's linear strategy, found through the project's own plugin path.
"""Mitogen's `mitogen_linear` strategy, importable from `strategy_plugins/` of this checkout.

Mitogen documents pointing `strategy_plugins` at its own directory inside site-packages; that
path differs between a developer's venv, CI and the execution environment, so this file imports
the strategy from the installed `mitogen` package (pinned in requirements.txt).

Two corrections are made here.

Plays on this machine itself (`connection: local`: playbooks/lab.yml, the preflight, Molecule's
create and destroy) run under Ansible's own linear strategy. Molecule's create starts
`podman_container` as an async job and polls it; under Mitogen that job, forked from Mitogen's
multi-threaded interpreter, hung on a lock for good (seen with mitogen 0.3.54, ansible-core 2.19:
the scenario waited 300 polls for containers that were never created). These plays are a few
tasks each; Mitogen's speed matters for the hosts.

The other correction: Mitogen 0.3.54 reads connection options such as the container name
(`ansible_host`) from the raw host variables, so the lab's `"{{ lab_prefix }}-web"` reached podman
as the literal text and the host was unreachable. ansible-core templates these options itself
before a connection opens; the wrapper below does the same with the task's templar. The lab's
templates only name play-wide variables (lab_prefix), so the result is the same for a task
delegated to another host.

Two more corrections make it fast on small machines (README, "Speed"; measured on the 2-core lab):

- CPU pinning is off. On a machine with two or three cores Mitogen keeps core 0 for its
  connection multiplexer and pins Ansible, every worker, and through them the `podman exec`
  sessions and the hosts' interpreters, to the one core left: the lab's no-op run left 45 % of
  the two cores idle. Without pinning the kernel spreads the work.
- The installed collections are listed once per run, not once per task. Mitogen's planner lists
  every installed collection (ansible 12 ships about a hundred, each with a meta file to parse)
  whenever a task uses a collection module it has not planned before; it remembers that per
  worker process, and Ansible forks a new worker for every task and host, so it listed them again
  for every such task (0.2-0.4 s of CPU each, a fifth of a no-op run's CPU). The list is made
  once in the main process before the workers fork, and the workers inherit it.
"""

import functools

import ansible.collections.list
import ansible_mitogen.affinity
import ansible_mitogen.planner
from ansible.plugins.strategy.linear import StrategyModule as LinearStrategyModule
from ansible_mitogen import transport_config
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule as MitogenStrategyModule

__all__ = ["StrategyModule"]


# No CPU pinning: the base policy class does nothing (see the module's docstring).
ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()


@functools.cache
def _installed_collection_dirs():
    """Every installed collection's directory, listed once per run (module docstring)."""
    return tuple(path.decode("utf-8") for path in ansible.collections.list.list_collection_dirs())


def _load_collections(invocation):
    # What ansible_mitogen.planner._load_collections does, from the list made once.
    invocation._extra_sys_paths.update(_installed_collection_dirs())


ansible_mitogen.planner._load_collections = _load_collections


class StrategyModule(MitogenStrategyModule):
    def run(self, iterator, play_context, result=0):
        # List the collections here, in the main process, so that every worker forked from it
        # inherits the list.
        _installed_collection_dirs()
        # The play's own `connection:` keyword (play_context still holds the default here).
        if iterator._play.connection == "local":
            # Ansible's own run, without Mitogen's connection and action wrappers.
            return LinearStrategyModule.run(self, iterator, play_context)
        return super().run(iterator, play_context)


_raw_connection_option = transport_config.PlayContextSpec._connection_option


def _templated_connection_option(self, name, fallback_attr=None):
    value = _raw_connection_option(self, name, fallback_attr)
    templar = getattr(self._connection, "templar", None)
    if isinstance(value, str) and "{" in value and templar is not None:
        value = templar.template(value)
    return value


# Ansible may load this file more than once in a run; wrap the original method only once.
if not getattr(transport_config.PlayContextSpec, "_ereje_templated", False):
    transport_config.PlayContextSpec._connection_option = _templated_connection_option
    transport_config.PlayContextSpec._ereje_templated = True
