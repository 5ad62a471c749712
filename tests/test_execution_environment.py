"""execution-environment.yml lists exactly the collections the AWX-run playbooks use."""

import configparser
import json
import re
from pathlib import Path

import ansible_collections
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = Path(ansible_collections.__path__[0])
FQCN_KEY = re.compile(r"^\s*-?\s*([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+:", re.MULTILINE)
FQCN_CALL = re.compile(r"(?:lookup|query)\(\s*'([a-z0-9_]+)\.([a-z0-9_]+)\.")
# Run only on the controller that builds the lab, never from AWX.
LAB_ONLY = {ROOT / "playbooks" / "lab.yml"}


def used_collections() -> set[str]:
    files = [p for p in [*ROOT.glob("roles/**/*.yml"), *ROOT.glob("playbooks/*.yml")] if p not in LAB_ONLY]
    used = set()
    for path in files:
        text = path.read_text(encoding="utf-8")
        used |= {f"{a}.{b}" for a, b in FQCN_KEY.findall(text) + FQCN_CALL.findall(text)}
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "ansible.cfg")
    for callback in cfg.get("defaults", "callbacks_enabled", fallback="").split(","):
        if callback.count(".") == 2:
            used.add(callback.strip().rsplit(".", 1)[0])
    return used - {"ansible.builtin", "ansible.legacy"}


def bundled_version(name: str) -> str:
    namespace, collection = name.split(".")
    manifest = json.loads((BUNDLE / namespace / collection / "MANIFEST.json").read_text())
    return manifest["collection_info"]["version"]


EE = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
LISTED = {c["name"]: str(c["version"]) for c in EE["dependencies"]["galaxy"]["collections"]}


def test_every_collection_used_is_listed_and_nothing_else():
    assert set(LISTED) == used_collections()


def test_listed_versions_are_the_ones_ci_tests():
    assert {n: bundled_version(n) for n in LISTED} == LISTED


def test_pinned_tools_match_the_controller():
    requirements = (ROOT / "constraints.txt").read_text()
    assert f"ansible-core=={EE['dependencies']['ansible_core']['package_pip'].split('==')[1]}" in requirements
    assert (
        f"ansible-runner=={EE['dependencies']['ansible_runner']['package_pip'].split('==')[1]}"
        in requirements
    )
    for package in EE["dependencies"]["python"]:
        assert package.split()[0] in requirements, package
