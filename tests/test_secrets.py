"""No secret sits in the repository in clear."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")


def tracked_files() -> list[Path]:
    """Files git tracks, plus new ones it does not ignore (what a commit would contain)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [ROOT / line for line in out.splitlines() if (ROOT / line).is_file()]


def test_vault_files_are_encrypted():
    clear = [
        str(p.relative_to(ROOT))
        for p in tracked_files()
        if re.fullmatch(r"vault.*\.ya?ml", p.name)
        and not p.read_text(errors="replace").startswith("$ANSIBLE_VAULT;")
    ]
    assert not clear, f"encrypt these with ansible-vault before committing: {clear}"


def test_no_private_keys_are_committed():
    found = [
        str(p.relative_to(ROOT))
        for p in tracked_files()
        if p.stat().st_size < 1_000_000 and PRIVATE_KEY.search(p.read_text(errors="replace"))
    ]
    assert not found, f"private keys in the repository: {found}"
