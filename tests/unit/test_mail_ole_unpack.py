"""The mail gateway's OLE unpacker (roles/mail_gateway/files/ereje-ole-unpack): what Amavis sees
inside legacy Office documents, embedded objects and macro projects. Compound files are made with
tests/support/ole.py, laid out as Office writes them, and read back with olefile as on the gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.ole import compound_file, packager_stream
from support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
unpacker = load_script(ROOT / "roles" / "mail_gateway" / "files" / "ereje-ole-unpack", "ereje_ole_unpack")


def unpacked(tmp_path: Path, data: bytes) -> tuple[int, dict[str, bytes]]:
    source = tmp_path / "object.bin"
    source.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    status = unpacker.main(["-v", "-i", str(source), "-d", str(out)])
    # Amavis keeps the base name of every file, whatever directory it is in.
    return status, {f.name: f.read_bytes() for f in out.rglob("*") if f.is_file()}


def test_a_packaged_file_comes_out_under_its_own_name(tmp_path):
    script = b'WScript.Shell.Run("calc")\r\n'
    document = compound_file({"\x01Ole10Native": packager_stream("invoice.js", script), "\x01CompObj": b"c"})
    status, files = unpacked(tmp_path, document)
    assert status == 0
    assert files["invoice.js"] == script
    assert set(files) == {"invoice.js", "Ole10Native", "CompObj"}


def test_every_stream_is_written_so_a_macro_project_shows(tmp_path):
    status, files = unpacked(
        tmp_path,
        compound_file(
            {"VBA/_VBA_PROJECT": b"\xcc\x61" + bytes(6000), "VBA/dir": b"d", "PROJECT": b'ID="{1}"\r\n'}
        ),
    )
    assert status == 0
    assert set(files) == {"_VBA_PROJECT", "dir", "PROJECT"}
    assert len(files["_VBA_PROJECT"]) == 6002  # a stream of over 4 KiB, outside the mini stream


def test_names_cannot_leave_the_output_directory(tmp_path):
    name = "..\\..\\..\\etc\\cron.d\\evil.exe"
    status, files = unpacked(tmp_path, compound_file({"\x01Ole10Native": packager_stream(name, b"MZ")}))
    assert status == 0
    assert "evil.exe" in files
    assert not (tmp_path / "etc").exists()


@pytest.mark.parametrize(
    ("name", "expected"), [("a\x00\x07b.exe", "ab.exe"), ("C:\\x\\", "fallback"), ("..", "fallback")]
)
def test_unsafe_names_are_cleaned(name, expected):
    assert unpacker.safe_name(name, "fallback") == expected


def test_a_truncated_packager_stream_is_kept_as_a_stream(tmp_path):
    stream = packager_stream("tool.exe", b"MZ" + bytes(100))[:40]
    assert unpacker.packaged_file(stream) is None
    status, files = unpacked(tmp_path, compound_file({"\x01Ole10Native": stream}))
    assert status == 0
    assert set(files) == {"Ole10Native"}


def test_a_file_that_is_not_ole_is_left_whole(tmp_path):
    status, files = unpacked(tmp_path, b"%PDF-1.4\n" + bytes(600))
    assert status == unpacker.NOT_OLE
    assert files == {}


def test_past_the_limits_a_marker_that_the_gateway_refuses_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(unpacker, "MAX_STREAMS", 2)
    status, files = unpacked(tmp_path, compound_file({f"S{i}": b"x" for i in range(5)}))
    assert status == 1
    assert unpacker.INCOMPLETE in files
    assert len(files) == 3
