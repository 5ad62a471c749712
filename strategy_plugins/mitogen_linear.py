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
"""

from ansible.plugins.strategy.linear import StrategyModule as LinearStrategyModule
from ansible_mitogen import transport_config
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule as MitogenStrategyModule

__all__ = ["StrategyModule"]


class StrategyModule(MitogenStrategyModule):
    def run(self, iterator, play_context, result=0):
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
