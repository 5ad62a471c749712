"""execution-environment.yml lists exactly the collections the AWX-run playbooks use."""

import configparser
import json
import re
from pathlib import Path

import ansible_collections
import yaml

ROOT = Path(__file__).resolve().parents[1]
# The collections ansible bundles (the package ansible_collections also spans this repository's
# own collection, collections/ansible_collections/ereje/compliance, which travels with the project).
# The virtualenv may sit inside the checkout (CI's clean clone): only collections/ is left out.
BUNDLE = next(
    Path(p)
    for p in ansible_collections.__path__
    if not Path(p).resolve().is_relative_to(ROOT / "collections")
)
OWN = {"ereje.compliance"}
FQCN_KEY = re.compile(r"^\s*-?\s*([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+:", re.MULTILINE)
# A plugin named inside an expression: a filter or test after | or is, or a quoted name (lookup,
# map('ns.coll.filter'), select('ns.coll.test'), callbacks ...). Kept only when the collection
# really has a plugin of that name, so that host names like 'web.ereje.test' never count.
FQCN_IN_EXPRESSION = re.compile(
    r"""(?:\|\s*|\bis\s+(?:not\s+)?|['"])([a-z0-9_]+)\.([a-z0-9_]+)\.([a-z0-9_]+)\b"""
)
# Python plugins that AWX runs (modules, filters, the audit callback) importing a collection's code.
PYTHON_IMPORT = re.compile(r"ansible_collections\.([a-z0-9_]+)\.([a-z0-9_]+)\.")
# Run only on the controller that builds the lab, never from AWX.
LAB_ONLY = {ROOT / "playbooks" / "lab.yml"}


def is_plugin(namespace: str, collection: str, name: str) -> bool:
    plugins = BUNDLE / namespace / collection / "plugins"
    return any(plugins.glob(f"*/{name}.py")) or any(plugins.glob(f"*/{name}.yml"))


def used_collections() -> set[str]:
    yaml_files = [
        *ROOT.glob("roles/**/*.yml"),
        *ROOT.glob("roles/**/*.j2"),
        *ROOT.glob("playbooks/*.yml"),
        *ROOT.glob("inventories/production/**/*.yml"),
    ]
    used = set()
    for path in yaml_files:
        if path in LAB_ONLY:
            continue
        text = path.read_text(encoding="utf-8")
        used |= {f"{a}.{b}" for a, b in FQCN_KEY.findall(text)}
        used |= {f"{a}.{b}" for a, b, name in FQCN_IN_EXPRESSION.findall(text) if is_plugin(a, b, name)}
    # connection_plugins/ carries the lab and Molecule only (podman): AWX reaches hosts over SSH.
    for folder in ("library", "filter_plugins", "callback_plugins", "module_utils", "plugin_utils"):
        for path in (ROOT / folder).glob("*.py"):
            used |= {f"{a}.{b}" for a, b in PYTHON_IMPORT.findall(path.read_text(encoding="utf-8"))}
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "ansible.cfg")
    for callback in cfg.get("defaults", "callbacks_enabled", fallback="").split(","):
        if callback.count(".") == 2:
            used.add(callback.strip().rsplit(".", 1)[0])
    return used - {"ansible.builtin", "ansible.legacy"} - OWN


def bundled_version(name: str) -> str:
    namespace, collection = name.split(".")
    manifest = json.loads((BUNDLE / namespace / collection / "MANIFEST.json").read_text())
    return manifest["collection_info"]["version"]


EE = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
LISTED = {c["name"]: str(c["version"]) for c in EE["dependencies"]["galaxy"]["collections"]}


def test_every_collection_used_is_listed_and_nothing_else():
    assert set(LISTED) == used_collections()


def test_a_filter_named_only_inside_an_expression_is_found():
    """samba_dc maps community.general.dict_kv over its RPC ports: no module key names that
    collection, and an execution environment without it fails on the first domain controller."""
    assert "community.general" in used_collections()
    assert not is_plugin("community", "general", "no_such_plugin_here")


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
