"""Fixtures of the backup scenario: the web host (client) and the backup server."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))

from support import molecule

SERVER = "ereje-mol-backup-server"
WEB = "ereje-mol-backup-web"


@pytest.fixture(scope="session")
def server():
    return molecule.host(SERVER)


@pytest.fixture(scope="session")
def web():
    return molecule.host(WEB)
