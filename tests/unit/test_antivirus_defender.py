"""The antivirus role's Windows side, checked statically (no Windows host exists in CI).

The PowerShell that the Defender tasks send over WinRM is rendered here from the role's
templates and defaults, and checked for what matters: the right preferences and values,
changes only through Set-MpPreference of what differs, and no change in check mode.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest
import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "antivirus"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
SPECS = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]
# Parameters of Set-MpPreference (Defender module) the role may set.
SET_MP_PREFERENCE = {
    "DisableRealtimeMonitoring",
    "DisableBehaviorMonitoring",
    "DisableIOAVProtection",
    "DisableScriptScanning",
    "SignatureUpdateInterval",
    "ScanParameters",
    "ScanScheduleDay",
    "ScanScheduleTime",
    "MAPSReporting",
    "SubmitSamplesConsent",
    "PUAProtection",
}


def render(name: str, **overrides) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROLE / "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template(name).render(DEFAULTS | overrides)


def wanted(script: str) -> dict[str, str]:
    block = re.search(r"\$wanted = \[ordered\]@\{\n(?P<body>.*?)\n\}", script, re.DOTALL)
    assert block, "no $wanted table"
    pairs = [line.split("=", 1) for line in block["body"].splitlines() if line.strip()]
    return {k.strip(): v.strip() for k, v in pairs}


def balanced(script: str) -> bool:
    code = re.sub(r"'[^'\n]*'", "''", script)
    code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("#"))
    return all(code.count(o) == code.count(c) for o, c in ("{}", "()", "[]"))


@pytest.mark.parametrize("name", ["defender-preferences.ps1.j2", "defender-status.ps1.j2"])
def test_rendered_powershell_is_complete(name):
    script = render(name)
    assert "{{" not in script and "{%" not in script
    assert balanced(script), script
    assert "$ErrorActionPreference = 'Stop'" in script


def test_default_preferences_keep_defender_on():
    prefs = wanted(render("defender-preferences.ps1.j2"))
    assert set(prefs) == SET_MP_PREFERENCE
    for switch in ("DisableRealtimeMonitoring", "DisableBehaviorMonitoring", "DisableIOAVProtection"):
        assert prefs[switch] == "$false"
    assert prefs["SignatureUpdateInterval"] == "4"
    assert prefs["ScanScheduleDay"] == "0"
    assert prefs["ScanScheduleTime"] == "150"


def test_preferences_follow_the_inventory():
    prefs = wanted(
        render(
            "defender-preferences.ps1.j2",
            antivirus_defender_realtime=False,
            antivirus_defender_signature_update_interval=1,
            antivirus_defender_scan_type=2,
        )
    )
    assert prefs["DisableRealtimeMonitoring"] == "$true"
    assert prefs["SignatureUpdateInterval"] == "1"
    assert prefs["ScanParameters"] == "2"


def test_only_differences_are_set_and_never_in_check_mode():
    script = render("defender-preferences.ps1.j2")
    assert "[CmdletBinding(SupportsShouldProcess)]" in script
    assert "$current = Get-MpPreference" in script
    assert "if ($have -ne $wanted[$name])" in script
    # Set-MpPreference is called once, with the differences, behind ShouldProcess (check mode).
    calls = [line.strip() for line in script.splitlines() if "Set-MpPreference" in line and "#" not in line]
    assert calls == [
        "if ($PSCmdlet.ShouldProcess('Microsoft Defender', "
        "\"Set-MpPreference $($changes.Keys -join ', ')\")) {",
        "Set-MpPreference @changes",
    ]
    assert script.index("ShouldProcess(") < script.index("Set-MpPreference @changes")
    assert "$Ansible.Changed = $true" in script


def test_status_script_reads_only():
    script = render("defender-status.ps1.j2")
    assert "Set-Mp" not in script and "Update-Mp" not in script
    assert "signature_limit_hours  = 48" in script
    assert "Get-MpComputerStatus" in script


def test_windows_tasks_use_existing_templates_and_documented_variables():
    tasks = yaml.safe_load((ROLE / "tasks" / "windows.yml").read_text(encoding="utf-8"))
    text = (ROLE / "tasks" / "windows.yml").read_text(encoding="utf-8")
    for template in re.findall(r"'([\w-]+\.ps1\.j2)'", text):
        assert (ROLE / "templates" / template).is_file()
    modules = {key for task in tasks for key in task if "." in key}
    assert modules <= {"ansible.builtin.assert", "ansible.windows.win_powershell"}
    # Inventory variables (not internal antivirus__ ones, not result keys after a dot).
    variable = re.compile(r"(?<![.\w])antivirus_[a-z][a-z_]*")
    used = set(variable.findall(text))
    for template in ("defender-preferences.ps1.j2", "defender-status.ps1.j2"):
        source = (ROLE / "templates" / template).read_text(encoding="utf-8")
        for expression in re.findall(r"\{\{(.*?)\}\}", source):
            used |= set(variable.findall(expression))
    assert used <= set(SPECS["windows"]["options"]), used - set(SPECS["windows"]["options"])


@pytest.mark.parametrize("entry", ["main", "windows"])
def test_argument_specs_defaults_match_defaults_file(entry):
    for name, spec in SPECS[entry]["options"].items():
        assert name in DEFAULTS, f"{name} documented but has no default"
        if "default" in spec:
            assert spec["default"] == DEFAULTS[name], name
    if entry == "main":
        linux = {n for n in DEFAULTS if not n.startswith("antivirus_defender_")}
        assert linux <= set(SPECS["main"]["options"]), linux - set(SPECS["main"]["options"])
