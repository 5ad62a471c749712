"""Control IDs as the catalog defines them (controls/catalog.yml), in one place.

An ID is ``<DOC>-<clause>-<letter>``: DOC is one of the catalog's ``documents`` (ATU, YU ...),
the clause is numbered as in that document (``5.17``, ``2.2.1``) or ``annex``, and the letter
counts the controls of that clause (``ATU-5.17-a``). The document codes are never written here:
they come from the catalog, so a new source document needs no code change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

CLAUSE = r"(?:[0-9]+(?:\.[0-9]+)*|annex)"


class ControlIds:
    """The shape of the control IDs of a catalog whose documents are ``documents``."""

    def __init__(self, documents: Iterable[str]):
        codes = sorted(documents, key=len, reverse=True)
        if not codes:
            raise ValueError("the control catalog names no documents")
        alternatives = "|".join(re.escape(code) for code in codes)
        body = rf"(?:{alternatives})-{CLAUSE}-[a-z]"
        self.exact = re.compile(rf"^{body}$")
        """A whole string that is a control ID."""
        self.in_text = re.compile(rf"\b{body}\b")
        """Control IDs inside a text (a test's docstring)."""
        self.lookalike = re.compile(rf"^(?:{alternatives})[-_ ]", re.IGNORECASE)
        """A string meant as a control ID, well formed or not (a mistyped tag)."""

    @classmethod
    def of(cls, catalog: dict) -> ControlIds:
        """The control IDs of a loaded catalog (its ``documents`` mapping)."""
        try:
            return cls(catalog["documents"])
        except (TypeError, KeyError) as exc:
            raise ValueError(f"the control catalog is malformed: no documents ({exc})") from None

    def is_id(self, value: object) -> bool:
        return isinstance(value, str) and bool(self.exact.match(value))

    def among(self, values: Iterable[object]) -> list[str]:
        """The values (a task's tags) that are control IDs, in order."""
        return [v for v in values if self.is_id(v)]
