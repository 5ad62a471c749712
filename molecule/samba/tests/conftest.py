"""Fixtures of the samba scenario: two domain controllers and a member host."""

import pytest

from support import molecule

DC1 = "ereje-mol-samba-dc1"
DC2 = "ereje-mol-samba-dc2"
WS1 = "ereje-mol-samba-ws1"
REALM = "EREJE.TEST"
BASE_DN = "DC=ereje,DC=test"


def password(name: str) -> str:
    """A password the scenario generated into its ephemeral directory (see molecule.yml)."""
    return (molecule.ephemeral_dir() / f"samba-{name}.pw").read_text().strip() + "-Aa1"


@pytest.fixture(scope="session")
def dc1():
    return molecule.host(DC1)


@pytest.fixture(scope="session")
def dc2():
    return molecule.host(DC2)


@pytest.fixture(scope="session")
def ws1():
    return molecule.host(WS1)


@pytest.fixture(scope="session")
def dc1_ip():
    return molecule.address(DC1)


@pytest.fixture(scope="session")
def dc2_ip():
    return molecule.address(DC2)
