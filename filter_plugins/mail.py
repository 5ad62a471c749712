"""Filters that turn the mail policy of the inventory into Amavis configuration.

The forbidden extensions of YU 1.3.2 live in the inventory as a plain list::

    mail_gateway_banned_extensions: [bas, bat, exe, VBScript, ...]

``amavis_banned_rules`` checks that list (and the file types, MIME types and uninspectable
archive types that go with it) and renders the Perl statements that set Amavis' two banned
tables. Amavis judges every leaf of a message's tree (attachments, archive members, files in
attached messages, what the gateway unpacks from Office documents) together with its ancestors:

- ``$banned_filename_re`` is tried first, on each value of the part and of its ancestors alone
  (names, declared MIME types, file(1) types such as ``.exe-ms``): it holds what is refused
  wherever it appears, even inside a document: executable content, Windows class-ID names,
  archives the gateway cannot open, executable MIME types and, when the inventory forbids them,
  macros (a VBA project's ``_VBA_PROJECT`` stream, an OpenDocument Basic module or script);
- ``$banned_namepath_re`` is tried next, on the whole path (one line per level, ``N=`` a name,
  ``T=`` a file type): the YU 1.3.2 extensions, on names only (the pattern needs one character
  before the dot, which a type label such as ``.dat`` never has), any case, trailing dots and
  blanks ignored (Windows drops them). Inside an Office Open XML document (type ``ooxml``) the
  format's own binary parts (``xl/printerSettings/printerSettings1.bin``,
  ``word/embeddings/oleObject1.bin``, ``xl/vbaProject.bin``) are parts of a document, not
  attached files, so their ``.bin`` names are not refused; what they carry still is: they are
  typed, OLE objects are unpacked (``ereje-ole-unpack``) and every file inside is judged here.

There are no allow entries: an allow entry for an archive (``zip => 0``) would open everything
inside it.

``amavis_author_policy`` renders the data of the gateway's author check (the From: header,
``amavis-61-ereje-author``): which login owns which address (``mail_gateway_users``), and the
networks whose mail is not judged as mail from outside (internal relays and trusted sources).

Bad input stops the play before anything changes, with a message that names the entry (ATU-6.2-a).
"""

from __future__ import annotations

import ipaddress
import re

from ansible.errors import AnsibleFilterError

_EXTENSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+-]{0,31}$")
_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,31}$")
# The short file types Amavis 2.13 gives (Amavis::Conf's $map_full_type_to_short_type_re), and
# 'ooxml', which 60-ereje adds: a type outside these would never match anything.
# fmt: off
_AMAVIS_TYPES = frozenset({
    "7z", "F", "Z", "a", "ace", "arc", "arj", "asc", "bz", "bz2", "cab", "cdf-ms", "cpio", "dat",
    "deb", "dir", "doc", "dvi", "empty", "exe", "gz", "hqx", "html", "installshield", "iso", "java",
    "kmz", "lat", "lha", "lrz", "lz4", "lzma", "lzo", "mail", "mo", "o", "pdf", "pgp", "ps", "rar",
    "rpm", "rtf", "sgml", "sit", "so", "swf", "tar", "tnef", "txt", "url", "uue", "wmf", "xml", "xz",
    "zip", "zoo", "zst", "audio", "flac", "mpa", "3gpp", "m4a", "m4b", "mp2", "mp3", "oga", "ogg",
    "wav", "dll", "exe-ms", "exe-unix", "exe-vms", "image", "bmp", "gif", "jpg", "pcx", "png", "svg",
    "tif", "movie", "ani", "avi", "mkv", "mpg", "mpv", "wmv", "pgp.asc", "pgp.enc", "ooxml",
})
# fmt: on
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
# Windows class IDs used as a file name ("{3050F4D8-...}") make Explorer run the named handler.
_CLSID = r"qr'\{[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\}?[.\s]*$'i"


def _list(label: str, value: object) -> list:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise AnsibleFilterError(f"{label} must be a list such as [exe, bat], not {value!r}")
    return list(value)


def banned_extensions(extensions: object) -> list[str]:
    """Normalise the extension list: lowercase, no leading dot, no duplicates, sorted."""
    result: set[str] = set()
    for entry in _list("mail_gateway_banned_extensions", extensions):
        if isinstance(entry, bool) or not isinstance(entry, str | int):
            raise AnsibleFilterError(
                f"mail_gateway_banned_extensions: {entry!r} is not an extension such as exe or vbs"
            )
        text = str(entry).strip()
        # ".exe" and "*.exe" are common ways to write an extension: accept them.
        text = text.removeprefix("*").removeprefix(".")
        if not _EXTENSION.match(text):
            raise AnsibleFilterError(
                f"mail_gateway_banned_extensions: {entry!r} is not an extension; write it without "
                "dots or wildcards, letters, digits, _ + - only (e.g. exe, VBScript)"
            )
        result.add(text.lower())
    if not result:
        raise AnsibleFilterError(
            "mail_gateway_banned_extensions is empty: the gateway would let every executable through; "
            "keep the YU 1.3.2 list (the role default) or name the extensions to block"
        )
    return sorted(result)


def _types(label: str, values: object) -> list[str]:
    result: set[str] = set()
    for entry in _list(label, values):
        text = str(entry).strip().removeprefix(".")
        if not isinstance(entry, str) or not _TYPE.match(text):
            raise AnsibleFilterError(
                f"{label}: {entry!r} is not an Amavis file type such as exe-ms or rar "
                "(the short names of Amavis' $map_full_type_to_short_type_re)"
            )
        if text not in _AMAVIS_TYPES:
            raise AnsibleFilterError(
                f"{label}: Amavis knows no file type {text!r}, so it would never match; use one of its "
                f"short names: {', '.join(sorted(_AMAVIS_TYPES, key=str.lower))}"
            )
        result.add(text)
    return sorted(result)


def _mime_types(values: object) -> list[str]:
    result: set[str] = set()
    for entry in _list("mail_gateway_banned_mime_types", values):
        text = str(entry).strip().lower()
        if not isinstance(entry, str) or not _MIME.match(text):
            raise AnsibleFilterError(
                f"mail_gateway_banned_mime_types: {entry!r} is not a MIME type "
                "such as application/x-msdownload"
            )
        result.add(text)
    return sorted(result)


# Office Open XML keeps its own binary parts under word/, xl/ and ppt/ with the extension .bin.
_OFFICE_PART = r"(?:word|xl|ppt)/(?:[^\t\n/]+/)*[^\t\n/]+\.bin"
# A name value of the path (to the end of the value: a tab or a newline separates values).
_END = r"(?=\t|\n|\z)"
# Macros: the VBA project of an Office document (every one has a _VBA_PROJECT stream, which
# ereje-ole-unpack writes out) and OpenDocument Basic modules or scripts.
_MACROS = (
    r"qr'^_VBA_PROJECT$'i",
    r"qr'^Basic/[^/]+/(?!(?:script|dialog)-lb\.xml$)[^/]+\.xml$'i",
    r"qr'^Scripts/(?:python|javascript|beanshell|java)/.'i",
)


def amavis_banned_rules(
    extensions: object,
    file_types: object = None,
    mime_types: object = None,
    uninspectable_types: object = None,
    office_macros: object = False,
) -> str:
    """The Perl statements setting Amavis' banned tables from the inventory's policy.

    ``extensions``: forbidden name extensions (YU 1.3.2), any case, at any depth.
    ``file_types``: file(1) types banned whatever the name (disguised executables).
    ``mime_types``: declared MIME types banned.
    ``uninspectable_types``: archive types Amavis cannot open here (RAR): banned by policy.
    ``office_macros``: true lets documents with macros through (their other contents are still judged).
    """
    names = banned_extensions(extensions)
    types = _types("mail_gateway_banned_file_types", file_types)
    uninspectable = _types("mail_gateway_uninspectable_types", uninspectable_types)
    mimes = _mime_types(mime_types)
    if not isinstance(office_macros, bool):
        raise AnsibleFilterError(
            f"mail_gateway_office_macros_allowed must be true or false, not {office_macros!r}"
        )
    overlap = sorted(set(types) & set(uninspectable))
    if overlap:
        raise AnsibleFilterError(
            f"{', '.join(overlap)} listed both in mail_gateway_banned_file_types and "
            "mail_gateway_uninspectable_types: keep each type in one list"
        )
    # A name value ending in a forbidden extension (after the "N=" of the path).
    banned_value = r"[^\t\n]*[^\t\n]\.(?:" + "|".join(re.escape(n) for n in names) + r")[. ]*" + _END
    lines = [
        "$banned_filename_re = new_RE(",
        "  # Refused wherever they appear, inside documents too.",
        "  " + _CLSID + ",",
        "  # An OLE document that ereje-ole-unpack could only partly judge: held, never passed.",
        "  qr'^ereje-ole-unpack-incomplete$',",
    ]
    if types:
        lines.append("  # Content that is executable whatever its name or declared type (file(1) type).")
        lines.append("  qr'^\\.(?:" + "|".join(re.escape(t) for t in types) + ")$',")
    if uninspectable:
        lines.append("  # Archives this gateway cannot open: refused by policy (see the role README).")
        lines.append("  qr'^\\.(?:" + "|".join(re.escape(t) for t in uninspectable) + ")$',")
    if mimes:
        lines.append("  # Declared MIME types of executables.")
        lines.append("  qr'^(?:" + "|".join(re.escape(m) for m in mimes) + ")$'i,")
    if not office_macros:
        lines.append("  # Macros (mail_gateway_office_macros_allowed: false): VBA, OpenDocument Basic.")
        lines.extend(f"  {rule}," for rule in _MACROS)
    lines += [
        ");",
        "$banned_namepath_re = new_RE(",
        "  # YU 1.3.2: forbidden extensions, on names only (one character before the dot), any case,",
        "  # trailing dots and blanks ignored, at every level: attachments, archive members, files",
        "  # in attached messages and in documents. Outside Office Open XML documents, every name:",
        r"  qr'\A(?![\s\S]*\tT=ooxml" + _END + r")[\s\S]*?\tN=" + banned_value + "'i,",
        "  # inside them, every name but the format's own binary parts (their content is still judged):",
        r"  qr'\tN=(?!" + _OFFICE_PART + _END + ")" + banned_value + "'i,",
        ");",
    ]
    return "\n".join(lines)


# What Postfix and Amavis both take as a login or an address, without quoting.
_LOGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
_ADDRESS = re.compile(r"^[A-Za-z0-9!#$%&*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def _networks(label: str, values: object) -> list[str]:
    """Postfix-style networks ("10.0.0.0/8", "[::1]/128", "192.0.2.7") as Amavis writes them."""
    result = []
    for entry in _list(label, values):
        text = str(entry).strip().replace("[", "").replace("]", "")
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise AnsibleFilterError(
                f"{label}: {entry!r} is not an address or network "
                "such as 10.10.3.80, 10.10.0.0/16 or [::1]/128"
            ) from None
        result.append(str(network))
    return result


def plain_networks(values: object, label: str = "mail_gateway_mynetworks") -> list[str]:
    """Postfix-style networks ("[::1]/128") as plain CIDR ("::1/128"), for the tools beside Postfix
    (policyd-spf's skip_addresses, OpenDMARC's IgnoreHosts) that do not take Postfix's brackets."""
    return _networks(label, values)


def amavis_author_policy(users: object, internal_networks: object, trusted_sources: object = None) -> str:
    """The Perl data of the author (From:) check: addresses and their logins, and the networks
    that are not "outside".

    ``users``: ``mail_gateway_users`` ([{login, addresses}]): an address belongs to one login only.
    ``internal_networks``: ``mail_gateway_mynetworks`` (relays of the university, e.g. the website's form).
    ``trusted_sources``: networks outside the university allowed to send as its domains.
    """
    owners: dict[str, str] = {}
    for user in _list("mail_gateway_users", users):
        if not isinstance(user, dict) or not isinstance(user.get("login"), str):
            raise AnsibleFilterError(f"mail_gateway_users: {user!r} has no login")
        login = user["login"]
        if not _LOGIN.match(login):
            raise AnsibleFilterError(
                f"mail_gateway_users: login {login!r} may hold letters, digits and . _ @ + - only"
            )
        for address in _list(f"mail_gateway_users ({login}) addresses", user.get("addresses")):
            text = str(address).strip().lower()
            if not isinstance(address, str) or not _ADDRESS.match(text):
                raise AnsibleFilterError(f"mail_gateway_users ({login}): {address!r} is not a mail address")
            if owners.get(text, login) != login:
                raise AnsibleFilterError(
                    f"mail_gateway_users: {text} is listed under two logins ({owners[text]} and {login}); "
                    "an address belongs to one login"
                )
            owners[text] = login
    internal = _networks("mail_gateway_mynetworks", internal_networks)
    trusted = _networks("mail_gateway_author_trusted_sources", trusted_sources)
    lines = ["our %ereje_owner = ("]
    lines += [f"  '{address}' => '{login}'," for address, login in sorted(owners.items())]
    lines += [
        ");",
        "our @ereje_internal = qw( " + " ".join(internal) + " );",
        "our @ereje_trusted = qw( " + " ".join(trusted) + " );",
    ]
    return "\n".join(lines)


class FilterModule:
    def filters(self):
        return {
            "amavis_author_policy": amavis_author_policy,
            "amavis_banned_rules": amavis_banned_rules,
            "mail_banned_extensions": banned_extensions,
            "plain_networks": plain_networks,
        }
