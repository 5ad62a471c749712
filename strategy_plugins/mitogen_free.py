# Ereje: Mitogen's free strategy, found through the project's own plugin path.
"""Mitogen's `mitogen_free` strategy, with the corrections of plugin_utils/mitogen_strategy.py.

site.yml's Services play uses it: each host goes through its own roles at its own pace, so the
play lasts as long as its slowest host, not the sum of the groups (README, "Benchmarks"). Under
ANSIBLE_STRATEGY=linear, which rules Mitogen out, that play runs under Ansible's own free strategy.
"""

from ansible.plugins.strategy.free import StrategyModule as FreeStrategyModule
from ansible_mitogen.plugins.strategy.mitogen_free import StrategyModule as MitogenStrategyModule

from ansible_collections.ereje.compliance.plugins.plugin_utils.mitogen_strategy import corrected

__all__ = ["StrategyModule"]

StrategyModule = corrected(MitogenStrategyModule, FreeStrategyModule)
