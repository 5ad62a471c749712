"""Reading the small files the status modules judge (state files, logs, /etc/os-release)."""

from __future__ import annotations


def read_text(path: str) -> str | None:
    """The file's text, or None when it cannot be read (missing is a finding, not a crash).

    Bytes that are not UTF-8 (a log line from another locale) are replaced, never fatal.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None
