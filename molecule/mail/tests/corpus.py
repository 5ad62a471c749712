"""The test corpus: forbidden and legitimate attachments, built the way real mail carries them.

zip, tar (gz, bz2, xz) and MIME are made here with Python's standard library; 7z, cab and ISO
with Debian's own tools (7z, gcab, genisoimage) on the scenario's mailbox host. Nothing here
is malware: "executables" are a minimal PE header, the controller's /bin/true, and text files
with forbidden names; the antivirus case is a marker string that the scenario's own ClamAV
signature (ereje-mail-test.ndb) matches.
"""

from __future__ import annotations

import binascii
import io
import shlex
import struct
import tarfile
import uuid
import zipfile
import zlib
from base64 import b64encode
from dataclasses import dataclass, field
from email.message import EmailMessage

from conftest import MBOX, pexec
from support.ole import compound_file, packager_stream

SIGNATURE = b"EREJE-MAIL-TEST-SIGNATURE-5c1d9a"
TEXT = b"echo harmless test content of the Ereje corpus\r\n"


def pe_stub() -> bytes:
    """A minimal PE32 header: file(1) calls it an MS Windows executable."""
    mz = bytearray(0x80)
    mz[0:2] = b"MZ"
    struct.pack_into("<I", mz, 0x3C, 0x80)
    coff = b"PE\0\0" + struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 0xE0, 0x0102)
    optional = bytearray(0xE0)
    struct.pack_into("<H", optional, 0, 0x10B)
    struct.pack_into("<H", optional, 68, 2)  # subsystem: Windows GUI
    return bytes(mz) + coff + bytes(optional) + bytes(512)


def elf_binary() -> bytes:
    with open("/bin/true", "rb") as handle:
        return handle.read()


def pdf(title: str = "report") -> bytes:
    body = f"BT /F1 12 Tf 72 720 Td ({title}) Tj ET".encode()
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R>>endobj\n"
        + f"4 0 obj<</Length {len(body)}>>stream\n".encode()
        + body
        + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + bytes([x * 8 % 256, 64, 128]) * 16 for x in range(16))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def jpeg() -> bytes:
    return (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + b"\xff\xdb\x00\x43\x00"
        + bytes(range(64))
        + b"\xff\xd9"
    )


def ole2() -> bytes:
    """The header of a Composite Document File (legacy .doc)."""
    header = bytearray(512)
    header[0:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HH", header, 0x18, 0x3E, 3)
    struct.pack_into("<H", header, 0x1C, 0xFFFE)
    return bytes(header) + bytes(1024)


def office(kind: str, extra: dict[str, bytes] | None = None) -> bytes:
    """A small Office Open XML file (docx or xlsx), as Office writes it: a zip of XML parts
    (and ``extra`` parts, such as the binary ones Office adds)."""
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"/>',
        "_rels/.rels": '<?xml version="1.0"?><Relationships/>',
        "docProps/app.xml": "<Properties><Application>Microsoft Excel</Application></Properties>",
        "docProps/core.xml": "<cp:coreProperties/>",
    }
    if kind == "xlsx":
        parts |= {
            "xl/workbook.xml": "<workbook><sheets><sheet name='Бюджет' sheetId='1'/></sheets></workbook>",
            "xl/worksheets/sheet1.xml": (
                "<worksheet><sheetData><row r='1'><c r='A1'><v>2026</v></c></row></sheetData></worksheet>"
            ),
            "xl/styles.xml": "<styleSheet/>",
            "xl/theme/theme1.xml": "<a:theme/>",
            "xl/sharedStrings.xml": "<sst><si><t>Қаржы</t></si></sst>",
        }
    else:
        parts |= {
            "word/document.xml": "<w:document><w:body><w:p><w:r><w:t>Хат</w:t></w:r></w:p>"
            "</w:body></w:document>"
        }
    return zip_of(parts | (extra or {}))


def printer_settings() -> bytes:
    """xl/printerSettings/printerSettings1.bin: the DEVMODE Excel saves with almost every workbook."""
    devmode = bytearray(220)
    devmode[0:44] = "Microsoft Print to PDF".encode("utf-16-le")
    struct.pack_into("<HHHHI", devmode, 64, 0x0401, 0, 220, 0, 0x0001FF1F)
    return bytes(devmode) + b"PRIV" + bytes(1000)


def embedded_object(file_name: str, data: bytes) -> bytes:
    """word/embeddings/oleObject1.bin: a file embedded in a document with Windows' Packager."""
    return compound_file(
        {
            "\x01Ole10Native": packager_stream(file_name, data),
            "\x01CompObj": b"\x01\x00\xfe\xff\x03\x0a\x00\x00" + b"\xff" * 4 + b"Package\x00",
            "\x03ObjInfo": b"\x00\x00\x03\x00\x0d\x00",
        }
    )


def word_embedding(file_name: str, data: bytes) -> bytes:
    """A .docx carrying a file embedded as an object (Insert > Object > Create from file)."""
    return office("docx", {"word/embeddings/oleObject1.bin": embedded_object(file_name, data)})


def vba_project() -> bytes:
    """xl/vbaProject.bin: the macro project of an .xlsm (an AutoOpen that does nothing)."""
    module = b'Attribute VB_Name = "Module1"\r\nSub Auto_Open()\r\nEnd Sub\r\n'
    return compound_file(
        {
            "VBA/_VBA_PROJECT": b"\xcc\x61\xff\xff\x00\x00\x00",
            "VBA/dir": b"\x01" + bytes(64),
            "VBA/Module1": module,
            "PROJECT": b'ID="{00000000-0000-0000-0000-000000000000}"\r\nModule=Module1\r\n',
            "PROJECTwm": b"Module1\x00" + "Module1".encode("utf-16-le") + b"\x00\x00\x00\x00",
        }
    )


def zip_of(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_of(files: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def with_tool(files: dict[str, bytes], command: str) -> bytes:
    """Build an archive on the mailbox host: files go to in/, ``command`` runs there and writes ../out."""
    work = f"/tmp/corpus-{uuid.uuid4().hex}"
    for name, data in files.items():
        path = shlex.quote(f"{work}/in/{name}")
        pexec(MBOX, f'mkdir -p "$(dirname {path})" && cat > {path}', data)
    try:
        return pexec(MBOX, f"cd {work}/in && ( {command} ) >/dev/null && cat {work}/out")
    finally:
        pexec(MBOX, f"rm -rf {work}", check=False)


def seven_zip(files: dict[str, bytes], options: str = "") -> bytes:
    return with_tool(files, f"7z a -bd -y -t7z {options} ../out.7z . && mv ../out.7z ../out")


def encrypted_zip(files: dict[str, bytes]) -> bytes:
    return with_tool(files, "7z a -bd -y -tzip -pEreje-Secret-1 ../out.zip . && mv ../out.zip ../out")


def cab(files: dict[str, bytes]) -> bytes:
    return with_tool(files, "gcab -c ../out *")


def iso(files: dict[str, bytes]) -> bytes:
    return with_tool(files, "genisoimage -quiet -J -R -o ../out .")


@dataclass
class Attachment:
    name: str
    data: bytes
    mime: str = "application/octet-stream"
    # "rfc2231" (Python's default for non-ASCII names) or "encoded-word" (=?UTF-8?B?...?=).
    name_encoding: str = "rfc2231"


@dataclass
class Case:
    id: str
    attachments: list[Attachment] = field(default_factory=list)
    # Verdicts Amavis may log for a forbidden case (Blocked BANNED / INFECTED / UNCHECKED).
    verdicts: tuple[str, ...] = ("BANNED",)
    attached_message: EmailMessage | None = None
    # Text the gateway's log must give as the reason (the part's name or type, the signature): a
    # message blocked for another part would hide that the forbidden one passes. Every case with one
    # verdict names it; "" (any reason) only where the verdict itself may differ (encrypted, limits).
    blocked_for: str = ""
    # Text after the greeting in the body itself (a uuencoded file, as old mail programs send one).
    body: str = ""


def uuencoded(name: str, data: bytes) -> str:
    """``data`` as uuencode writes it into a mail body: no MIME part, only "begin 644 NAME" ... "end"."""
    lines = [binascii.b2a_uu(data[i : i + 45]).decode() for i in range(0, len(data), 45)]
    return f"begin 644 {name}\n" + "".join(lines) + "`\nend\n"


def build(case: Case, run: str, sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = f"Ereje corpus {case.id} — тест"
    message["Message-ID"] = f"<{case.id}.{run}@corpus.ereje.test>"
    message["X-Ereje-Case"] = f"{case.id} {run}"
    message.set_content(f"Case {case.id} of run {run}.\nСәлеметсіз бе! Хат қосымшамен.\n{case.body}")
    for attachment in case.attachments:
        maintype, subtype = attachment.mime.split("/")
        message.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.name)
        if attachment.name_encoding == "encoded-word":
            part = message.get_payload()[-1]
            word = "=?UTF-8?B?" + b64encode(attachment.name.encode()).decode() + "?="
            del part["Content-Disposition"]
            part["Content-Disposition"] = f'attachment; filename="{word}"'
            part.set_param("name", word, header="Content-Type")
    if case.attached_message is not None:
        message.add_attachment(case.attached_message)
    return message


def inner_message(attachment: Attachment) -> EmailMessage:
    inner = EmailMessage()
    inner["From"] = "colleague@outside.test"
    inner["To"] = "someone@outside.test"
    inner["Subject"] = "forwarded"
    inner.set_content("See the attachment.\n")
    maintype, subtype = attachment.mime.split("/")
    inner.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.name)
    return inner


def nested_zips(depth: int, leaf: dict[str, bytes]) -> bytes:
    data = zip_of(leaf)
    for level in range(depth - 1):
        data = zip_of({f"level{level}.zip": data})
    return data


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSM = "application/vnd.ms-excel.sheet.macroEnabled.12"


def forbidden_cases() -> list[Case]:
    """Inbound mail that must never reach the recipient (YU 1.3.2)."""
    return [
        Case("plain-exe", [Attachment("setup.exe", TEXT)], blocked_for="setup.exe"),
        Case("uppercase", [Attachment("SETUP.EXE", TEXT)], blocked_for="SETUP.EXE"),
        Case("list-case-vbs", [Attachment("macro.VbS", TEXT, "text/plain")], blocked_for="macro.VbS"),
        Case(
            "double-extension",
            [Attachment("invoice.pdf.exe", TEXT, "application/pdf")],
            blocked_for="invoice.pdf.exe",
        ),
        Case("trailing-dot", [Attachment("scan.pdf.scr.", TEXT)], blocked_for="scan.pdf.scr."),
        Case("rfc2231-cyrillic", [Attachment("отчёт.exe", TEXT)], blocked_for="отчёт.exe"),
        Case(
            "encoded-word-kazakh",
            [Attachment("бағдарлама.bat", TEXT, name_encoding="encoded-word")],
            blocked_for="бағдарлама.bat",
        ),
        # No attachment at all: the executable is uuencoded into the body, as old mail programs did.
        Case("uuencoded-exe", body=uuencoded("invoice.exe", pe_stub()), blocked_for="invoice.exe"),
        Case("javascript", [Attachment("order.js", TEXT, "text/plain")], blocked_for="order.js"),
        Case("shortcut", [Attachment("Documents.lnk", TEXT)], blocked_for="Documents.lnk"),
        Case("installer", [Attachment("update.MSI", TEXT)], blocked_for="update.MSI"),
        Case("vbscript-long", [Attachment("run.VBScript", TEXT, "text/plain")], blocked_for="run.VBScript"),
        Case(
            "zip-exe",
            [Attachment("tools.zip", zip_of({"tool.exe": TEXT}), "application/zip")],
            blocked_for="tool.exe",
        ),
        Case(
            "zip-in-zip",
            [
                Attachment(
                    "outer.zip", zip_of({"inner.zip": zip_of({"a/b/run.cmd": TEXT})}), "application/zip"
                )
            ],
            blocked_for="run.cmd",
        ),
        Case(
            "zip-cyrillic-member",
            [Attachment("құжаттар.zip", zip_of({"құжаттар/есеп.bat": TEXT}), "application/zip")],
            blocked_for="есеп.bat",
        ),
        Case(
            "tar-gz",
            [Attachment("release.tar.gz", tar_of({"install.sh": TEXT}, "w:gz"), "application/gzip")],
            blocked_for="install.sh",
        ),
        Case(
            "tar-bz2",
            [Attachment("scripts.tbz2", tar_of({"x/run.ksh": TEXT}, "w:bz2"))],
            blocked_for="x/run.ksh",
        ),
        Case(
            "tar-xz",
            [Attachment("libs.tar.xz", tar_of({"lib/helper.dll": TEXT}, "w:xz"), "application/x-xz")],
            blocked_for="lib/helper.dll",
        ),
        Case(
            "seven-zip",
            [Attachment("app.7z", seven_zip({"app.jar": TEXT}), "application/x-7z-compressed")],
            blocked_for="app.jar",
        ),
        Case(
            "7z-in-tar-in-zip",
            [
                Attachment(
                    "bundle.zip",
                    zip_of({"bundle.tar": tar_of({"inner.7z": seven_zip({"w.wsf": TEXT})})}),
                    "application/zip",
                )
            ],
            blocked_for="w.wsf",
        ),
        Case("cab", [Attachment("driver.cab", cab({"setup.inf": TEXT}))], blocked_for="setup.inf"),
        Case(
            "iso",
            [Attachment("disk.iso", iso({"autorun.bat": TEXT}), "application/x-iso9660-image")],
            blocked_for="autorun.bat",
        ),
        Case(
            "attached-message",
            attached_message=inner_message(Attachment("payload.vbs", TEXT, "text/plain")),
            blocked_for="payload.vbs",
        ),
        Case(
            "zip-in-attached-message",
            attached_message=inner_message(
                Attachment("docs.zip", zip_of({"Setup.Scr": TEXT}), "application/zip")
            ),
            blocked_for="Setup.Scr",
        ),
        Case(
            "docx-hiding-exe",
            [
                Attachment(
                    "letter.docx",
                    zip_of(
                        {
                            "[Content_Types].xml": "<Types/>",
                            "word/document.xml": "<w/>",
                            "word/media/update.exe": TEXT,
                        }
                    ),
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                )
            ],
            blocked_for="word/media/update.exe",
        ),
        Case(
            "docx-embedding-a-script",
            [Attachment("letter.docx", word_embedding("invoice.js", TEXT), DOCX)],
            blocked_for="invoice.js",
        ),
        Case(
            "docx-embedding-a-renamed-exe",
            [Attachment("letter.docx", word_embedding("photo.jpg", pe_stub()), DOCX)],
            blocked_for=".exe-ms",
        ),
        Case(
            "xlsm-with-macros",
            [Attachment("budget.xlsm", office("xlsx", {"xl/vbaProject.bin": vba_project()}), XLSM)],
            blocked_for="_VBA_PROJECT",
        ),
        Case("disguised-pe", [Attachment("report.pdf", pe_stub(), "application/pdf")], blocked_for=".exe-ms"),
        Case(
            "disguised-elf-in-zip",
            [Attachment("photos.zip", zip_of({"photo.jpg": elf_binary()}), "application/zip")],
            blocked_for=".exe-unix",
        ),
        Case(
            "declared-msdownload",
            [Attachment("update.txt", TEXT, "application/x-msdownload")],
            blocked_for="application/x-msdownload",
        ),
        Case("site-extension-hta", [Attachment("offer.hta", TEXT, "text/html")], blocked_for="offer.hta"),
        Case(
            "rar-uninspectable",
            [Attachment("docs.rar", b"Rar!\x1a\x07\x01\x00" + bytes(range(256)) * 4)],
            blocked_for=".rar",
        ),
        Case(
            "clamav-signature",
            [Attachment("notes.txt", SIGNATURE + b"\n", "text/plain")],
            ("INFECTED",),
            blocked_for="Ereje.Test.MailSignature",
        ),
        Case(
            "clamav-signature-in-7z",
            [
                Attachment(
                    "notes.7z", seven_zip({"notes/readme.txt": SIGNATURE}), "application/x-7z-compressed"
                )
            ],
            ("INFECTED",),
            blocked_for="Ereje.Test.MailSignature",
        ),
        Case(
            "encrypted-7z-header",
            [Attachment("secret.7z", seven_zip({"readme.txt": TEXT}, "-pEreje-Secret-1 -mhe=on"))],
            ("INFECTED", "UNCHECKED"),
        ),
        Case(
            "encrypted-zip",
            [Attachment("secret.zip", encrypted_zip({"readme.txt": TEXT}), "application/zip")],
            ("INFECTED", "UNCHECKED"),
        ),
        Case(
            "too-deep",
            [Attachment("deep.zip", nested_zips(14, {"deep.txt": TEXT}), "application/zip")],
            ("UNCHECKED", "INFECTED"),
        ),
        Case(
            "archive-bomb",
            [Attachment("zeros.zip", zip_of({"zeros.txt": bytes(80 * 1024 * 1024)}), "application/zip")],
            ("UNCHECKED", "INFECTED"),
        ),
    ]


def legitimate_cases() -> list[Case]:
    """Inbound mail that must reach the recipient unchanged."""
    return [
        Case("text-only"),
        Case("pdf", [Attachment("report.pdf", pdf(), "application/pdf")]),
        Case("uuencoded-text", body=uuencoded("notes.txt", TEXT * 4)),
        Case("doc", [Attachment("letter.doc", ole2(), "application/msword")]),
        Case(
            "docx",
            [
                Attachment(
                    "letter.docx",
                    office("docx"),
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                )
            ],
        ),
        Case(
            "xlsx",
            [
                Attachment(
                    "budget.xlsx",
                    office("xlsx"),
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                )
            ],
        ),
        Case(
            "xlsx-as-excel-saves-it",
            [
                Attachment(
                    "budget.xlsx",
                    office("xlsx", {"xl/printerSettings/printerSettings1.bin": printer_settings()}),
                    XLSX,
                )
            ],
        ),
        Case(
            "docx-embedding-a-text-file",
            [
                Attachment(
                    "letter.docx",
                    word_embedding("notes.txt", "Кесте, 2026\r\n".encode()),
                    DOCX,
                )
            ],
        ),
        Case(
            "jpg-png",
            [Attachment("photo.jpg", jpeg(), "image/jpeg"), Attachment("chart.png", png(), "image/png")],
        ),
        Case(
            "zip-of-pdfs",
            [
                Attachment(
                    "papers.zip", zip_of({"a.pdf": pdf("a"), "b/Мақала.pdf": pdf("b")}), "application/zip"
                )
            ],
        ),
        Case("cyrillic-pdf", [Attachment("Есеп 2026.pdf", pdf("esep"), "application/pdf")]),
        Case(
            "kazakh-docx-encoded-word",
            [
                Attachment(
                    "Қазақ тілі.docx",
                    office("docx"),
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    name_encoding="encoded-word",
                )
            ],
        ),
        Case("unknown-binary", [Attachment("readings.csv", bytes((i * 7919) % 251 for i in range(4096)))]),
        Case(
            "tar-gz-of-documents",
            [Attachment("docs.tar.gz", tar_of({"a.pdf": pdf(), "notes.txt": b"hello\n"}, "w:gz"))],
        ),
        Case(
            "attached-message-pdf",
            attached_message=inner_message(Attachment("minutes.pdf", pdf("m"), "application/pdf")),
        ),
    ]
