"""Filters that turn the mail policy of the inventory into Amavis configuration.

The forbidden extensions of YU 1.3.2 live in the inventory as a plain list::

    mail_gateway_banned_extensions: [bas, bat, exe, VBScript, ...]

``amavis_banned_rules`` checks that list (and the file types, MIME types and uninspectable
archive types that go with it) and renders the Perl statement that sets Amavis'
``$banned_filename_re``. Amavis matches that table against every part of a message at every
depth of nesting: the names the sender declared, the names of archive members, the declared
MIME type and the file(1) type (a short label such as ``.exe-ms`` or ``.dat``). So:

- extensions are matched on names only: the pattern needs one character before the dot, which a
  type label (``.dat``, ``.exe``) never has; without it ``dat`` would block every unrecognised
  binary, legitimate .xlsx members included;
- names are matched case-insensitively and with trailing dots and blanks ignored (Windows drops
  them, so ``report.exe.`` runs as ``report.exe``);
- file types are matched exactly (``^\\.exe-ms$``): an executable renamed ``invoice.pdf`` is caught
  by its content;
- there are no allow entries: an allow entry for an archive (``zip => 0``) would open everything
  inside it.

Bad input stops the play before anything changes, with a message that names the entry (ATU-6.2-a).
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

_EXTENSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+-]{0,31}$")
_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,31}$")
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


def amavis_banned_rules(
    extensions: object,
    file_types: object = None,
    mime_types: object = None,
    uninspectable_types: object = None,
) -> str:
    """The Perl statement setting Amavis' ``$banned_filename_re`` from the inventory's policy.

    ``extensions``: forbidden name extensions (YU 1.3.2), any case, at any depth.
    ``file_types``: file(1) types banned whatever the name (disguised executables).
    ``mime_types``: declared MIME types banned.
    ``uninspectable_types``: archive types Amavis cannot open here (RAR): banned by policy.
    """
    names = banned_extensions(extensions)
    types = _types("mail_gateway_banned_file_types", file_types)
    uninspectable = _types("mail_gateway_uninspectable_types", uninspectable_types)
    mimes = _mime_types(mime_types)
    overlap = sorted(set(types) & set(uninspectable))
    if overlap:
        raise AnsibleFilterError(
            f"{', '.join(overlap)} listed both in mail_gateway_banned_file_types and "
            "mail_gateway_uninspectable_types: keep each type in one list"
        )
    lines = [
        "$banned_filename_re = new_RE(",
        "  # YU 1.3.2: forbidden extensions, on names only (one character before the dot), any case,",
        "  # trailing dots and blanks ignored; archive members are matched the same way.",
        "  qr'.\\.(?:" + "|".join(re.escape(n) for n in names) + ")[.\\s]*$'i,",
        "  " + _CLSID + ",",
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
    lines.append(");")
    return "\n".join(lines)


class FilterModule:
    def filters(self):
        return {
            "amavis_banned_rules": amavis_banned_rules,
            "mail_banned_extensions": banned_extensions,
        }
