"""The lab end to end: what each role promises, checked across the hosts that make it true.

Everything here goes through the services as people use them: a member of staff logs in on the
workstation with her domain account and sends mail from it; the web host's backup is on the
backup server and brings the site back after a loss; every host's security events reach the
collector.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import uuid

from conftest import (
    BACKUP_CLIENTS,
    DOMAIN,
    LAB_HOSTS,
    at_once,
    container,
    delivered,
    group_var,
    lab_host,
    run_lab_playbook,
    secret,
    stored_mentioning,
    submit_from_workstation,
)
from support import molecule
from support.alerts import ALERTS, alerts

RUN = uuid.uuid4().hex[:8]

# ---- Domain (ATU-2.2.1-a, ATU-8.4-b) -------------------------------------------------------


def test_domain_user_logs_in_on_the_workstation():
    """ATU-2.2.1-a, ATU-8.4-b: a user declared on the domain controllers logs in on the member
    workstation (Kerberos through winbind, and PAM as a login would); a wrong password does not."""
    ws1 = lab_host("ws1")
    password = secret("samba/aigerim.pw") + "-Aa1"
    assert ws1.run(f"wbinfo --krb5auth=aigerim%{shlex.quote(password)}").rc == 0
    pam = ws1.run(f"printf '%s\\n' {shlex.quote(password)} | pamtester login aigerim authenticate")
    assert pam.rc == 0, pam.stderr
    wrong = ws1.run("printf '%s\\n' Wrong-Password-1 | pamtester login aigerim authenticate")
    said = wrong.stdout + wrong.stderr
    assert wrong.rc != 0 and "Authentication failure" in said, said
    # Her role's group comes from the directory (access by role, ATU 5.13).
    assert "it-admins" in ws1.check_output("id -Gn aigerim").lower()


def test_workstation_finds_the_servers_by_name_in_the_domain_dns():
    """ATU-2.2.1-a, YU-1.3.2-c: the workstation resolves through the domain controllers, and finds
    there the servers at their own addresses, the domain's MX, and its SPF and DMARC policy."""
    ws1 = lab_host("ws1")
    for name in ("mail", "mailbox", "web", "backup"):
        answer = ws1.run(f"getent ahostsv4 {name}.{DOMAIN}")
        assert answer.rc == 0, f"{name}.{DOMAIN} does not resolve on the workstation"
        assert answer.stdout.split()[0] == molecule.address(container(name)), answer.stdout
    assert ws1.check_output(f"dig +short MX {DOMAIN}").split() == ["10", f"mail.{DOMAIN}."]
    # Its SPF and DMARC, which other domains' gateways check (YU-1.3.2-c).
    assert ws1.check_output(f"dig +short TXT {DOMAIN}").strip() == '"v=spf1 mx -all"'
    assert "p=reject" in ws1.check_output(f"dig +short TXT _dmarc.{DOMAIN}")


# ---- Mail (YU-1.3.2-a) ---------------------------------------------------------------------


def test_workstation_mail_with_forbidden_attachment_is_stopped_at_the_gateway():
    """YU-1.3.2-a, YU-1.3.2-b: mail sent from the workstation with an executable never reaches the
    recipient's mailbox: the gateway quarantines it and the sender is told; the same mail without
    the executable is delivered."""
    clean, forbidden = f"lab-clean-{RUN}", f"lab-exe-{RUN}"
    assert submit_from_workstation(clean) == {}
    assert submit_from_workstation(forbidden, attachment="timetable.exe") == {}

    assert molecule.wait_for(
        lambda: delivered(f"yerlan@{DOMAIN}", clean, itself=True), timeout=300, interval=3
    ), "the clean message from the workstation was not delivered to the mailbox host"
    gateway = lab_host("mail")
    assert molecule.wait_for(
        lambda: (
            forbidden in gateway.run("journalctl -q --no-pager -t amavis | grep -F 'Blocked BANNED'").stdout
        ),
        timeout=300,
    ), "the gateway logged no BANNED decision for the executable"
    # The sender is told why, in her own mailbox.
    assert molecule.wait_for(lambda: delivered(f"aigerim@{DOMAIN}", forbidden), timeout=300, interval=3)
    # The recipient may get a notice that names it; never the message itself.
    assert not delivered(f"yerlan@{DOMAIN}", forbidden, itself=True), "the executable reached the recipient"
    quarantined = gateway.run(f"grep -rlsF {shlex.quote(forbidden)} /var/lib/amavis/virusmails")
    assert quarantined.stdout.strip(), "the blocked message is not in the quarantine"


# ---- Backup (ATU-5.14-a, ATU-5.21-a, KTBU-14-a) -----------------------------------------------


def site_state(web) -> tuple[str, str]:
    """Checksums of the site's files and of every table of its database."""
    files = web.check_output(
        "cd /srv/www && find . -type f -print0 | sort -z | xargs -0 sha256sum; "
        "find . -type l -printf '%p -> %l\\n' | sort"
    )
    tables = web.check_output(
        "mysql -N -e \"SELECT table_name FROM information_schema.tables WHERE table_schema='ereje_site'\""
    ).split()
    assert tables, "the site database has no tables"
    sums = web.check_output("mysql -N ereje_site -e " + shlex.quote("CHECKSUM TABLE " + ", ".join(tables)))
    return files, sums


def test_web_backup_is_on_the_backup_server_and_restores_the_site_after_loss():
    """ATU-5.14-a, KNMU-3-a, ATU-5.21-a, KTBU-14-a: the web host's site and database go to the backup
    server; after both are destroyed the restore playbook brings them back byte for byte, and the
    site answers the workstation and the availability probe again."""
    web, server = lab_host("web"), lab_host("backup")
    before = site_state(web)
    backup = web.run("systemctl start ereje-backup.service")
    assert backup.rc == 0, web.run("journalctl -u ereje-backup.service -n 60 --no-pager").stdout
    archives = server.check_output(
        # The passphrase on a file descriptor, never in a command line (journald records those).
        "BORG_REPO=/srv/borg/repos/web BORG_PASSPHRASE_FD=3 runuser -u borg -- borg list --short "
        "3</etc/ereje-backup/repos.d/web.pass"
    ).split()
    assert archives, "no archive of the web host on the backup server"

    web.run_test("rm -rf /srv/www/ereje && mysql -e 'DROP DATABASE ereje_site'")
    result, _ = run_lab_playbook("backup_restore_host.yml", "-e", "restore_hosts=web")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert site_state(web) == before
    web.run_test("systemctl reload nginx")
    web_ip = molecule.address(container("web"))
    page = lab_host("ws1").run(
        f"curl -sk --max-time 20 --resolve web.{DOMAIN}:443:{web_ip} https://web.{DOMAIN}/kk/"
    )
    assert page.rc == 0 and "<html" in page.stdout.lower(), page.stdout[:500]
    # The availability probe finds the site again (one that ran during the loss recorded it DOWN
    # and left its unit failed, which the health check would rightly report).
    probe = web.run("systemctl start ereje-web-probe.service")
    assert probe.rc == 0, web.run("journalctl -u ereje-web-probe.service -n 10 --no-pager").stdout


def test_restore_drill_of_every_backup_client_passes():
    """ATU-8.4-c: the restore drill of every backup client (latest archive extracted and compared
    with its manifest, dumps loaded, the roles' declared checks run on what came back) passes; on
    the domain controllers the restored directory holds every declared user and group."""
    result, recap = run_lab_playbook("backup_restore_drill.yml")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    for name in sorted(BACKUP_CLIENTS):
        assert recap.get(name, {}).get("failed") == 0, (name, recap.get(name))
        drill = json.loads(lab_host(name).file("/var/lib/ereje-backup/drill.json").content_string)
        assert drill["result"] == "passed", drill
        assert drill["files_checked"] > 0, drill
    for name in ("dc1", "dc2"):
        drill = json.loads(lab_host(name).file("/var/lib/ereje-backup/drill.json").content_string)
        users, groups = (group_var("domain_controllers", f"samba_dc_{kind}") for kind in ("users", "groups"))
        declared = len(users) + len(groups)
        assert f"declared present: {declared} of {declared}" in " ".join(drill["checks"]["samba_dc"]), drill


def newest_archive(host: str) -> tuple[str, list[str]]:
    """The newest archive of ``host`` on the backup server and the paths it holds, read there
    with the passphrase the server keeps for its retention (lab: backup_server_passphrases_on_server)."""
    borg = (
        f"BORG_REPO=/srv/borg/repos/{host} BORG_PASSPHRASE_FD=3 runuser -u borg -- borg list --short "
        f"3</etc/ereje-backup/repos.d/{host}.pass"
    )
    server = lab_host("backup")
    archives = server.check_output(borg).split()
    assert archives, f"no archive of {host} on the backup server"
    listing = server.check_output(borg.replace("--short", f"--short ::{archives[-1]}"))
    return archives[-1], listing.splitlines()


# The breaks of test_every_server_is_backed_up_with_what_its_roles_declare, one host each.


def backup_fails(host, why: str) -> None:
    node = lab_host(host)
    done = node.run("systemctl start ereje-backup.service")
    journal = node.run("journalctl -u ereje-backup.service -n 30 --no-pager").stdout
    assert done.rc != 0 and why in journal, journal[-3000:]


def backup_passes(host) -> None:
    # Put right, the next backup succeeds (and the unit is no longer failed for the health check).
    node = lab_host(host)
    done = node.run("systemctl start ereje-backup.service")
    assert done.rc == 0, node.run("journalctl -u ereje-backup.service -n 30 --no-pager").stdout[-3000:]


def a_declared_command_fails(before: str) -> None:
    # A command a role declared fails: no archive is made, and the journal says whose and why; the
    # failed unit is an alert on the collector (ATU-5.18-c, rule service-failed).
    dc2 = lab_host("dc2")
    earlier = len(alerts(lab_host("backup"), "service-failed", host="dc2"))
    dc2.run_test("chmod 0644 /usr/bin/samba-tool")
    try:
        backup_fails("dc2", "samba_dc's command samba-tool")
    finally:
        dc2.run_test("chmod 0755 /usr/bin/samba-tool")
    assert newest_archive("dc2")[0] == before, "a failed backup makes no archive"
    assert molecule.wait_for(
        lambda: len(alerts(lab_host("backup"), "service-failed", host="dc2")) > earlier, timeout=60
    ), "no service-failed alert for dc2's failed backup"
    backup_passes("dc2")


def a_declared_path_is_gone() -> None:
    # A declared path is gone: the backup stops rather than leave the quarantine out from now on.
    mail = lab_host("mail")
    mail.run_test("mv /var/lib/amavis/virusmails /var/lib/amavis/virusmails.away")
    try:
        backup_fails("mail", "declared paths do not exist: /var/lib/amavis/virusmails")
    finally:
        mail.run_test("mv /var/lib/amavis/virusmails.away /var/lib/amavis/virusmails")
    backup_passes("mail")


def a_declared_account_is_missing() -> None:
    # An account declared but absent from the directory the archive gives back fails the drill.
    dc1 = lab_host("dc1")
    config = "/etc/ereje-backup/client.json"
    dc1.run_test(f"cp -p {config} {config}.saved")
    try:
        # Before every name in the directory check, one that no account of the domain has.
        dc1.run_test(f'sed -i \'s|"{{restored}}",|"{{restored}}", "ghost-of-the-drill",|\' {config}')
        assert "ghost-of-the-drill" in dc1.file(config).content_string
        drill = dc1.run("/usr/local/sbin/ereje-backup drill")
        said = drill.stdout
        assert drill.rc != 0 and "missing from the directory backup: ghost-of-the-drill" in said, said
    finally:
        dc1.run_test(f"mv {config}.saved {config}")
    assert dc1.run("/usr/local/sbin/ereje-backup drill").rc == 0


def a_mailbox_comes_back_short() -> None:
    # Mail in a mailbox, and an exclusion in borgmatic's configuration that leaves new mail out of
    # the archive (a plausible slip): the drill fails and names the mailbox that came back short;
    # put right, the next backup's drill passes with every message the backup saw.
    mailbox = lab_host("mailbox")
    for n in range(3):
        mailbox.run_test(f"printf 'Subject: drill {RUN} {n}\\n\\nhi\\n' | sendmail aigerim@{DOMAIN}")
    new = f"/var/mail/vhosts/{DOMAIN}/aigerim/Maildir/new"
    delivered_all = f"[ $(grep -l 'drill {RUN}' {new}/* | wc -l) = 3 ]"
    mailbox.run_test(f"for i in $(seq 50); do {delivered_all} && exit 0; sleep 0.2; done; exit 1")
    config = "/etc/borgmatic/config.yaml"
    mailbox.run_test(f"cp -p {config} {config}.saved")
    try:
        exclude = "\\  exclude_patterns:\\n    - fm:*/Maildir/new/*"
        mailbox.run_test(f"sed -i '/^  repositories:/i{exclude}' {config}")
        assert "    - fm:*/Maildir/new/*" in mailbox.file(config).content_string
        backup_passes("mailbox")
        drill = mailbox.run("/usr/local/sbin/ereje-backup drill")
        said = " ".join(json.loads(drill.stdout)["checks"]["mailbox"])
        short = re.search(rf"{DOMAIN}/aigerim/Maildir: (\d+) of (\d+) messages missing", said)
        assert drill.rc != 0 and short and int(short[1]) >= 3, said
    finally:
        mailbox.run_test(f"mv {config}.saved {config}")
    backup_passes("mailbox")
    drill = mailbox.run("/usr/local/sbin/ereje-backup drill")
    # Every message back, the three among them (alert mails may arrive meanwhile: not a loss).
    messages = int(
        mailbox.check_output(
            "find /var/mail/vhosts -path '*/Maildir*' -regex '.*/\\(cur\\|new\\)/[^/]*' -type f | wc -l"
        )
    )
    said = " ".join(json.loads(drill.stdout)["checks"]["mailbox"])
    back = re.search(r"restored \d+ mailboxes, \d+ folders, (\d+) messages as at backup time", said)
    assert drill.rc == 0 and back and 3 <= int(back[1]) <= messages, said


def test_every_server_is_backed_up_with_what_its_roles_declare():
    """ATU-5.14-a: every Debian host but the backup server has its archives on the backup server,
    holding its configuration and what its roles declared: the directory's offline copy on both
    domain controllers, the quarantine and DKIM keys on the mail gateway, the mailboxes.

    Each declaration is shown to bite: a declared command that fails and a declared path that is
    gone fail the backup with a message naming them; an account declared but missing from the
    restored directory, and a mailbox whose mail the archive left out, fail the drill (ATU-8.4-c).
    A failed backup is an alert on the collector (ATU-5.18-c).
    """
    declared = {
        "dc1": "var/backups/ereje/samba_dc/samba-backup-",
        "dc2": "var/backups/ereje/samba_dc/samba-backup-",
        "mail": "var/lib/amavis/dkim/",
        # The domain's directory itself: right after the converge no user has received mail yet.
        "mailbox": f"var/mail/vhosts/{DOMAIN}",
        "web": "srv/www/",
        "ws1": "etc/ssh/sshd_config",
    }
    assert set(declared) == BACKUP_CLIENTS
    # The hosts are independent (a repository each on the server): they are read, broken and put
    # right at the same time, each host's steps in order.
    newest = dict(
        zip(declared, at_once(*(functools.partial(newest_archive, host) for host in declared)), strict=True)
    )
    for name, prefix in declared.items():
        archive, paths = newest[name]
        assert any(p.startswith(prefix) for p in paths), f"{name}: nothing under {prefix} in {archive}"
        assert "etc/hostname" in paths, f"{name}: /etc not in {archive}"

    at_once(
        functools.partial(a_declared_command_fails, newest["dc2"][0]),
        a_declared_path_is_gone,
        a_declared_account_is_missing,
        a_mailbox_comes_back_short,
    )


# ---- Security events (ATU-5.18-a) -------------------------------------------------------------


def test_backups_that_stop_arriving_are_seen_by_the_server_and_alerted():
    """KNMU-3-a, ATU-5.18-c: the backup server watches every hour that each client's backups keep
    arriving. Run now, it finds every client's newest archive within the objective the client
    registered (26 h). With an objective shorter than the age of the newest archive, as a backup
    timer stopped for a day leaves it, the client is OVERDUE and the collector has the alert: the
    server sees it without the client, which may be the one that is down."""
    backup = lab_host("backup")
    lines = molecule.scheduled(backup, "ereje-backup-watch")
    for client in sorted(BACKUP_CLIENTS):
        assert [
            line
            for line in lines
            if line.startswith(f"OK {client}: newest archive ") and "(RPO 26 h)" in line
        ], (
            client,
            lines,
        )
    overdue = molecule.journal_lines(
        backup,
        "ereje-backup-watch",
        "systemd-run --wait --collect --quiet -p SyslogIdentifier=ereje-backup-watch "
        "-p Environment=HOME=/srv/borg /usr/local/sbin/ereje-backup-maintain --watch --rpo-hours 0.0001 web",
    )
    assert len(overdue) == 1 and overdue[0].startswith("OVERDUE web: no backup has arrived for "), overdue
    assert molecule.wait_for(lambda: alerts(backup, "backup-overdue", "client=web ", "backup"), timeout=60), (
        backup.run(f"tail -3 {ALERTS}").stdout
    )


def test_security_events_of_every_host_reach_the_collector():
    """ATU-5.18-a: an authentication event logged on any host arrives on the event collector over
    TLS, filed under that host's own name (the collector maps each connection's address to it)."""
    marker = f"ereje-lab-event-{RUN}"
    for name in sorted(LAB_HOSTS):
        lab_host(name).run_test(f"logger -p authpriv.notice {marker}-{name}")
    collector = lab_host("backup")

    def missing() -> set[str]:
        # Each other host's events in its own directory; the collector's own in its local auth log.
        gone = set()
        for name in LAB_HOSTS:
            where = "/var/log/auth.log" if name == "backup" else f"/var/log/remote/{name}/"
            if collector.run(f"grep -rqF '{marker}-{name}' {where}").rc != 0:
                gone.add(name)
        return gone

    assert molecule.wait_for(lambda: not missing(), timeout=120, interval=3), f"not collected: {missing()}"


# The antivirus test file (EICAR): every scanner detects it, it harms nothing.
EICAR = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def test_malware_found_on_a_host_reaches_the_administrators_as_an_alert():
    """ATU-5.18-c: the antivirus finds a test virus on the web host; within a minute the collector
    has the alert in its alerts file (rule, host, path) and the mail reaches the security address,
    an alias of the mail store (aigerim's mailbox), through the gateway."""
    web = lab_host("web")
    token = f"ereje-alert-{RUN}"  # (the alerts file is JSON: its slashes are escaped)
    scratch = f"/var/tmp/{token}"
    web.run_test(f"mkdir -p {scratch} && printf '%s' {shlex.quote(EICAR)} > {scratch}/eicar.com")
    try:
        scan = web.run(
            f"/usr/local/sbin/ereje-antivirus-scan --quarantine {scratch}/quarantine "
            f"--state {scratch}/state.json {scratch}/eicar.com"
        )
        assert scan.rc == 0 and json.loads(web.file(f"{scratch}/state.json").content_string)["infected"] == 1
    finally:
        web.run(f"rm -rf {scratch}")
    collector = lab_host("backup")
    assert molecule.wait_for(lambda: alerts(collector, "antivirus-detection", token), timeout=60), (
        collector.run(f"tail -3 {ALERTS}").stdout
    )
    (alert,) = alerts(collector, "antivirus-detection", token)
    assert alert["host"] == "web" and "EICAR" in alert["alert"], alert
    assert molecule.wait_for(lambda: stored_mentioning(f"aigerim@{DOMAIN}", token), timeout=60), (
        "the alert mail did not reach the security address"
    )
    (mail,) = stored_mentioning(f"aigerim@{DOMAIN}", token)
    assert (
        "Subject: [ereje alert] antivirus-detection on web" in lab_host("mailbox").file(mail).content_string
    )


IMAP_FAILURES = """
import imaplib, ssl, sys, threading
def sign_in():
    ctx = ssl.create_default_context(cafile="/etc/ereje/tls/ca.crt")
    with imaplib.IMAP4_SSL(sys.argv[1], 993, ssl_context=ctx, timeout=60) as imap:
        try:
            imap.login(sys.argv[2], "Wrong-Password-1")
        except imaplib.IMAP4.error as refused:
            print(refused)
threads = [threading.Thread(target=sign_in) for _ in range(5)]
[t.start() for t in threads]
[t.join() for t in threads]
"""


def test_domain_and_mail_sign_in_failures_and_a_domain_admin_change_become_alerts():
    """ATU-5.18-c, ATU-5.18-a: the domain controllers' and the mail store's security events become
    alerts on the collector. Five Kerberos sign-ins of an unknown account from the workstation at
    dc1 within a minute make one alert; a member added to Domain Admins over LDAP from the
    workstation, and taken out again, an alert each, naming the change, the group and the member;
    five IMAP sign-ins of an unknown account at the mail store, one alert."""
    ws1, collector = lab_host("ws1"), lab_host("backup")
    realm, nobody = DOMAIN.upper(), f"nobody-{RUN}"
    # Every sign-in at dc1: the failures are counted per DC and per source address.
    conf = f"/tmp/krb5-{RUN}.conf"
    ws1.run_test(
        f"printf '[libdefaults]\\n default_realm = {realm}\\n dns_lookup_kdc = false\\n[realms]\\n"
        f" {realm} = {{\\n  kdc = dc1.{DOMAIN}\\n }}\\n' > {conf}"
    )
    for _ in range(5):
        refused = ws1.run(f"echo Wrong-Password-1 | KRB5_CONFIG={conf} kinit {nobody}@{realm}")
        assert refused.rc != 0 and "not found in Kerberos database" in refused.stderr, refused.stderr
    ws1.run(f"rm -f {conf}")
    assert molecule.wait_for(
        lambda: alerts(collector, "kerberos-auth-failures", nobody, "dc1"), timeout=60
    ), collector.run(f"tail -3 {ALERTS}").stdout

    # The Administrator's password in samba-tool's environment, never in a command line.
    admin = f"PASSWD={shlex.quote(secret('samba/administrator.pw') + '-Aa1')}"
    ldap = f"-H ldap://dc1.{DOMAIN} -U Administrator"
    ws1.run_test(f"{admin} samba-tool group addmembers 'Domain Admins' aigerim {ldap}")
    try:
        added = "change=Added group=Domain Admins member=CN=aigerim"
        assert molecule.wait_for(
            lambda: alerts(collector, "domain-admin-group-change", added, "dc1"), timeout=60
        ), collector.run(f"tail -3 {ALERTS}").stdout
    finally:
        ws1.run_test(f"{admin} samba-tool group removemembers 'Domain Admins' aigerim {ldap}")
    removed = "change=Removed group=Domain Admins member=CN=aigerim"
    assert molecule.wait_for(
        lambda: alerts(collector, "domain-admin-group-change", removed, "dc1"), timeout=60
    )

    said = ws1.run(f"python3 -c {shlex.quote(IMAP_FAILURES)} mailbox.{DOMAIN} {nobody}")
    assert said.stdout.count("AUTHENTICATIONFAILED") == 5, said.stdout + said.stderr
    assert molecule.wait_for(
        lambda: alerts(collector, "imap-auth-failures", nobody, "mailbox"), timeout=60
    ), collector.run(f"tail -3 {ALERTS}").stdout


# ---- The site seen from the collector (KNMU-3-b, MVD-14-a) -----------------------------------


def test_the_site_is_probed_from_the_collector_and_an_outage_is_seen():
    """KNMU-3-b, MVD-14-a: the collector fetches the site by its public name over the network,
    checking its certificate against the project's CA, and keeps each answer; with the web server
    stopped (a host down or cut off looks the same from outside) it records DOWN and its unit
    fails, which the collector's health check reports; with the site back, OK again."""
    collector, web = lab_host("backup"), lab_host("web")
    unit, history = "ereje-web-outside-probe@web", "/var/log/ereje-web/outside-web.log"
    assert collector.service(f"{unit}.timer").is_enabled
    assert collector.service(f"{unit}.timer").is_running

    def probe() -> tuple[str, str]:
        """What one run of the probe kept (a line per page) and the state its unit is left in."""
        collector.run(f"systemctl start {unit}.service")  # fails when a page is down
        said = collector.check_output(f"tail -n 3 {history}")
        return said, collector.run(f"systemctl is-failed {unit}.service").stdout.strip()

    said, state = probe()
    assert f"https://web.{DOMAIN}/kk/ status=200" in said and " DOWN " not in said, said
    assert state != "failed", state
    web.run_test("systemctl stop nginx")
    try:
        said, state = probe()
        assert f"DOWN https://web.{DOMAIN}/kk/ status=0" in said, said
        assert state == "failed", state
    finally:
        web.run_test("systemctl start nginx")
        # The web host's own probe, had its timer fired meanwhile, is OK again too.
        web.run_test("systemctl start ereje-web-probe.service")
    said, state = probe()
    assert f"https://web.{DOMAIN}/kk/ status=200" in said and state != "failed", (said, state)
    kept = collector.check_output(f"grep -c 'https://web.{DOMAIN}/' {history}")
    assert int(kept) >= 9, f"{kept} answers kept in {history}"  # 3 probes of 3 pages at least
    # The same lines in the collector's journal, under the probe's own name.
    journal = collector.check_output("journalctl -t ereje-web-outside-probe -o cat --no-pager -n 50")
    assert f"DOWN https://web.{DOMAIN}/kk/ status=0" in journal, journal[-2000:]
