"""The collector's alerts as the scenarios read them (roles/log_collector: one JSON object per line)."""

from __future__ import annotations

import json
import shlex

ALERTS = "/var/log/ereje/alerts.json"


def alerts(collector, rule: str, mentioning: str = "", host: str | None = None) -> list[dict]:
    """The alerts of ``rule`` on ``collector`` (a Testinfra host), of ``host`` when named, whose text
    mentions ``mentioning``. The file escapes slashes (JSON): search for a word without one."""
    lines = collector.run(f"grep -F {shlex.quote(mentioning or rule)} {ALERTS}").stdout.splitlines()
    return [
        alert
        for alert in map(json.loads, lines)
        if alert["rule"] == rule and host in (None, alert["host"]) and mentioning in alert["alert"]
    ]
