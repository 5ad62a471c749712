"""Throwaway containers of the project's image for the unit tests that need a real one."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

IMAGE = os.environ.get("EREJE_IMAGE", "localhost/ereje-debian12:latest")


def image_present() -> bool:
    if not shutil.which("podman"):
        return False
    return subprocess.run(["podman", "image", "exists", IMAGE], check=False).returncode == 0


@contextlib.contextmanager
def throwaway(prefix: str, seconds: int = 600) -> Iterator[str]:
    """A container of IMAGE without a network that sleeps ``seconds``; removed afterwards.

    Skips the test where the image was never built (`./ereje unit` on a laptop): `./ereje test`
    and CI build it in their set-up, before the unit tests, so there the test always runs.
    """
    if not image_present():
        # Never in `./ereje test` or CI: their set-up builds the image before the unit tests.
        pytest.skip(f"podman or the image {IMAGE} is missing (scripts/prepare-host.sh builds it)")
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    subprocess.run(
        ["podman", "run", "-d", "--name", name, "--network", "none", IMAGE, "sleep", str(seconds)], check=True
    )
    try:
        yield name
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], check=False, capture_output=True)
