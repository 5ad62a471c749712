"""Spam scoring (YU-1.3.2-g): mail from outside is scored and marked, never refused or lost.

SpamAssassin, inside Amavis, scores every message from outside; from the inventory's score on it
is marked "X-Spam-Flag: YES" (the mailbox host files it into Junk: the lab scenario reads that
over IMAP). GTUBE, SpamAssassin's standard test string, plays the spam; a colleague's letter the
real mail. The controller sends as a server on the Internet; what arrived is read on the mailbox host.
"""

from __future__ import annotations

import re
import shlex
import uuid

import pytest

from conftest import BLOCKED, GW, QUARANTINE, gateway_log, letter, pexec, send_from_outside, wait_queues_empty
from conftest import delivered_to_aigerim as delivered
from support.spam import GTUBE

RUN = uuid.uuid4().hex[:8]
LETTER = "Dear colleague, the timetable of the spring term is attached to the faculty's page. Regards, Marat"
# The score from which the mail scenario's gateway marks spam (mail_gateway_spam_score's default).
SPAM_SCORE = 6.0


@pytest.fixture(scope="module")
def scored(gw_ip):
    """Each case sent once from outside; what arrived, by case."""
    cases = {
        "letter": letter(f"marat@uni-{RUN}.test", f"letter-{RUN}", LETTER),
        "spam": letter(f"offers@shop-{RUN}.test", f"spam-{RUN}", f"Cheap offers!\r\n{GTUBE}"),
        # A spammer who says its own mail is clean, and one who would push a letter into Junk.
        "spam-says-clean": b"X-Spam-Flag: NO\r\nX-Spam-Status: No, score=-50.0\r\n"
        + letter(f"offers@shop-{RUN}.test", f"spam-says-clean-{RUN}", GTUBE),
        "letter-says-spam": b"X-Spam-Flag: YES\r\nX-Spam-Score: 99\r\n"
        + letter(f"marat@uni-{RUN}.test", f"letter-says-spam-{RUN}", LETTER),
    }
    envelope = f"sender@outside-{RUN}.test"
    answers = {name: send_from_outside(gw_ip, envelope, raw) for name, raw in cases.items()}
    assert all(answer == (250, "") for answer in answers.values()), answers
    wait_queues_empty()
    return {name: delivered(f"{name}-{RUN}") for name in cases}


def verdict(message) -> tuple[str, float, str]:
    """The gateway's X-Spam-Flag, X-Spam-Score and X-Spam-Status; each must be there exactly once."""
    for field in ("X-Spam-Flag", "X-Spam-Score", "X-Spam-Status"):
        values = message.get_all(field, [])
        assert len(values) == 1, (field, values)
    return message["X-Spam-Flag"], float(message["X-Spam-Score"]), " ".join(message["X-Spam-Status"].split())


def test_spam_from_outside_is_marked_and_delivered_never_held(scored):
    """YU-1.3.2-g: a message that scores as spam is delivered once, marked "X-Spam-Flag: YES" with its
    score and the rules that hit, its subject as written; it is neither held in quarantine nor refused."""
    [spam] = scored["spam"]
    flag, score, status = verdict(spam)
    assert flag == "YES" and score >= SPAM_SCORE, (flag, score, status)
    assert status.startswith("Yes,") and "GTUBE" in status, status
    assert spam["Subject"] == f"spam-{RUN}"
    held = [m for m in BLOCKED.finditer(gateway_log()) if RUN in m["mid"]]
    assert not held, [m.group(0) for m in held]
    assert not pexec(GW, f"grep -rlsF {shlex.quote(RUN)} {QUARANTINE}", check=False).strip()
    log = gateway_log()
    assert re.search(rf"Passed SPAM\b.*Message-ID: <spam-{RUN}@senders\.test>", log), log[-3000:]


def test_real_mail_is_scored_as_mail_from_outside_and_not_marked(scored):
    """YU-1.3.2-g: a colleague's letter from another university arrives marked "X-Spam-Flag: NO" with
    its score; it is judged as mail from outside (the controller is no relay of the university's, so
    SpamAssassin's ALL_TRUSTED, which would lower every score, must not hit)."""
    [mail] = scored["letter"]
    flag, score, status = verdict(mail)
    assert flag == "NO" and score < SPAM_SCORE, (flag, score, status)
    assert status.startswith("No,"), status
    assert "ALL_TRUSTED" not in status, status


def test_a_sender_cannot_write_its_own_spam_verdict(scored):
    """YU-1.3.2-g: the X-Spam headers a sender wrote are removed before the gateway writes its own:
    spam that says "X-Spam-Flag: NO" is marked YES, a letter that says YES is marked NO."""
    [spam] = scored["spam-says-clean"]
    assert verdict(spam)[0] == "YES", spam.items()
    [mail] = scored["letter-says-spam"]
    assert verdict(mail)[0] == "NO", mail.items()
