#!/usr/bin/python3
"""Ansible module: the Samba AD domain's password and lockout policy (ATU-8.4-a)."""

from __future__ import annotations

import re

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: ereje_samba_password_policy
short_description: Password and account lockout policy of a Samba AD domain
description:
  - Reads the domain's settings with C(samba-tool domain passwordsettings show), compares them with
    the declared ones and runs C(samba-tool domain passwordsettings set) only for those that differ.
  - Supports check mode and diff. Enforces control ATU-8.4-a of the Ereje catalog.
options:
  min_length: {type: int, required: true, description: Minimum password length.}
  complexity: {type: bool, required: true, description: Whether passwords must mix character classes.}
  history_length: {type: int, required: true, description: Number of previous passwords remembered.}
  min_age_days: {type: int, required: true, description: Days before a password may be changed again.}
  max_age_days: {type: int, required: true, description: Days after which a password expires (0 never).}
  lockout_threshold: {type: int, required: true, description: Failed logons before lockout (0 never).}
  lockout_duration_mins: {type: int, required: true, description: Minutes an account stays locked.}
  reset_lockout_after_mins:
    type: int
    required: true
    description: Minutes after which the failure count resets.
  samba_tool: {type: path, default: /usr/bin/samba-tool, description: Path of samba-tool.}
author: Ereje
"""

EXAMPLES = r"""
- name: Domain | password and lockout policy
  ereje.compliance.ereje_samba_password_policy:
    min_length: 12
    complexity: true
    history_length: 24
    min_age_days: 1
    max_age_days: 90
    lockout_threshold: 5
    lockout_duration_mins: 30
    reset_lockout_after_mins: 30
"""

RETURN = r"""
current:
  description: The settings read before any change.
  returned: always
  type: dict
changes:
  description: The settings that differed, with the declared value.
  returned: always
  type: dict
msg:
  description: The settings read, in one line (the audit's evidence).
  returned: always
  type: str
  sample: >-
    samba-tool domain passwordsettings show: complexity on, history_length 24, lockout_duration_mins 30,
    lockout_threshold 5, max_age_days 90, min_age_days 1, min_length 12, reset_lockout_after_mins 30
"""

# Label printed by "samba-tool domain passwordsettings show" -> (option name, samba-tool flag).
LABELS = {
    "Password complexity": ("complexity", "--complexity"),
    "Password history length": ("history_length", "--history-length"),
    "Minimum password length": ("min_length", "--min-pwd-length"),
    "Minimum password age (days)": ("min_age_days", "--min-pwd-age"),
    "Maximum password age (days)": ("max_age_days", "--max-pwd-age"),
    "Account lockout duration (mins)": ("lockout_duration_mins", "--account-lockout-duration"),
    "Account lockout threshold (attempts)": ("lockout_threshold", "--account-lockout-threshold"),
    "Reset account lockout after (mins)": ("reset_lockout_after_mins", "--reset-account-lockout-after"),
}
FLAGS = dict(LABELS.values())
_LINE = re.compile(r"^\s*(?P<label>[^:]+?)\s*:\s*(?P<value>\S.*?)\s*$")


def parse_passwordsettings(text: str) -> dict:
    """Parse ``samba-tool domain passwordsettings show`` into {option: value}.

    Complexity becomes a bool, every other known setting an int; unknown lines are ignored.
    Raises ValueError when a known setting has a value that is not understood, or when none
    of the settings is found (samba-tool printed something else, e.g. an error).
    """
    settings: dict = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match or match["label"] not in LABELS:
            continue
        option, _flag = LABELS[match["label"]]
        value = match["value"]
        if option == "complexity":
            if value not in ("on", "off"):
                raise ValueError(f"password complexity is {value!r}, expected on or off")
            settings[option] = value == "on"
        else:
            try:
                settings[option] = int(value)
            except ValueError:
                raise ValueError(f"{match['label']} is {value!r}, expected a number") from None
    if not settings:
        raise ValueError("no password settings found in samba-tool output")
    return settings


def policy_changes(current: dict, desired: dict) -> dict:
    """The declared settings whose value differs from the current one."""
    return {k: v for k, v in desired.items() if k in FLAGS and current.get(k) != v}


def set_arguments(changes: dict) -> list[str]:
    """samba-tool arguments that apply ``changes``."""
    args = []
    for option in sorted(changes):
        value = changes[option]
        if isinstance(value, bool):
            value = "on" if value else "off"
        args.append(f"{FLAGS[option]}={value}")
    return args


def render(settings: dict) -> str:
    return "".join(f"{k}: {settings[k]}\n" for k in sorted(settings))


def observed(settings: dict) -> str:
    """The settings read, in one line, for the audit's evidence (issue 16: what was observed)."""
    return "samba-tool domain passwordsettings show: " + ", ".join(
        f"{k} {'on' if v is True else 'off' if v is False else v}" for k, v in sorted(settings.items())
    )


def main() -> None:
    spec = {k: {"type": "bool" if k == "complexity" else "int", "required": True} for k in FLAGS}
    spec["samba_tool"] = {"type": "path", "default": "/usr/bin/samba-tool"}
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    desired = {k: module.params[k] for k in FLAGS}
    for key, value in desired.items():
        if not isinstance(value, bool) and value < 0:
            module.fail_json(msg=f"{key} must not be negative, got {value}")

    rc, out, err = module.run_command([module.params["samba_tool"], "domain", "passwordsettings", "show"])
    if rc != 0:
        module.fail_json(msg="samba-tool domain passwordsettings show failed", stdout=out, stderr=err)
    try:
        current = parse_passwordsettings(out)
    except ValueError as exc:
        module.fail_json(msg=str(exc), stdout=out)

    changes = policy_changes(current, desired)
    result = {"changed": bool(changes), "current": current, "changes": changes, "msg": observed(current)}
    if changes:
        result["diff"] = {"before": render(current), "after": render(current | changes)}
        if not module.check_mode:
            cmd = [module.params["samba_tool"], "domain", "passwordsettings", "set", *set_arguments(changes)]
            rc, out, err = module.run_command(cmd)
            if rc != 0:
                module.fail_json(msg="samba-tool domain passwordsettings set failed", stdout=out, stderr=err)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
