#!/usr/bin/python3
"""Ansible module: only a delegated account joins computers to a Samba AD domain.

Enforces ATU-2.4.2-b (the domain's hardening) against issue 21 finding 9: members no longer join as
Administrator, and an ordinary user can no longer add machines to the domain. The join account
gets exactly the rights Microsoft's "join a computer to the domain" delegation gives on the
computers' container, nothing else; ms-DS-MachineAccountQuota (10 by default: any user may add
ten computers) is set to the declared value, 0. The planning is in plain functions, unit-tested
without Samba.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.samba import (
    SAMDB_URL_OPTION,
    ldap_escape,
    open_samdb,
)

DOCUMENTATION = r"""
---
module: ereje_samba_join_delegation
short_description: Only the delegated join account adds computers to a Samba AD domain
description:
  - Gives O(account) the rights to join computers in O(container) and nothing more, as access control
    entries on the container inherited by computer objects only - create and delete computer
    objects; on computer objects, reset their password, validated writes of the DNS host name and
    the service principal names, and writing the account restrictions (what a re-join needs).
  - Sets the domain's C(ms-DS-MachineAccountQuota), the number of computers any authenticated user may
    add (10 in a new domain), to O(machine_account_quota).
  - Reads the container's security descriptor and the quota from the local C(sam.ldb); adds only the
    entries that are missing, never removes others.
  - Supports check mode (for the audit, a missing entry or another quota is drift) and diff.
  - Enforces control ATU-2.4.2-b of the Ereje catalog.
options:
  account:
    type: str
    required: true
    description: sAMAccountName of the join account (declared with the directory's users, so it exists).
  container:
    type: str
    default: CN=Computers
    description: >-
      Where computers are joined, relative to the domain's DN (an OU like C(OU=Workstations) works too).
  machine_account_quota:
    type: int
    default: 0
    description: Computers any authenticated user may add to the domain; 0 leaves joining to the join account.
  samdb_url:
    type: str
    default: /var/lib/samba/private/sam.ldb
    description: The domain database.
author: Ereje
"""

EXAMPLES = r"""
- name: Domain | only the join account joins computers
  ereje.compliance.ereje_samba_join_delegation:
    account: ereje-join
    machine_account_quota: 0
"""

RETURN = r"""
actions:
  description: The planned changes, one sentence each (also in check mode, where nothing is changed).
  returned: always
  type: list
  elements: str
sid:
  description: The join account's SID, which the entries name.
  returned: when the account exists
  type: str
quota:
  description: ms-DS-MachineAccountQuota as read before any change (null when the domain has none set).
  returned: when the domain was read
  type: int
msg:
  description: What was read and what changes, for the audit's evidence.
  returned: always
  type: str
  sample: >-
    CN=Computers,DC=ereje,DC=test: 5 of 5 join rights of ereje-join (S-1-5-21-...-1105) present;
    ms-DS-MachineAccountQuota 0
"""

# Schema GUIDs (MS-ADSC, MS-ADTS): the computer class and the rights a join uses.
COMPUTER = "bf967a86-0de6-11d0-a285-00aa003049e2"
RESET_PASSWORD = "00299570-246d-11d0-a768-00aa006e0529"
DNS_HOST_NAME = "72e39547-7b18-11d1-adef-00c04fd8d5cd"
SERVICE_PRINCIPAL_NAME = "f3a64788-5306-11d1-a9c5-0000f8753849"
ACCOUNT_RESTRICTIONS = "4c164200-20c0-11d0-a768-00aa003049e2"


def join_aces(sid: str) -> list[tuple[str, str]]:
    """(what it allows, SDDL access control entry) for the join account ``sid``."""
    return [
        ("create and delete computer objects", f"(OA;;CCDC;{COMPUTER};;{sid})"),
        ("reset a computer's password", f"(OA;CIIO;CR;{RESET_PASSWORD};{COMPUTER};{sid})"),
        ("validated write of the DNS host name", f"(OA;CIIO;SW;{DNS_HOST_NAME};{COMPUTER};{sid})"),
        ("validated write of the SPNs", f"(OA;CIIO;SW;{SERVICE_PRINCIPAL_NAME};{COMPUTER};{sid})"),
        ("write the account restrictions", f"(OA;CIIO;WP;{ACCOUNT_RESTRICTIONS};{COMPUTER};{sid})"),
    ]


def plan(present: list[str], wanted: list[tuple[str, str]], quota, want_quota: int) -> tuple[list, list]:
    """(missing entries [(what, ace)], actions) from the container's entries as read (normalized
    SDDL, one per entry) and the quota as read (None when unset)."""
    missing = [(what, ace) for what, ace in wanted if ace.lower() not in {p.lower() for p in present}]
    actions = [f"allow the join account to {what}" for what, _ in missing]
    if quota != want_quota:
        actions.append(
            f"set ms-DS-MachineAccountQuota from {quota if quota is not None else 'unset'} to {want_quota}"
        )
    return missing, actions


def split_aces(dacl_sddl: str) -> list[str]:
    """The entries of an SDDL string's DACL part, each with its parentheses."""
    dacl = dacl_sddl.split("D:", 1)[-1].split("S:", 1)[0]
    out, depth, start = [], 0, None
    for i, char in enumerate(dacl):
        if char == "(":
            depth += 1
            if depth == 1:
                start = i
        elif char == ")":
            depth -= 1
            if depth == 0 and start is not None:
                out.append(dacl[start : i + 1])
    return out


def apply(samdb, ldb, container: str, domain_dn: str, *, descriptor, aces: list, quota: int | None) -> None:
    """Add the missing entries (``security.ace`` objects) to the container's ``descriptor`` as read,
    and set the quota (None: leave it), in one transaction."""
    from samba.dcerpc import security  # noqa: PLC0415 - only on the DC
    from samba.ndr import ndr_pack  # noqa: PLC0415 - only on the DC

    samdb.transaction_start()
    try:
        if aces:
            # After the container's own entries, before the inherited ones (canonical order).
            index = next(
                (
                    i
                    for i, ace in enumerate(descriptor.dacl.aces)
                    if ace.flags & security.SEC_ACE_FLAG_INHERITED_ACE
                ),
                len(descriptor.dacl.aces),
            )
            for ace in aces:
                descriptor.dacl_add(ace, index)
                index += 1
            message = ldb.Message()
            message.dn = ldb.Dn(samdb, container)
            message["nTSecurityDescriptor"] = ldb.MessageElement(
                ndr_pack(descriptor), ldb.FLAG_MOD_REPLACE, "nTSecurityDescriptor"
            )
            # Only the DACL is written (SECINFO_DACL): owner, group and audit entries stay as they are.
            samdb.modify(message, controls=["sd_flags:1:4"])
        if quota is not None:
            message = ldb.Message()
            message.dn = ldb.Dn(samdb, domain_dn)
            message["ms-DS-MachineAccountQuota"] = ldb.MessageElement(
                str(quota), ldb.FLAG_MOD_REPLACE, "ms-DS-MachineAccountQuota"
            )
            samdb.modify(message)
    except Exception:
        samdb.transaction_cancel()
        raise
    samdb.transaction_commit()


def main():
    module = AnsibleModule(
        argument_spec={
            "account": {"type": "str", "required": True},
            "container": {"type": "str", "default": "CN=Computers"},
            "machine_account_quota": {"type": "int", "default": 0},
            "samdb_url": dict(SAMDB_URL_OPTION),
        },
        supports_check_mode=True,
    )
    p = module.params
    if not p["account"].strip():
        module.fail_json(msg="samba_dc_join_account: name the account that joins computers")
    if p["machine_account_quota"] < 0:
        module.fail_json(msg="samba_dc_machine_account_quota must be 0 or more")

    samdb, ldb = open_samdb(module, p["samdb_url"])
    from samba.dcerpc import security  # noqa: PLC0415 - only on the DC
    from samba.ndr import ndr_unpack  # noqa: PLC0415 - only on the DC

    domain_dn = str(samdb.domain_dn())
    domain_sid = samdb.get_domain_sid()
    container = f"{p['container']},{domain_dn}"
    found = samdb.search(
        base=domain_dn,
        scope=ldb.SCOPE_SUBTREE,
        expression=f"(&(objectClass=user)(sAMAccountName={ldap_escape(p['account'])}))",
        attrs=["objectSid"],
    )
    if len(found) != 1:
        module.fail_json(
            msg=f"the join account {p['account']} is not in the domain: declare it (samba_dc_join_account) "
            "before it is given the right to join computers",
            actions=[],
        )
    sid = str(ndr_unpack(security.dom_sid, found[0]["objectSid"][0]))
    try:
        read = samdb.search(base=container, scope=ldb.SCOPE_BASE, attrs=["nTSecurityDescriptor"])
    except ldb.LdbError:
        module.fail_json(
            msg=f"{container} does not exist: samba_dc_join_container names the computers' container",
            actions=[],
        )
    dom_sid = security.dom_sid(domain_sid)
    descriptor = ndr_unpack(security.descriptor, read[0]["nTSecurityDescriptor"][0])
    present = split_aces(descriptor.as_sddl(dom_sid))

    # Each entry parsed once: compared in Samba's own spelling of its flags, rights and GUIDs (what
    # the descriptor read is printed in), and written as the parsed entry.
    wanted, entries = [], {}
    for what, ace in join_aces(sid):
        parsed = security.descriptor.from_sddl("D:" + ace, dom_sid)
        spelled = parsed.as_sddl(dom_sid).split("D:", 1)[1]
        wanted.append((what, spelled))
        entries[spelled] = parsed.dacl.aces[0]
    domain = samdb.search(base=domain_dn, scope=ldb.SCOPE_BASE, attrs=["ms-DS-MachineAccountQuota"])
    raw_quota = domain[0].get("ms-DS-MachineAccountQuota")
    quota = int(str(raw_quota[0])) if raw_quota else None

    missing, actions = plan(present, wanted, quota, p["machine_account_quota"])
    held = len(wanted) - len(missing)
    msg = (
        f"{container}: {held} of {len(wanted)} join rights of {p['account']} ({sid}) present; "
        f"ms-DS-MachineAccountQuota {quota if quota is not None else 'unset'}"
    )
    if actions:
        msg += "; " + "; ".join(actions)
    result = {"changed": bool(actions), "actions": actions, "sid": sid, "quota": quota, "msg": msg}
    if module._diff:
        want_quota = p["machine_account_quota"]
        head = f"{container} {p['account']}"
        result["diff"] = {
            "before": f"{head}: {held} of {len(wanted)} join rights\nquota: {quota}\n",
            "after": f"{head}: {len(wanted)} of {len(wanted)} join rights\nquota: {want_quota}\n",
        }
    if actions and not module.check_mode:
        want = p["machine_account_quota"] if quota != p["machine_account_quota"] else None
        aces = [entries[ace] for _what, ace in missing]
        apply(samdb, ldb, container, domain_dn, descriptor=descriptor, aces=aces, quota=want)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
