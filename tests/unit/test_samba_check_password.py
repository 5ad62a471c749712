"""samba_dc's check password script (roles/samba_dc/files/ereje-check-password): NIST SP 800-63B's
checks of a new password, beside Samba's own length and complexity rules."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
check = load_script(ROOT / "roles" / "samba_dc" / "files" / "ereje-check-password", "ereje_check_password")

BLOCKLIST = {"password123!", "p@ssw0rd2024"}
CONTEXT = {"ereje", "kazatu"}


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Password123!", "list of known"),
        ("P@SSW0RD2024", "list of known"),  # case does not matter
        ("My-Ereje-Login-7", "contains 'ereje'"),
        ("Aigerim-Spring-7x", "contains 'aigerim'"),
        ("Nurlanova!Winter9", "contains 'nurlanova'"),
        ("aaaaAAAA1111!!!!", "fewer than 5 different"),
        ("Kx!9-2345-qwPz", "sequential"),
        ("Kx!9-zyxw-qwP2", "sequential"),
    ],
)
def test_known_and_guessable_passwords_are_refused(password, why):
    assert why in check.reason(password, BLOCKLIST, CONTEXT, account="aigerim", full_name="Aigerim Nurlanova")


@pytest.mark.parametrize(
    "password", ["Tulpar-Kokpar-Dombra-83", "correct horse battery staple", "Kx!9-2468-qwPz"]
)
def test_a_long_unknown_password_is_accepted(password):
    assert check.reason(password, BLOCKLIST, CONTEXT, account="aigerim", full_name="Aigerim Nurlanova") == ""


@pytest.mark.parametrize("password", ["alllowercaseletters", "ALLUPPER192837", "only-lower-and-signs"])
def test_with_complexity_fewer_than_three_kinds_of_character_are_refused(password):
    """Samba skips its own complexity check once a check password script is set: this one makes it."""
    assert "three kinds" in check.reason(password, BLOCKLIST, CONTEXT, account="aigerim", complexity=True)
    assert check.reason(password, BLOCKLIST, CONTEXT, account="aigerim", complexity=False) == ""


def test_with_complexity_three_kinds_are_enough():
    assert check.reason("tulpar-kokpar-83", BLOCKLIST, CONTEXT, account="aigerim", complexity=True) == ""


def test_short_names_do_not_refuse_everything():
    assert check.reason("Tulpar-Kokpar-Dombra-83", BLOCKLIST, CONTEXT, account="al", full_name="Al Bo") == ""


def test_main_reads_the_password_from_stdin_and_names_the_account_not_the_password(
    tmp_path, monkeypatch, capsys
):
    blocklist = tmp_path / "blocklist"
    blocklist.write_text("# comment\nPassword123!\n")
    context = tmp_path / "context"
    context.write_text("ereje\n")
    monkeypatch.setenv("SAMBA_CPS_ACCOUNT_NAME", "alice")
    monkeypatch.setattr("sys.stdin", io.StringIO("Password123!\n"))
    assert check.main([str(blocklist), str(context)]) == 1
    err = capsys.readouterr().err
    assert "alice" in err and "known" in err and "Password123!" not in err
    monkeypatch.setattr("sys.stdin", io.StringIO("Tulpar-Kokpar-Dombra-83\n"))
    assert check.main([str(blocklist), str(context)]) == 0


def test_the_complexity_switch_comes_first(tmp_path, monkeypatch):
    (tmp_path / "b").write_text("")
    (tmp_path / "c").write_text("")
    monkeypatch.setattr("sys.stdin", io.StringIO("alllowercaseletters\n"))
    assert check.main(["--complexity", str(tmp_path / "b"), str(tmp_path / "c")]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("alllowercaseletters\n"))
    assert check.main([str(tmp_path / "b"), str(tmp_path / "c")]) == 0


def test_wrong_usage_is_an_error_not_an_acceptance(capsys):
    assert check.main([]) == 2
    assert check.main(["--complexity", "one"]) == 2
