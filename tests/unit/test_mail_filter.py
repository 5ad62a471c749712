"""amavis_banned_rules: the YU 1.3.2 extension list becomes Amavis' banned tables.

The rendered Perl regular expressions are compiled here with Python's re (the constructs used are
the same in both; Perl's end of string \\z is Python's \\Z) and tried as Amavis tries them on
each leaf of a message (Amavis::Unpackers::Validity::check_for_banned_names): the first table on
every value of the leaf and its ancestors alone (declared names, archive member paths, file(1)
types such as ".dat" or ".exe-ms", declared MIME types), the second on the whole path, one line
per level ("P=p002\\tL=1/2\\tM=application/zip\\tT=zip\\tN=tools.zip\\n...").
"""

import re

import pytest
from ansible.errors import AnsibleFilterError
from mail import amavis_author_policy, amavis_banned_rules, banned_extensions, plain_networks

YU_LIST = (  # noqa: SIM905 - the list as the regulation prints it
    "bas bat bin cab cat cmd com cpl csh dat dll dpl drv exe inf ins inx ipa isu jar "
    "job js jse ksh lib lnk mdz msc msi msp mst msu NLS olb OSX out PAF Pif PRG pwz "
    "Reg RGS ROM run SCR SCT SH SHB SHS Sys TLB vb VBE VBS VBScript vxd workflow WS wsf WSH"
).split()
TYPES = ["exe", "exe-ms", "exe-unix", "dll"]
MIMES = ["application/x-msdownload", "application/hta"]
UNINSPECTABLE = ["rar", "ace"]


def compiled(rules: str) -> tuple[list[re.Pattern], list[re.Pattern]]:
    """The qr'...' entries of $banned_filename_re and of $banned_namepath_re as Python patterns."""
    filename, namepath = rules.split("$banned_namepath_re")

    def patterns(text: str) -> list[re.Pattern]:
        return [
            re.compile(body.replace("\\z", "\\Z"), re.IGNORECASE if flags else 0)
            for body, flags in re.findall(r"qr'(.*?)'(i?),", text)
        ]

    return patterns(filename), patterns(namepath)


def level(name: str | None = None, kind: str | None = None, mime: str | None = None) -> dict:
    return {"N": name, "T": kind, "M": mime}


def path_is_banned(tables: tuple[list[re.Pattern], list[re.Pattern]], *levels: dict) -> bool:
    """Amavis' verdict on a leaf whose ancestors and itself are ``levels`` (outermost first)."""
    filename, namepath = tables
    levels = (level(mime="multipart/mixed"), *levels)
    values = [v if k != "T" else "." + v for lv in levels for k, v in lv.items() if v]
    if any(p.search(v) for p in filename for v in values):
        return True
    lines = []
    for number, lv in enumerate(levels, start=1):
        keys = [f"P=p{number:03d}", "L=" + "/".join(["1"] * number)]
        keys += [f"{k}={lv[k]}" for k in ("M", "T", "N") if lv[k]]
        lines.append("\t".join(keys))
    return any(p.search("\n".join(lines)) for p in namepath)


@pytest.fixture(scope="module")
def tables():
    return compiled(amavis_banned_rules(YU_LIST, TYPES, MIMES, UNINSPECTABLE))


@pytest.fixture(scope="module")
def banned(tables):
    """Is an attachment with this name (file(1) type 'dat') refused?"""
    return lambda name: path_is_banned(tables, level(name, "dat"))


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


@pytest.mark.parametrize("label", ["dat", "exe", "bin", "zip", "asc", "doc"])
def test_file_type_labels_are_not_mistaken_for_names(label):
    """ ".dat" is file(1)'s label for any unrecognised binary: the name rule must not match it."""
    tables = compiled(amavis_banned_rules(YU_LIST))
    assert not path_is_banned(tables, level("report.pdf", label))


@pytest.mark.parametrize("label", ["exe", "exe-ms", "exe-unix", "dll", "rar", "ace"])
def test_executable_and_uninspectable_types_match(tables, label):
    assert path_is_banned(tables, level("report.pdf", label))


@pytest.mark.parametrize("label", ["zip", "7z", "tar", "gz", "pdf", "dat", "exe-msx"])
def test_other_types_do_not_match(tables, label):
    assert not path_is_banned(tables, level("report.pdf", label))


def test_declared_mime_types_match_any_case(tables):
    assert path_is_banned(tables, level("update.txt", "asc", "application/x-msdownload"))
    assert path_is_banned(tables, level("offer.txt", "asc", "Application/HTA"))
    assert not path_is_banned(tables, level("report.pdf", "pdf", "application/pdf"))


# ---- Office documents: their own parts are not attachments, what they carry is -----------------

XLSX = level("budget.xlsx", "ooxml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
DOCX = level(
    "letter.docx", "ooxml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
)
ZIP = level("parts.zip", "zip", "application/zip")


@pytest.mark.parametrize(
    "part",
    [
        "xl/printerSettings/printerSettings1.bin",
        "word/embeddings/oleObject1.bin",
        "ppt/printerSettings/printerSettings2.bin",
        "xl/worksheets/sheet1.bin",  # a binary workbook (.xlsb) is all .bin parts
        "word/activeX/activeX1.bin",
    ],
)
def test_office_documents_own_binary_parts_are_not_attachments(tables, part):
    assert not path_is_banned(tables, XLSX, level(part, "dat"))
    # The same name in a plain zip is a .bin file someone can save: refused.
    assert path_is_banned(tables, ZIP, level(part, "dat"))


@pytest.mark.parametrize(
    "inside",
    [
        [level("word/media/update.exe", "asc")],
        [level("word/embeddings/oleObject1.bin", "cdf-ms"), level("invoice.js", "asc")],
        [level("word/embeddings/oleObject1.bin", "cdf-ms"), level("setup.txt", "exe-ms")],
        [level("word/embeddings/pack.zip", "zip"), level("run.cmd", "asc")],
        [level("word/embeddings/oleObject1.bin", "cdf-ms"), level("ereje-ole-unpack-incomplete", "asc")],
    ],
    ids=["named-member", "packaged-script", "packaged-pe", "zip-in-document", "ole-incomplete"],
)
def test_what_a_document_carries_is_judged_like_an_attachment(tables, inside):
    assert path_is_banned(tables, DOCX, *inside)


def test_an_embedded_object_with_a_harmless_file_passes(tables):
    embedded = level("word/embeddings/oleObject1.bin", "cdf-ms")
    assert not path_is_banned(tables, DOCX, embedded, level("notes.txt", "asc"))
    assert not path_is_banned(tables, DOCX, embedded, level("Ole10Native", "dat"))


MACROS = [
    [XLSX, level("xl/vbaProject.bin", "cdf-ms"), level("_VBA_PROJECT", "dat")],
    [level("report.xls", "cdf-ms"), level("_VBA_PROJECT", "dat")],
    [level("report.odt", "zip"), level("Basic/Standard/Module1.xml", "xml")],
    [level("report.ods", "zip"), level("Scripts/python/tool.py", "asc")],
]


@pytest.mark.parametrize("macro", MACROS, ids=["xlsm", "xls", "odt-basic", "ods-python"])
def test_macros_are_refused_unless_the_inventory_allows_them(macro):
    forbidden = compiled(amavis_banned_rules(YU_LIST, TYPES, MIMES, UNINSPECTABLE))
    allowed = compiled(amavis_banned_rules(YU_LIST, TYPES, MIMES, UNINSPECTABLE, office_macros=True))
    assert path_is_banned(forbidden, *macro)
    assert not path_is_banned(allowed, *macro)


def test_an_empty_basic_library_is_not_a_macro(tables):
    for part in ("Basic/script-lc.xml", "Basic/Standard/script-lb.xml", "Basic/Standard/dialog-lb.xml"):
        assert not path_is_banned(tables, level("report.odt", "zip"), level(part, "xml"))


def test_macro_switch_must_be_a_boolean():
    with pytest.raises(AnsibleFilterError, match="mail_gateway_office_macros_allowed"):
        amavis_banned_rules(["exe"], office_macros="no")


def test_list_is_normalised():
    assert banned_extensions(["EXE", ".exe", "*.Bat", "bat", " js "]) == ["bat", "exe", "js"]


def test_no_allow_entries_are_generated():
    """An allow entry (=> 0) for an archive would open everything inside it to delivery."""
    assert "=> 0" not in amavis_banned_rules(YU_LIST, TYPES, MIMES, UNINSPECTABLE)


def test_changing_the_list_changes_the_rules():
    before = compiled(amavis_banned_rules(["exe"]))
    after = compiled(amavis_banned_rules(["exe", "hta"]))
    assert not path_is_banned(before, level("offer.hta", "html"))
    assert path_is_banned(after, level("offer.hta", "html"))


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
    # An archive or file type Amavis does not know would silently never match.
    with pytest.raises(AnsibleFilterError, match="uninspectable_types: Amavis knows no file type 'rar5'"):
        amavis_banned_rules(["exe"], [], [], ["rar5"])
    with pytest.raises(AnsibleFilterError, match="banned_file_types: Amavis knows no file type 'pe'"):
        amavis_banned_rules(["exe"], ["pe"])


# ---- The author check's data (YU-1.3.2-c) ---------------------------------------------------

USERS = [
    {"login": "staff1", "addresses": ["Staff1@ereje.test"]},
    {"login": "notices", "addresses": ["notices@ereje.test", "rector-office@ereje.test"]},
]


def test_author_policy_maps_each_address_to_its_login_and_writes_networks_as_amavis_does():
    perl = amavis_author_policy(USERS, ["127.0.0.0/8", "[::1]/128", "10.10.3.80"], ["203.0.113.0/24"])
    assert "  'staff1@ereje.test' => 'staff1'," in perl  # lowercased: Amavis compares lowercase
    assert "  'rector-office@ereje.test' => 'notices'," in perl
    assert "our @ereje_internal = qw( 127.0.0.0/8 ::1/128 10.10.3.80/32 );" in perl
    assert "our @ereje_trusted = qw( 203.0.113.0/24 );" in perl


def test_author_policy_without_trusted_sources_trusts_none():
    assert "our @ereje_trusted = qw(  );" in amavis_author_policy(USERS, ["127.0.0.0/8"])


@pytest.mark.parametrize(
    ("users", "internal", "trusted", "message"),
    [
        (
            [*USERS, {"login": "staff2", "addresses": ["staff1@ereje.test"]}],
            [],
            [],
            "listed under two logins",
        ),
        ([{"login": "x'y", "addresses": ["a@ereje.test"]}], [], [], 'login "x\'y" may hold'),
        ([{"login": "staff1", "addresses": ["o'brien@ereje.test"]}], [], [], "is not a mail address"),
        ([{"login": "staff1", "addresses": "staff1@ereje.test"}], [], [], "must be a list"),
        (USERS, ["campus"], [], "mail_gateway_mynetworks: 'campus' is not an address or network"),
        (USERS, [], ["10.0.0.0/33"], "mail_gateway_author_trusted_sources: '10.0.0.0/33'"),
    ],
)
def test_author_policy_names_bad_input(users, internal, trusted, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        amavis_author_policy(users, internal, trusted)


def test_plain_networks_drop_postfix_brackets_and_refuse_what_is_no_network():
    plain = plain_networks(["127.0.0.0/8", "[::1]/128", "10.10.3.80"])
    assert plain == ["127.0.0.0/8", "::1/128", "10.10.3.80/32"]
    refusal = r"mail_gateway_mynetworks: 'mail\.example' is not an address"
    with pytest.raises(AnsibleFilterError, match=refusal):
        plain_networks(["mail.example"])
