"""Filters that turn the collector's alert rules into the configuration of SEC (Simple Event Correlator).

The inventory declares alert rules as data (roles/log_collector, ``log_collector_alert_rules``)::

    - name: ssh-auth-failures
      summary: repeated SSH authentication failures from one address
      program: sshd
      pattern: '(?:Invalid user \\S* from|Failed \\S+ for \\S+ from) (?P<source>\\S+) port'
      per: [source]
      threshold: 5
      window: 60

The collector feeds SEC one line per event, ``<sending host> <program>[<pid>][:] <message>``, the
host being the one whose certificate and address the event came with (never a name the sender
wrote). ``sec_rules`` checks every rule and writes one SEC rule for it: ``Single`` when one event
is enough, ``SingleWithThreshold`` when ``threshold`` events of the same host (and of the same
values of the named groups in ``per``) within ``window`` seconds make an alert, ``SingleWithSuppress``
when one event is enough and the same host and values then stay quiet for ``quiet`` seconds (a
finding that a scheduled check repeats every hour is mailed once a day). An alert is written
to the collector's own journal under the tag ``ereje-alert`` (through /dev/log), as
``rule=<name> host=<host> <per values> what=<summary>: <the event>``, which rsyslog then files in
the alerts file and mails to the administrators (ATU-5.18-c). Bad input stops the play before
anything changes, with a message that names the rule.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
_PROGRAM = re.compile(r"^[A-Za-z0-9_.@/-]{1,64}$")
_GROUP = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_KEYS = {"name", "summary", "program", "pattern", "per", "threshold", "window", "quiet"}
# local5.alert: facility 21, severity 1, as a syslog message's priority.
_PRIORITY = 21 * 8 + 1


def _rule_error(label: str, what: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"log_collector_alert_rules: {label}: {what}")


def _positive(label: str, key: str, value: object, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise _rule_error(label, f"{key} must be a whole number from 1 to {most}, not {value!r}")
    return value


def _counting(label: str, rule: dict) -> tuple[int, int, int | None]:
    """How events are counted: threshold within window, and quiet (None: not set) after one event."""
    threshold = _positive(label, "threshold", rule.get("threshold", 1), 10000)
    window = _positive(label, "window", rule.get("window", 60), 86400)
    quiet = rule.get("quiet")
    if quiet is not None:
        quiet = _positive(label, "quiet", quiet, 604800)
        if threshold > 1:
            raise _rule_error(label, "quiet is for rules of one event (a threshold rule is quiet its window)")
    return threshold, window, quiet


def _checked(rule: object, index: int) -> dict:
    if not isinstance(rule, dict):
        raise AnsibleFilterError(f"log_collector_alert_rules: rule {index + 1} is not a mapping: {rule!r}")
    label = f"rule {rule.get('name', index + 1)!r}"
    unknown = sorted(set(rule) - _KEYS)
    if unknown:
        raise _rule_error(label, f"unknown keys {unknown} (allowed: {sorted(_KEYS)})")
    name = rule.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _rule_error(label, "name must be lower-case letters, digits and dashes, e.g. ssh-auth-failures")
    summary = rule.get("summary")
    if not isinstance(summary, str) or not summary.strip() or "\n" in summary or "%" in summary:
        raise _rule_error(label, "summary must be one line of text (no %), saying what the alert means")
    program = rule.get("program")
    if not isinstance(program, str) or not _PROGRAM.match(program):
        raise _rule_error(
            label, f"program must be the program name events carry (e.g. sshd), not {program!r}"
        )
    pattern = rule.get("pattern")
    if not isinstance(pattern, str) or not pattern or "\n" in pattern:
        raise _rule_error(label, "pattern must be a one-line regular expression matched against the message")
    # SEC reads the pattern as Perl does; Python's reading (below) refuses Perl-only escapes. A $
    # other than a final anchor would be taken for one of SEC's variables.
    if "$" in pattern.rstrip("$"):
        raise _rule_error(label, "pattern may use $ only as its final anchor")
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise _rule_error(label, f"pattern is not a regular expression: {error}") from None
    if "host" in compiled.groupindex:
        raise _rule_error(label, "the group name host is taken (the host the event came from)")
    per = rule.get("per", [])
    if not isinstance(per, list) or not all(isinstance(g, str) and _GROUP.match(g) for g in per):
        raise _rule_error(label, f"per must be a list of group names of the pattern, not {per!r}")
    missing = [g for g in per if g not in compiled.groupindex]
    if missing:
        raise _rule_error(label, f"per names groups the pattern does not have: {missing}")
    threshold, window, quiet = _counting(label, rule)
    return {
        "name": name,
        "summary": summary.strip(),
        "program": program,
        "pattern": pattern,
        "per": per,
        "threshold": threshold,
        "window": window,
        "quiet": quiet,
    }


def _sec_type(rule: dict) -> str:
    """SEC's rule type: one event (quiet afterwards for the same key), or a threshold within a window."""
    if rule["threshold"] > 1:
        return "SingleWithThreshold"
    return "SingleWithSuppress" if rule["quiet"] else "Single"


def sec_rules(rules: object) -> str:
    """The SEC configuration of the alert rules (text of /etc/ereje/sec/alerts.sec)."""
    if not isinstance(rules, list):
        raise AnsibleFilterError(f"log_collector_alert_rules must be a list of rules, not {rules!r}")
    checked = [_checked(rule, i) for i, rule in enumerate(rules)]
    names = [r["name"] for r in checked]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise AnsibleFilterError(f"log_collector_alert_rules: names used twice: {twice}")
    blocks = []
    for rule in checked:
        program = re.escape(rule["program"])
        # The host, the program (with or without its pid; events forwarded as RFC 5424 carry no colon
        # after it) and the rule's own pattern in the message.
        pattern = rf"^(?P<host>\S+) {program}(?:\[\d+\])?:? .*?{rule['pattern']}"
        key = " ".join(["host=$+{host}", *(f"{g}=$+{{{g}}}" for g in rule["per"])])
        desc = f"rule={rule['name']} {key} what={rule['summary']}"
        if rule["threshold"] > 1:
            desc += f" ({rule['threshold']} within {rule['window']} s)"
        lines = [
            f"# {rule['name']}: {rule['summary']}",
            f"type={_sec_type(rule)}",
            "ptype=RegExp",
            f"pattern={pattern}",
            f"desc={desc}",
            # %s is the description, $0 the event that completed it.
            f"action=udgram /dev/log <{_PRIORITY}>ereje-alert: %s: $0",
        ]
        if rule["threshold"] > 1:
            lines += [f"thresh={rule['threshold']}", f"window={rule['window']}"]
        elif rule["quiet"]:
            lines.append(f"window={rule['quiet']}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


class FilterModule:
    """Ereje alert filters."""

    def filters(self):
        return {"sec_rules": sec_rules}
