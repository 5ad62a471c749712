"""Packages past the end of their security support (ereje_support_status), from real reports of
check-support-status on a Debian 12 container (mimetex and binutils installed)."""

from __future__ import annotations

import json

import ereje_support_status as m
import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

ENDED = """
* Source:mimetex, ended on 2026-06-12 at version 1.76-2
  Details: Upstream project no longer exists; see: https://bugs.debian.org/1138294
  Affected binary package:
  - mimetex (installed version: 1.76-2)
"""

LIMITED = """
* Source:binutils
  Details: Only suitable for trusted content; see https://lists.debian.org/msgid-search/87lfqsomtg.fsf@mid.deneb.enyo.de
  Affected binary packages:
  - binutils (installed version: 2.40-2)
  - binutils-common:amd64 (installed version: 2.40-2)
  - libbinutils:amd64 (installed version: 2.40-2)
"""


def test_an_ended_report_names_source_date_version_reason_and_binaries():
    assert m.parse_report(ENDED, "ended") == [
        {
            "source": "mimetex",
            "type": "ended",
            "date": "2026-06-12",
            "version": "1.76-2",
            "details": "Upstream project no longer exists; see: https://bugs.debian.org/1138294",
            "packages": ["mimetex"],
        }
    ]


def test_a_limited_report_has_no_date_and_drops_the_architecture():
    [entry] = m.parse_report(LIMITED, "limited")
    assert entry["source"] == "binutils" and entry["date"] is None
    assert entry["packages"] == ["binutils", "binutils-common", "libbinutils"]


def test_an_empty_report_lists_nothing():
    assert m.parse_report("", "ended") == []


def test_ended_support_is_a_problem_naming_package_date_and_reason():
    problems, ended, limited = m.judge(
        m.parse_report(ENDED, "ended") + m.parse_report(LIMITED, "limited"), []
    )
    assert problems == [
        "security support ended on 2026-06-12 for mimetex (source mimetex): Upstream project no longer "
        "exists; see: https://bugs.debian.org/1138294; remove it, replace it, or accept it in "
        "baseline_updates_unsupported_accepted"
    ]
    assert [e["source"] for e in ended] == ["mimetex"] and [e["source"] for e in limited] == ["binutils"]


def test_an_early_end_without_date_is_a_problem_too():
    report = ENDED.replace(", ended on 2026-06-12 at version 1.76-2", "")
    problems, _, _ = m.judge(m.parse_report(report, "earlyend"), [])
    assert problems and problems[0].startswith("security support ends early before the release's own end")


def test_an_accepted_source_is_evidence_not_a_problem():
    problems, ended, limited = m.judge(m.parse_report(ENDED, "ended"), ["mimetex"])
    assert problems == [] and ended[0]["accepted"] is True
    assert m.evidence(ended, limited) == (
        "no installed package past its end of security support (accepted: mimetex); limited support: none"
    )


def test_limited_support_is_never_a_problem_but_is_named():
    problems, ended, limited = m.judge(m.parse_report(LIMITED, "limited"), [])
    assert problems == []
    assert m.evidence(ended, limited).endswith("limited support: binutils")


# ---- The module as Ansible runs it -----------------------------------------------------------


def run_module(capsys, monkeypatch, reports: dict[str, str] | None, args: dict | None = None) -> dict:
    """main() with check-support-status answering ``reports`` by --type (None: not installed)."""
    seen = []

    def run_command(self, argv, environ_update=None, **_):
        kind = argv[argv.index("--type") + 1]
        status_db = argv[argv.index("--status-db") + 1]
        seen.append(status_db)
        return 0, reports.get(kind, ""), ""

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    tool = None if reports is None else "/usr/bin/check-support-status"
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **k: tool)
    with patch_module_args(args or {}), pytest.raises(SystemExit):
        m.main()
    result = json.loads(capsys.readouterr().out)
    result["status_dbs"] = seen
    return result


def test_the_module_fails_on_an_ended_package_and_asks_each_kind_with_a_fresh_status_file(
    capsys, monkeypatch
):
    result = run_module(capsys, monkeypatch, {"ended": ENDED, "limited": LIMITED})
    assert result["failed"] is True and result["changed"] is False
    assert "mimetex" in result["msg"] and result["ended"][0]["date"] == "2026-06-12"
    # ended, earlyend, limited: three reports, none sharing a status file with another
    assert len(result["status_dbs"]) == 3 and len(set(result["status_dbs"])) == 3


def test_the_module_passes_with_evidence_when_nothing_ended(capsys, monkeypatch):
    result = run_module(capsys, monkeypatch, {"limited": LIMITED})
    assert "failed" not in result and result["ok"] is True
    assert result["msg"] == "no installed package past its end of security support; limited support: binutils"


def test_a_missing_check_support_status_is_a_problem_not_a_pass(capsys, monkeypatch):
    result = run_module(capsys, monkeypatch, None)
    assert result["failed"] is True
    assert "debian-security-support" in result["msg"]
