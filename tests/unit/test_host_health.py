"""Reading and judging logic of the ereje_host_health module (library/), on real kernel output."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from ansible_collections.ereje.compliance.plugins.module_utils import health
from support.scripts import load_script

# /proc/self/mounts of a lab container (podman): the root is overlay, the host's disk is bind-mounted
# over single files, the rest is kernel plumbing.
CONTAINER_MOUNTS = """\
overlay / overlay rw,relatime,lowerdir=/var/lib/containers/storage/overlay/l/5JU3:/var/lib/x,uuid=on 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /dev tmpfs rw,nosuid,noexec,size=65536k,mode=755 0 0
tmpfs /tmp tmpfs rw,nosuid,nodev,relatime 0 0
tmpfs /run tmpfs rw,nosuid,nodev,relatime 0 0
sysfs /sys sysfs ro,nosuid,nodev,noexec,relatime 0 0
/dev/vda /etc/hosts ext4 rw,relatime,discard 0 0
shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=64000k 0 0
mqueue /dev/mqueue mqueue rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,size=4096k,nr_inodes=1024,mode=755 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /var/log/journal tmpfs rw,nosuid,nodev,relatime 0 0
/dev/sdb1 /srv/backup\\040copies ext4 rw,relatime 0 0
/dev/loop3 /snap/core/17200 squashfs ro,nodev,relatime 0 0
/dev/sr0 /media/cdrom iso9660 ro,relatime 0 0
"""

# Real lines, trailing columns cut (the parser reads the first four fields).
TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0019 00000000:0000 0A 00000000:00000000
   1: 0100007F:2738 00000000:0000 0A 00000000:00000000
   2: 0F02590A:0019 0202590A:C1F2 01 00000000:00000000 02:000AE2A9
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000
   1: 00000000000000000000000001000000:0CEA 00000000000000000000000000000000:0000 0A 00000000:00000000
"""
UDP = """\
   sl  local_address rem_address   st tx_queue rx_queue
 8460: 0102590A:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 26656233 2 0 0
"""


def statvfs(blocks: int, bfree: int, bavail: int, files: int = 1000, ffree: int = 900) -> os.statvfs_result:
    return os.statvfs_result((4096, 4096, blocks, bfree, bavail, files, ffree, ffree, 0, 255, 0))


def test_mounts_keep_writable_data_filesystems_only():
    mounts = health.parse_mounts(CONTAINER_MOUNTS)
    assert [m["mount"] for m in mounts] == [
        "/",
        "/tmp",
        "/run",
        "/etc/hosts",
        "/var/log/journal",
        "/srv/backup copies",
    ]
    assert mounts[0]["fstype"] == "overlay"


def test_use_percent_is_what_df_prints():
    # df: 26230788 used, 80160124 available (the rest reserved) -> 25%, rounded up.
    assert health.use_percent(26230788, 80160124) == 25
    assert health.use_percent(1, 999) == 1
    assert health.use_percent(0, 100) == 0
    assert health.use_percent(100, 0) == 100
    assert health.use_percent(0, 0) == 0


def test_filesystem_usage_counts_reserved_blocks_as_unavailable():
    usage = health.filesystem_usage({"mount": "/", "fstype": "ext4"}, statvfs(1000, 100, 50, 1000, 50))
    # 900 used of 900 + 50 that users can have: 95%; inodes 950 of 1000.
    assert usage == {"mount": "/", "fstype": "ext4", "use_percent": 95, "inode_use_percent": 95}


def test_filesystem_without_inode_count_has_no_inode_figure():
    usage = health.filesystem_usage({"mount": "/data", "fstype": "btrfs"}, statvfs(1000, 500, 500, 0, 0))
    assert usage["inode_use_percent"] is None


def test_filesystem_without_blocks_is_not_a_disk():
    assert health.filesystem_usage({"mount": "/x", "fstype": "tmpfs"}, statvfs(0, 0, 0)) is None


def test_listening_tcp_sockets_of_both_families():
    assert health.parse_proc_net(TCP, health.TCP_LISTEN) == [("0.0.0.0", 25), ("127.0.0.1", 10040)]
    assert health.parse_proc_net(TCP6, health.TCP_LISTEN) == [("::", 443), ("::1", 3306)]


def test_bound_udp_socket():
    assert health.parse_proc_net(UDP, health.UDP_BOUND) == [("10.89.2.1", 53)]


def test_established_connections_are_not_listeners():
    assert ("10.89.2.15", 25) not in health.parse_proc_net(TCP, health.TCP_LISTEN)


def test_failed_units_from_systemctl():
    out = (
        "ereje-broken.service loaded failed failed /bin/false\n"
        "● nfs-server.service    loaded failed failed NFS server and services\n"
        "\n"
    )
    assert health.parse_failed_units(out) == ["ereje-broken.service", "nfs-server.service"]
    assert health.parse_failed_units("") == []


def test_declarations_of_every_service():
    files = {
        "mail_gateway.json": json.dumps(
            {"service": "mail_gateway", "ports": [{"name": "smtp", "port": 25, "proto": "tcp"}]}
        ),
        "samba_dc.json": json.dumps(
            {"service": "samba_dc", "ports": [{"name": "dns", "port": "53", "proto": "udp"}]}
        ),
    }
    ports, problems = health.parse_declarations(files)
    assert problems == []
    assert ports == [
        {"service": "mail_gateway", "name": "smtp", "port": 25, "proto": "tcp"},
        {"service": "samba_dc", "name": "dns", "port": 53, "proto": "udp"},
    ]


def test_ports_opened_on_demand_are_declared_but_marked_not_to_probe():
    """Samba's RPC range: declared (the exposure scan may find it open), never probed (ATU-8.4-d)."""
    text = json.dumps(
        {
            "service": "samba_dc",
            "ports": [{"name": "ldap", "port": 389, "proto": "tcp"}],
            "on_demand": [{"name": "rpc-dynamic", "port": 49152, "proto": "tcp"}],
        }
    )
    ports, problems = health.parse_declarations({"samba_dc.json": text})
    assert problems == []
    assert ports == [
        {"service": "samba_dc", "name": "ldap", "port": 389, "proto": "tcp"},
        {"service": "samba_dc", "name": "rpc-dynamic", "port": 49152, "proto": "tcp", "probe": False},
    ]


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        json.dumps({"ports": []}),
        json.dumps({"service": "x", "ports": [{"name": "a", "port": 0}]}),
        # A good entry before a bad one is not checked either: the file counts whole or not at all.
        json.dumps({"service": "x", "ports": [{"name": "a", "port": 25}, {"name": "b", "port": 70000}]}),
    ],
)
def test_unreadable_declaration_is_a_problem_not_a_crash(text):
    ports, problems = health.parse_declarations({"broken.json": text})
    assert ports == []
    assert len(problems) == 1 and "broken.json cannot be read" in problems[0]


def test_wildcard_listener_is_reached_on_loopback():
    assert health.connect_address("0.0.0.0") == "127.0.0.1"
    assert health.connect_address("::") == "::1"
    assert health.connect_address("10.89.2.15") == "10.89.2.15"


def test_tcp_answers_on_a_real_socket_and_not_on_a_closed_port():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert health.tcp_answers("127.0.0.1", port, 2)
    assert not health.tcp_answers("127.0.0.1", port, 2)


def healthy(**changes) -> dict:
    status = {
        "failed_units": [],
        "filesystems": [{"mount": "/", "fstype": "ext4", "use_percent": 25, "inode_use_percent": 3}],
        "ports": [
            {
                "service": "mail_gateway",
                "name": "smtp",
                "port": 25,
                "proto": "tcp",
                "listening": ["0.0.0.0"],
                "answers": True,
            },
            {
                "service": "samba_dc",
                "name": "dns",
                "port": 53,
                "proto": "udp",
                "listening": ["10.0.0.1"],
                "answers": None,
            },
        ],
        "declaration_problems": [],
    }
    status.update(changes)
    return status


LIMITS = {"max_disk_percent": 90, "max_inode_percent": 90}


def test_healthy_host_has_no_problem():
    assert health.evaluate(healthy(), LIMITS) == []


def test_failed_unit_is_a_problem_unless_ignored():
    units = [{"unit": "nfs-server.service", "ignored": False}, {"unit": "apt-daily.service", "ignored": True}]
    assert health.evaluate(healthy(failed_units=units), LIMITS) == [
        "service nfs-server.service has failed (systemctl status nfs-server.service)"
    ]


def test_full_disk_and_inodes_are_problems_above_the_limit_only():
    filesystems = [
        {"mount": "/", "fstype": "ext4", "use_percent": 90, "inode_use_percent": 90},
        {"mount": "/var", "fstype": "ext4", "use_percent": 97, "inode_use_percent": 91},
    ]
    assert health.evaluate(healthy(filesystems=filesystems), LIMITS) == [
        "filesystem /var is 97% full (limit 90%)",
        "filesystem /var has used 91% of its inodes (limit 90%)",
    ]


def test_declared_port_that_nobody_serves_is_named():
    ports = [
        {"service": "log_collector", "name": "syslog-tcp", "port": 514, "proto": "tcp", "listening": [],
         "answers": None},
        {"service": "web_host", "name": "https", "port": 443, "proto": "tcp", "listening": ["::"],
         "answers": False},
    ]  # fmt: skip
    assert health.evaluate(healthy(ports=ports), LIMITS) == [
        "log_collector declares syslog-tcp on 514/tcp, but nothing listens there",
        "web_host declares https on 443/tcp, but a connection to it is not accepted",
    ]


def test_unreadable_declaration_is_reported():
    problems = health.evaluate(
        healthy(declaration_problems=["the port declaration x.json cannot be read"]), LIMITS
    )
    assert problems == ["the port declaration x.json cannot be read"]


def test_summary_of_a_healthy_host_is_the_evidence():
    status = healthy(failed_units=[{"unit": "apt-daily.service", "ignored": True}])
    assert health.summary(status) == (
        "no failed service (accepted: apt-daily.service); disks used: / 25%; "
        "ports served: 25/tcp (mail_gateway smtp), 53/udp (samba_dc dns)"
    )
    assert health.summary(healthy(ports=[], filesystems=[])) == (
        "no failed service; disks used: none; ports served: none declared"
    )


# ---- The hourly check between converges (roles/baseline/files/ereje-health-check) -----------------

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = load_script(ROOT / "roles" / "baseline" / "files" / "ereje-health-check", "health_check")
FAILED = "ereje-health-broken.service loaded failed failed /bin/false\n"


def test_the_hourly_check_writes_a_finding_per_problem_and_accepts_what_the_inventory_accepts(
    tmp_path, monkeypatch
):
    policy = {
        "ports_dir": str(tmp_path),  # no declaration: no port to probe on the machine running the test
        "max_disk_percent": 100,
        "max_inode_percent": 100,
        "ignore_units": [],
        "connect_timeout": 1,
    }
    monkeypatch.setattr(SCRIPT, "run", lambda argv: (0, FAILED, ""))
    assert SCRIPT.lines(json.dumps(policy)) == [
        "FINDING service ereje-health-broken.service has failed "
        "(systemctl status ereje-health-broken.service)"
    ]
    (line,) = SCRIPT.lines(json.dumps(policy | {"ignore_units": ["ereje-health-*"]}))
    assert line.startswith("OK no failed service (accepted: ereje-health-broken.service); disks used: ")


def test_the_hourly_check_that_cannot_check_fails_its_unit(tmp_path, monkeypatch, capsys):
    policy = tmp_path / "health-check.json"
    policy.write_text(json.dumps({"ports_dir": "/etc/ereje/ports.d"}))
    assert SCRIPT.main(["ereje-health-check", str(policy)]) == 1
    assert "the policy must be an object with ports_dir, max_disk_percent" in capsys.readouterr().out
    keys = ("ports_dir", "max_disk_percent", "max_inode_percent", "ignore_units", "connect_timeout")
    policy.write_text(json.dumps(dict.fromkeys(keys, 1)))
    monkeypatch.setattr(SCRIPT, "run", lambda argv: (1, "", "Failed to connect to bus: Host is down"))
    assert SCRIPT.main(["ereje-health-check", str(policy)]) == 1
    said = capsys.readouterr().out
    assert said == (
        "ERROR the health check could not run: cannot list the failed units: "
        "Failed to connect to bus: Host is down\n"
    )
