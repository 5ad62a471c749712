"""Opening the domain database of the Samba AD DC a module runs on (the samba_dc modules).

Samba's Python bindings exist only on the DC (python3-samba), so they are imported when a module
opens the database, never when it is loaded: the unit tests import the modules on the controller.
"""

from __future__ import annotations

# The samdb_url option of every samba_dc module: the DC's domain database, as Samba installs it.
SAMDB_URL_OPTION = {"type": "str", "default": "/var/lib/samba/private/sam.ldb"}


def open_samdb(module, url: str):
    """The DC's ``SamDB`` at ``url`` as the system (root's view of the directory), and the ``ldb``
    bindings the caller searches and writes it with. Fails the module, in words a sysadmin can act
    on, when the bindings are missing."""
    try:
        import ldb  # noqa: PLC0415 - only on the DC
        from samba.auth import system_session  # noqa: PLC0415 - only on the DC
        from samba.param import LoadParm  # noqa: PLC0415 - only on the DC
        from samba.samdb import SamDB  # noqa: PLC0415 - only on the DC
    except ImportError as exc:
        module.fail_json(msg=f"the Samba Python bindings are missing on the DC (python3-samba): {exc}")
    lp = LoadParm()
    lp.load_default()
    return SamDB(url=url, session_info=system_session(), lp=lp), ldb


def ldap_escape(value: str) -> str:
    """A value for an LDAP filter (RFC 4515)."""
    out = value.replace("\\", r"\5c")
    for char, code in (("*", r"\2a"), ("(", r"\28"), (")", r"\29"), ("\0", r"\00")):
        out = out.replace(char, code)
    return out
