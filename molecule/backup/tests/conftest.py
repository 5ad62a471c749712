"""Fixtures of the backup scenario: the web host (client) and the backup server."""

import pytest

from support import molecule

SERVER = "ereje-mol-backup-server"
WEB = "ereje-mol-backup-web"


@pytest.fixture(scope="session")
def server():
    return molecule.host(SERVER)


@pytest.fixture(scope="session")
def web():
    return molecule.host(WEB)
