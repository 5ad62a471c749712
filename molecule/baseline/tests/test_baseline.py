"""The baseline, exercised the way administrators and attackers meet it.

Each test names the control it proves (controls/catalog.yml lists it under verified_by).
SSH logins go from the controller to the node's address; firewall probes go from the
collector to the node across the scenario's podman network.
"""

from __future__ import annotations

import json
import shlex
import stat
import subprocess
import time
import uuid

import pytest

from conftest import COLLECTOR, NODE
from support import molecule
from support.alerts import ALERTS, alerts

ADMIN = "ereje-admin"  # automation: true, as the account Ansible connects as
PERSON = "aigerim"  # a person: sudo asks for the password whose hash molecule.yml gives
PERSON_PASSWORD = "Molecule-Sudo-Pw-7"
SSH_OPTIONS = [
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "ConnectTimeout=10",
]


def ssh(ip: str, user: str, *options: str, key: str | None = None, command: str = "true", env=None):
    args = ["ssh", *SSH_OPTIONS, *options]
    if key:
        args += ["-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
    args += [f"{user}@{ip}", command]
    return subprocess.run(
        args, check=False, capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL
    )


def listen(host, port: int) -> None:
    """Start a TCP listener on ``port`` of ``host`` and make sure it answers locally."""
    host.run(
        f"systemctl stop ereje-test-listen-{port} 2>/dev/null; "
        f"systemd-run --unit ereje-test-listen-{port} python3 -m http.server {port}"
    )
    assert molecule.wait_for(lambda: host.run(f"nc -z -w 2 127.0.0.1 {port}").rc == 0, timeout=20), (
        f"test listener on port {port} did not start"
    )


# ---- ATU-5.13-a: named administrators with keys; no root, no passwords -------------------


def test_admin_logs_in_with_key_and_uses_sudo(node_ip, admin_key):
    """ATU-5.13-a: the declared administrator logs in with the key and becomes root with sudo."""
    result = ssh(node_ip, ADMIN, key=admin_key, command="sudo -n id -u")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_a_persons_key_alone_does_not_give_root(node_ip, admin_key):
    """ATU-5.13-a: sudo asks a person for their password (a stolen key alone does not give root; a
    wrong password is refused, the right one works); the automation account goes without."""
    no_password = ssh(node_ip, PERSON, key=admin_key, command="sudo -n id -u")
    assert no_password.returncode != 0, no_password.stdout
    assert "a password is required" in no_password.stderr, no_password.stderr
    wrong = ssh(node_ip, PERSON, key=admin_key, command="echo not-the-password | sudo -S -p '' id -u")
    assert wrong.returncode != 0, wrong.stdout
    assert "incorrect password" in wrong.stderr, wrong.stderr
    right = ssh(node_ip, PERSON, key=admin_key, command=f"echo {PERSON_PASSWORD} | sudo -S -p '' id -u")
    assert right.returncode == 0, right.stderr
    assert right.stdout.strip() == "0"
    automation = ssh(node_ip, ADMIN, key=admin_key, command="sudo -n id -u")
    assert automation.returncode == 0, automation.stderr
    assert automation.stdout.strip() == "0"


def test_sudo_use_reaches_the_collector_and_sessions_are_recorded(node, collector, node_ip, admin_key):
    """ATU-5.18-a, ATU-5.13-a: a command run with sudo is logged with the administrator's name and
    reaches the collector, and so does a refused one; a person's session is recorded on the host
    (sudoreplay)."""
    token = f"ereje-sudo-{uuid.uuid4()}"
    refused = ssh(node_ip, PERSON, key=admin_key, command=f"sudo -n /bin/echo {token}-refused")
    assert refused.returncode != 0
    sudo = f"echo {PERSON_PASSWORD} | sudo -S -p '' /bin/echo {token}"
    done = ssh(node_ip, PERSON, key=admin_key, command=sudo)
    assert done.returncode == 0, done.stderr
    remote = f"/var/log/remote/{NODE}"
    # The second command's text begins the first's: its probe leaves the refused line out, or it
    # would pass as soon as the refused command's line arrived.
    probes = {
        f"/bin/echo {token}-refused": f"grep -rqF 'COMMAND=/bin/echo {token}-refused' {remote}",
        f"/bin/echo {token}": f"grep -rhF 'COMMAND=/bin/echo {token}' {remote} | grep -vqF refused",
    }
    for command, probe in probes.items():
        assert molecule.wait_for(lambda p=probe: collector.run(p).rc == 0, timeout=60), (
            f"sudo's log of '{command}' did not reach the collector"
        )
    line = collector.check_output(f"grep -rhF 'COMMAND=/bin/echo {token}' {remote} | grep -vF refused")
    assert f"{PERSON} : " in line and "USER=root" in line, line
    recordings = node.check_output(f"sudoreplay -l user {PERSON}")
    assert f"/bin/echo {token}" in recordings, recordings


def test_password_login_is_rejected(node, node_ip, tmp_path):
    """ATU-5.13-a: even the right password does not open an SSH session."""
    password = "Correct-Horse-Battery-9"
    node.run_test(f"echo '{ADMIN}:{password}' | chpasswd")
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
    askpass.chmod(stat.S_IRWXU)
    env = {
        "SSH_ASKPASS": str(askpass),
        "SSH_ASKPASS_REQUIRE": "force",
        "DISPLAY": ":0",
        "PATH": "/usr/bin:/bin",
    }
    try:
        result = ssh(
            node_ip,
            ADMIN,
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
            "-o",
            "NumberOfPasswordPrompts=1",
            env=env,
        )
    finally:
        node.run_test(f"usermod -p '!' {ADMIN}")
    assert result.returncode == 255
    # The server offers public keys only: the password is never even asked for.
    assert "Permission denied (publickey)" in result.stderr, result.stderr


def test_root_cannot_log_in(node, node_ip, admin_key):
    """ATU-5.13-a: root is refused even with a valid key in its authorized_keys and in the group SSH
    admits: PermitRootLogin itself refuses it (sshd logs why), not only AllowGroups."""
    pub = (molecule.ephemeral_dir() / "admin_ed25519.pub").read_text().strip()
    since = node.check_output("date +%s")
    node.run_test(f"install -d -m 0700 /root/.ssh && echo '{pub}' > /root/.ssh/authorized_keys")
    node.run_test("gpasswd -a root ereje-admins")
    try:
        result = ssh(node_ip, "root", key=admin_key)
    finally:
        node.run_test("gpasswd -d root ereje-admins; rm -f /root/.ssh/authorized_keys")
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr, result.stderr
    log = node.check_output(f"journalctl -u ssh --since @{since} --no-pager")
    assert "Accepted key" in log and "ROOT LOGIN REFUSED FROM" in log, log[-2000:]


def test_former_admin_is_locked_not_deleted(node, node_ip, admin_key):
    """ATU-5.13-a: a removed administrator keeps the account (evidence) but cannot log in."""
    account = node.user("former-admin")
    assert account.exists
    assert account.shell == "/usr/sbin/nologin"
    assert "ereje-admins" not in account.groups
    # Nothing left to log in with: no key, a locked password.
    assert not node.file("/home/former-admin/.ssh/authorized_keys").exists
    assert node.check_output("getent shadow former-admin").split(":")[1].startswith("!")
    result = ssh(node_ip, "former-admin", key=admin_key)
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr, result.stderr


# ---- ATU-2.4.2-a: modern SSH only ---------------------------------------------------------


def test_match_block_that_weakens_sshd_fails_the_check(node):
    """ATU-5.13-a, ATU-2.4.2-a: a Match block in a drop-in cannot quietly weaken the SSH policy.

    The policy's settings come before the Include, so a drop-in cannot override them globally;
    a Match block can, for the users it names. The role asks sshd itself (sshd -T per user), so a
    check-mode run, as the audit runs it, fails on that host and names the user and the setting.
    """
    dropin = "/etc/ssh/sshd_config.d/50-local-exception.conf"
    node.run_test(f"printf 'Match User ereje-admin\\n  PasswordAuthentication yes\\n' > {dropin}")
    try:
        assert "passwordauthentication yes" in node.check_output(
            "sshd -T -C user=ereje-admin,host=x,addr=198.51.100.7"
        )
        result, _ = molecule.run_playbook("converge.yml", "--check", "--limit", NODE)
        output = " ".join((result.stdout + result.stderr).split())
        assert result.returncode != 0, output[-3000:]
        found = "sshd -T for ereje-admin gives passwordauthentication yes"
        assert f"{found} where the policy says passwordauthentication no" in output, output[-3000:]
    finally:
        node.run_test(f"rm -f {dropin}")
    assert "passwordauthentication no" in node.check_output(
        "sshd -T -C user=ereje-admin,host=x,addr=198.51.100.7"
    )


@pytest.mark.parametrize(
    "weak",
    [
        ("-o", "Ciphers=aes128-cbc"),
        ("-o", "KexAlgorithms=diffie-hellman-group14-sha1"),
        # An AEAD cipher needs no MAC, so a CTR cipher makes the MAC count.
        ("-o", "Ciphers=aes128-ctr", "-o", "MACs=hmac-sha1"),
        ("-o", "HostKeyAlgorithms=ssh-rsa"),
    ],
    ids=["cbc-cipher", "sha1-kex", "sha1-mac", "sha1-rsa-hostkey"],
)
def test_weak_ssh_algorithms_are_refused(node_ip, admin_key, weak):
    """ATU-2.4.2-a: a client that insists on a weak algorithm cannot even negotiate."""
    result = ssh(node_ip, ADMIN, *weak, key=admin_key)
    assert result.returncode == 255
    assert "no matching" in result.stderr, result.stderr


def test_ssh_brute_force_is_banned_but_not_the_admin_network(node, collector, node_ip, admin_key):
    """ATU-2.4.2-a: an address that keeps failing to log in over SSH is banned: after a burst of
    logins with a wrong key (as root, as guessed names) from the collector, its address is in
    fail2ban's nftables set, stays there when the baseline's ruleset is reloaded, and its next
    connection to SSH is refused. The controller (baseline_ssh_ban_ignore, the admin network)
    fails as often and still logs in."""
    attacker = molecule.address(COLLECTOR)
    key = "/root/ereje-attacker-key"
    collector.run_test(f"rm -f {key} {key}.pub && ssh-keygen -q -t ed25519 -N '' -f {key}")
    options = " ".join([*SSH_OPTIONS, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", key])
    # -w: 10.89.1.1 is not 10.89.1.14.
    ban_set = "nft list set inet f2b-table addr-set-sshd | grep -qwF"
    banned = f"{ban_set} '{attacker}'"
    try:
        for user in ["root", "admin", "ubuntu", "test", "oracle", "postgres", ADMIN, PERSON]:
            # timeout: a connection open when the ban starts gets no answer and no reset (fail2ban
            # rejects with ICMP, which TCP ignores once connected), and would wait for minutes.
            attempt = collector.run(f"timeout 20 ssh {options} {user}@{node_ip} true </dev/null")
            assert attempt.rc != 0, f"{user} logged in with the attacker's key"
        assert molecule.wait_for(lambda: node.run(banned).rc == 0, timeout=60), node.run(
            "fail2ban-client status sshd; nft list table inet f2b-table"
        ).stdout
        node.run_test("systemctl reload nftables")
        assert node.run(banned).rc == 0, "reloading the baseline's ruleset dropped fail2ban's ban"
        assert collector.run(f"nc -z -w 3 {node_ip} 22").rc != 0, "a banned address still reaches SSH"

        controller = node.check_output("ip route show default").split()[2]
        for user in ["root", "admin", "ubuntu", "test", "oracle", "postgres", "guest", "pi"]:
            assert ssh(node_ip, user, key=admin_key).returncode == 255
        admin = ssh(node_ip, ADMIN, key=admin_key)
        assert admin.returncode == 0, f"the controller ({controller}) was banned: {admin.stderr}"
        assert node.run(f"{ban_set} '{controller}'").rc != 0, f"the controller ({controller}) was banned"
    finally:
        node.run(f"fail2ban-client set sshd unbanip {attacker}")
        collector.run(f"rm -f {key} {key}.pub")
    assert collector.run(f"nc -z -w 3 {node_ip} 22").rc == 0, "the unbanned address still cannot reach SSH"


# ---- ATU-5.15-a: default-deny firewall -----------------------------------------------------


def test_undeclared_port_is_refused(node, collector, node_ip):
    """ATU-5.15-a: a service listening on a port nobody declared is unreachable from outside."""
    listen(node, 8081)
    assert collector.run(f"nc -z -w 3 {node_ip} 8081").rc != 0


def test_declared_port_is_open(node, collector, node_ip):
    """ATU-5.15-a: a port declared in the inventory (and SSH) is reachable."""
    listen(node, 8080)
    assert collector.run(f"nc -z -w 3 {node_ip} 8080").rc == 0
    assert collector.run(f"nc -z -w 3 {node_ip} 22").rc == 0


# ---- ATU-5.17-a: security updates ------------------------------------------------------------


def test_security_updates_are_scheduled(node):
    """ATU-5.17-a: a daily timer runs unattended-upgrades, which takes Debian-Security updates."""
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
        assert node.service(timer).is_enabled
        assert node.service(timer).is_running
    assert 'APT::Periodic::Unattended-Upgrade "1"' in node.check_output(
        "apt-config dump APT::Periodic::Unattended-Upgrade"
    )
    dry_run = node.run("unattended-upgrade --dry-run --debug")
    assert dry_run.rc == 0, dry_run.stderr
    allowed = [
        line for line in (dry_run.stdout + dry_run.stderr).splitlines() if "Allowed origins are" in line
    ]
    assert allowed, dry_run.stdout[-3000:]
    assert "label=Debian-Security" in allowed[0]


# ---- ATU-5.18-a: events kept and collected -------------------------------------------------


def test_journal_is_persistent(node):
    """ATU-5.18-a: events are written to the on-disk journal in /var/log/journal."""
    token = f"ereje-journal-{uuid.uuid4()}"
    node.run_test(f"logger -t ereje-test {token}")
    assert molecule.wait_for(
        lambda: token in node.run("journalctl -D /var/log/journal -t ereje-test --no-pager").stdout,
        timeout=30,
    )


def test_log_line_reaches_collector(node, collector):
    """ATU-5.18-a: a security event on the node arrives at the collector, filed under the node."""
    token = f"ereje-forward-{uuid.uuid4()}"
    node.run_test(f"logger -p authpriv.warning -t ereje-test {token}")
    assert molecule.wait_for(lambda: collector.run(f"grep -rlF {token} /var/log/remote").rc == 0, timeout=60)
    path = collector.check_output(f"grep -rlF {token} /var/log/remote")
    assert path.startswith(f"/var/log/remote/{NODE}/"), f"filed under an unexpected host: {path}"


def test_repeated_ssh_failures_and_a_refused_sudo_become_alerts(node, collector):
    """ATU-5.18-c: events on the node become alerts on the collector within a minute, each naming
    its rule, the host and who: SSH logins as an unknown user from one address, five within a
    minute (four are not enough), and sudo by a local account outside the admin group."""
    user = f"nobody-{uuid.uuid4().hex[:10]}"
    login = (
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        f"-o ConnectTimeout=5 {user}@127.0.0.1 true"
    )
    for _ in range(4):
        assert node.run(login).rc != 0
    # The four have reached the collector, and SEC with them (the same ruleset hands each event to
    # SEC right after filing it); an alert would be written within a second: none is.
    count = f"cat /var/log/remote/{NODE}/*.log | grep -cF 'Invalid user {user} '"
    assert molecule.wait_for(lambda: collector.run(count).stdout.strip() == "4", timeout=60)
    time.sleep(3)
    assert alerts(collector, "ssh-auth-failures", user) == [], "four failures made an alert"
    assert node.run(login).rc != 0
    assert molecule.wait_for(lambda: alerts(collector, "ssh-auth-failures", user), timeout=60), (
        f"no alert for five SSH failures of {user}: {collector.run(f'tail -3 {ALERTS}').stdout}"
    )
    (alert,) = alerts(collector, "ssh-auth-failures", user)
    assert alert["host"] == NODE and "source=127.0.0.1" in alert["alert"], alert

    account = f"tmp-{uuid.uuid4().hex[:8]}"
    password = f"Pw-{uuid.uuid4().hex}"
    node.run_test(f"useradd --no-create-home {account} && echo '{account}:{password}' | chpasswd")
    try:
        refused = node.run(f"echo {password} | runuser -u {account} -- sudo -S -p '' /usr/bin/id")
        assert refused.rc != 0
    finally:
        node.run(f"userdel {account}")
    assert molecule.wait_for(lambda: alerts(collector, "sudo-refused", account), timeout=60), (
        f"no alert for sudo refused to {account}: {collector.run(f'tail -3 {ALERTS}').stdout}"
    )
    (alert,) = alerts(collector, "sudo-refused", account)
    assert alert["host"] == NODE and f"user={account}" in alert["alert"], alert


TLS_DIR = "/etc/ereje/tls"


def send_over_tls(host, line: str, cert: str, key: str) -> None:
    """Open a TLS connection to the collector from ``host`` with ``cert``/``key``, as rsyslog does,
    and write one octet-counted syslog frame (RFC 5425). What the collector does with it is the test's."""
    frame = f"{len(line.encode())} {line}"
    host.run(
        f"printf '%s' {shlex.quote(frame)} | timeout 10 openssl s_client -quiet -connect {COLLECTOR}:6514 "
        f"-cert {cert} -key {key} -CAfile {TLS_DIR}/ca.crt"
    )


def stored(collector, token: str) -> str:
    """Every line of the collector's files that carries ``token``, with the file's name in front."""
    return collector.run(f"grep -rF {shlex.quote(token)} /var/log/remote").stdout


def rfc5424(hostname: str, message: str) -> str:
    return f"<38>1 2026-12-06T00:00:00Z {hostname} ereje-test - - - {message}"


def test_the_collector_takes_events_only_over_tls_from_a_permitted_certificate(node, collector, tmp_path):
    """ATU-5.18-a: an event sent in clear, with a certificate the sender made itself, or with a
    certificate of the project's CA for a name the collector does not know, is refused and stored
    nowhere; the same event with the node's own certificate is stored (so the probe can pass)."""
    token = f"ereje-tls-{uuid.uuid4()}"
    # In clear, to the TLS port.
    node.run(f"logger --tcp --server {COLLECTOR} --port 6514 -t ereje-test {token}-clear")
    # A certificate the sender signed itself, for the node's own name.
    node.run_test(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        f"-keyout /tmp/self.key -out /tmp/self.crt -subj /CN={NODE} -addext subjectAltName=DNS:{NODE}"
    )
    send_over_tls(node, rfc5424(NODE, f"{token}-self-signed"), "/tmp/self.crt", "/tmp/self.key")
    # A certificate of the project's CA (signed on the controller, where the CA lives) for a name
    # that is no permitted host's.
    ca = molecule.ephemeral_dir() / "ca"
    node.run_test(
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout /tmp/stranger.key -out /tmp/stranger.csr -subj /CN=stranger"
    )
    (tmp_path / "stranger.csr").write_text(node.file("/tmp/stranger.csr").content_string)
    (tmp_path / "ext").write_text("subjectAltName=DNS:stranger\nextendedKeyUsage=clientAuth\n")
    subprocess.run(
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            tmp_path / "stranger.csr",
            "-CA",
            ca / "ca.crt",
            "-CAkey",
            ca / "ca.key",
            "-days",
            "2",
            "-extfile",
            tmp_path / "ext",
            "-out",
            tmp_path / "stranger.crt",
        ],
        check=True,
        capture_output=True,
    )
    node.run_test(f"printf '%s' {shlex.quote((tmp_path / 'stranger.crt').read_text())} > /tmp/stranger.crt")
    send_over_tls(node, rfc5424(NODE, f"{token}-stranger"), "/tmp/stranger.crt", "/tmp/stranger.key")
    # The node's own certificate: taken.
    send_over_tls(node, rfc5424(NODE, f"{token}-own"), f"{TLS_DIR}/host.crt", f"{TLS_DIR}/host.key")
    assert molecule.wait_for(lambda: f"{token}-own" in stored(collector, token), timeout=30), (
        "an event sent with the node's own certificate did not arrive: the probe cannot tell refusals apart"
    )
    lines = stored(collector, token)
    for refused in ("clear", "self-signed", "stranger"):
        assert f"{token}-{refused}" not in lines, f"the collector stored an event sent {refused}: {lines}"
    journal = collector.check_output("journalctl -u rsyslog --since -5min --no-pager")
    assert "not permitted to talk to it" in journal and "stranger" in journal, journal[-3000:]
    assert "invalid cert info" in journal, journal[-3000:]


def test_a_sender_cannot_file_its_events_under_another_hosts_name(node, collector):
    """ATU-5.18-a: a host that writes another host's name into its events (here the collector's) with
    its own valid certificate still has them filed under its own name, chosen by the address its
    connection comes from; the claimed name stays visible in the line."""
    token = f"ereje-claim-{uuid.uuid4()}"
    send_over_tls(node, rfc5424(COLLECTOR, token), f"{TLS_DIR}/host.crt", f"{TLS_DIR}/host.key")
    assert molecule.wait_for(lambda: token in stored(collector, token), timeout=30)
    path, line = stored(collector, token).strip().split(":", 1)
    assert path.startswith(f"/var/log/remote/{NODE}/"), f"filed under the claimed name: {path}"
    assert f" {COLLECTOR} ereje-test" in line, line


def test_events_written_while_the_collector_is_down_arrive_when_it_returns(node, collector):
    """ATU-5.18-a: with the collector stopped, events wait on the node (rsyslog's disk-assisted
    queue after reading them from the journal); when it starts again every one of them arrives."""
    token = f"ereje-down-{uuid.uuid4()}"
    collector.run_test("systemctl stop rsyslog")
    try:
        node.run_test(f"for i in $(seq 1 200); do logger -p authpriv.notice -t ereje-test {token}-$i; done")
        # Longer than the sender's retry interval (10 s): it tried, and failed, at least once.
        node.run_test("sleep 12")
        assert not collector.run("systemctl is-active rsyslog").succeeded
    finally:
        collector.run_test("systemctl start rsyslog")
    wanted = {f"{token}-{i}" for i in range(1, 201)}

    def arrived() -> set[str]:
        return set(collector.run(f"grep -rhoE '{token}-[0-9]+' /var/log/remote/{NODE}").stdout.split())

    assert molecule.wait_for(lambda: arrived() >= wanted, timeout=90), (
        f"lost while the collector was down: {sorted(wanted - arrived())[:10]}"
    )


def test_a_burst_of_events_arrives_whole(node, collector):
    """ATU-5.18-a: 20,000 events written at once on the node all reach the collector: none is dropped
    by journald's rate limit, by rsyslog reading the journal, or on the way."""
    token = f"ereje-burst-{uuid.uuid4()}"
    node.run_test(f"seq 1 20000 | sed 's/^/{token}-/' | systemd-cat -t ereje-burst -p info")

    def count() -> int:
        out = collector.run(f"grep -rhcF {token}- /var/log/remote/{NODE}").stdout.split()
        return sum(int(n) for n in out)

    assert molecule.wait_for(lambda: count() >= 20000, timeout=180, interval=3), (
        f"{count()} of 20000 events reached the collector"
    )


def test_one_address_cannot_take_every_session_of_the_collector(node, collector):
    """ATU-5.18-a: six connections opened at once from one address: the collector's firewall lets
    log_collector_max_connections_per_source (4) of them through and resets the rest. The collector's
    ruleset is loaded again first, which starts the count afresh: the node's rsyslog connection, older
    than that, is then outside it, and the test's own six are all that count."""
    collector.run_test("systemctl reload nftables")
    node.run_test(
        "for i in $(seq 1 6); do (sleep 20 | openssl s_client -quiet -connect "
        f"{COLLECTOR}:6514 -cert {TLS_DIR}/host.crt -key {TLS_DIR}/host.key -CAfile {TLS_DIR}/ca.crt "
        ">/dev/null 2>&1 &); done; sleep 4"
    )
    try:
        established = node.check_output(
            "ss -Htnp state established '( dport = :6514 )' | grep -c openssl || true"
        )
    finally:
        node.run("pkill -f 'openssl s_client -quiet -connect'")
    assert int(established) == 4, f"{established} connections to the collector from one address"


# ---- ATU-5.18-b: time --------------------------------------------------------------------------


def test_time_sync_configuration_is_valid(node):
    """ATU-5.18-b: chronyd accepts the configuration and uses the declared server.

    chronyd cannot run in a container (the clock is the host's), so this checks what chronyd
    itself parses, the part of the control that CI can see.
    """
    parsed = node.run("chronyd -p -f /etc/chrony/chrony.conf")
    assert parsed.rc == 0, parsed.stderr
    assert f"server {COLLECTOR} iburst" in parsed.stdout


# ---- bad input ---------------------------------------------------------------------------------


def test_port_that_is_not_a_number_stops_the_play_before_any_change():
    """ATU-5.15-a: a firewall port that is not a number is refused, naming the variable; nothing changes."""
    bad = json.dumps({"baseline_firewall_allow": [{"name": "web", "port": "http"}]})
    result, recap = molecule.run_playbook("converge.yml", "-e", bad)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "baseline_firewall_allow" in output and "'port'" in output, output[-3000:]
    assert all(r["changed"] == 0 for r in recap.values()), recap


def test_unknown_control_in_a_waiver_is_refused_with_a_suggestion():
    """A waiver naming a control that does not exist stops the run before any host is touched."""
    waivers = {
        "ereje_waivers": [
            {
                "control": "ATU-5.17a",
                "hosts": "all",
                "justification": "test",
                "approved_by": "test",
                "expires": "2027-01-01",
            }
        ]
    }
    preflight = molecule.scenario_dir().parents[1] / "playbooks" / "preflight.yml"
    result, _ = molecule.run_playbook(preflight, "-e", json.dumps(waivers))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'ATU-5.17a' is not a control" in output, output[-3000:]
    assert "did you mean ATU-5.17-a?" in output


# ---- ATU-8.4-d: failed services, full disks, declared ports that do not answer ------------------


def health(*extra: str) -> tuple[int, str]:
    """Run the health check (site.yml's last play) on the scenario's hosts: return code and output,
    its blanks collapsed (the YAML callback folds long messages over lines). In check mode, as the
    audit runs it: a real run given other limits (-e) would also make them the hourly check's."""
    result, _ = molecule.run_playbook("health.yml", "--check", "-v", *extra)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def test_health_check_passes_and_names_what_it_checked():
    """ATU-8.4-d: on converged hosts the health check passes and its evidence names the disks and
    every declared port it reached: SSH on every host, the collector's syslog-over-TLS port."""
    rc, output = health()
    assert rc == 0, output[-4000:]
    assert "no failed service; disks used: / " in output, output[-4000:]
    assert "22/tcp (baseline ssh)" in output
    assert "6514/tcp (log_collector syslog-tls)" in output


def test_declared_port_that_nobody_serves_fails_the_health_check(collector):
    """ATU-8.4-d: a port a role declared but nothing answers on fails the check, naming the service
    and the port; once something serves it, the check passes again."""
    declaration = "/etc/ereje/ports.d/zz-health-test.json"
    content = json.dumps(
        {"service": "health_test", "ports": [{"name": "intranet", "port": 8471, "proto": "tcp"}]}
    )
    collector.run(f"printf '%s' {shlex.quote(content)} > {declaration}")
    try:
        rc, output = health("--limit", COLLECTOR)
        assert rc != 0
        assert "health_test declares intranet on 8471/tcp, but nothing listens there" in output, output[
            -4000:
        ]
        listen(collector, 8471)
        rc, output = health("--limit", COLLECTOR)
        assert rc == 0, output[-4000:]
        assert "8471/tcp (health_test intranet)" in output
    finally:
        collector.run(f"rm -f {declaration}; systemctl stop ereje-test-listen-8471")


def test_failed_service_fails_the_health_check_unless_accepted(node, collector):
    """ATU-8.4-d: a systemd unit in the failed state fails the check, by name; a unit the inventory
    accepts (baseline_health_ignore_units) is reported but does not fail it. Between converges the
    hourly check (started now) writes a FINDING naming it and the collector alerts (ATU-5.18-c)."""
    unit = "ereje-health-broken.service"
    node.run(f"systemctl reset-failed {unit} 2>/dev/null; systemd-run --unit {unit} --wait /bin/false")
    try:
        assert node.run(f"systemctl is-failed {unit}").stdout.strip() == "failed"
        assert f"FINDING service {unit} has failed (systemctl status {unit})" in molecule.scheduled(
            node, "ereje-health-check"
        )
        assert molecule.wait_for(
            lambda: alerts(collector, "health-check", "health-broken", NODE), timeout=60
        ), collector.run(f"tail -3 {ALERTS}").stdout
        rc, output = health("--limit", NODE)
        assert rc != 0
        assert f"service {unit} has failed" in output, output[-4000:]
        accepted = json.dumps({"baseline_health_ignore_units": ["ereje-health-*"]})
        rc, output = health("--limit", NODE, "-e", accepted)
        assert rc == 0, output[-4000:]
        assert f"no failed service (accepted: {unit})" in output
    finally:
        node.run(f"systemctl reset-failed {unit}")


def test_disk_fuller_than_the_limit_fails_the_health_check(node):
    """ATU-8.4-d: a filesystem used above baseline_health_max_disk_percent fails the check with its
    mount point and use, measured as df measures it."""
    df = node.run("df -P / | awk 'NR==2 {print $5}'").stdout.strip()
    rc, output = health("--limit", NODE, "-e", "baseline_health_max_disk_percent=1")
    assert rc != 0
    assert f"filesystem / is {df} full (limit 1%)" in output, output[-4000:]


def test_health_limit_that_is_not_a_percentage_is_refused():
    """ATU-8.4-d: a limit outside 1-100 is refused with the variable's name."""
    rc, output = health("-e", "baseline_health_max_inode_percent=150")
    assert rc != 0
    assert (
        "baseline_health_max_disk_percent and baseline_health_max_inode_percent must be percentages" in output
    )


# ---- ATU-6.3-a: who holds administrative access is reviewed ------------------------------


def access_review(*extra: str) -> tuple[int, str]:
    """Run the access review (site.yml's last play) on the node: return code and output, its blanks
    collapsed (the YAML callback folds long messages over lines)."""
    result, _ = molecule.run_playbook("access.yml", "-v", "--limit", NODE, *extra)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def sudo_rights(node, account: str) -> str:
    """What sudo itself says the account may run (sudo -l -U), as root asks it."""
    return node.check_output(f"sudo -l -U {account}")


def test_undeclared_sudo_member_and_root_key_are_found_and_taken_away(node, collector):
    """ATU-6.3-a: access granted by hand, an account added to Debian's sudo group and a key put in
    root's authorized_keys, is found, alerted and taken away.

    sudo itself gives the account every command; the hourly review (its service started now) writes
    a FINDING for each, and the collector mails an alert for each (ATU-5.18-c); the review in check
    mode, as the audit runs it, fails naming both and changes nothing; the review of a converge takes
    the membership away and moves root's key file aside (kept as evidence); sudo then refuses the
    account, and the review passes, naming what it saw, as the hourly review does.
    """
    account = f"intruder{uuid.uuid4().hex[:6]}"
    node.run_test(f"useradd --no-create-home --shell /bin/bash {account} && gpasswd -a {account} sudo")
    node.run_test(
        "ssh-keygen -q -t ed25519 -N '' -C intruder@outside -f /tmp/intruder_key && "
        "install -d -m 0700 /root/.ssh && cat /tmp/intruder_key.pub >> /root/.ssh/authorized_keys"
    )
    try:
        assert "(ALL : ALL) ALL" in sudo_rights(node, account)
        found = molecule.scheduled(node, "ereje-access-review")
        assert (
            f"FINDING account '{account}' is in privileged group sudo but nobody declared it there" in found
        )
        assert any(
            line.startswith("FINDING root: 1 SSH key(s) in /root/.ssh/authorized_keys") for line in found
        )
        assert molecule.wait_for(lambda: alerts(collector, "undeclared-access", account, NODE), timeout=60), (
            f"no alert for {account} in sudo: {collector.run(f'tail -3 {ALERTS}').stdout}"
        )
        assert molecule.wait_for(lambda: alerts(collector, "undeclared-access", "authorized_keys", NODE)), (
            f"no alert for root's planted key: {collector.run(f'tail -3 {ALERTS}').stdout}"
        )
        rc, output = access_review("--check")
        assert rc != 0, output[-3000:]
        assert f"'{account}'" in output and "group sudo" in output, output[-3000:]
        assert "/root/.ssh/authorized_keys" in output, output[-3000:]
        assert node.file("/root/.ssh/authorized_keys").exists, "check mode must change nothing"

        rc, output = access_review()
        assert rc == 0, output[-3000:]
        assert f"removed '{account}' from group sudo" in output, output[-3000:]
        assert "not allowed to run sudo" in sudo_rights(node, account)
        assert not node.file("/root/.ssh/authorized_keys").exists
        kept = node.check_output("cat /var/lib/ereje/access-removed/*-root-authorized_keys")
        assert "intruder@outside" in kept

        rc, output = access_review("--check")
        assert rc == 0, output[-3000:]
        assert "ereje-admins: ereje-admin" in output, output[-3000:]
        (line,) = molecule.scheduled(node, "ereje-access-review")
        assert line.startswith("OK ereje-admins: ereje-admin") and "UID 0: root" in line, line
        assert account not in line and "SSH keys: ereje-admin 1 (declared admin)" in line, line
    finally:
        node.run_test(f"userdel {account}; rm -rf /tmp/intruder_key* /var/lib/ereje/access-removed")


def test_undeclared_sudo_rule_fails_the_review_until_a_person_decides(node):
    """ATU-6.3-a: a sudoers rule for an account nobody declared fails the review in the audit and in
    a converge alike, and stays: a sudo rule may be a package's, so a person decides. Declared in the
    inventory with its reason (baseline_access_declared), the same rule passes, and the evidence
    names the account.
    """
    rule = "/etc/sudoers.d/zz-intruder"
    node.run_test("useradd --no-create-home --shell /bin/bash intruder")
    node.run_test(f"echo 'intruder ALL=(root) NOPASSWD: /usr/bin/id' > {rule} && chmod 0440 {rule}")
    try:
        assert "/usr/bin/id" in sudo_rights(node, "intruder")
        for mode in (["--check"], []):
            rc, output = access_review(*mode)
            assert rc != 0, output[-3000:]
            assert "sudoers grants sudo to user 'intruder'" in output, output[-3000:]
            assert node.file(rule).exists
        why = "the test's rule"
        declared = {"baseline_access_declared": [{"account": "intruder", "sudo": True, "why": why}]}
        rc, output = access_review("--check", "-e", json.dumps(declared))
        assert rc == 0, output[-3000:]
        assert "intruder" in output, output[-3000:]
    finally:
        node.run_test(f"rm -f {rule}; userdel intruder")


# ---- ATU-8.5-a: what another host finds open --------------------------------------------


def exposure(*extra: str) -> tuple[int, str]:
    """Run the exposure scan (site.yml's last play) of the node, from the collector: return code and
    output, its blanks collapsed."""
    result, _ = molecule.run_playbook("exposure.yml", "-v", "--limit", NODE, *extra)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def test_a_port_opened_by_hand_is_found_by_the_scan_and_closed(node, collector, node_ip):
    """ATU-8.5-a: a rule added by hand to the running firewall (its file unchanged, so the firewall
    control, which reads the file, sees nothing) opens a port nobody declared. The collector then
    reaches the service behind it; its hourly scan (started now) writes a FINDING naming the port and
    the collector alerts on it (ATU-5.18-c); the scan from the collector in check mode, as the audit runs it,
    fails naming the port; a converge loads the ruleset again from its file and scans again, and the
    collector is refused; the scan then passes and names what it found open and who declared it.
    """
    listen(node, 8081)
    listen(node, 8080)  # declared in the inventory (baseline_firewall_allow): open and fine
    node.run_test("nft insert rule inet ereje_filter input tcp dport 8081 accept")
    try:
        assert collector.run(f"nc -z -w 3 {node_ip} 8081").rc == 0
        # The collector's hourly scan (started now) finds it, and the collector alerts on it.
        found = molecule.scheduled(collector, "ereje-exposure-scan")
        assert any(line.startswith(f"FINDING {NODE}: 8081/tcp of {node_ip} is open to ") for line in found), (
            found
        )
        assert not any("8080/tcp" in line for line in found if line.startswith("FINDING")), found
        assert molecule.wait_for(
            lambda: alerts(collector, "undeclared-port", f"{NODE}: 8081", COLLECTOR), timeout=60
        ), f"no alert for 8081/tcp open on {NODE}: {collector.run(f'tail -3 {ALERTS}').stdout}"
        rc, output = exposure("--check")
        assert rc != 0, output[-3000:]
        assert f"8081/tcp of {node_ip} is open to " in output and "no role declares it" in output, output[
            -3000:
        ]

        rc, output = exposure()
        assert rc == 0, output[-3000:]
        assert collector.run(f"nc -z -w 3 {node_ip} 8081").rc != 0

        rc, output = exposure("--check")
        assert rc == 0, output[-3000:]
        assert f"to {node_ip}: open 22/tcp (baseline ssh), 8080/tcp (inventory test-http)" in output, output[
            -3000:
        ]
        (line,) = molecule.scheduled(collector, "ereje-exposure-scan")
        assert line.startswith(f"OK {NODE}: from ") and f"to {node_ip}: open 22/tcp (baseline ssh)" in line, (
            line
        )
    finally:
        node.run_test("systemctl reload nftables")


# ---- ATU-5.11-a: system files change only through a run, and any other change is found ----------
# These run last but one: the last of them accepts, as a person would after looking, what the tests
# above changed by hand on the hosts, so that the no-drift check after them finds nothing.

INTEGRITY_CHECK = "ereje-integrity-check.service"


def integrity(*extra: str, limit: str = NODE) -> tuple[int, str]:
    """Run the file integrity play (site.yml's last) on the node (or ``limit``): return code and
    output, its blanks collapsed. Run for real it is a run of its own: it accepts only what changed
    after it began."""
    result, _ = molecule.run_playbook("integrity.yml", "-v", "--limit", limit, *extra)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def daily_check(node) -> str:
    """Start the daily check now and return the line it wrote to the journal."""
    node.run_test(f"systemctl start {INTEGRITY_CHECK}")
    assert node.run(f"systemctl is-failed {INTEGRITY_CHECK}").stdout.strip() != "failed"
    lines = node.check_output(
        f"journalctl -u {INTEGRITY_CHECK} -o cat --no-pager -n 20 | grep -E '^(OK|CHANGED) '"
    )
    return lines.splitlines()[-1]


def accept_everything(node) -> None:
    """What a person does after looking: accept every difference; the run then finds the files
    matching the new reference on both hosts (the tests above changed the collector's files too: a
    port declared for a while)."""
    rc, output = integrity("-e", "file_integrity_accept_all=true", limit="all")
    assert rc == 0, output[-3000:]
    assert output.count("entries match the reference database made") == 2, output[-3000:]


def test_a_program_added_by_hand_is_alerted_and_fails_the_check_until_accepted(node, collector):
    """ATU-5.11-a: a program put in /usr/local/bin by hand is found by the daily check, whose line
    becomes an alert on the collector naming it (ATU-5.18-c), and by the check against the reference
    kept on the controller, as the audit runs it. A run of the play after it does not accept it (it
    was there before the run began), and the play fails; once a person accepts, the check passes."""
    intruder = f"/usr/local/bin/ereje-intruder-{uuid.uuid4().hex[:8]}"
    began = node.check_output("date +%s")
    node.run_test(f"printf '#!/bin/sh\\nid\\n' > {intruder} && chmod 0755 {intruder}")
    try:
        line = daily_check(node)
        assert line.startswith("CHANGED ") and f"added {intruder}" in line, line
        assert molecule.wait_for(
            lambda: alerts(collector, "file-integrity", intruder.rsplit("/", 1)[1], NODE)
        )

        rc, output = integrity("--check")
        assert rc != 0, output[-3000:]
        assert "change(s) to watched files nobody accepted" in output and f"added {intruder}" in output, (
            output[-3000:]
        )
        rc, output = integrity()
        assert rc != 0, output[-3000:]
        assert "made before this run" in output and f"added {intruder}" in output, output[-3000:]
    finally:
        node.run_test(f"rm -f {intruder}")
    accept_everything(node)
    assert daily_check(node).startswith("OK ")
    # The acceptance is on the node's journal (the collector keeps it).
    accepted = node.check_output(
        f"journalctl -t ereje-integrity --since @{began} -o cat --no-pager | grep ACCEPTED"
    )
    assert "by an administrator (accept all)" in accepted, accepted


def test_a_run_accepts_its_own_changes_but_not_one_made_before_it(node):
    """ATU-5.11-a: sshd's configuration changed by hand is put right by a converge, which accepts its
    own change (the file it wrote) and passes; the audit's check then finds nothing. A file changed by
    hand that no role manages (/etc/motd) is not accepted by the next converge, which fails naming it
    as made before the run (and accepts nothing, its own repair included) until a person accepts."""
    weaken = "sed -i 's/^PermitRootLogin no$/PermitRootLogin yes/' /etc/ssh/sshd_config"
    # The converge of the SSH control and of file integrity (a run limited by tags is a run too).
    converge = ("converge.yml", "-v", "--limit", NODE, "--tags", "ATU-5.13-a,ATU-5.11-a")
    node.run_test(weaken)
    result, recap = molecule.run_playbook(*converge)
    said = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 0, said[-3000:]
    assert "changed /etc/ssh/sshd_config" in said, said[-3000:]
    rc, output = integrity("--check")
    assert rc == 0, output[-3000:]

    node.run_test(weaken)
    node.run_test("echo '# changed by hand' >> /etc/motd")
    # Well before the run begins: a change within file_integrity_clock_tolerance (1 s) of its start
    # counts as the run's own.
    time.sleep(2)
    try:
        result, recap = molecule.run_playbook(*converge)
        said = " ".join((result.stdout + result.stderr).split())
        assert result.returncode != 0 and recap[NODE]["failed"] == 1, said[-3000:]
        assert "made before this run" in said and "changed /etc/motd" in said, said[-3000:]
        assert "this run's own changes are accepted with them" in said, said[-3000:]
        assert "PermitRootLogin no" in node.file("/etc/ssh/sshd_config").content_string
    finally:
        node.run_test("sed -i '/# changed by hand/d' /etc/motd")
    accept_everything(node)


def test_a_database_re_made_on_the_host_does_not_hide_a_change(node):
    """ATU-5.11-a: an intruder who adds a program and re-makes the host's own AIDE database hides it
    from the daily check on the host, not from the check against the reference kept on the
    controller: the audit's check fails naming both the program and the replaced database. A converge
    puts the reference back on the host, and the daily check then finds the program too."""
    intruder = f"/usr/local/bin/ereje-hidden-{uuid.uuid4().hex[:8]}"
    node.run_test(f"printf '#!/bin/sh\\nid\\n' > {intruder} && chmod 0755 {intruder}")
    try:
        node.run_test(
            "aide --init --config /etc/ereje/integrity/aide.conf "
            "-B database_out=file:/var/lib/ereje/integrity/aide.db -B gzip_dbout=no"
        )
        assert daily_check(node).startswith("OK "), "the re-made database hides the program on the host"
        rc, output = integrity("--check")
        assert rc != 0, output[-3000:]
        assert "the database on this host is not the reference kept off the host" in output, output[-3000:]
        assert f"added {intruder}" in output, output[-3000:]
        rc, output = integrity()
        assert rc != 0 and "made before this run" in output, output[-3000:]
        line = daily_check(node)
        assert line.startswith("CHANGED ") and f"added {intruder}" in line, line
    finally:
        node.run_test(f"rm -f {intruder}")
    accept_everything(node)


# ---- the whole role ---------------------------------------------------------------------------


def test_no_drift_in_check_mode():
    """Right after converge, a --check --diff run finds nothing to change on any host."""
    molecule.assert_no_drift()
