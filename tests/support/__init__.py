"""Helpers shared by the Testinfra suites of the Molecule scenarios."""
