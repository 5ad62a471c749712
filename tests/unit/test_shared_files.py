"""The shared file reader of the status modules (module_utils/files.py)."""

from ansible_collections.ereje.compliance.plugins.module_utils.files import read_text


def test_a_missing_file_is_none_and_foreign_bytes_do_not_crash(tmp_path):
    assert read_text(str(tmp_path / "missing")) is None
    log = tmp_path / "unattended-upgrades.log"
    log.write_bytes(b"2026-12-01 06:12:01,123 INFO \xff\xfe caf\xc3\xa9\n")
    assert read_text(str(log)) == "2026-12-01 06:12:01,123 INFO \ufffd\ufffd café\n"
