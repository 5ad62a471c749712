"""Backups proven by restoring them: real Borg over SSH from the web host to the backup server.

Each test names the control(s) it proves (controls/catalog.yml lists it under verified_by).
Tests run in file order: the first backs up, destroys and restores; later ones reuse its archive.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import subprocess
from pathlib import Path

from conftest import SERVER, WEB
from support import molecule

ROOT = Path(__file__).resolve().parents[3]
REPO = f"/srv/borg/repos/{WEB}"
SERVER_PASS = f"/etc/ereje-backup/repos.d/{WEB}.pass"


def ansible_env() -> dict[str, str]:
    return os.environ | {
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
    }


def status_module(host: str, *extra: str, **args) -> dict:
    """Run the ereje_backup_status module on ``host`` (ad-hoc) and return its result."""
    result = subprocess.run(
        [
            "ansible",
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            host,
            "-b",
            *extra,
            "-m",
            "ereje.compliance.ereje_backup_status",
            "-a",
            json.dumps(args),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=ansible_env()
        | {"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"},
    )
    # The json callback prints one document; warnings may follow it.
    output, _ = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index("{") :])
    return output["plays"][0]["tasks"][0]["hosts"][host]


def client_borg(web, command: str):
    """A borg command on the client with its own credentials (the append-only, no-delete key)."""
    env = {}
    for line in web.file("/etc/ereje-backup/borg.env").content_string.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return web.run(f"env {exports} BORG_DELETE_I_KNOW_WHAT_I_AM_DOING=YES {command} </dev/null")


def as_repository_account(command: str) -> str:
    """A borg command line run on the server as the repository account, with the server's copy of the
    passphrase on file descriptor 3 (BORG_PASSPHRASE_FD): never in a command line, which journald
    records (_CMDLINE of runuser's session messages) and forwards to the collector."""
    return (
        f"BORG_REPO={REPO} BORG_PASSPHRASE_FD=3 BORG_RELOCATED_REPO_ACCESS_IS_OK=yes "
        f"runuser -u borg -- {command} 3<{SERVER_PASS}"
    )


def server_archives(server) -> list[str]:
    """Archives as the server sees them locally (not through the client's key)."""
    out = server.check_output(as_repository_account("borg list --short"))
    return out.split()


def backup_now(web) -> None:
    result = web.run("systemctl start ereje-backup.service")
    assert result.rc == 0, web.run("journalctl -u ereje-backup.service -n 60 --no-pager").stdout


def site_state(web) -> tuple[str, str]:
    sums = web.check_output("cd /srv/www/site && find . -type f -print0 | sort -z | xargs -0 sha256sum")
    rows = web.check_output(
        "mysql -N site -e 'SELECT COUNT(*) FROM news; SELECT COUNT(*) FROM users; CHECKSUM TABLE news, users'"
    )
    return sums, rows


# ---- Back up, lose, restore --------------------------------------------------------------


def test_site_and_database_are_restored_after_loss(web, server):
    """ATU-5.14-a, KNMU-3-a, KTBU-11.2-a, ATU-5.21-a, KTBU-14-a: the site and its database are backed
    up to the server, destroyed, and put back by the restore playbook with the same checksums and rows."""
    sums, rows = site_state(web)
    assert "lecture.pdf" in sums and rows.split()[:2] == ["50", "3"]
    backup_now(web)
    assert server_archives(server), "no archive on the server after the backup"

    web.run_test("rm -rf /srv/www/site && mysql -e 'DROP DATABASE site'")
    assert not web.file("/srv/www/site").exists

    result = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            str(ROOT / "playbooks/backup_restore_host.yml"),
            "-e",
            json.dumps({"restore_hosts": WEB, "restore_paths": ["/srv/www/site"]}),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=ansible_env(),
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert site_state(web) == (sums, rows)
    restore = json.loads(web.file("/var/lib/ereje-backup/restore.json").content_string)
    assert restore["result"] == "passed" and restore["files_failed"] == 0


# ---- The client can add, not destroy -----------------------------------------------------


def test_client_cannot_delete_or_prune_its_archives(web, server):
    """ATU-5.14-a: with its own key the client's delete, prune and repository deletion fail, and every
    archive is still on the server."""
    if len(server_archives(server)) < 2:
        backup_now(web)
    before = server_archives(server)
    assert len(before) >= 2
    for command in (
        f"borg delete ::{before[0]}",
        "borg prune --keep-last 1",
        "borg delete",
    ):
        result = client_borg(web, command)
        assert result.rc != 0, f"{command} succeeded: {result.stdout} {result.stderr}"
    assert "RPC method delete is not valid" in client_borg(web, f"borg delete ::{before[0]}").stderr
    assert server_archives(server) == before


def test_client_key_reaches_only_its_own_repository(web):
    """ATU-5.14-a: the client's key opens no shell and no other repository on the server."""
    other = client_borg(
        web, "borg init --encryption repokey-blake2 ssh://borg@ereje-mol-backup-server/srv/borg/repos/other"
    )
    assert other.rc != 0
    assert "not allowed" in other.stderr
    # -v: the key is accepted (so a refused login cannot pass for a refused shell); the forced
    # command runs borg serve instead of `id`, which prints nothing.
    shell = web.run(
        "ssh -v -i /etc/ereje-backup/id_ed25519 -o BatchMode=yes "
        "-o UserKnownHostsFile=/etc/ereje-backup/known_hosts "
        f"borg@{SERVER} id </dev/null"
    )
    assert "Authenticated to" in shell.stderr, shell.stderr[-2000:]
    assert "uid=" not in shell.stdout, shell.stdout


def test_client_key_is_refused_from_any_other_address(web, server):
    """ATU-5.14-a: the client's key copied off the client (here onto the server, another address)
    opens nothing: the server accepts it only from the client's own address (sshd from=), and
    says so in its log; the same key from the client still logs in."""
    key = web.file("/etc/ereje-backup/id_ed25519").content_string
    stolen = "/root/stolen_backup_key"
    server.run_test(f"install -m 0600 /dev/null {stolen} && printf '%s' {shlex.quote(key)} > {stolen}")
    try:
        since = server.check_output("date '+%Y-%m-%d %H:%M:%S'")
        address = molecule.address(SERVER)
        tried = server.run(
            f"ssh -v -i {stolen} -o BatchMode=yes -o StrictHostKeyChecking=no "
            f"-o UserKnownHostsFile=/dev/null borg@{address} id </dev/null"
        )
        assert tried.rc != 0, tried.stdout
        assert "Authenticated to" not in tried.stderr, tried.stderr[-2000:]
        assert "Permission denied (publickey)" in tried.stderr, tried.stderr[-2000:]
        log = server.check_output(f"journalctl -u ssh --since {shlex.quote(since)} --no-pager")
        assert "correct key but not from a permitted host" in log, log[-2000:]
    finally:
        server.run(f"rm -f {stolen}")
    line = server.file("/etc/ssh/ereje-backup-authorized_keys").content_string
    assert f'from="{molecule.address(WEB)}"' in line, line
    own = web.run(
        "ssh -v -i /etc/ereje-backup/id_ed25519 -o BatchMode=yes "
        f"-o UserKnownHostsFile=/etc/ereje-backup/known_hosts borg@{SERVER} id </dev/null"
    )
    assert "Authenticated to" in own.stderr, own.stderr[-2000:]


def test_the_repository_account_cannot_trust_a_key_of_its_own(web, server):
    """ATU-5.14-a: a client that escaped borg serve runs commands as the repository account; the
    keys sshd accepts for it are root's (outside the home it owns), so it can neither change them
    nor plant a key without the forced command in its own home: a login with such a key is
    refused, while the registered key (forced command) still works."""
    as_borg = "setpriv --reuid=borg --regid=borg --clear-groups"
    keys = server.file("/etc/ssh/ereje-backup-authorized_keys")
    assert (keys.user, keys.group, keys.mode) == ("root", "root", 0o644)
    assert server.run(f"{as_borg} sh -c 'echo x >> /etc/ssh/ereje-backup-authorized_keys'").rc != 0
    planted = "/root/planted_key"
    server.run_test(f"rm -f {planted} {planted}.pub && ssh-keygen -q -t ed25519 -N '' -f {planted}")
    pub = server.file(f"{planted}.pub").content_string.strip()
    try:
        # What an escaped client can do: write in the home it owns.
        plant = f"mkdir -p /srv/borg/.ssh && echo {shlex.quote(pub)} > /srv/borg/.ssh/authorized_keys"
        assert server.run(f"{as_borg} sh -c {shlex.quote(plant)}").rc == 0
        web.run_test(f"printf '%s\\n' {shlex.quote(server.file(planted).content_string)} > {planted}")
        web.run_test(f"chmod 0600 {planted}")
        tried = web.run(
            f"ssh -v -i {planted} -o BatchMode=yes -o IdentitiesOnly=yes "
            f"-o UserKnownHostsFile=/etc/ereje-backup/known_hosts borg@{SERVER} id </dev/null"
        )
        assert "Authenticated to" not in tried.stderr, tried.stderr[-2000:]
        assert "uid=" not in tried.stdout, tried.stdout
        assert "Permission denied (publickey)" in tried.stderr, tried.stderr[-2000:]
    finally:
        server.run(f"rm -rf /srv/borg/.ssh {planted} {planted}.pub")
        web.run(f"rm -f {planted}")


def test_repository_is_encrypted_and_its_key_escrowed(web, server):
    """ATU-5.14-a: the repository is encrypted (repokey), its passphrase and key are escrowed on the
    controller outside the repository, readable only by their owner, and equal to what the host uses."""
    info = json.loads(client_borg(web, "borg info --json").stdout)
    assert info["encryption"]["mode"] == "repokey-blake2"
    escrow = molecule.ephemeral_dir() / "escrow"
    passphrase, key = escrow / f"{WEB}.passphrase", escrow / f"{WEB}.borg-key"
    for path in (passphrase, key):
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
        assert ROOT not in path.resolve().parents
    assert passphrase.read_text().strip() == web.file("/etc/ereje-backup/passphrase").content_string.strip()
    assert key.read_text().strip() == client_borg(web, "borg key export").stdout.strip()
    assert web.file("/etc/ereje-backup/passphrase").mode == 0o600
    # On the server, root's alone: the account clients log in to cannot read it.
    assert server.file(SERVER_PASS).mode == 0o400 and server.file(SERVER_PASS).user == "root"
    refused = server.run(f"runuser -u borg -- cat {SERVER_PASS}")
    assert refused.rc != 0 and "Permission denied" in refused.stderr, refused.stdout
    no_pass = server.run(f"runuser -u borg -- env BORG_REPO={REPO} BORG_PASSPHRASE=wrong borg list")
    # Refused for the passphrase itself (the repository opened; the key did not).
    assert no_pass.rc != 0 and "passphrase supplied in BORG_PASSPHRASE" in no_pass.stderr, no_pass.stderr
    assert "is incorrect" in no_pass.stderr, no_pass.stderr


# ---- Damage is found ---------------------------------------------------------------------


def test_flipped_byte_in_repository_is_detected(server):
    """ATU-5.14-a, ATU-8.4-c: one flipped byte in a copy of the repository makes the check fail, while
    the intact repository passes it."""
    copy = "/srv/borg/repos/flip-test"
    server.run_test(f"rm -rf {copy} && cp -a {REPO} {copy}")
    try:
        server.run_test(
            "python3 -c \"import pathlib,sys; f=max(pathlib.Path(sys.argv[1]).glob('data/*/*'), "
            "key=lambda p: p.stat().st_size); b=bytearray(f.read_bytes()); i=len(b)//2; b[i]^=0xFF; "
            f'f.write_bytes(bytes(b))" {copy}'
        )
        # The real repository is read as its owner (root would leave root-owned files in it).
        intact = server.run(as_repository_account("borg check --repository-only"))
        assert intact.rc == 0, intact.stderr
        damaged = status_module(
            SERVER, repository=copy, passphrase_file=SERVER_PASS, require_drill=False, check="repository"
        )
        assert damaged.get("failed")
        assert damaged["repository_ok"] is False
        assert "borg check found damage" in damaged["msg"]
    finally:
        server.run(f"rm -rf {copy}")


# ---- Drill, status, schedule -------------------------------------------------------------


def test_restore_drill_passes_cleans_up_and_is_recorded(web):
    """ATU-8.4-c: the drill extracts the latest archive to scratch, matches every file with the manifest,
    loads the dump into a scratch database with the same rows, removes both and records the result."""
    result = web.run("systemctl start ereje-backup-drill.service")
    drill = json.loads(web.file("/var/lib/ereje-backup/drill.json").content_string)
    assert result.rc == 0, drill
    assert drill["result"] == "passed"
    assert drill["files_checked"] > 200 and drill["files_failed"] == 0
    assert drill["databases"]["site"] == {"ok": True, "rows": 53, "tables": 2}
    assert web.file("/var/lib/ereje-backup/drill.json").mode == 0o644
    assert web.run("ls -d /var/tmp/ereje-drill.* 2>/dev/null").stdout == ""
    assert "ereje_drill" not in web.check_output("mysql -N -e 'SHOW DATABASES'")


def create_with_a_hook_after_the_manifest(web, command: str) -> None:
    """One backup whose hooks run ``command`` once the manifest is written, before Borg reads the files."""
    web.run_test(
        "cp /etc/borgmatic/config.yaml /root/borgmatic.yaml && sed -i "
        "'s#    - /usr/local/sbin/ereje-backup prepare#    - /usr/local/sbin/ereje-backup prepare\\n"
        f"    - {command}#' /root/borgmatic.yaml"
    )
    try:
        web.run_test("borgmatic -c /root/borgmatic.yaml create")
    finally:
        web.run("rm -f /root/borgmatic.yaml")


def test_drill_fails_when_an_archive_does_not_match_its_manifest(web):
    """ATU-8.4-c: an archive whose data differ from the manifest written at backup time fails the drill."""
    # The manifest is written by the before_backup hook; a change after it (simulated by a hook that
    # alters a file once the manifest exists) must show up as a mismatch.
    create_with_a_hook_after_the_manifest(web, "echo late-change >> /srv/www/site/pages/p2.html")
    drill = web.run("/usr/local/sbin/ereje-backup drill")
    assert drill.rc != 0
    recorded = json.loads(web.file("/var/lib/ereje-backup/drill.json").content_string)
    assert recorded["result"] == "failed"
    assert recorded["files_failed_sample"] == ["srv/www/site/pages/p2.html"]
    backup_now(web)
    assert web.run("/usr/local/sbin/ereje-backup drill").rc == 0


def test_collected_events_are_backed_up_while_they_arrive(web, server):
    """ATU-5.14-a, ATU-8.4-c: the collector's events (the server sends its own over TLS)
    are in the archive. Events that arrive between the manifest and the archive do not fail the
    drill, which checks that each restored log begins with what the manifest saw; an earlier event
    rewritten in that window fails it, naming the log."""
    tag = f"ereje-backup-events-{os.getpid()}"
    server.run_test(f"logger -p authpriv.notice -t {tag} collected-before-the-backup")
    directory = f"/var/log/remote/{SERVER}"
    wait = f"for i in $(seq 60); do grep -l {tag} {directory}/*.log && exit 0; sleep 0.5; done; exit 1"
    found = web.run(wait)
    assert found.rc == 0, (
        f"the server's event never reached the collector: {web.run(f'ls -l {directory}').stdout}"
    )
    log = found.stdout.split()[0]

    create_with_a_hook_after_the_manifest(web, f"echo arrived-during-the-backup >> {log}")
    drill = web.run("/usr/local/sbin/ereje-backup drill")
    recorded = json.loads(web.file("/var/lib/ereje-backup/drill.json").content_string)
    assert drill.rc == 0 and recorded["result"] == "passed", recorded
    assert recorded["append_only_checked"] >= 1, recorded
    archive = client_borg(web, "borg list --short --last 1").stdout.strip()
    listing = client_borg(web, f"borg list --short ::{archive}").stdout.split()
    assert log.lstrip("/") in listing, f"{log} not in {archive}"

    # An event already collected is altered in the same window: the archive no longer begins with it.
    # (In place, as rsyslog holds the file open: the first byte overwritten, the inode kept.)
    create_with_a_hook_after_the_manifest(
        web, f"printf X | dd of={log} bs=1 count=1 conv=notrunc status=none"
    )
    assert web.run("/usr/local/sbin/ereje-backup drill").rc != 0
    recorded = json.loads(web.file("/var/lib/ereje-backup/drill.json").content_string)
    assert recorded["result"] == "failed" and log.lstrip("/") in recorded["files_failed_sample"], recorded
    backup_now(web)
    assert web.run("/usr/local/sbin/ereje-backup drill").rc == 0


def test_status_reports_fresh_backup_drill_and_health(web):
    """KNMU-3-a, ATU-8.4-c: the status module reports the newest archive's age, the last drill and the
    repository's health, in check mode too."""
    for extra in ((), ("--check",)):
        status = status_module(WEB, *extra, rpo_hours=26, check="repository")
        assert not status.get("failed"), status.get("msg")
        assert status["changed"] is False
        assert status["rpo_exceeded"] is False and status["age_hours"] < 1
        assert status["drill"]["result"] == "passed"
        assert status["repository_ok"] is True
        assert status["archives"] >= 2


def test_status_fails_when_newest_archive_is_older_than_rpo(server):
    """KNMU-3-a: a repository whose newest archive is older than the RPO makes the status module fail."""
    stale, passfile = "/srv/borg/repos/stale-test", "/root/stale-test.pass"
    three_days_ago = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3)).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    env = f"BORG_REPO={stale} BORG_PASSCOMMAND='cat {passfile}'"
    server.run_test(
        f"rm -rf {stale} && echo stale-pass > {passfile} && {env} borg init -e repokey-blake2 && "
        f"{env} borg create --timestamp {three_days_ago} ::old /etc/hostname"
    )
    try:
        late = status_module(
            SERVER, repository=stale, passphrase_file=passfile, require_drill=False, rpo_hours=26
        )
        assert late.get("failed")
        assert late["rpo_exceeded"] is True
        assert "RPO of 26 h exceeded" in late["msg"]
        assert 71 < late["age_hours"] < 73
        within = status_module(
            SERVER, repository=stale, passphrase_file=passfile, require_drill=False, rpo_hours=100
        )
        assert not within.get("failed"), within.get("msg")
    finally:
        server.run(f"rm -rf {stale} {passfile}")


def test_daily_backup_and_drill_are_scheduled(web, server):
    """KNMU-3-a, ATU-8.4-c: a daily backup timer and a drill timer run on the client, daily retention and
    checks on the server; Debian's borgmatic timer (which would try to prune) is off."""
    for host, unit in (
        (web, "ereje-backup.timer"),
        (web, "ereje-backup-drill.timer"),
        (server, "ereje-backup-maintain.timer"),
    ):
        assert host.service(unit).is_enabled and host.service(unit).is_running, unit
    assert "*-*-* 01:30:00" in web.check_output("systemctl show ereje-backup.timer -p TimersCalendar")
    assert not web.service("borgmatic.timer").is_enabled


def test_archive_holds_settings_and_software_list(web):
    """KTBU-11.2-a, KTBU-11.2-b: the archive holds the site's settings (/etc) and the exact list of
    installed packages needed to reinstall the host."""
    latest = client_borg(web, "borg list --short --last 1").stdout.strip()
    packages = client_borg(web, f"borg extract --stdout ::{latest} var/backups/ereje/packages.txt").stdout
    assert "mariadb-server=" in packages and "borgbackup=1.2" in packages
    listing = client_borg(web, f"borg list --short ::{latest} etc/ssh/sshd_config etc/mysql").stdout
    assert "etc/ssh/sshd_config" in listing and "etc/mysql" in listing


def test_server_prunes_compacts_and_checks_with_its_own_credentials(server):
    """ATU-5.14-a: retention, compaction and the full check run on the server (not the client) and
    record their result; recent archives are kept."""
    before = server_archives(server)
    result = server.run("systemctl start ereje-backup-maintain.service")
    state = json.loads(server.file(f"/var/lib/ereje-backup/{WEB}.json").content_string)
    assert result.rc == 0, state
    assert state["result"] == "passed"
    assert state["prune"]["ok"] and state["compact"]["ok"] and state["check"]["ok"]
    assert server_archives(server) == before
    # Started as root for the passphrases, it ran borg as the repository account: nothing in the
    # repository or the state it wrote belongs to anyone else.
    foreign = server.check_output(f"find {REPO} /var/lib/ereje-backup ! -user borg")
    assert not foreign, foreign


def server_borg(server, command: str):
    """A borg command on the server, locally, as the maintenance runs it (the administrator's view)."""
    return server.run(as_repository_account(command))


def test_archives_dated_in_the_future_cannot_make_the_server_prune_real_ones(web, server):
    """ATU-5.14-a: the attack on append-only retention. With its own append-only key, a compromised
    client adds 25 archives dated in 2031, so that a prune by archive dates would keep only those and
    remove every real one. The server's maintenance flags them, deletes nothing, fails its unit (the
    health check's finding) and logs an alert; every pre-attack archive still restores. Once an
    administrator deletes the forged archives, maintenance passes again."""
    before = server_archives(server)
    assert before
    forged = [f"forged-{i:02d}" for i in range(25)]
    attack = "; ".join(
        f"borg create --timestamp 2031-01-{1 + i:02d}T00:00:00 ::{name} /etc/hostname"
        for i, name in enumerate(forged)
    )
    created = client_borg(web, f"sh -ec {shlex.quote(attack)}")
    assert created.rc == 0, created.stderr[-2000:]
    assert set(server_archives(server)) == set(before) | set(forged)
    cleared = False
    try:
        since = server.check_output("date +%s")
        run = server.run("systemctl start ereje-backup-maintain.service")
        state = json.loads(server.file(f"/var/lib/ereje-backup/{WEB}.json").content_string)
        assert run.rc != 0, state
        assert state["result"] == "failed"
        assert {item["archive"] for item in state["suspicious"]} == set(forged)
        assert all("in the future" in item["reason"] for item in state["suspicious"])
        assert "nothing deleted" in state["prune"]["output"]
        alerts = server.check_output(
            f"journalctl -u ereje-backup-maintain.service -p err --since @{since} --no-pager -o cat"
        )
        assert f"{WEB}: ALERT archive forged-00: dated 2031-01-01" in alerts, alerts
        # Every pre-attack archive is still there, whole: each one is read back and verified.
        assert set(server_archives(server)) >= set(before)
        for name in before:
            restored = server_borg(server, f"borg extract --dry-run ::{name}")
            assert restored.rc == 0, (name, restored.stderr[-1000:])
        # The client's own status does not take the forged date for a fresh backup.
        client = status_module(WEB, rpo_hours=26, require_drill=False)
        assert client["failed"] and "in the future" in client["msg"], client
        # The administrator's remedy: delete the forged archives on the server, then maintain again.
        removed = server_borg(server, f"borg delete ::{forged[0]} {' '.join(forged[1:])}")
        assert removed.rc == 0, removed.stderr[-1000:]
        cleared = True
        assert server.run("systemctl start ereje-backup-maintain.service").rc == 0
        state = json.loads(server.file(f"/var/lib/ereje-backup/{WEB}.json").content_string)
        assert state["result"] == "passed" and state["suspicious"] == []
        assert server_archives(server) == before
    finally:
        if not cleared:
            server_borg(server, f"borg delete ::{forged[0]} {' '.join(forged[1:])}")
            server.run("systemctl start ereje-backup-maintain.service")


def test_the_server_can_hold_no_passphrase_and_take_retention_from_the_controller(web, server):
    """ATU-5.14-a (issue 21, finding 3): set to hold no passphrase, the backup server keeps none (the
    escrowed passphrase's text is nowhere on its disk, logs included); its nightly run checks the
    repository's segments without one and passes; retention comes from the controller
    (playbooks/backup_retention.yml), which brings the escrowed passphrase for that run only: the
    server lists the archives, judges their dates, prunes by its own times, compacts and checks, and
    still holds no passphrase afterwards. Set back, the client's registration puts it back."""
    passphrase = (molecule.ephemeral_dir() / "escrow" / f"{WEB}.passphrase").read_text().strip()
    before = server_archives(server)
    holds_none = ("-e", "backup_server_passphrases_on_server=false")
    search = f"grep -rlF -- {shlex.quote(passphrase)} /etc /srv /var /root /home /tmp"
    try:
        converged, _ = molecule.run_playbook("converge.yml", *holds_none)
        assert converged.returncode == 0, converged.stdout[-4000:]
        assert not server.file(SERVER_PASS).exists
        found = server.run(search)
        assert found.rc == 1 and not found.stdout, f"the passphrase is on the server: {found.stdout}"
        nightly = server.run("systemctl start ereje-backup-maintain.service")
        state = json.loads(server.file(f"/var/lib/ereje-backup/{WEB}.json").content_string)
        assert nightly.rc == 0 and state["result"] == "passed", state
        assert state["check"]["ok"] and "from the controller" in state["retention"]
        assert "list" not in state and "prune" not in state, state
        retention, recap = molecule.run_playbook(
            str(ROOT / "playbooks" / "backup_retention.yml"), *holds_none
        )
        assert retention.returncode == 0 and recap[SERVER]["failed"] == 0, retention.stdout[-4000:]
        assert f"{WEB}: passed" in retention.stdout, retention.stdout[-4000:]
        state = json.loads(server.file(f"/var/lib/ereje-backup/{WEB}.json").content_string)
        assert state["result"] == "passed" and state["archives"] == len(before), state
        assert state["pruned"] == [] and state["suspicious"] == [], state
        assert state["prune"]["ok"] and state["compact"]["ok"] and state["check"]["ok"], state
        found = server.run(search)
        assert found.rc == 1 and not found.stdout, (
            f"the run left the passphrase on the server: {found.stdout}"
        )
    finally:
        restored, _ = molecule.run_playbook("converge.yml")
    assert restored.returncode == 0, restored.stdout[-4000:]
    assert server.file(SERVER_PASS).mode == 0o400 and server_archives(server) == before


def test_no_drift_in_check_mode():
    """A --check --diff converge right after converge changes nothing."""
    molecule.assert_no_drift()
