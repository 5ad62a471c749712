"""Fixtures of the web scenario: the web host, its address, its CA, and controller tools."""

import shutil
import subprocess

import pytest

from support import molecule

WEB = "ereje-mol-web-web"
# Debian packages the controller needs for these tests (scripts/ should install them on a
# fresh machine; installed here, once, only when missing).
CONTROLLER_PACKAGES = {"chromium": "chromium", "openssl": "openssl"}


@pytest.fixture(scope="session", autouse=True)
def controller_tools():
    missing = [pkg for tool, pkg in CONTROLLER_PACKAGES.items() if shutil.which(tool) is None]
    if missing:
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", *missing],
            check=True,
            capture_output=True,
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )


@pytest.fixture(scope="session")
def web():
    return molecule.host(WEB)


@pytest.fixture(scope="session")
def web_ip():
    return molecule.address(WEB)


@pytest.fixture(scope="session")
def ca_file():
    """The project's CA certificate, as the controller keeps it (not a copy read from the host)."""
    path = molecule.ephemeral_dir() / "ca" / "ca.crt"
    assert path.is_file(), f"{path}: the scenario's converge makes the project's CA there"
    return str(path)
