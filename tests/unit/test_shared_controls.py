"""Control IDs (module_utils/controls.py): their shape comes from the catalog's documents."""

from pathlib import Path

import pytest
import yaml

from ansible_collections.ereje.compliance.plugins.module_utils.controls import ControlIds

CATALOG = yaml.safe_load((Path(__file__).resolve().parents[2] / "controls" / "catalog.yml").read_text())
IDS = ControlIds.of(CATALOG)


def test_every_control_of_the_catalog_is_an_id():
    assert all(IDS.is_id(control["id"]) for control in CATALOG["controls"])


@pytest.mark.parametrize("value", ["ATU-5.17-a", "ATU-2.2.1-b", "KTBU-annex-a", "MVD-19-a", "YU-3-c"])
def test_ids_of_every_shape_are_recognised(value):
    assert IDS.is_id(value)


@pytest.mark.parametrize(
    "value",
    ["ATU-5.17", "ATU-5.17-A", "atu-5.17-a", "XYZ-1-a", "ATU-5..17-a", "ATU-5.17-ab", "always", "", None, 5],
)
def test_anything_else_is_not_an_id(value):
    assert not IDS.is_id(value)


def test_the_documents_come_from_the_catalog_not_from_the_code():
    ids = ControlIds.of({"documents": {"NEW": {}}})
    assert ids.is_id("NEW-4.1-a")
    assert not ids.is_id("ATU-5.17-a")


def test_control_ids_among_a_tasks_tags_keep_their_order():
    assert IDS.among(["always", "KNMU-3-a", "validate", "ATU-5.14-a", 42]) == ["KNMU-3-a", "ATU-5.14-a"]


def test_ids_are_found_in_a_docstring_and_near_misses_are_told_apart():
    doc = "ATU-5.17-a, YU-annex-b: the signatures are fresh (not ATU-5.17 nor XATU-1-a)."
    assert IDS.in_text.findall(doc) == ["ATU-5.17-a", "YU-annex-b"]
    assert IDS.lookalike.match("atu_5.17_a") and IDS.lookalike.match("ATU 5.17")
    assert not IDS.lookalike.match("baseline")


def test_a_catalog_without_documents_is_refused():
    with pytest.raises(ValueError, match="no documents"):
        ControlIds.of({"controls": []})
    with pytest.raises(ValueError, match="no documents"):
        ControlIds([])
