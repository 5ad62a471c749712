"""The domain, used the way staff, students and attackers meet it.

Each test names the control(s) it proves (controls/catalog.yml lists it under verified_by).
Clients run on the member host (ws1) against dc1's address on the scenario network; Kerberos
logons run on the DCs. Passwords are the ones the scenario generated (ephemeral directory).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import uuid

import pytest

from conftest import BASE_DN, DC1, DC2, REALM, password
from support import molecule


def kinit(h, user: str, secret: str):
    """A Kerberos logon of ``user`` on host ``h`` (fresh credential cache each time)."""
    cache = f"/tmp/krb5cc_test_{uuid.uuid4().hex}"
    return h.run(
        f"printf '%s\\n' {shlex.quote(secret)} | KRB5CCNAME={cache} kinit {user}@{REALM}; "
        f"rc=$?; rm -f {cache}; exit $rc"
    )


def run_tags(tags: str, check: bool = False) -> str:
    """Converge only the tasks of ``tags`` on the DCs (what an administrator runs after editing the
    inventory); with ``check``, as --check --diff."""
    result = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            "--tags",
            tags,
            "--limit",
            "domain_controllers",
            *(["--check", "--diff"] if check else []),
            str(molecule.scenario_dir() / "converge.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ | {"ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return result.stdout + result.stderr


def members(h, group: str) -> set[str]:
    out = h.check_output(f"samba-tool group listmembers {group}")
    return {line.strip().lower() for line in out.splitlines() if line.strip()}


# ---- ATU-2.2.1-a: the domain and its DNS -------------------------------------------------


def test_srv_records_resolve_through_the_dc(ws1, dc1_ip):
    """ATU-2.2.1-a: the DC's internal DNS answers the SRV records clients find the domain with."""
    for record in ("_ldap._tcp", "_kerberos._udp", "_kerberos._tcp", "_ldap._tcp.dc._msdcs"):
        out = ws1.check_output(f"host -t SRV {record}.ereje.test {dc1_ip}")
        assert "dc1.ereje.test" in out, out


# The records declared in molecule.yml (samba_dc_dns_records).
DKIM = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A" * 12


def dig(ws1, server: str, rtype: str, name: str) -> list[str]:
    """The answers of one DC to a query from the member host, one line each (@: the zone)."""
    fqdn = "ereje.test" if name == "@" else f"{name}.ereje.test"
    return ws1.check_output(f"dig +short +norecurse {rtype} {fqdn} @{server}").splitlines()


def test_declared_records_resolve_through_both_dcs(ws1, dc1_ip, dc2_ip):
    """ATU-2.2.1-a: the servers outside the domain, the MX, SPF and a DKIM key longer than one DNS
    string are in the zone, and each DC answers them from its own replica."""
    for server in (dc1_ip, dc2_ip):
        assert dig(ws1, server, "A", "mail") == ["192.0.2.25"]
        assert dig(ws1, server, "CNAME", "www") == ["web.ereje.test."]
        assert dig(ws1, server, "MX", "@") == ["10 mail.ereje.test."]
        assert dig(ws1, server, "TXT", "@") == ['"v=spf1 mx -all"']
        (dkim,) = dig(ws1, server, "TXT", "mail._domainkey")
        strings = dkim.strip('"').split('" "')
        assert len(strings) > 1 and max(map(len, strings)) <= 255
        assert "".join(strings) == DKIM, "a receiver joins the strings back into the declared key"
    # The member resolves the names through its DNS servers, the DCs, as any program would.
    assert ws1.check_output("getent hosts www.ereje.test").split()[0] == "192.0.2.80"


def test_dns_record_changed_by_hand_is_put_back(ws1, dc1, dc1_ip):
    """ATU-2.2.1-a: a record changed by hand is reported by --check and put back by the role; a
    value nobody declared is removed from a declared name, undeclared names stay."""
    dc1.check_output("samba-tool dns update 127.0.0.1 ereje.test mail A 192.0.2.25 192.0.2.99 -P")
    dc1.check_output("samba-tool dns add 127.0.0.1 ereje.test web A 192.0.2.81 -P")
    dc1.check_output("samba-tool dns add 127.0.0.1 ereje.test printer A 192.0.2.9 -P")
    try:
        drift = run_tags("dns", check=True)
        assert "-mail A 192.0.2.99" in drift and "+mail A 192.0.2.25" in drift, drift[-3000:]
        assert dig(ws1, dc1_ip, "A", "mail") == ["192.0.2.99"], "--check changed the zone"
        run_tags("dns")
        assert dig(ws1, dc1_ip, "A", "mail") == ["192.0.2.25"]
        assert dig(ws1, dc1_ip, "A", "web") == ["192.0.2.80"]
        assert dig(ws1, dc1_ip, "A", "printer") == ["192.0.2.9"], "an undeclared name was touched"
    finally:
        dc1.run("samba-tool dns delete 127.0.0.1 ereje.test printer A 192.0.2.9 -P")


def test_active_user_gets_a_kerberos_ticket(dc1):
    """ATU-2.2.1-a, MVD-8-a: a declared, active user authenticates with the domain password."""
    result = kinit(dc1, "alice", password("alice"))
    assert result.rc == 0, result.stderr


def test_users_get_access_through_their_role_groups(dc1):
    """ATU-5.13-b, MVD-8-a: each declared role group holds exactly the users that list it."""
    assert members(dc1, "teachers") == {"alice"}
    assert members(dc1, "students") == {"lockme", "carol"}
    assert members(dc1, "it-admins") == {"dias"}
    ou = dc1.check_output("samba-tool user show alice --attributes=distinguishedName")
    assert "OU=Engineering,OU=Faculties" in ou


def test_generated_initial_password_is_root_only(dc1):
    """ATU-8.4-b: a user declared without a password gets a generated one only root can read."""
    directory = dc1.file("/var/lib/samba/private/ereje-initial-passwords")
    assert directory.mode == 0o700
    assert directory.user == "root"
    assert dc1.file("/var/lib/samba/private/ereje-initial-passwords/carol").mode == 0o600


# ---- Bad input: refused before any change ---------------------------------------------------

POLICY = {
    "min_length": 6,
    "complexity": True,
    "history_length": 24,
    "min_age_days": 0,
    "max_age_days": 90,
    "lockout_threshold": 3,
    "lockout_duration_mins": 30,
    "reset_lockout_after_mins": 30,
}
BAD_INPUT = {
    "realm": ({"samba_dc_realm": "ereje"}, ["samba_dc_realm must be"]),
    "weak-policy": ({"samba_dc_password_policy": POLICY}, ["samba_dc_password_policy is weaker"]),
    "unknown-group": (
        {"samba_dc_users": [{"name": "zhan", "groups": ["deans"]}]},
        ["samba_dc_users:", "deans", "which samba_dc_groups does not declare"],
    ),
    "dns-address": (
        {"samba_dc_dns_records": [{"name": "mail", "type": "A", "value": "mail.ereje.test"}]},
        ["samba_dc_dns_records:", "'mail.ereje.test' is not an IP address"],
    ),
    "duplicate": (
        {"samba_dc_users": [{"name": "zhan"}, {"name": "Zhan"}]},
        ["samba_dc_users: duplicate account name"],
    ),
    # Fail closed: a DC open to every address (its DNS forwards any name) is a choice to write down.
    "open-to-all": (
        {"samba_dc_firewall_sources": []},
        ["samba_dc_firewall_sources is empty: name the networks", "[0.0.0.0/0, '::/0']"],
    ),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=str)
def test_bad_input_is_refused_before_any_change(case, tmp_path):
    """ATU-8.4-a, ATU-8.4-b: bad input stops the run before any change, naming the variable."""
    extra, messages = BAD_INPUT[case]
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    result = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            "--limit",
            DC1,
            "--tags",
            "ereje-validation-only",  # only the validation (tagged always) runs
            "-e",
            f"@{tmp_path / 'extra.json'}",
            str(molecule.scenario_dir() / "converge.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ | {"ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"},
    )
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output[-3000:]
    for message in messages:
        assert message in output, output[-3000:]
    assert "changed=0" in output


# ---- ATU-8.4-a: password and lockout policy ---------------------------------------------


def test_password_policy_is_the_declared_one(dc1):
    """ATU-8.4-a: the domain's password settings are the inventory's."""
    out = dc1.check_output("samba-tool domain passwordsettings show")
    assert "Minimum password length: 12" in out
    assert "Password complexity: on" in out
    assert "Password history length: 24" in out
    assert "Account lockout threshold (attempts): 3" in out


def test_weak_password_is_refused(dc1):
    """ATU-8.4-a: a short or simple password is refused when an account is created or changed."""
    for weak in ("Abc12", "alllowercaseletters"):
        result = dc1.run(f"samba-tool user create weakling-{uuid.uuid4().hex[:6]} {shlex.quote(weak)}")
        assert result.rc != 0
        assert "password" in (result.stdout + result.stderr).lower()


def test_a_known_or_guessable_password_is_refused_though_long_and_complex(dc1):
    """ATU-8.4-a: passwords that pass Samba's length and complexity rules but are known (the role's
    list), contain the domain's name or the account's, or are a run of sequential characters are
    refused when an account is created (NIST SP 800-63B); a long unknown one is accepted."""
    name = f"known-{uuid.uuid4().hex[:6]}"
    try:
        for known in (
            "Password123!",
            "Kazakhstan2024",
            "My-Ereje-Pass-7x",
            f"{name}-Spring-9x",
            "Kx!9-2345-qwPz",
        ):
            result = dc1.run(f"samba-tool user create {name} {shlex.quote(known)}")
            assert result.rc != 0, f"{known} was accepted"
            assert "password" in (result.stdout + result.stderr).lower(), result.stdout + result.stderr
        accepted = dc1.run(f"samba-tool user create {name} 'Tulpar-Kokpar-Dombra-83'")
        assert accepted.rc == 0, accepted.stdout + accepted.stderr
    finally:
        dc1.run(f"samba-tool user delete {name}")


def test_repeated_wrong_passwords_lock_the_account(dc1):
    """ATU-8.4-a: after the declared number of failures even the right password is refused."""
    assert kinit(dc1, "lockme", password("lockme")).rc == 0
    for _ in range(3):
        assert kinit(dc1, "lockme", "Wrong-Password-123").rc != 0
    locked = kinit(dc1, "lockme", password("lockme"))
    assert locked.rc != 0
    assert "revoked" in locked.stderr.lower() or "locked" in locked.stderr.lower(), locked.stderr


# ---- ATU-2.4.2-b: hardening ---------------------------------------------------------------


def test_anonymous_ldap_search_is_refused(ws1, dc1_ip):
    """ATU-2.4.2-b: an anonymous LDAP search of the directory returns nothing."""
    result = ws1.run(
        f"ldapsearch -x -LLL -H ldap://{dc1_ip} -b {BASE_DN} '(objectClass=user)' sAMAccountName"
    )
    assert result.rc != 0
    assert "Operation unavailable without authentication" in result.stdout + result.stderr, result.stderr
    assert "sAMAccountName" not in result.stdout


def test_anonymous_share_listing_is_refused(ws1, dc1_ip):
    """ATU-2.4.2-b: no anonymous IPC$ session or share listing; an authenticated user can list."""
    anonymous = ws1.run(f"smbclient -N -L //{dc1_ip}")
    assert anonymous.rc != 0
    # The server itself says no (not a network failure): the hardened DC refuses the anonymous
    # session (LOGON_FAILURE); one that took it would still refuse its IPC$ (ACCESS_DENIED).
    said = anonymous.stdout + anonymous.stderr
    assert "session setup failed: NT_STATUS_LOGON_FAILURE" in said or "NT_STATUS_ACCESS_DENIED" in said, said
    assert "sysvol" not in anonymous.stdout.lower()
    user = ws1.run(f"smbclient -L //{dc1_ip} -U alice%{shlex.quote(password('alice'))}")
    assert user.rc == 0, user.stdout + user.stderr
    assert "sysvol" in user.stdout.lower()


def test_smb1_and_smb2_are_refused(ws1, dc1_ip):
    """ATU-2.4.2-b: a client that offers only SMB1 (or only SMB2) cannot negotiate."""
    secret = shlex.quote(password("alice"))
    smb1 = ws1.run(
        f"smbclient -L //{dc1_ip} -U alice%{secret} --option='client min protocol=NT1' "
        "--option='client max protocol=NT1'"
    )
    assert smb1.rc != 0
    # The server answered the negotiation and chose none of the client's dialects.
    assert "No compatible protocol selected by server" in smb1.stdout + smb1.stderr, smb1.stdout + smb1.stderr
    smb2 = ws1.run(
        f"smbclient -L //{dc1_ip} -U alice%{secret} --option='client min protocol=SMB2_02' "
        "--option='client max protocol=SMB2_10'"
    )
    assert smb2.rc != 0
    assert "protocol negotiation failed: NT_STATUS_NOT_SUPPORTED" in smb2.stdout + smb2.stderr, smb2.stderr


def test_cleartext_ldap_simple_bind_is_refused_and_ldaps_works(ws1, dc1_ip):
    """ATU-2.4.2-b: a simple bind without TLS is refused; the same bind over LDAPS succeeds."""
    secret = shlex.quote(password("alice"))
    search = f"-b {BASE_DN} '(sAMAccountName=alice)' sAMAccountName"
    clear = ws1.run(f"ldapsearch -x -LLL -H ldap://{dc1_ip} -D alice@{REALM} -w {secret} {search}")
    assert clear.rc != 0
    assert "strong" in (clear.stdout + clear.stderr).lower()
    tls = ws1.run(
        f"LDAPTLS_REQCERT=never ldapsearch -x -LLL -H ldaps://{dc1_ip} -D alice@{REALM} -w {secret} {search}"
    )
    assert tls.rc == 0, tls.stderr
    assert "sAMAccountName: alice" in tls.stdout


def test_ldaps_certificate_is_verified_against_the_project_ca(ws1, dc1):
    """ATU-2.4.2-b: the DC's LDAPS certificate is signed by the project's CA for the DC's name, so a
    client that demands a valid certificate reaches the directory with the CA's certificate and is
    refused with only the public CAs (it would have taken a self-signed or forged one before)."""
    ca = (molecule.ephemeral_dir() / "ca" / "ca.crt").read_text()
    ws1.run_test(f"printf '%s' {shlex.quote(ca)} > /tmp/ereje-ca.crt")
    search = f"-b {BASE_DN} '(sAMAccountName=alice)' sAMAccountName"
    ldaps = (
        f"LDAPTLS_REQCERT=demand ldapsearch -x -LLL -H ldaps://dc1.{REALM.lower()} "
        f"-D alice@{REALM} -w {shlex.quote(password('alice'))} {search}"
    )
    verified = ws1.run(f"LDAPTLS_CACERT=/tmp/ereje-ca.crt {ldaps}")
    assert verified.rc == 0 and "sAMAccountName: alice" in verified.stdout, verified.stderr
    # With the public CAs only, the handshake fails on the certificate itself (libldap's debug
    # output names the reason; without it, any unreachable server looks the same).
    debug = ldaps.replace("ldapsearch -x", "ldapsearch -d 1 -x")
    public_only = ws1.run(f"LDAPTLS_CACERT=/etc/ssl/certs/ca-certificates.crt {debug}")
    assert public_only.rc != 0, "the DC's certificate verified without the project's CA"
    assert "peer cert untrusted" in public_only.stdout + public_only.stderr, public_only.stderr[-2000:]
    issuer = dc1.check_output(
        "openssl x509 -noout -issuer -ext subjectAltName -in /var/lib/samba/private/tls-ereje/cert.pem"
    )
    assert "Ereje CA" in issuer and f"dc1.{REALM.lower()}" in issuer, issuer


def test_netbios_is_off_and_ldaps_key_is_private(dc1):
    """ATU-2.4.2-b: nothing listens on the NetBIOS ports; the LDAPS key is readable by root only."""
    listening = dc1.check_output("ss -Hlntu")
    for port in (":137 ", ":138 ", ":139 "):
        assert port not in listening
    key = dc1.file("/var/lib/samba/private/tls-ereje/key.pem")
    assert key.mode == 0o600
    assert key.user == "root"


# ---- YU-1.1.6-a, ATU-8.4-b: dismissal and hand-made changes -------------------------------


@pytest.fixture(scope="module")
def hand_made_changes(dc1):
    """Accounts and memberships made by hand, then the account tasks run once."""
    dc1.check_output(f"samba-tool user create dana {shlex.quote(password('alice'))}")
    dc1.check_output("samba-tool group addmembers teachers dana")
    dc1.check_output("samba-tool group addmembers 'Domain Admins' dana")
    dc1.check_output(f"samba-tool user create mallory {shlex.quote(password('alice'))}")
    dc1.check_output("samba-tool group addmembers teachers carol")
    return run_tags("accounts")


def test_dismissed_user_is_disabled_and_stripped_not_deleted(dc1, hand_made_changes):
    """YU-1.1.6-a: a dismissed user is disabled and out of every group, but the account remains."""
    show = dc1.run("samba-tool user show dana --attributes=userAccountControl,memberOf")
    assert show.rc == 0, "the dismissed account must be kept as evidence"
    assert "memberOf" not in show.stdout
    assert int(show.stdout.split("userAccountControl:")[1].split()[0]) & 0x2
    assert "dana" not in members(dc1, "teachers")
    # With her right password: refused because the account is disabled, not for the password.
    refused = kinit(dc1, "dana", password("alice"))
    assert refused.rc != 0 and "credentials have been revoked" in refused.stderr, refused.stderr


def test_accounts_and_memberships_made_by_hand_are_reported_and_removed(dc1, hand_made_changes):
    """ATU-8.4-b: an undeclared account is reported and disabled; a hand-made membership is removed."""
    assert "mallory" in hand_made_changes
    refused = kinit(dc1, "mallory", password("alice"))
    assert refused.rc != 0 and "credentials have been revoked" in refused.stderr, refused.stderr
    assert members(dc1, "teachers") == {"alice"}


# ---- ATU-6.3-a: the privileged groups are reviewed ----------------------------------------


def test_undeclared_domain_admin_is_found_and_removed(dc1, dc1_ip):
    """ATU-6.3-a: a user made Domain Admin by hand holds the domain until the next converge.

    alice (a teacher) first cannot do what only administrators may (set another account's expiry
    over LDAP); added to Domain Admins by hand, she can. The account tasks in check mode, as the
    audit runs them, name her membership and change nothing; the converge removes it, and the
    same request of hers is refused again.
    """
    admin_only = (
        f"samba-tool user setexpiry lockme --noexpiry -H ldap://{dc1_ip} "
        f"-U alice%{shlex.quote(password('alice'))}"
    )
    refused = dc1.run(admin_only)
    assert refused.rc != 0 and "INSUFFICIENT_ACCESS_RIGHTS" in refused.stderr, refused.stderr[-1000:]
    dc1.check_output("samba-tool group addmembers 'Domain Admins' alice")
    try:
        assert dc1.run(admin_only).rc == 0, "as a Domain Admin she can"
        found = " ".join(run_tags("ATU-6.3-a", check=True).split())
        assert "-Domain Admins: Administrator, alice +Domain Admins: Administrator" in found, found[-3000:]
        assert "alice" in members(dc1, "'Domain Admins'"), "check mode must change nothing"
        run_tags("accounts")
        assert members(dc1, "'Domain Admins'") == {"administrator"}, "the converge takes her out"
    finally:
        # Whatever failed above, the tests after this one find the domain as declared.
        dc1.run("samba-tool group removemembers 'Domain Admins' alice")
    refused = dc1.run(admin_only)
    assert refused.rc != 0 and "INSUFFICIENT_ACCESS_RIGHTS" in refused.stderr, refused.stderr[-1000:]


# ---- ATU-7.2-a: two DCs replicate -----------------------------------------------------------


def test_replication_works_both_ways(dc1, dc2):
    """ATU-7.2-a: an object created on either DC appears on the other."""
    for source, target in ((dc1, dc2), (dc2, dc1)):
        name = f"repl-{uuid.uuid4().hex[:8]}"
        source.check_output(f"samba-tool group add {name}")
        # A change is normally pushed within seconds (change notification); on a loaded machine
        # it can be missed, and then the partner's periodic pull (every 300 s) brings it.
        assert molecule.wait_for(
            lambda n=name, t=target: t.run(f"samba-tool group show {n}").rc == 0, timeout=360, interval=5
        ), f"group {name} did not replicate"
        source.check_output(f"samba-tool group delete {name}")


def test_second_dc_authenticates_users(dc2):
    """ATU-7.2-a: the second DC's KDC logs in a domain user on its own."""
    result = kinit(dc2, "alice", password("alice"))
    assert result.rc == 0, result.stderr


# ---- ATU-2.2.1-a: a member host -------------------------------------------------------------


def test_member_host_is_joined_and_a_domain_user_authenticates(ws1):
    """ATU-2.2.1-a: the workstation is a domain member; a domain user authenticates through PAM."""
    assert ws1.run("net ads testjoin").rc == 0
    assert ws1.run("getent passwd alice").rc == 0
    secret = shlex.quote(password("alice"))
    assert ws1.run(f"wbinfo --krb5auth=alice%{secret}").rc == 0
    pam = ws1.run(f"printf '%s\\n' {secret} | pamtester login alice authenticate")
    assert pam.rc == 0, pam.stdout + pam.stderr
    wrong = ws1.run("printf '%s\\n' Wrong-Password-1 | pamtester login alice authenticate")
    said = wrong.stdout + wrong.stderr
    assert wrong.rc != 0 and "Authentication failure" in said, said


def join_secret() -> str:
    return (molecule.ephemeral_dir() / "samba-join.pw").read_text().strip() + "-Aa1"


def test_only_the_delegated_account_adds_computers(dc1, dc1_ip):
    """ATU-2.4.2-b: members join with the delegated account, not Administrator (WS1's computer object is
    the join account's); an ordinary user can add no computer (ms-DS-MachineAccountQuota 0), the join
    account can add and remove one, and it cannot make itself a Domain Admin."""
    join = f"ereje-join%{shlex.quote(join_secret())}"
    shown = dc1.check_output("samba-tool user show ereje-join --attributes=objectSid")
    sid = shown.split("objectSid:")[1].split()[0]
    owner = dc1.check_output(f"samba-tool dsacl get --objectdn=CN=WS1,CN=Computers,{BASE_DN}")
    assert f"O:{sid}" in owner, f"WS1 was not joined by ereje-join ({sid}): {owner[:300]}"

    name = f"PC{uuid.uuid4().hex[:8].upper()}"
    as_alice = f"alice%{shlex.quote(password('alice'))}"
    alice = dc1.run(f"samba-tool computer create {name} -H ldap://{dc1_ip} -U {as_alice}")
    assert alice.rc != 0, f"an ordinary user added computer {name}"
    assert "INSUFFICIENT_ACCESS_RIGHTS" in alice.stderr, alice.stderr[-1500:]
    made = dc1.run(f"samba-tool computer create {name} -H ldap://{dc1_ip} -U {join}")
    assert made.rc == 0, made.stderr[-1500:]
    removed = dc1.run(f"samba-tool computer delete {name} -H ldap://{dc1_ip} -U {join}")
    assert removed.rc == 0, removed.stderr[-1500:]
    escalate = dc1.run(f"samba-tool group addmembers 'Domain Admins' ereje-join -H ldap://{dc1_ip} -U {join}")
    assert escalate.rc != 0 and "INSUFFICIENT_ACCESS_RIGHTS" in escalate.stderr, escalate.stderr[-1500:]
    assert "ereje-join" not in members(dc1, "'Domain Admins'")


def test_kerberos_gives_no_rc4_ticket(ws1):
    """ATU-2.4.2-b: a client that asks for RC4 (arcfour-hmac, whose key is the NTLM hash and cracks
    offline) gets no ticket: the KDC answers that it does not support the encryption type; the
    same user with the default (AES) gets one."""
    secret = password("alice")
    rc4 = "/tmp/krb5-rc4-only.conf"
    only_rc4 = "[libdefaults]\n default_tkt_enctypes = rc4-hmac\n default_tgs_enctypes = rc4-hmac\n"
    config = ws1.file("/etc/krb5.conf").content_string.replace("[libdefaults]\n", only_rc4, 1)
    assert "default_tkt_enctypes = rc4-hmac" in config, config
    ws1.run_test(f"printf '%s' {shlex.quote(config)} > {rc4}")
    ask = f"KRB5_CONFIG={rc4} KRB5CCNAME=/tmp/krb5cc_rc4 kinit alice@{REALM}"
    refused = ws1.run(f"printf '%s\\n' {shlex.quote(secret)} | {ask}")
    assert refused.rc != 0, refused.stdout
    assert "KDC has no support for encryption type" in refused.stderr, refused.stderr
    assert kinit(ws1, "alice", secret).rc == 0


def test_no_drift_in_check_mode():
    """ATU-2.4.2-b, ATU-8.4-a, ATU-8.4-b: --check --diff right after converge finds nothing to change."""
    molecule.assert_no_drift()


# Last in this file: it leaves dc2's replication state showing the failed pull until Samba's own
# periodic pull (every five minutes) succeeds again, which nothing after it may depend on. That the
# same check passes on a healthy replica is shown by the converge, the idempotence run and
# test_no_drift_in_check_mode, which all run it.
def test_broken_replication_fails_the_second_dc_in_check_mode(dc2, dc1_ip):
    """ATU-7.2-a: the audit's check (check mode, nothing pulled) fails when dc2 cannot replicate.

    dc2 is cut off from dc1 (its packets to dc1 are rejected) and asked to pull once, as Samba's
    own periodic pull would: the check-mode run then fails on dc2, naming the failed link and the
    error Samba recorded.
    """
    pull = f"samba-tool drs replicate DC2 DC1 {BASE_DN} --local-online"
    # The check-mode run of dc2 limited to the control's tag, as an audit narrowed to it runs (what
    # its tasks read is set under the same tag: tests/test_control_tags.py); dc2 learns the
    # primary's address from dc1's facts, which the scenario's fact cache keeps from the converge.
    check = ("converge.yml", "--check", "--limit", DC2, "--tags", "ATU-7.2-a")
    # TCP to dc1 is answered with a reset, so the pull fails at once (refused). A plain reject
    # (ICMP) made Samba's replication service retry until samba-tool gave up after 60 s; the
    # failure it records is the same kind of evidence (the link, the failures in a row).
    dc2.check_output(
        "nft add table inet ereje_break && "
        "nft add chain inet ereje_break out '{ type filter hook output priority 0; }' && "
        f"nft add rule inet ereje_break out ip daddr {dc1_ip} meta l4proto tcp reject with tcp reset && "
        f"nft add rule inet ereje_break out ip daddr {dc1_ip} reject"
    )
    try:
        assert dc2.run(pull).rc != 0
        broken, recap = molecule.run_playbook(*check)
        # Ansible 2.19 prints a failed task's result on stderr; its line wrapping is undone.
        said = " ".join((broken.stdout + broken.stderr).split())
        assert recap[DC2]["failed"] == 1, said[-3000:]
        assert f"{BASE_DN} from DC1: " in said and "failure(s) in a row" in said, said[-3000:]
        assert "this replica pulls from the other DCs" in said, said[-3000:]
    finally:
        dc2.run("nft delete table inet ereje_break")
