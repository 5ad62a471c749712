"""Fixtures of the baseline scenario: a node, and the collector its events go to."""

import pytest

from support import molecule

NODE = "ereje-mol-baseline-node"
COLLECTOR = "ereje-mol-baseline-collector"


@pytest.fixture(scope="session")
def node():
    return molecule.host(NODE)


@pytest.fixture(scope="session")
def collector():
    return molecule.host(COLLECTOR)


@pytest.fixture(scope="session")
def node_ip():
    return molecule.address(NODE)


@pytest.fixture(scope="session")
def admin_key():
    return str(molecule.ephemeral_dir() / "admin_ed25519")
