"""Opening the DC's domain database (module_utils/samba.py), shared by the samba_dc modules."""

from __future__ import annotations

import sys

import pytest

from ansible_collections.ereje.compliance.plugins.module_utils.samba import ldap_escape, open_samdb


class Failed(Exception):
    pass


class FakeModule:
    def fail_json(self, **result):
        raise Failed(result["msg"])


def test_missing_samba_bindings_fail_the_module_naming_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "ldb", None)  # as on a host without python3-samba
    with pytest.raises(Failed, match=r"Samba Python bindings are missing on the DC \(python3-samba\)"):
        open_samdb(FakeModule(), "/var/lib/samba/private/sam.ldb")


def test_ldap_escape_keeps_a_name_from_changing_the_filter():
    assert ldap_escape("ereje-join") == "ereje-join"
    assert ldap_escape("*)(sAMAccountName=*") == r"\2a\29\28sAMAccountName=\2a"
    assert ldap_escape("a\\b\0") == r"a\5cb\00"
