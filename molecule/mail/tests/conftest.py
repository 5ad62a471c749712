"""Fixtures of the mail scenario: the gateway, the mailbox host behind it, and a mail client.

The controller plays both the Internet (port 25) and the staff's mail clients (port 587); what
reached whom is read on the mailbox host's Maildirs and in the gateway's log and quarantine.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy

import pytest

from support import molecule, podman_exec

GW = "ereje-mol-mail-gw"
MBOX = "ereje-mol-mail-mbox"
DOMAIN = "ereje.test"
OUTSIDE = "outside.test"
ADMIN = f"postmaster@{DOMAIN}"
QUARANTINE = "/var/lib/amavis/virusmails"
MAILDIRS = "/var/mail/vhosts"


def pexec(name: str, command: str, data: bytes | None = None, check: bool = True) -> bytes:
    """Run a shell command in a container (podman exec), optionally feeding it bytes."""
    result = podman_exec.run(
        name, ["sh", "-c", command], input=data if data is not None else b"", timeout=300
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{name}: {command!r} failed: {result.stderr.decode(errors='replace')[-2000:]}")
    return result.stdout


def queue_empty(name: str) -> bool:
    """Postfix's queue on ``name`` holds nothing. A postqueue that fails (showq busy under a burst)
    proves nothing, so it counts as not empty rather than as empty."""
    result = podman_exec.run(name, ["postqueue", "-j"], timeout=120)
    return result.returncode == 0 and result.stdout.strip() == b""


def wait_queues_empty(timeout: float = 300) -> None:
    """Every message has left the gateway (filtered, delivered or quarantined) and the mailbox host."""

    # Two empty looks in a row: a message between Amavis and the re-injection port is briefly
    # in neither queue.
    def settled() -> bool:
        if not (queue_empty(GW) and queue_empty(MBOX)):
            return False
        time.sleep(2)
        return queue_empty(GW) and queue_empty(MBOX)

    assert molecule.wait_for(settled, timeout=timeout, interval=2), pexec(
        GW, "postqueue -p | tail -20"
    ).decode()


def mailbox(address: str) -> list[EmailMessage]:
    """The messages delivered to ``address`` on the mailbox host (Delivered-To: in its domain's Maildir)."""
    domain = address.split("@")[1]
    directory = f"{MAILDIRS}/{domain}/new"
    script = (
        f"cd {shlex.quote(directory)} 2>/dev/null || exit 0; "
        f"grep -l -i -x -F {shlex.quote('Delivered-To: ' + address)} * 2>/dev/null "
        '| while read -r f; do printf \'%s\\0\' "$(base64 -w0 < "$f")"; done'
    )
    out = pexec(MBOX, script)
    return [
        BytesParser(policy=default_policy).parsebytes(base64.b64decode(chunk))
        for chunk in out.split(b"\0")
        if chunk.strip()
    ]


# "Blocked BANNED (.dat,xl/vbaProject.bin) {...}": the verdict and, in brackets, the part it is about.
BLOCKED = re.compile(
    r"Blocked (?P<verdict>[A-Z0-9-]+)(?: \((?P<what>[^)]*)\))? .*?quarantine: (?P<quarantine>\S+?),"
    r".*?Message-ID: <(?P<mid>[^>]+)>"
)


# The journal's mail facility on the gateway: every Postfix and Amavis line lands here first.
MAIL_JOURNAL = "journalctl -q --no-pager -o short SYSLOG_FACILITY=2"


def gateway_log() -> str:
    """The gateway's mail log: what rsyslog wrote to /var/log/mail.log, then the journal's mail
    facility, where every line lands first (journald's forwarding to rsyslog drops lines when
    rsyslog falls behind a burst, and says so in its own log: see journald_missed)."""
    return pexec(GW, f"cat /var/log/mail.log 2>/dev/null; {MAIL_JOURNAL}").decode(errors="replace")


def journald_missed() -> str:
    """journald's own reports of lines it could not forward to rsyslog (empty when none)."""
    return pexec(
        GW, "journalctl -q --no-pager -o short -u systemd-journald | grep -i 'missed' || true"
    ).decode(errors="replace")


def send(smtp: smtplib.SMTP, message: EmailMessage | bytes, sender: str, recipients: list[str]) -> dict:
    """Send a message object, or bytes exactly as given (headers a forger writes by hand)."""
    if isinstance(message, bytes):
        return smtp.sendmail(sender, recipients, message)
    return smtp.send_message(message, from_addr=sender, to_addrs=recipients)


class Client:
    """SMTP to the gateway the way the Internet (25) or a staff member (587) would."""

    def __init__(self, ip: str, passwords: dict[str, str]):
        self.ip = ip
        self.passwords = passwords

    def inbound(self, message: EmailMessage | bytes, sender: str, recipients: list[str]) -> dict:
        with smtplib.SMTP(self.ip, 25, timeout=60) as smtp:
            smtp.ehlo("mx.outside.test")
            return send(smtp, message, sender, recipients)

    def submit(
        self, login: str | None, message: EmailMessage | bytes, sender: str, recipients: list[str]
    ) -> dict:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the lab's self-signed certificate
        with smtplib.SMTP(self.ip, 587, timeout=60) as smtp:
            smtp.ehlo("ws1.ereje.test")
            smtp.starttls(context=context)
            smtp.ehlo("ws1.ereje.test")
            if login:
                self.login(smtp, login)
            return send(smtp, message, sender, recipients)

    def login(self, smtp: smtplib.SMTP, login: str) -> None:
        """AUTH, as a mail client does it: a temporary refusal (4xx) is tried again later.

        Postfix lets one client send mail_gateway_auth_rate_limit AUTH commands a minute (anvil);
        the scenario's tests, one after another from the same address, can send more than that
        within a minute on a fast machine (450 4.7.1 too many AUTH commands).
        """
        for attempt in range(3):
            try:
                smtp.login(login, self.passwords[login])
                return
            except smtplib.SMTPAuthenticationError as refused:
                if refused.smtp_code != 450 or attempt == 2:
                    raise
                time.sleep(61)


def letter(author: str, subject: str, body: str = "Hello from another university.") -> bytes:
    """A plain message to aigerim as a server on the Internet would carry it (Message-ID from the subject)."""
    return (
        f"From: {author}\r\nTo: aigerim@{DOMAIN}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@senders.test>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
    ).encode()


def send_from_outside(gw_ip: str, envelope_from: str, raw: bytes) -> tuple[int, str]:
    """Send to aigerim as a server on the Internet (port 25); the refusal's code and text, or (250, '')."""
    with smtplib.SMTP(gw_ip, 25, timeout=120) as smtp:
        smtp.ehlo("mx.senders.test")
        try:
            smtp.sendmail(envelope_from, [f"aigerim@{DOMAIN}"], raw)
        except smtplib.SMTPRecipientsRefused as refused:
            code, text = refused.recipients[f"aigerim@{DOMAIN}"]
            return code, text.decode()
        except smtplib.SMTPDataError as refused:
            return refused.smtp_code, refused.smtp_error.decode()
    return 250, ""


def delivered_to_aigerim(subject: str) -> list[EmailMessage]:
    return [m for m in mailbox(f"aigerim@{DOMAIN}") if m["Subject"] == subject]


@pytest.fixture(scope="session")
def gw():
    return molecule.host(GW)


@pytest.fixture(scope="session")
def gw_ip():
    return molecule.address(GW)


@pytest.fixture(scope="session")
def passwords():
    return json.loads((molecule.ephemeral_dir() / "mail_passwords.json").read_text())


@pytest.fixture(scope="session")
def client(gw_ip, passwords):
    return Client(gw_ip, passwords)
