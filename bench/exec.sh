#!/usr/bin/env bash
# What a test's command in a container costs: one `podman exec` per command (Testinfra's podman
# backend as shipped) against the long-lived sessions of tests/support/podman_exec.py, which the
# scenarios' tests use. Runs the same commands both ways in one run, in a running container, and
# prints seconds and the machine's CPU seconds per command (/proc/stat, every process counted:
# podman, conmon, the OCI runtime, the command), and the ratios.
#
#   bench/exec.sh [CONTAINER] [COMMANDS]
#
# CONTAINER: any running container of the lab or a scenario (default ereje-ws1, `./ereje up`).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
container=${1:-ereje-ws1}
commands=${2:-100}

podman container exists "$container" || {
  echo "container $container does not exist: run './ereje up' first, or name a running one" >&2
  exit 1
}

PYTHONPATH="$here/tests" python3 - "$container" "$commands" <<'PY'
import os, sys, time

import testinfra

from support import podman_exec

container, commands = sys.argv[1], int(sys.argv[2])
host = testinfra.get_host(f"podman://{container}")


def busy() -> float:
    """The machine's busy CPU seconds so far."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]) / os.sysconf("SC_CLK_TCK")


def measure() -> tuple[float, float]:
    """Seconds and CPU seconds per command: `cat /etc/hostname`, checked."""
    wall, cpu = time.monotonic(), busy()
    for _ in range(commands):
        assert host.run("cat /etc/hostname").rc == 0
    return (time.monotonic() - wall) / commands, (busy() - cpu) / commands


each = measure()  # Testinfra as shipped: one podman exec per command
podman_exec.use_sessions_in_testinfra()
host.run("true")  # the session starts once, outside the measurement
sessions = measure()
print(f"container                       {container}, {commands} commands each way")
print(f"one podman exec per command     {each[0] * 1000:7.1f} ms, {each[1] * 1000:7.1f} ms of CPU")
print(f"long-lived session              {sessions[0] * 1000:7.1f} ms, {sessions[1] * 1000:7.1f} ms of CPU")
print(f"ratio (exec / session)          {each[0] / sessions[0]:7.1f} x time, {each[1] / max(sessions[1], 1e-6):7.1f} x CPU")
print(f"load average at the end         {' '.join(open('/proc/loadavg').read().split()[:3])}")
PY
