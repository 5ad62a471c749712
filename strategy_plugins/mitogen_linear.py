# Ereje: Mitogen's linear strategy, found through the project's own plugin path.
"""Mitogen's `mitogen_linear` strategy, importable from `strategy_plugins/` of this checkout.

Mitogen documents pointing `strategy_plugins` at its own directory inside site-packages; that
path differs between a developer's venv, CI and the execution environment, so this file imports
the strategy from the installed `mitogen` package (pinned in requirements.txt).

One correction is made here. Mitogen 0.3.54 reads connection options such as the container name
(`ansible_host`) from the raw host variables, so the lab's `"{{ lab_prefix }}-web"` reached podman
as the literal text and the host was unreachable. ansible-core templates these options itself
before a connection opens; the wrapper below does the same with the task's templar. The lab's
templates only name play-wide variables (lab_prefix), so the result is the same for a task
delegated to another host.
"""

from ansible_mitogen import transport_config
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]

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
