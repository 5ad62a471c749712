"""OLE compound files (Microsoft's Compound File Binary format, MS-CFB) for the mail tests.

Legacy Office documents, the objects Office embeds in .docx/.xlsx (word/embeddings/oleObject1.bin)
and macro projects (vbaProject.bin) are compound files: a small FAT file system of streams.
``compound_file`` writes one from a mapping of stream paths to bytes, as Office lays them out
(version 3, 512-byte sectors, streams under 4 KiB in the mini stream), so that file(1), 7-Zip,
olefile and ClamAV read it as they read Office's own. ``packager_stream`` is what Windows' Packager
stores for a file embedded in a document.
"""

from __future__ import annotations

import math
import struct

SECTOR = 512
MINI = 64
CUTOFF = 4096
ENTRY = 128
FREE, END, FAT_SECTOR, NONE = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
STORAGE, STREAM, ROOT = 1, 2, 5


def packager_stream(file_name: str, data: bytes, label: str | None = None) -> bytes:
    """The ``\\x01Ole10Native`` stream of a file embedded with Packager (its path on the sender's disk)."""
    path = f"C:\\Users\\staff\\Desktop\\{file_name}".encode("latin-1") + b"\0"
    native = (
        struct.pack("<H", 2)
        + (label or file_name).encode("latin-1")
        + b"\0"
        + path
        + struct.pack("<HH", 0, 3)
        + struct.pack("<I", len(path))
        + path
        + struct.pack("<I", len(data))
        + data
    )
    return struct.pack("<I", len(native)) + native


def _chain(first: int, count: int) -> list[tuple[int, int]]:
    """(sector, next sector) pairs linking ``count`` consecutive sectors from ``first``."""
    return [(first + i, first + i + 1 if i < count - 1 else END) for i in range(count)]


def _padded(data: bytes, unit: int) -> bytes:
    return data + bytes(-len(data) % unit)


def _entries(streams: dict[str, bytes]) -> list[dict]:
    """Directory entries: the root, then storages and streams, siblings chained in CFB name order."""
    tree: dict = {}
    for path, data in streams.items():
        node = tree
        *storages, name = path.split("/")
        for storage in storages:
            node = node.setdefault(storage, {})
        node[name] = data
    entries: list[dict] = [{"name": "Root Entry", "type": ROOT}]

    def add(children: dict) -> int:
        ids = []
        for name in sorted(children, key=lambda n: (len(n), n.upper())):
            value = children[name]
            kind = STORAGE if isinstance(value, dict) else STREAM
            entries.append({"name": name, "type": kind, "value": value})
            ids.append(len(entries) - 1)
        # A chain of right siblings in name order is a valid (if unbalanced) tree.
        for here, following in zip(ids, [*ids[1:], NONE], strict=True):
            entries[here]["right"] = following
        for entry_id in ids:
            if entries[entry_id]["type"] == STORAGE:
                entries[entry_id]["child"] = add(entries[entry_id]["value"])
        return ids[0] if ids else NONE

    entries[0]["child"] = add(tree)
    return entries


def _entry_bytes(entry: dict) -> bytes:
    name = entry["name"].encode("utf-16-le") + b"\0\0" if entry["name"] else b""
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        name,
        len(name),
        entry["type"],
        1,  # black
        NONE,
        entry.get("right", NONE),
        entry.get("child", NONE),
        bytes(16),
        0,
        0,
        0,
        entry.get("start", END if entry["type"] == STREAM else 0),
        entry.get("size", 0),
    )


def _header(fat_sectors: int, directory_start: int, mini_fat_start: int, mini_fat_sectors: int) -> bytes:
    fields = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        bytes.fromhex("D0CF11E0A1B11AE1"),
        bytes(16),
        0x3E,  # minor version
        3,  # major version: 512-byte sectors
        0xFFFE,  # little-endian
        9,  # sector shift: 512
        6,  # mini sector shift: 64
        bytes(6),
        0,
        fat_sectors,
        directory_start,
        0,
        CUTOFF,
        mini_fat_start if mini_fat_sectors else END,
        mini_fat_sectors,
        END,  # no DIFAT sectors: up to 109 FAT sectors are listed in the header
        0,
    )
    return fields + struct.pack("<109I", *range(fat_sectors), *[FREE] * (109 - fat_sectors))


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A compound file holding ``streams`` ({"VBA/_VBA_PROJECT": b"...", "WordDocument": b"..."})."""
    entries = _entries(streams)
    # Small streams go into the mini stream (64-byte sectors), large ones into 512-byte sectors.
    mini_stream, mini_fat, large = b"", [], []
    for entry in entries:
        data = entry.get("value")
        if not isinstance(data, bytes):
            continue
        entry["size"] = len(data)
        if len(data) >= CUTOFF:
            large.append(entry)
        elif data:
            entry["start"] = len(mini_stream) // MINI
            mini_fat += [nxt for _, nxt in _chain(entry["start"], math.ceil(len(data) / MINI))]
            mini_stream += _padded(data, MINI)
    entries += [{"name": "", "type": 0}] * (-len(entries) % (SECTOR // ENTRY))

    sizes = {
        "directory": len(entries) * ENTRY // SECTOR,
        "mini_fat": math.ceil(len(mini_fat) * 4 / SECTOR),
        "mini_stream": math.ceil(len(mini_stream) / SECTOR),
        "large": sum(math.ceil(len(e["value"]) / SECTOR) for e in large),
    }
    fat_sectors = 1
    while fat_sectors * SECTOR // 4 < fat_sectors + sum(sizes.values()):
        fat_sectors += 1
    assert fat_sectors <= 109, "too large for a compound file without DIFAT sectors"
    fat = [FAT_SECTOR] * fat_sectors + [FREE] * (fat_sectors * SECTOR // 4 - fat_sectors)
    starts, position = {}, fat_sectors
    for part in ("directory", "mini_fat", "mini_stream"):
        starts[part] = position
        position += sizes[part]
    for entry in large:
        entry["start"] = position
        position += math.ceil(len(entry["value"]) / SECTOR)
    chains = [(starts[p], sizes[p]) for p in ("directory", "mini_fat", "mini_stream")]
    chains += [(e["start"], math.ceil(len(e["value"]) / SECTOR)) for e in large]
    for first, count in chains:
        for sector, nxt in _chain(first, count):
            fat[sector] = nxt
    entries[0]["start"] = starts["mini_stream"] if mini_stream else END
    entries[0]["size"] = len(mini_stream)

    return (
        _header(fat_sectors, starts["directory"], starts["mini_fat"], sizes["mini_fat"])
        + struct.pack(f"<{len(fat)}I", *fat)
        + b"".join(_entry_bytes(e) for e in entries)
        + struct.pack(f"<{sizes['mini_fat'] * SECTOR // 4}I", *mini_fat, *[FREE] * (-len(mini_fat) % 128))
        + _padded(mini_stream, SECTOR)
        + b"".join(_padded(e["value"], SECTOR) for e in large)
    )
