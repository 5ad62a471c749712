"""Reading and judging ``samba-tool drs showrepl --json`` (ereje_samba_replication, ATU-7.2-a)."""

from datetime import UTC, datetime

import ereje_samba_replication as m
import pytest

NOW = datetime(2026, 12, 1, 23, 30, 0, tzinfo=UTC)
DOMAIN = "DC=ereje,DC=test"
DNS = "DC=DomainDnsZones,DC=ereje,DC=test"


def rep(
    nc: str, success: str = "Tue Dec  1 23:25:00 2026 UTC", failures: int = 0, message: str = "was successful"
):
    return {
        "NC dn": nc,
        "DSA objectGUID": "5a1c…",
        "last attempt time": "Tue Dec  1 23:25:00 2026 UTC",
        "last attempt message": message,
        "consecutive failures": failures,
        "last success": success,
        "NTDS DN": "CN=NTDS Settings,CN=DC1,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,"
        + DOMAIN,
        "is deleted": False,
        "DSA": "Default-First-Site-Name\\DC1",
    }


def judge(reps, max_age=60, min_partners=1, contexts=(DOMAIN, DNS)):
    return m.evaluate(m.read_links({"repsFrom": reps}, NOW), max_age, min_partners, list(contexts))


def test_times_as_samba_prints_them():
    assert m.parse_nttime("Tue Dec  1 23:25:00 2026 UTC") == datetime(2026, 12, 1, 23, 25, tzinfo=UTC)
    assert m.parse_nttime("Mon Nov 30 07:05:09 2026 UTC") == datetime(2026, 11, 30, 7, 5, 9, tzinfo=UTC)
    assert m.parse_nttime("NTTIME(0)") is None


def test_fresh_links_from_the_primary_pass_with_what_was_read():
    links, problems = judge([rep(DOMAIN), rep(DNS)])
    assert problems == []
    assert [link["age_minutes"] for link in links] == [5, 5]
    line = m.evidence(links, 60)
    assert "DC=ereje,DC=test from DC1: last success 2026-12-01T23:25:00+00:00 (5 min ago)" in line
    assert "0 failure(s) in a row" in line


def test_failures_in_a_row_are_a_problem_with_samba_s_reason():
    _, problems = judge(
        [rep(DOMAIN, failures=3, message="failed, result 8524 (WERR_DS_DNS_LOOKUP_FAILURE)"), rep(DNS)]
    )
    assert len(problems) == 1
    assert "3 failure(s) in a row" in problems[0] and "WERR_DS_DNS_LOOKUP_FAILURE" in problems[0]


def test_a_copy_behind_the_limit_is_a_problem():
    _, problems = judge([rep(DOMAIN, success="Tue Dec  1 21:00:00 2026 UTC"), rep(DNS)])
    assert problems == [
        "DC=ereje,DC=test from DC1: last success 2026-12-01T21:00:00+00:00, 150 min ago"
        " (more than 60 min: this copy is behind)"
    ]
    assert judge([rep(DOMAIN, success="Tue Dec  1 21:00:00 2026 UTC"), rep(DNS)], max_age=180)[1] == []


def test_never_replicated_is_a_problem():
    _, problems = judge([rep(DOMAIN, success="NTTIME(0)"), rep(DNS)])
    assert problems == ["DC=ereje,DC=test from DC1: never replicated successfully"]


def test_no_partner_or_a_missing_partition_is_a_problem():
    _, problems = judge([])
    assert any("pulls from 0 other domain controller(s)" in p for p in problems)
    assert any(p.startswith("dc=domaindnszones") for p in problems)
    assert judge([], min_partners=0, contexts=())[1] == []


def test_deleted_partners_and_other_partitions_are_not_judged():
    deleted = rep(DOMAIN, failures=9) | {"is deleted": True}
    config = rep("CN=Configuration,DC=ereje,DC=test", failures=2)
    links, problems = judge([deleted, config, rep(DOMAIN), rep(DNS)])
    assert problems == []
    assert {link["naming_context"] for link in links} == {DOMAIN, DNS}


@pytest.mark.parametrize("contexts", [(), (DOMAIN.lower(), DNS.upper())])
def test_naming_contexts_compare_without_case(contexts):
    links, problems = judge([rep(DOMAIN), rep(DNS)], contexts=contexts)
    assert problems == [] and len(links) == 2
