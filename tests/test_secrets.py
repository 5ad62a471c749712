"""No secret sits in the repository in clear."""

import re
import subprocess
from pathlib import Path

import yaml

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


def _commands(node):
    """Every command or shell module call in a parsed task file, at any depth (blocks included)."""
    if isinstance(node, list):
        for item in node:
            yield from _commands(item)
    elif isinstance(node, dict):
        for key in ("ansible.builtin.command", "ansible.builtin.shell", "command", "shell"):
            if key in node:
                yield node.get("name", "?"), node[key]
        for key in ("block", "rescue", "always"):
            yield from _commands(node.get(key))


SECRET_VARIABLE = re.compile(r"\{\{[^}]*(password|passphrase|secret)[^}]*\}\}", re.IGNORECASE)


def test_no_secret_is_put_in_a_command_line():
    """A secret in a command's arguments is in the process list, which every local user can read:
    secrets go in on standard input (stdin:) or in the environment (environment:), never in argv,
    cmd or a shell line."""

    found = []
    for path in sorted(ROOT.glob("roles/*/tasks/*.yml")):
        for name, call in _commands(yaml.safe_load(path.read_text())):
            line = (
                call
                if isinstance(call, str)
                else " ".join(map(str, call.get("argv", []))) + str(call.get("cmd", ""))
            )
            if SECRET_VARIABLE.search(line):
                found.append(f"{path.relative_to(ROOT)}: {name}")
    assert not found, f"secrets in command lines: {found}"


# A secret file expanded into the arguments of env, runuser, sudo or su: the value lands in the
# process's command line, which journald records (_CMDLINE of the PAM session messages of runuser,
# sudo, su) and forwards to the collector. Hand it over on a file descriptor (BORG_PASSPHRASE_FD=3
# ... 3<file), a *_PASSCOMMAND, or standard input instead. The command may go on in the next line
# (a shell continuation, a string literal continued).
SECRET_IN_ARGV = re.compile(
    r"\b(?:env|runuser|sudo|su)\b[^\n]*(?:\n[^\n]*)?\$\(\s*cat\s+[^)]*(?:pass|\.pw|secret)[^)]*\)",
    re.IGNORECASE,
)


def test_no_recipe_or_test_puts_a_secret_file_in_a_command_line():
    """Documented commands, scripts and tests never expand a passphrase or password file into the
    arguments of env/runuser/sudo/su (found in the backup server's README and its tests: the
    passphrase reached the server's journal through runuser's recorded command line)."""
    found = []
    for path in tracked_files():
        if path.suffix not in {".md", ".py", ".sh", ".yml", ".yaml", ".j2", ""} or path == Path(__file__):
            continue
        if path.stat().st_size > 1_000_000:
            continue
        text = path.read_text(errors="replace")
        for match in SECRET_IN_ARGV.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)}")
    assert not found, "secrets expanded into command lines:\n" + "\n".join(found)
