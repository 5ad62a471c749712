"""Open ports seen from another host against the declared ones (ereje_exposure_scan)."""

from __future__ import annotations

import json
import pathlib

import ereje_exposure_scan as m
import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ereje.compliance.plugins.module_utils import exposure
from support.scripts import load_script

ROOT = pathlib.Path(__file__).resolve().parents[2]


def port(number: int, service: str) -> str:
    """One open port as nmap -oX reports it."""
    return (
        f'<port protocol="tcp" portid="{number}"><state state="open" reason="syn-ack" reason_ttl="0"/>'
        f'<service name="{service}" method="table" conf="3"/></port>'
    )


# nmap 7.93 -Pn -n -sT -oX - (abridged): two declared ports and one opened by hand.
HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<nmaprun scanner="nmap" args="nmap -Pn -n -sT -T4 --max-retries 2 -p 1-10000 -oX - 10.89.0.4" version="7.93">
<host starttime="1796530000" endtime="1796530004"><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="10.89.0.4" addrtype="ipv4"/>
<ports><extraports state="filtered" count="9997">
<extrareasons reason="no-response" count="9997" proto="tcp" ports="1-21,23-24,26-8080,8082-10000"/>
</extraports>
"""
TAIL = '</ports></host><runstats><hosts up="1" down="0" total="1"/></runstats></nmaprun>\n'
REPORT = HEAD + port(22, "ssh") + port(25, "smtp") + port(8081, "blackice-icecap") + TAIL
NOTHING_OPEN = HEAD + TAIL
DECLARED = [
    {"service": "baseline", "name": "ssh", "port": 22, "proto": "tcp"},
    {"service": "mail_gateway", "name": "smtp", "port": 25, "proto": "tcp"},
    {"service": "samba_dc", "name": "dns", "port": 53, "proto": "udp"},
]


def test_the_report_gives_the_open_tcp_ports_and_nmaps_guess():
    reached, found = exposure.parse_nmap(REPORT)
    assert reached is True
    assert found == [
        {"port": 22, "service": "ssh"},
        {"port": 25, "service": "smtp"},
        {"port": 8081, "service": "blackice-icecap"},
    ]


# nmap-services as Debian's nmap 7.93 ships it (abridged, in its own order): name, port/proto,
# how often the port was found open.
SERVICES = """# Fields in this file are: Service name, portnum/protocol, open-frequency, optional comments
tcpmux\t1/tcp\t0.001995\t# TCP Port Service Multiplexer [rfc-1078]
ssh\t22/tcp\t0.182286\t# Secure Shell Login
domain\t53/udp\t0.213496\t# Domain Name Server
http\t80/tcp\t0.484143\t# World Wide Web HTTP
ms-wbt-server\t3389/tcp\t0.083904\t# Microsoft Remote Display Protocol
blackice-icecap\t8081/tcp\t0.005809\t# ICEcap user console
http-proxy\t8080/tcp\t0.006160
"""


def test_the_most_common_ports_are_read_from_nmaps_own_table_tcp_only():
    assert exposure.top_tcp_ports(SERVICES, 3) == [80, 22, 3389]
    assert exposure.top_tcp_ports(SERVICES, 100) == [80, 22, 3389, 8080, 8081, 1]
    assert exposure.top_tcp_ports(SERVICES, 0) == []


def test_declared_and_common_tcp_ports_outside_the_range_are_scanned_too_and_udp_is_not():
    assert exposure.port_spec("1-1024", [*DECLARED, {"port": 50000, "proto": "tcp"}]) == (
        "1-1024,50000",
        1025,
    )
    assert exposure.port_spec("1-1024", [{"port": 53, "proto": "udp"}]) == ("1-1024", 1024)
    assert exposure.port_spec("1-100,443", DECLARED, [80, 8080, 3389]) == ("1-100,443,3389,8080", 103)
    # nmap syntax other than numbers and ranges is passed on; the count is then unknown.
    assert exposure.port_spec("T:1-100", DECLARED) == ("T:1-100,22,25", None)
    # Neighbours are joined, so the list nmap gets (and the result shows) stays short.
    assert exposure.port_spec("1-1024", [], [1025, 1026, 1027, 3389, 8080, 8081]) == (
        "1-1027,3389,8080-8081",
        1030,
    )


def test_the_evidence_says_what_was_scanned_in_words():
    words = "1,862 TCP ports (1-1024, nmap's 1000 most common, the declared ones)"
    assert exposure.scope("1-1024", 1000, 1862) == words
    assert exposure.scope("1-65535", 0, 65535) == "65,535 TCP ports (1-65535, the declared ones)"


def test_an_open_port_nobody_declared_is_a_problem_naming_it():
    _, found = exposure.parse_nmap(REPORT)
    problems, judged = exposure.judge(found, DECLARED, "10.89.0.4", "backup")
    assert problems == [
        "8081/tcp of 10.89.0.4 is open to backup (nmap: blackice-icecap) but no role declares it: close it, "
        "or declare it (a role's firewall_open, or baseline_firewall_allow)"
    ]
    assert [p["declared_by"] for p in judged] == ["baseline ssh", "mail_gateway smtp", None]


def test_a_udp_declaration_does_not_declare_the_tcp_port():
    problems, _ = exposure.judge([{"port": 53, "service": "domain"}], DECLARED, "10.89.0.2", "backup")
    assert len(problems) == 1 and problems[0].startswith("53/tcp of 10.89.0.2")


def test_the_evidence_names_every_open_port_with_its_owner_and_what_was_scanned():
    _, judged = exposure.judge(exposure.parse_nmap(REPORT)[1][:2], DECLARED, "10.89.0.4", "backup")
    assert exposure.evidence(
        judged, "10.89.0.4", "backup", "1,024 TCP ports (1-1024, the declared ones)"
    ) == (
        "from backup to 10.89.0.4: open 22/tcp (baseline ssh), 25/tcp (mail_gateway smtp); "
        "scanned 1,024 TCP ports (1-1024, the declared ones)"
    )


def run_module(capsys, monkeypatch, report: str | None, args: dict, tmp_path=None) -> dict:
    """main() with nmap answering ``report`` (None: nmap is not installed) and its table of common
    ports SERVICES (in ``tmp_path``; without it, a table that does not exist)."""
    calls = []
    services = (tmp_path or pathlib.Path("/nonexistent")) / "nmap-services"
    if tmp_path:
        services.write_text(SERVICES)
    monkeypatch.setattr(m, "NMAP_SERVICES", str(services))

    def run_command(self, argv, environ_update=None, **_):
        calls.append(argv)
        return 0, report, ""

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **k: report and "/usr/bin/nmap")
    monkeypatch.setattr(m.platform, "node", lambda: "backup")
    with patch_module_args(args), pytest.raises(SystemExit):
        m.main()
    result = json.loads(capsys.readouterr().out)
    result["calls"] = calls
    return result


def test_the_module_fails_on_the_undeclared_port_and_scans_the_declared_and_common_ones(
    capsys, monkeypatch, tmp_path
):
    args = {"target": "10.89.0.4", "declared": DECLARED, "ports": "1-20", "top_ports": 3}
    result = run_module(capsys, monkeypatch, REPORT, args, tmp_path)
    assert result["failed"] is True and "8081/tcp" in result["msg"]
    assert result["calls"][0][-5:] == ["-p", "1-20,22,25,80,3389", "-oX", "-", "10.89.0.4"]
    assert "--min-rate" in result["calls"][0]


def test_an_unreadable_table_of_common_ports_stops_the_scan_with_a_way_out(capsys, monkeypatch):
    result = run_module(capsys, monkeypatch, REPORT, {"target": "10.89.0.4", "declared": DECLARED})
    assert result["failed"] is True and "set top_ports to 0" in result["msg"], result["msg"]
    assert result["calls"] == []
    args = {"target": "10.89.0.4", "declared": DECLARED, "top_ports": 0}
    assert run_module(capsys, monkeypatch, REPORT, args)["calls"][0][-4] == "1-1024"


def test_the_module_passes_with_evidence_when_everything_open_is_declared(capsys, monkeypatch, tmp_path):
    declared = [*DECLARED, {"service": "test", "name": "web", "port": 8081, "proto": "tcp"}]
    result = run_module(capsys, monkeypatch, REPORT, {"target": "10.89.0.4", "declared": declared}, tmp_path)
    assert "failed" not in result and result["ok"] is True
    assert "8081/tcp (test web)" in result["msg"]
    assert result["msg"].endswith("scanned 1,027 TCP ports (1-1024, nmap's 6 most common, the declared ones)")


def test_a_scan_that_saw_nothing_open_proves_nothing(capsys, monkeypatch, tmp_path):
    args = {"target": "10.89.0.4", "declared": DECLARED}
    result = run_module(capsys, monkeypatch, NOTHING_OPEN, args, tmp_path)
    assert result["failed"] is True and "the scan saw nothing" in result["msg"]


def test_a_missing_nmap_is_a_problem_not_a_pass(capsys, monkeypatch):
    result = run_module(capsys, monkeypatch, None, {"target": "10.89.0.4"})
    assert result["failed"] is True and "nmap is missing on backup" in result["msg"]


# ---- The hourly scan between converges (roles/baseline/files/ereje-exposure-scan) ----------------

SCRIPT = load_script(ROOT / "roles" / "baseline" / "files" / "ereje-exposure-scan", "exposure_scan_script")


def target(name: str, address: str, declared: list[dict]) -> str:
    """One host's file on its scanner, as the baseline role writes it."""
    request = {"name": name, "target": address, "declared": declared, "ports": "1-1024"}
    return json.dumps(request | {"top_ports": 0, "min_rate": 5000})


def scheduled(tmp_path, monkeypatch, capsys, files: dict[str, str], answers: dict[str, str]):
    """The hourly scan over ``files`` (name -> text), nmap answering each address from ``answers``."""
    directory = tmp_path / "exposure.d"
    directory.mkdir()
    for name, text in files.items():
        (directory / name).write_text(text)
    calls = []

    def run(argv):
        calls.append(argv)
        return (0, answers[argv[-1]], "") if argv[-1] in answers else (1, "", "Failed to resolve")

    monkeypatch.setattr(SCRIPT, "run", run)
    monkeypatch.setattr(SCRIPT.shutil, "which", lambda name: "/usr/bin/nmap")
    monkeypatch.setattr(SCRIPT.platform, "node", lambda: "backup")
    rc = SCRIPT.main(["ereje-exposure-scan", str(directory)])
    return rc, capsys.readouterr().out.splitlines(), calls


def test_the_hourly_scan_writes_a_finding_per_undeclared_port_and_the_evidence_of_each_host(
    tmp_path, monkeypatch, capsys
):
    files = {
        "web.json": target("web", "10.89.0.4", DECLARED),
        "mail.json": target("mail", "10.89.0.5", [*DECLARED, {"service": "t", "name": "x", "port": 8081}]),
        "notes.txt": "not a host",
    }
    answers = {"10.89.0.4": REPORT, "10.89.0.5": REPORT}
    rc, lines, calls = scheduled(tmp_path, monkeypatch, capsys, files, answers)
    assert rc == 0
    assert lines == [
        "OK mail: from backup to 10.89.0.5: open 22/tcp (baseline ssh), 25/tcp (mail_gateway smtp), "
        "8081/tcp (t x); scanned 1,025 TCP ports (1-1024, the declared ones)",
        "FINDING web: 8081/tcp of 10.89.0.4 is open to backup (nmap: blackice-icecap) but no role declares "
        "it: close it, or declare it (a role's firewall_open, or baseline_firewall_allow)",
    ]
    assert [argv[-5:] for argv in calls] == [
        ["-p", "1-1024,8081", "-oX", "-", "10.89.0.5"],
        ["-p", "1-1024", "-oX", "-", "10.89.0.4"],
    ]


def test_the_hourly_scan_goes_on_past_a_host_it_cannot_scan_and_then_fails_its_unit(
    tmp_path, monkeypatch, capsys
):
    files = {
        "a.json": "{not json",
        "b.json": json.dumps({"name": "b"}),
        "c.json": target("c", "10.89.0.9", DECLARED),
        "d.json": target("d", "10.89.0.4", DECLARED),
        "e.json": target("e", "10.89.0.6", DECLARED),
    }
    answers = {"10.89.0.4": NOTHING_OPEN, "10.89.0.6": REPORT.replace('state="up"', 'state="down"')}
    rc, lines, _ = scheduled(tmp_path, monkeypatch, capsys, files, answers)
    assert rc == 1
    assert lines[0].startswith("ERROR a.json: not scanned: Expecting property name")
    assert lines[
        1
    ] == "ERROR b.json: not scanned: it must be an object with name, target, declared, ports, " + (
        "top_ports, min_rate"
    )
    assert lines[2] == "ERROR c.json: not scanned: nmap failed (rc 1): Failed to resolve"
    assert lines[3].startswith("FINDING d: no TCP port of 10.89.0.4 answered backup: the scan saw nothing")
    assert lines[4] == "FINDING e: 10.89.0.6 did not answer backup: its exposure cannot be known"


def test_the_hourly_scan_without_nmap_fails_its_unit(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(SCRIPT.shutil, "which", lambda name: None)
    assert SCRIPT.main(["ereje-exposure-scan", str(tmp_path)]) == 1
    assert capsys.readouterr().out == "ERROR nmap is missing: no host's exposure can be known\n"
