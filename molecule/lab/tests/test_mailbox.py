"""The mail store as the domain's users use it: their mail read over IMAP with the domain password,
an out-of-office reply set over ManageSieve, only real mailboxes taking mail, and spam in Junk.

Every mail client here runs on the workstation (ws1), finds the mailbox host by name in the
domain's DNS and verifies its certificate against the project's CA, as a mail client on a domain
computer. Servers on the Internet are played by the controller, on the gateway's port 25.
"""

from __future__ import annotations

import json
import re
import shlex
import smtplib
import uuid
from email.utils import formatdate

import pytest

from conftest import (
    DOMAIN,
    container,
    delivered,
    lab_host,
    on_workstation,
    secret,
    stored_mentioning,
    submit_from_workstation,
)
from support import molecule
from support.spam import GTUBE

RUN = uuid.uuid4().hex[:8]
MAILBOX = f"mailbox.{DOMAIN}"
AIGERIM = f"aigerim@{DOMAIN}"
CA = "/etc/ereje/tls/ca.crt"  # the project's CA certificate, on every host (baseline)

# IMAP over TLS (993) with the certificate checked; prints what the server let the user see.
IMAP = r"""
import imaplib, json, os, ssl
ctx = ssl.create_default_context(cafile=os.environ["CA"])
out = {}
try:
    with imaplib.IMAP4_SSL(os.environ["HOST"], 993, ssl_context=ctx, timeout=60) as imap:
        imap.login(os.environ["LOGIN"], os.environ["PASSWORD"])
        out["login"] = "ok"
        out["folders"] = [line.decode() for line in imap.list()[1]]
        imap.select(os.environ.get("FOLDER") or "INBOX", readonly=True)
        out["subjects"] = []
        if os.environ.get("MSGID"):
            ids = imap.search(None, "HEADER", "Message-ID", os.environ["MSGID"])[1][0].split()
            for i in ids:
                header = imap.fetch(i, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1]
                out["subjects"].append(header.decode().strip())
        out["quota"] = [str(part) for part in imap.getquotaroot("INBOX")[1]]
except imaplib.IMAP4.error as error:
    out["login"] = "refused: %s" % error
print(json.dumps(out))
"""

# ManageSieve (RFC 5804) as a mail client speaks it: STARTTLS, then AUTHENTICATE PLAIN, then
# PUTSCRIPT and SETACTIVE. Prints each step's answer.
MANAGESIEVE = r"""
import base64, json, os, socket, ssl

def answer(stream):
    lines = []
    while True:
        line = stream.readline().decode()
        if not line:
            raise SystemExit("connection closed after %r" % lines)
        lines.append(line.rstrip("\r\n"))
        if lines[-1].split(" ", 1)[0] in ("OK", "NO", "BYE"):
            return lines

def plain(login, password):
    token = base64.b64encode(("\0%s\0%s" % (login, password)).encode()).decode()
    return ('AUTHENTICATE "PLAIN" "%s"\r\n' % token).encode()

out = {}
# In clear, no password is taken (a wrong one is offered: the refusal must be for the clear text).
# Its own connection: Dovecot takes no further AUTHENTICATE on a connection that had this refusal.
with socket.create_connection((os.environ["HOST"], 4190), timeout=60) as raw:
    stream = raw.makefile("rb")
    out["greeting"] = answer(stream)
    raw.sendall(plain(os.environ["LOGIN"], "not-the-password"))
    out["clear"] = answer(stream)[-1]
raw = socket.create_connection((os.environ["HOST"], 4190), timeout=60)
stream = raw.makefile("rb")
answer(stream)
raw.sendall(b"STARTTLS\r\n")
out["starttls"] = answer(stream)[-1]
ctx = ssl.create_default_context(cafile=os.environ["CA"])
tls = ctx.wrap_socket(raw, server_hostname=os.environ["HOST"])
stream = tls.makefile("rb")
out["capabilities"] = answer(stream)
tls.sendall(plain(os.environ["LOGIN"], os.environ["PASSWORD"]))
out["auth"] = answer(stream)[-1]
script = os.environ["SCRIPT"].encode()
tls.sendall(b'PUTSCRIPT "out-of-office" {%d+}\r\n' % len(script) + script + b"\r\n")
out["put"] = answer(stream)[-1]
tls.sendall(b'SETACTIVE "out-of-office"\r\n')
out["active"] = answer(stream)[-1]
tls.sendall(b"LISTSCRIPTS\r\n")
out["scripts"] = answer(stream)
tls.sendall(b"LOGOUT\r\n")
print(json.dumps(out))
"""


def arrives(address: str, subject: str) -> bool:
    """The message <subject@ws1...> is stored for ``address`` within five minutes."""
    return molecule.wait_for(lambda: delivered(address, subject, itself=True), timeout=300, interval=3)


def yerlan_writes_to_aigerim(subject: str, **headers: str) -> None:
    refused = submit_from_workstation(subject, login="yerlan", to=AIGERIM, headers=headers)
    assert refused == {}, refused


def sent_from_outside(subject: str, body: str, sender: str = "offers@shop.example") -> None:
    """Deliver to aigerim on the gateway's port 25 as a server on the Internet (the controller is
    none of the university's relays), as the postmaster test does."""
    message = (
        f"From: {sender}\r\nTo: {AIGERIM}\r\nSubject: {subject}\r\nDate: {formatdate()}\r\n"
        f"Message-ID: <{subject}@ws1.{DOMAIN}>\r\n\r\n{body}\r\n"
    )
    with smtplib.SMTP(molecule.address(container("mail")), 25, timeout=120) as smtp:
        smtp.ehlo("mx.shop.example")
        smtp.sendmail(sender, [AIGERIM], message.encode())


def domain_password(login: str) -> str:
    return secret(f"samba/{login}.pw") + "-Aa1"


def imap(login: str, password: str, message_id: str = "", folder: str = "INBOX") -> dict:
    env = {"HOST": MAILBOX, "CA": CA, "LOGIN": login, "PASSWORD": password}
    result = on_workstation(IMAP, {**env, "MSGID": message_id, "FOLDER": folder})
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def mail_log(text: str) -> str:
    """Lines of the mailbox host's mail log (journal, mail facility) that mention ``text``."""
    return (
        lab_host("mailbox")
        .run(f"journalctl -q --no-pager -o cat SYSLOG_FACILITY=2 | grep -F {shlex.quote(text)}")
        .stdout
    )


def count_stored(address: str, text: str) -> int:
    """How many messages stored for ``address`` mention ``text``."""
    return len(stored_mentioning(address, text))


def test_a_domain_user_reads_her_mail_over_imap_with_her_domain_password():
    """ATU-2.2.1-b, ATU-2.2.1-a: mail for a domain user reaches her own mailbox, and she reads it
    over IMAP (TLS, certificate checked) with her domain password; a wrong password is refused.
    Her mailbox has its folders and its quota."""
    subject = f"lab-imap-{RUN}"
    yerlan_writes_to_aigerim(subject)
    assert arrives(AIGERIM, subject)

    seen = imap("aigerim", domain_password("aigerim"), f"<{subject}@ws1.{DOMAIN}>")
    assert seen["login"] == "ok", seen
    assert seen["subjects"] == [f"Subject: {subject}"], seen
    assert any("\\Sent)" in folder for folder in seen["folders"]), seen["folders"]
    # 1G (the lab's mailbox_quota) in KiB, as IMAP reports it.
    assert any(re.search(r"STORAGE [0-9]+ 1048576\)", part) for part in seen["quota"]), seen["quota"]
    # Stored in her own Maildir, owned by the mail store, not in a shared one.
    owner = lab_host("mailbox").run(f"stat -c %U /var/mail/vhosts/{DOMAIN}/aigerim/Maildir")
    assert owner.stdout.strip() == "vmail", owner.stdout + owner.stderr

    wrong = imap("aigerim", "Not-Her-Password-1")
    assert wrong["login"].startswith("refused"), wrong
    # The failure is a security event in the host's log (which the collector receives).
    assert "aigerim" in mail_log("auth failed") or "aigerim" in mail_log("Authentication failure")


def test_local_accounts_of_the_mail_store_cannot_sign_in():
    """ATU-2.2.1-b: only the domain's accounts sign in: root of the mailbox host, with a password
    that works for it locally, is refused by IMAP (no pam_unix in the mailbox's sign-in)."""
    host = lab_host("mailbox")
    password = f"Local-Root-{RUN}"
    host.run_test(f"echo root:{shlex.quote(password)} | chpasswd")
    try:
        assert host.run(f"printf '%s\\n' {shlex.quote(password)} | pamtester login root authenticate").rc == 0
        seen = imap("root", password)
        assert seen["login"].startswith("refused"), seen
    finally:
        host.run_test("passwd -l root >/dev/null")


@pytest.fixture
def aigerim_disabled():
    """aigerim's account disabled on dc1, and dc2 pulling the change at once (as an administrator
    dismissing her would, then replication); enabled again afterwards."""
    pull = "samba-tool drs replicate DC2 DC1 DC=ereje,DC=test --local-online"
    lab_host("dc1").run_test("samba-tool user disable aigerim")
    lab_host("dc2").run_test(pull)
    yield
    lab_host("dc1").run_test("samba-tool user enable aigerim")
    lab_host("dc2").run_test(pull)


def test_a_dismissed_user_can_no_longer_sign_in(aigerim_disabled):
    """ATU-2.2.1-b, ATU-5.13-b: the moment her domain account is disabled, aigerim's right password
    no longer opens her mailbox (no cached sign-in on the mail store)."""
    seen = imap("aigerim", domain_password("aigerim"))
    assert seen["login"].startswith("refused"), seen


def test_only_real_mailboxes_take_mail_and_aliases_reach_their_users():
    """ATU-2.2.1-b: the gateway refuses an address that is no domain user while the sender is
    still connected (it asks the mail store, which asks the domain), and the mail store's own
    local accounts are no mailboxes; postmaster, an alias, reaches its domain user."""
    gateway = molecule.address(container("mail"))
    with smtplib.SMTP(gateway, 25, timeout=120) as smtp:
        smtp.ehlo("mx.outside.test")
        smtp.mail("someone@outside.test")
        for unknown in (f"nobody-{RUN}@{DOMAIN}", f"www-data@{DOMAIN}"):
            code, said = smtp.rcpt(unknown)
            assert code == 550, f"{unknown}: {code} {said!r}"
        code, said = smtp.rcpt(f"postmaster@{DOMAIN}")
        assert code == 250, said
        subject = f"lab-postmaster-{RUN}"
        smtp.data(
            f"From: someone@outside.test\r\nTo: postmaster@{DOMAIN}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject}@ws1.{DOMAIN}>\r\n\r\nFor the postmaster.\r\n".encode()
        )
    assert arrives(AIGERIM, subject)
    assert imap("aigerim", domain_password("aigerim"), f"<{subject}@ws1.{DOMAIN}>")["subjects"] == [
        f"Subject: {subject}"
    ]


@pytest.fixture
def out_of_office():
    """aigerim's out-of-office reply, set by herself over ManageSieve; removed afterwards."""
    away = f"Away {RUN}"
    script = (
        'require ["vacation"];\r\n'
        f'vacation :days 1 :subject "{away}" "I am away until 15 December. '
        f'My substitute is Yerlan Sadykov, yerlan@{DOMAIN}.";\r\n'
    )
    login = {"LOGIN": "aigerim", "PASSWORD": domain_password("aigerim")}
    result = on_workstation(MANAGESIEVE, {"HOST": MAILBOX, "CA": CA, **login, "SCRIPT": script})
    assert result.returncode == 0, result.stderr[-2000:]
    yield away, json.loads(result.stdout)
    lab_host("mailbox").run_test(f"rm -f /var/mail/vhosts/{DOMAIN}/aigerim/.dovecot.sieve")


def test_a_user_sets_her_out_of_office_reply_and_it_answers_each_sender_once(out_of_office):
    """YU-1.3.3-a: aigerim sets her own out-of-office reply (ManageSieve, only after STARTTLS);
    a colleague who writes to her gets it once, not again for a second message the same day,
    and mail from a list is never answered."""
    away, session = out_of_office
    # Before STARTTLS no password is taken; after it, hers is, and the script is active.
    assert '"SASL" ""' in session["greeting"], session["greeting"]
    assert session["clear"].startswith("NO (ENCRYPT-NEEDED)"), session
    assert session["auth"].startswith("OK") and session["put"].startswith("OK"), session
    assert session["active"].startswith("OK"), session
    assert any('"out-of-office" ACTIVE' in line for line in session["scripts"]), session

    sender = f"yerlan@{DOMAIN}"
    listed, first, second = (f"lab-ooo-{kind}-{RUN}" for kind in ("list", "first", "second"))
    yerlan_writes_to_aigerim(listed, **{"List-Id": "<staff.ereje.test>"})
    assert arrives(AIGERIM, listed)
    assert molecule.wait_for(lambda: listed in mail_log("mailinglist"), timeout=60), mail_log(listed)

    yerlan_writes_to_aigerim(first)
    replied = molecule.wait_for(lambda: count_stored(sender, away) == 1, timeout=300, interval=3)
    assert replied, mail_log(first)
    [reply_file] = stored_mentioning(sender, away)
    reply = lab_host("mailbox").file(reply_file).content_string
    assert "Auto-Submitted: auto-replied" in reply and "My substitute is Yerlan Sadykov" in reply, reply

    yerlan_writes_to_aigerim(second)
    assert arrives(AIGERIM, second)
    # Pigeonhole says why it did not answer the second message; still one reply.
    not_again = molecule.wait_for(lambda: second in mail_log("duplicate vacation response"), timeout=60)
    assert not_again, mail_log(second)
    assert count_stored(sender, away) == 1


def test_spam_from_outside_lands_in_junk_and_a_letter_in_the_inbox():
    """YU-1.3.2-g: mail from outside that the gateway marked as spam is in aigerim's Junk folder, not
    her inbox, as her mail client shows them; a colleague's letter from outside is in her inbox."""
    spam, letter = f"lab-spam-{RUN}", f"lab-letter-{RUN}"
    sent_from_outside(spam, f"Cheap offers!\r\n{GTUBE}")
    sent_from_outside(letter, "Dear colleague, our programme is online. Regards, Dana", "dana@uni.example")
    assert arrives(AIGERIM, spam) and arrives(AIGERIM, letter)
    password = domain_password("aigerim")
    for subject, folder, other in ((spam, "Junk", "INBOX"), (letter, "INBOX", "Junk")):
        message_id = f"<{subject}@ws1.{DOMAIN}>"
        assert imap("aigerim", password, message_id, folder)["subjects"] == [f"Subject: {subject}"], folder
        assert imap("aigerim", password, message_id, other)["subjects"] == [], other


def test_spam_gets_no_out_of_office_reply(out_of_office):
    """YU-1.3.2-g, YU-1.3.3-a: spam goes into Junk before aigerim's own script runs, so her
    out-of-office reply never answers it (an answer would confirm her address to the spammer)."""
    subject = f"lab-spam-ooo-{RUN}"
    # A sender of its own: Pigeonhole answers each sender once a day, whatever an earlier run did.
    sent_from_outside(subject, f"You won!\r\n{GTUBE}", f"prize-{RUN}@shop.example")
    assert arrives(AIGERIM, subject)
    filed = molecule.wait_for(lambda: "stored mail into mailbox 'Junk'" in mail_log(subject), timeout=60)
    assert filed, mail_log(subject)
    assert "vacation" not in mail_log(subject), mail_log(subject)
