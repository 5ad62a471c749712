"""sec_rules: the collector's alert rules become SEC rules that match the events they are meant
for and nothing else; bad rules are refused with the rule named (ATU-5.18-c)."""

import re
from pathlib import Path

import pytest
import yaml
from alerts import sec_rules
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = yaml.safe_load((ROOT / "roles" / "log_collector" / "defaults" / "main.yml").read_text())


def parsed(text: str) -> list[dict]:
    """SEC's rules as key/value blocks (what SEC reads: key=value lines, blocks apart)."""
    blocks = []
    for block in text.strip().split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#")]
        blocks.append(dict(line.split("=", 1) for line in lines))
    return blocks


def fires(rule: dict, line: str) -> dict | None:
    """The named groups of the SEC pattern on one input line (Python reads these patterns as Perl does)."""
    found = re.search(rule["pattern"], line)
    return found.groupdict() if found else None


# Real events of Debian 12 hosts, as the collector hands them to SEC (sender, tag, message).
EVENTS = {
    "ssh-auth-failures": [
        "ws1 sshd[4411] Invalid user nosuchuser from 127.0.0.1 port 47320",
        "web sshd[912]: Failed password for aigerim from 10.89.0.66 port 40022 ssh2",
        "web sshd[913] User root from 10.89.0.66 not allowed because none of user's groups are listed",
    ],
    "sudo-refused": [
        "ws1 sudo[4398]    tmpx : user NOT in sudoers ; PWD=/ ; USER=root ; COMMAND=/usr/bin/true"
    ],
    "antivirus-detection": [
        "web ereje-antivirus[77] FOUND Eicar-Signature in /srv/www/upload/x.com; quarantined as /var/lib/q/1"
    ],
    "service-failed": ["dc2 systemd[1] ereje-backup.service: Failed with result 'exit-code'."],
    "file-integrity": [
        "ws1 ereje-integrity[3120] CHANGED 2 entries since the accepted database made 2026-12-07 19:45:55: "
        "added /usr/local/bin/helper, changed /usr/local/bin"
    ],
    "kerberos-auth-failures": [
        "dc1 samba[142]   Auth: [Kerberos KDC,ENC-TS Pre-authentication] user [(null)]\\[mallory@T.TEST] "
        "at [Mon, 07 Dec 2026 23:25:07.732987 UTC] with [aes256-cts-hmac-sha1-96] status "
        "[NT_STATUS_WRONG_PASSWORD] workstation [(null)] remote host [ipv4:10.89.0.7:53695] mapped to "
        "[T]\\[mallory]. local host [NULL]",
        "dc1 samba[142]   Auth: [Kerberos KDC,AS-REQ] user [(null)]\\[nosuchuser@T.TEST] at [Mon, 07 Dec "
        "2026 23:25:24.885277 UTC] with [(null)] status [NT_STATUS_NO_SUCH_USER] workstation [(null)] "
        "remote host [ipv4:10.89.0.7:47907] mapped to [(null)]\\[(null)]. local host [NULL]",
    ],
    "domain-admin-group-change": [
        "dc1 samba[163]   Group Change [Added] at [Mon, 07 Dec 2026 23:25:08.006443 UTC] status [Success] "
        "Remote host [ipv4:127.0.0.1:46716] SID [S-1-5-21-66245836-2361753951-740945375-500] Group "
        "[CN=Domain Admins,CN=Users,DC=t,DC=test] User [CN=eve,CN=Users,DC=t,DC=test]",
        "dc1 samba[163]   Group Change [Removed] at [Mon, 07 Dec 2026 23:25:09.1 UTC] status [Success] "
        "Remote host [ipv4:10.89.0.7:46716] SID [S-1-5-21-1-2-3-500] Group "
        "[CN=Administrators,CN=Builtin,DC=t,DC=test] User [CN=eve,CN=Users,DC=t,DC=test]",
    ],
    "imap-auth-failures": [
        "mailbox dovecot[255] imap-login: Disconnected: Connection closed (auth failed, 1 attempts in 8 "
        "secs): user=<nosuchuser>, method=PLAIN, rip=10.89.0.7, lip=10.89.0.6, TLS, "
        "session=<GDfKixNivrV/AAAB>"
    ],
    "backup-overdue": [
        "backup ereje-backup-watch[3021] OVERDUE dc2: no backup has arrived for 27.5 h (newest archive "
        "dc2-2026-12-06T03:00:11 arrived 2026-12-06T03:05:00+00:00; RPO 26 h)"
    ],
    "updates-overdue": [
        "web ereje-updates-check[77] FINDING 1 security update(s) pending (tzdata) and unattended-upgrade "
        "last ran 2026-11-30T10:00+00:00, more than 2 day(s) ago"
    ],
    "health-check": [
        "ws1 ereje-health-check[88] FINDING service ereje-health-broken.service has failed "
        "(systemctl status ereje-health-broken.service)"
    ],
    "undeclared-access": [
        "ws1 ereje-access-review[812] FINDING account 'nobody' is in privileged group sudo "
        "but nobody declared it there"
    ],
    "undeclared-port": [
        "backup ereje-exposure-scan[90] FINDING web: 8081/tcp of 10.89.0.4 is open to backup (nmap: "
        "blackice-icecap) but no role declares it: close it, or declare it (a role's firewall_open, "
        "or baseline_firewall_allow)"
    ],
}
# Lines that look close but are not the event (or belong to another rule).
NOT_EVENTS = [
    "ws1 sshd[4411] Connection closed by invalid user nosuchuser 127.0.0.1 port 47320 [preauth]",
    "web sshd[912] Accepted publickey for ereje-admin from 10.89.0.1 port 40022 ssh2",
    "ws1 sudo[12]  aigerim : TTY=pts/0 ; PWD=/home/aigerim ; USER=root ; COMMAND=/usr/bin/id",
    "backup ereje-alert[79] rule=sudo-refused host=ws1 what=x: ws1 sudo[4] tmpx : user NOT in sudoers",
    "web logger[5] sshd[1]: Invalid user forged from 10.0.0.9 port 1",
    "dc2 systemd[1] ssh.service: Failed with result 'exit-code'.",
    "ws1 ereje-integrity[3120] OK 3089 entries match the accepted database made 2026-12-07 19:45:55",
    "ws1 ereje-access-review[812] OK ereje-admins: ereje-admin; privileged groups sudo: no members",
    # A successful Kerberos sign-in; a new user put in its own and the users' group; a login that worked.
    "dc1 samba[115]   Auth: [Kerberos KDC,ENC-TS Pre-authentication] user [(null)]\\[aigerim@T.TEST] at "
    "[Mon, 07 Dec 2026 23:24:52 UTC] with [aes256-cts-hmac-sha1-96] status [NT_STATUS_OK] workstation "
    "[(null)] remote host [ipv4:10.89.0.7:39680] mapped to [T]\\[aigerim]. local host [NULL]",
    "dc1 samba[167]   Group Change [PrimaryGroup] at [Mon, 07 Dec 2026 23:25:07 UTC] status [Success] "
    "Remote host [ipv4:127.0.0.1:46706] SID [S-1-5-21-1-2-3-500] Group [CN=Domain "
    "Users,CN=Users,DC=t,DC=test] User [CN=eve,CN=Users,DC=t,DC=test]",
    "dc1 samba[167]   Group Change [Added] at [Mon, 07 Dec 2026 23:25:07 UTC] status [Success] Remote host "
    "[ipv4:127.0.0.1:46706] SID [S-1-5-21-1-2-3-500] Group [CN=Domain Users,CN=Users,DC=t,DC=test] User "
    "[CN=eve,CN=Users,DC=t,DC=test]",
    "mailbox dovecot[255] imap-login: Login: user=<aigerim>, method=PLAIN, rip=10.89.0.7, lip=10.89.0.6, TLS",
    "backup ereje-exposure-scan[90] OK web: from backup to 10.89.0.4: open 22/tcp (baseline ssh)",
    "backup ereje-backup-watch[3021] OK web: newest archive web-1 arrived 2026-12-07T03:05:00, 2.1 h ago",
    "backup ereje-exposure-scan[90] ERROR web.json: not scanned: nmap failed (rc 1): x",
    "ws1 ereje-health-check[88] OK no failed service; disks used: / 25%; ports served: 22/tcp (baseline ssh)",
    "web ereje-updates-check[77] OK 0 security update(s) pending, 3 other; package lists of 2026-12-07T06:10",
]


def test_the_default_rules_fire_on_their_events_and_on_nothing_else():
    rules = {
        block["desc"].split()[0].removeprefix("rule="): block
        for block in parsed(sec_rules(DEFAULTS["log_collector_alert_rules"]))
    }
    assert set(rules) == set(EVENTS)
    for name, lines in EVENTS.items():
        for line in lines:
            groups = fires(rules[name], line)
            assert groups is not None, (name, line)
            assert groups["host"] == line.split()[0]
        for other, rule in rules.items():
            if other != name:
                assert not any(fires(rule, line) for line in lines), (other, lines)
    for line in NOT_EVENTS:
        assert not [name for name, rule in rules.items() if fires(rule, line)], line
    assert fires(rules["ssh-auth-failures"], EVENTS["ssh-auth-failures"][1])["source"] == "10.89.0.66"
    assert fires(rules["sudo-refused"], EVENTS["sudo-refused"][0])["user"] == "tmpx"
    changed = fires(rules["file-integrity"], EVENTS["file-integrity"][0])["entries"]
    assert changed == "added /usr/local/bin/helper, changed /usr/local/bin"
    kerberos = fires(rules["kerberos-auth-failures"], EVENTS["kerberos-auth-failures"][1])
    assert kerberos["source"] == "10.89.0.7" and kerberos["status"] == "NT_STATUS_NO_SUCH_USER"
    change = fires(rules["domain-admin-group-change"], EVENTS["domain-admin-group-change"][0])
    assert change == {
        "host": "dc1",
        "change": "Added",
        "group": "Domain Admins",
        "member": "CN=eve,CN=Users,DC=t,DC=test",
    }
    assert fires(rules["imap-auth-failures"], EVENTS["imap-auth-failures"][0])["source"] == "10.89.0.7"
    assert fires(rules["backup-overdue"], EVENTS["backup-overdue"][0])["client"] == "dc2"
    port = fires(rules["undeclared-port"], EVENTS["undeclared-port"][0])["finding"]
    assert port.startswith("web: 8081/tcp of 10.89.0.4 is open to backup")


def test_a_scheduled_finding_is_alerted_once_then_quiet_for_its_host_and_finding():
    rules = {b["desc"].split()[0]: b for b in parsed(sec_rules(DEFAULTS["log_collector_alert_rules"]))}
    access = rules["rule=undeclared-access"]
    # SEC suppresses events whose description is the same: the same host and the same finding.
    assert access["type"] == "SingleWithSuppress" and access["window"] == "86400"
    assert access["desc"].startswith("rule=undeclared-access host=$+{host} finding=$+{finding} what=")
    rule = GOOD | {"quiet": 3600}
    assert parsed(sec_rules([rule]))[0]["window"] == "3600"
    with pytest.raises(AnsibleFilterError, match="quiet is for rules of one event"):
        sec_rules([rule | {"threshold": 3}])


def test_a_threshold_rule_counts_per_host_and_named_group_within_its_window():
    ssh = parsed(sec_rules(DEFAULTS["log_collector_alert_rules"]))[0]
    assert ssh["type"] == "SingleWithThreshold" and ssh["thresh"] == "5" and ssh["window"] == "60"
    # SEC counts events whose description is the same: the same host and the same source address.
    assert ssh["desc"].startswith("rule=ssh-auth-failures host=$+{host} source=$+{source} what=")
    assert ssh["action"] == "udgram /dev/log <169>ereje-alert: %s: $0"
    sudo = parsed(sec_rules(DEFAULTS["log_collector_alert_rules"]))[1]
    assert sudo["type"] == "Single" and "thresh" not in sudo


GOOD = {"name": "x-rule", "summary": "something", "program": "sshd", "pattern": "(?P<who>\\S+) did it"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "X Rule"}, "name must be lower-case"),
        ({"summary": ""}, "summary must be one line"),
        ({"summary": "100% sure"}, "summary must be one line"),
        ({"program": "ssh d"}, "program must be the program name"),
        ({"pattern": "(unclosed"}, "pattern is not a regular expression"),
        ({"pattern": "a$b"}, "$ only as its final anchor"),
        ({"pattern": "(?<who>x)"}, "pattern is not a regular expression"),
        ({"pattern": "(?P<host>x)"}, "the group name host is taken"),
        ({"per": ["nobody"]}, "per names groups the pattern does not have: ['nobody']"),
        ({"per": "who"}, "per must be a list"),
        ({"threshold": 0}, "threshold must be a whole number from 1"),
        ({"threshold": True}, "threshold must be a whole number from 1"),
        ({"window": "60"}, "window must be a whole number from 1"),
        ({"quiet": 0}, "quiet must be a whole number from 1 to 604800"),
        ({"colour": "red"}, "unknown keys ['colour']"),
    ],
)
def test_a_bad_rule_is_refused_with_its_name(change, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)) as refused:
        sec_rules([GOOD | change])
    assert "log_collector_alert_rules" in str(refused.value)


def test_rules_must_be_a_list_of_mappings_with_distinct_names():
    with pytest.raises(AnsibleFilterError, match="must be a list"):
        sec_rules({"name": "x"})
    with pytest.raises(AnsibleFilterError, match="rule 1 is not a mapping"):
        sec_rules(["x"])
    with pytest.raises(AnsibleFilterError, match=re.escape("names used twice: ['x-rule']")):
        sec_rules([GOOD, GOOD])
