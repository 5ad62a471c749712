# Ereje: Mitogen's free strategy, found through the project's own plugin path.
"""Mitogen's `mitogen_free` strategy, with the corrections of plugin_utils/mitogen_strategy.py.

site.yml's Services play uses it: each host goes through its own roles at its own pace, so the
play lasts as long as its slowest host, not the sum of the groups (README, "Speed"). Run with
ANSIBLE_STRATEGY=linear to rule Mitogen out: that play then runs under Ansible's own free
strategy, like every other play under Ansible's linear one.
"""

from ansible import constants as C
from ansible.plugins.strategy.free import StrategyModule as FreeStrategyModule
from ansible_mitogen.plugins.strategy.mitogen_free import StrategyModule as MitogenStrategyModule

from ansible_collections.ereje.compliance.plugins.plugin_utils.mitogen_strategy import (
    before_workers_fork,
    local_play,
)

__all__ = ["StrategyModule"]


class StrategyModule(MitogenStrategyModule):
    def run(self, iterator, play_context, result=0):
        before_workers_fork(self, iterator)
        if local_play(iterator) or not C.DEFAULT_STRATEGY.startswith("mitogen"):
            # Ansible's own free run, without Mitogen's connection and action wrappers.
            return FreeStrategyModule.run(self, iterator, play_context)
        return super().run(iterator, play_context)
