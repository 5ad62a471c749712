"""amavis_banned_rules: the YU 1.3.2 extension list becomes Amavis' banned-files table.

The rendered Perl regular expressions are compiled here with Python's re (the constructs used,
(?:...), \\., [.\\s], $, are the same in both) and tried on the strings Amavis matches them
against: declared names, archive member paths, file(1) type labels such as ".dat" or ".exe-ms",
and declared MIME types.
"""

import re

import pytest
from ansible.errors import AnsibleFilterError
from mail import amavis_banned_rules, banned_extensions

YU_LIST = (  # noqa: SIM905 - the list as the regulation prints it
    "bas bat bin cab cat cmd com cpl csh dat dll dpl drv exe inf ins inx ipa isu jar "
    "job js jse ksh lib lnk mdz msc msi msp mst msu NLS olb OSX out PAF Pif PRG pwz "
    "Reg RGS ROM run SCR SCT SH SHB SHS Sys TLB vb VBE VBS VBScript vxd workflow WS wsf WSH"
).split()
TYPES = ["exe", "exe-ms", "exe-unix", "dll"]
MIMES = ["application/x-msdownload", "application/hta"]
UNINSPECTABLE = ["rar", "ace"]


def compiled(rules: str) -> list[re.Pattern]:
    """The qr'...' entries of the rendered statement as Python patterns."""
    patterns = []
    for body, flags in re.findall(r"qr'(.*?)'(i?),", rules):
        patterns.append(re.compile(body, re.IGNORECASE if flags else 0))
    return patterns


@pytest.fixture(scope="module")
def banned():
    patterns = compiled(amavis_banned_rules(YU_LIST, TYPES, MIMES, UNINSPECTABLE))

    def is_banned(text: str) -> bool:
        return any(p.search(text) for p in patterns)

    return is_banned


@pytest.mark.parametrize(
    "name",
    [
        "setup.exe",
        "SETUP.EXE",
        "macro.VbS",
        "run.VBScript",
        "invoice.pdf.exe",
        "scan.pdf.scr.",
        "tool.exe  ",
        "отчёт.exe",
        "құжаттар/есеп.bat",
        "a/b/run.cmd",
        "winmail.dat",
        "x.ws",
        "lib/helper.dll",
        "{3050F4D8-98B5-11CF-BB82-00AA00BDCE0B}",
    ],
)
def test_forbidden_names_match(banned, name):
    assert banned(name)


@pytest.mark.parametrize(
    "name",
    [
        "budget.xlsx",
        "letter.docx",
        "report.pdf",
        "photo.jpg",
        "data.json",
        "notes.wsx",
        "invoice.exe.pdf",
        "Есеп 2026.pdf",
        "xl/worksheets/sheet1.xml",
        "binder.bin.txt",
    ],
)
def test_legitimate_names_do_not_match(banned, name):
    assert not banned(name)


@pytest.mark.parametrize("label", [".dat", ".exe", ".bin", ".zip", ".asc", ".doc"])
def test_file_type_labels_are_not_mistaken_for_names(label):
    """ ".dat" is file(1)'s label for any unrecognised binary: the name rule must not match it."""
    patterns = compiled(amavis_banned_rules(YU_LIST))
    assert not any(p.search(label) for p in patterns)


@pytest.mark.parametrize("label", [".exe", ".exe-ms", ".exe-unix", ".dll", ".rar", ".ace"])
def test_executable_and_uninspectable_types_match(banned, label):
    assert banned(label)


@pytest.mark.parametrize("label", [".zip", ".7z", ".tar", ".gz", ".pdf", ".dat", ".exe-msx"])
def test_other_types_do_not_match(banned, label):
    assert not banned(label)


def test_declared_mime_types_match_any_case(banned):
    assert banned("application/x-msdownload")
    assert banned("Application/HTA")
    assert not banned("application/pdf")


def test_list_is_normalised():
    assert banned_extensions(["EXE", ".exe", "*.Bat", "bat", " js "]) == ["bat", "exe", "js"]


def test_no_allow_entries_are_generated():
    """An allow entry (=> 0) for an archive would open everything inside it to delivery."""
    assert "=> 0" not in amavis_banned_rules(YU_LIST, TYPES, MIMES, UNINSPECTABLE)


def test_changing_the_list_changes_the_rules():
    before = compiled(amavis_banned_rules(["exe"]))
    after = compiled(amavis_banned_rules(["exe", "hta"]))
    assert not any(p.search("offer.hta") for p in before)
    assert any(p.search("offer.hta") for p in after)


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        ([], "is empty"),
        ("exe, bat", "must be a list"),
        (["ex e"], "is not an extension"),
        (["tar.gz"], "is not an extension"),
        (["exe|.*"], "is not an extension"),
        ([True], "is not an extension"),
    ],
)
def test_bad_extension_lists_are_named(extensions, message):
    with pytest.raises(AnsibleFilterError, match=message):
        amavis_banned_rules(extensions)


def test_bad_types_are_named():
    with pytest.raises(AnsibleFilterError, match="mail_gateway_banned_file_types"):
        amavis_banned_rules(["exe"], ["exe ms"])
    with pytest.raises(AnsibleFilterError, match="mail_gateway_banned_mime_types"):
        amavis_banned_rules(["exe"], [], ["not a mime type"])
    with pytest.raises(AnsibleFilterError, match="both in"):
        amavis_banned_rules(["exe"], ["rar"], [], ["rar"])
