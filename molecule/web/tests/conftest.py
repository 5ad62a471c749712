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
def ca_file(web):
    """The lab CA's certificate, copied to the scenario's ephemeral directory."""
    path = molecule.ephemeral_dir() / "web-ca.crt"
    path.write_text(web.file("/etc/ereje-web/ca/ca.crt").content_string)
    return str(path)
