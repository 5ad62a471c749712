"""Senders of other domains that cannot be forged (YU 1.3.2): SPF, DKIM and DMARC on port 25.

SPF fail is refused at RCPT time; a DMARC p=reject failure that no DKIM signature of the author's
domain saves is held in quarantine (BAD-HEADER), its recipient told.

The gateway asks the scenario's stand-in for the Internet's DNS (dnsmasq on the gateway, see
prepare.yml): good.test lets the controller send for it; forged.test lets nobody (SPF -all),
publishes DMARC p=reject, and a DKIM key whose private half plays forged.test's real server.
The controller sends as the Internet does; what arrived is read on the mailbox host.
"""

from __future__ import annotations

import re
import shlex
import uuid

import pytest

from conftest import BLOCKED, DOMAIN, GW, MBOX, QUARANTINE, gateway_log, pexec, wait_queues_empty
from conftest import delivered_to_aigerim as delivered
from conftest import letter as message
from conftest import send_from_outside as send
from support import molecule, podman_exec

RUN = uuid.uuid4().hex[:8]

# Mail::DKIM (Amavis' own library, on every host of the image) signs as forged.test's server would.
SIGN = r"""
use strict; use Mail::DKIM::Signer; use Mail::DKIM::TextWrap;
my $dkim = Mail::DKIM::Signer->new(Algorithm => "rsa-sha256", Method => "relaxed", Domain => "forged.test",
    Selector => "s1", KeyFile => "/tmp/forged.test.dkim.pem", Headers => "from:to:subject:message-id:date");
my @lines = <STDIN>;
for (@lines) { s/\r?\n$//; $dkim->PRINT("$_\015\012"); }
$dkim->CLOSE;
print $dkim->signature->as_string, "\015\012";
print "$_\015\012" for @lines;
"""


def signed_by_forged_test(raw: bytes) -> bytes:
    key = (molecule.ephemeral_dir() / "forged.test.dkim.pem").read_bytes()
    podman_exec.run(
        MBOX, ["sh", "-c", "umask 077; cat > /tmp/forged.test.dkim.pem"], input=key
    ).check_returncode()
    signed = podman_exec.run(MBOX, ["perl", "-e", SIGN], input=raw)
    signed.check_returncode()
    signed = signed.stdout
    assert signed.startswith(b"DKIM-Signature:"), signed[:300]
    return signed.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.fixture(scope="module")
def verdicts(gw_ip):
    """Each case sent once; the answers, then what arrived."""
    cases = {
        # SPF: forged.test's SPF says the controller may not send for it.
        "spf-fail": (f"x-{RUN}@forged.test", message("x@forged.test", f"spf-fail-{RUN}")),
        # Aligned SPF pass: good.test lets the controller send, and From: is good.test.
        "aligned": ("news@good.test", message("news@good.test", f"aligned-{RUN}")),
        # DMARC: an envelope of a domain without SPF, a From: of forged.test (p=reject), unsigned.
        "dmarc-forged": (f"someone@outside-{RUN}.test", message("rector@forged.test", f"dmarc-forged-{RUN}")),
        # The same author with forged.test's own DKIM signature (a forwarded message): DMARC passes.
        "dkim-aligned": (
            f"list@outside-{RUN}.test",
            signed_by_forged_test(message("rector@forged.test", f"dkim-aligned-{RUN}")),
        ),
    }
    # The signed message altered on the way (its body no longer matches the signature).
    tampered = signed_by_forged_test(message("rector@forged.test", f"dkim-tampered-{RUN}"))
    cases["dkim-tampered"] = (
        f"list@outside-{RUN}.test",
        tampered.replace(b"another university", b"a phisher"),
    )
    answers = {name: send(gw_ip, envelope, raw) for name, (envelope, raw) in cases.items()}
    wait_queues_empty()
    return answers


def test_a_sender_whose_domain_s_spf_forbids_this_server_is_refused_at_rcpt(verdicts):
    """YU-1.3.2-c: a sender address whose domain's SPF says the connecting server may not send
    for it is refused while the sender is connected; a domain that allows it is accepted, with
    the verdict recorded."""
    code, text = verdicts["spf-fail"]
    assert code == 550 and "SPF" in text, (code, text)
    assert not delivered(f"spf-fail-{RUN}")
    assert verdicts["aligned"] == (250, "")
    [arrived] = delivered(f"aligned-{RUN}")
    assert arrived["Received-SPF"].startswith("Pass"), arrived["Received-SPF"]


def held(subject: str) -> bool:
    """The gateway logged the message as held for its author (BAD-HEADER) and kept it in quarantine."""
    blocked = [m for m in BLOCKED.finditer(gateway_log()) if m["mid"] == f"{subject}@senders.test"]
    kept = pexec(GW, f"grep -rlsF {shlex.quote(subject)} {QUARANTINE}", check=False).strip()
    return bool(blocked) and blocked[0]["verdict"].startswith("BAD-HEADER") and bool(kept)


def test_a_from_domain_s_dmarc_reject_policy_is_enforced_unless_spf_or_dkim_vouch(verdicts):
    """YU-1.3.2-c: a message whose From: domain publishes DMARC p=reject and that neither its SPF
    nor a DKIM signature of that domain vouches for is held in quarantine, never delivered; the
    same author's message signed by its own domain arrives (DKIM aligned), and a signed message
    altered on the way is held. The DKIM verdict is in the Authentication-Results the recipient sees."""
    assert verdicts["dmarc-forged"] == (250, "")
    assert not delivered(f"dmarc-forged-{RUN}")
    assert held(f"dmarc-forged-{RUN}"), gateway_log()[-3000:]

    assert verdicts["dkim-aligned"] == (250, ""), verdicts["dkim-aligned"]
    [forwarded] = delivered(f"dkim-aligned-{RUN}")
    results = " ".join(forwarded.get_all("Authentication-Results", []))
    assert "dkim=pass" in results and "header.d=forged.test" in results, results

    assert not delivered(f"dkim-tampered-{RUN}")
    assert held(f"dkim-tampered-{RUN}"), gateway_log()[-3000:]


def test_authentication_results_a_sender_writes_in_the_gateway_s_name_are_removed(gw_ip):
    """YU-1.3.2-c: a sender cannot vouch for itself: an Authentication-Results header it wrote in
    the gateway's name ("dmarc=pass") is removed, and the forged author is still held."""
    subject = f"ar-forged-{RUN}"
    raw = (
        f"Authentication-Results: gw.{DOMAIN}; dkim=pass header.d=forged.test;"
        " dmarc=pass header.from=forged.test\r\n"
    ).encode() + message("rector@forged.test", subject)
    assert send(gw_ip, f"someone@outside-{RUN}.test", raw) == (250, "")
    wait_queues_empty()
    assert not delivered(subject)
    assert held(subject), gateway_log()[-3000:]


def test_each_refusal_is_a_logged_security_event_with_its_reason(verdicts):
    """YU-1.3.2-c: the SPF refusal and the DMARC verdicts are in the gateway's mail log (sent to the
    collector), each naming the domain and the verdict, for this run's messages."""
    log = gateway_log()
    assert re.search(rf"policyd-spf.*[Ff]ail.*x-{RUN}@forged\.test", log), log[-3000:]
    expected = ((f"dmarc-forged-{RUN}", "forged.test fail"), (f"aligned-{RUN}", "good.test pass"))
    for subject, verdict in expected:
        queued = re.search(rf"(\w+): message-id=<{subject}@senders\.test>", log)
        assert queued, f"{subject} not in the log"
        assert re.search(rf"opendmarc\S*: {queued[1]}: {verdict}", log), (subject, log[-3000:])
