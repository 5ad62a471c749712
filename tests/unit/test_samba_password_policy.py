"""Parsing and diffing of ``samba-tool domain passwordsettings`` (ereje_samba_password_policy)."""

import ereje_samba_password_policy as m
import pytest

SHOW = """Password information for domain 'DC=ereje,DC=test'

Password complexity: on
Store plaintext passwords: off
Password history length: 24
Minimum password length: 7
Minimum password age (days): 1
Maximum password age (days): 42
Account lockout duration (mins): 30
Account lockout threshold (attempts): 0
Reset account lockout after (mins): 30
"""

DESIRED = {
    "min_length": 12,
    "complexity": True,
    "history_length": 24,
    "min_age_days": 1,
    "max_age_days": 90,
    "lockout_threshold": 5,
    "lockout_duration_mins": 30,
    "reset_lockout_after_mins": 30,
}


def test_parse_reads_every_setting_with_types():
    settings = m.parse_passwordsettings(SHOW)
    assert settings == {
        "complexity": True,
        "history_length": 24,
        "min_length": 7,
        "min_age_days": 1,
        "max_age_days": 42,
        "lockout_duration_mins": 30,
        "lockout_threshold": 0,
        "reset_lockout_after_mins": 30,
    }


def test_parse_complexity_off():
    assert m.parse_passwordsettings("Password complexity: off\n")["complexity"] is False


@pytest.mark.parametrize(
    "text",
    ["Password complexity: maybe\n", "Minimum password length: seven\n", "ERROR: no such domain\n", ""],
)
def test_parse_refuses_output_it_does_not_understand(text):
    with pytest.raises(ValueError):
        m.parse_passwordsettings(text)


def test_changes_are_only_what_differs():
    changes = m.policy_changes(m.parse_passwordsettings(SHOW), DESIRED)
    assert changes == {"min_length": 12, "max_age_days": 90, "lockout_threshold": 5}


def test_no_change_when_policy_matches():
    assert m.policy_changes(DESIRED, DESIRED) == {}


def test_set_arguments_render_flags_and_booleans():
    assert m.set_arguments({"min_length": 12, "complexity": False}) == [
        "--complexity=off",
        "--min-pwd-length=12",
    ]


def test_render_for_diff_is_sorted_lines():
    assert m.render({"b": 1, "a": True}) == "a: True\nb: 1\n"


def test_what_was_read_is_said_for_the_audit():
    """Issue 16: a pass shows the settings read, not only "nothing to change"."""
    said = m.observed({"min_length": 12, "complexity": True, "lockout_threshold": 5})
    assert (
        said == "samba-tool domain passwordsettings show: complexity on, lockout_threshold 5, min_length 12"
    )
    assert "complexity off" in m.observed({"complexity": False})
