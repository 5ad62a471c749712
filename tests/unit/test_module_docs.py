"""Every custom module's DOCUMENTATION, EXAMPLES and RETURN are YAML that ansible-doc can read.

A colon followed by a space inside a description line makes the whole block unreadable:
`ansible-doc ereje_x` then fails, and nothing else notices (the module itself still runs).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

LIBRARY = Path(__file__).resolve().parents[2] / "library"
MODULES = sorted(LIBRARY.glob("ereje_*.py"))


def blocks(path: Path) -> dict[str, str]:
    """The module's documentation strings, by name, read without importing it."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(target, ast.Name) and target.id in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
            found[target.id] = node.value.value
    return found


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_documentation_examples_and_return_are_yaml(path):
    docs = blocks(path)
    assert set(docs) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}, f"{path.name} lacks {set(docs)}"
    documentation = yaml.safe_load(docs["DOCUMENTATION"])
    assert documentation["module"] == path.stem
    assert documentation["short_description"] and documentation["description"]
    examples = yaml.safe_load(docs["EXAMPLES"])
    assert any(f"ereje.compliance.{path.stem}" in task for task in examples), (
        f"{path.name}: no example calls ereje.compliance.{path.stem}"
    )
    assert isinstance(yaml.safe_load(docs["RETURN"]), dict)
