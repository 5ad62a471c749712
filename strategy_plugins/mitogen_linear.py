# Ereje: Mitogen's linear strategy, found through the project's own plugin path.
"""Mitogen's `mitogen_linear` strategy (ansible.cfg's default), with the corrections of
plugin_utils/mitogen_strategy.py: plays on this machine itself run under Ansible's own linear
strategy, and what every worker needs is made once before the workers fork."""

from ansible.plugins.strategy.linear import StrategyModule as LinearStrategyModule
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule as MitogenStrategyModule

from ansible_collections.ereje.compliance.plugins.plugin_utils.mitogen_strategy import corrected

__all__ = ["StrategyModule"]

StrategyModule = corrected(MitogenStrategyModule, LinearStrategyModule)
