"""Make the repository's plugins importable by the unit tests."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for sub in ("filter_plugins", "library", "module_utils", "callback_plugins", "tests"):
    path = str(ROOT / sub)
    if path not in sys.path:
        sys.path.insert(0, path)
