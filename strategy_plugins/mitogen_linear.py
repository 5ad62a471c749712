# Ereje: Mitogen's linear strategy, found through the project's own plugin path.
"""Mitogen's `mitogen_linear` strategy (ansible.cfg's default), with the corrections of
plugin_utils/mitogen_strategy.py: plays on this machine itself run under Ansible's own linear
strategy, and what every worker needs is made once before the workers fork."""

from ansible.plugins.strategy.linear import StrategyModule as LinearStrategyModule
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule as MitogenStrategyModule

from ansible_collections.ereje.compliance.plugins.plugin_utils.mitogen_strategy import (
    before_workers_fork,
    local_play,
)

__all__ = ["StrategyModule"]


class StrategyModule(MitogenStrategyModule):
    def run(self, iterator, play_context, result=0):
        before_workers_fork(self, iterator)
        if local_play(iterator):
            # Ansible's own run, without Mitogen's connection and action wrappers.
            return LinearStrategyModule.run(self, iterator, play_context)
        return super().run(iterator, play_context)
