#!/usr/bin/env bash
# Where the test command's time goes: each Molecule scenario's seconds, phase by phase, read from
# the logs of the last `./ereje test` or `./ereje molecule` (.cache/logs/molecule-<scenario>.log,
# whose phase lines carry the epoch second). Runs nothing itself; prints a table.
#   ./ereje bench suite
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
logs="$here/.cache/logs"
compgen -G "$logs/molecule-*.status" >/dev/null || { echo "no scenario logs in $logs: run ./ereje test first" >&2; exit 1; }
python3 - "$logs" <<'PY'
import pathlib, re, sys

logs = pathlib.Path(sys.argv[1])
phase_line = re.compile(r"^(\d+) .*➜\s*(?:\x1b\[[0-9;]*m)*(\w+)(?:\x1b\[[0-9;]*m)*: .*(Executing|Executed)")
rows, total = [], 0
for status in sorted(logs.glob("molecule-*.status")):
    name = status.stem.removeprefix("molecule-")
    rc, seconds = status.read_text().split()
    phases, started = [], {}
    for line in (logs / f"molecule-{name}.log").read_text(errors="replace").splitlines():
        m = phase_line.match(line)
        if not m:
            continue
        stamp, phase, what = int(m[1]), m[2], m[3]
        if what == "Executing":
            started[phase] = stamp
        elif phase in started:
            phases.append((phase, stamp - started.pop(phase)))
    total += int(seconds)
    rows.append((name, int(seconds), "passed" if rc == "0" else "FAILED", phases))
for name, seconds, result, phases in sorted(rows, key=lambda r: -r[1]):
    detail = "  ".join(f"{p} {s}" for p, s in phases) or "(no phase times in this log)"
    print(f"{name:<11} {seconds:>6} s  {result:<6}  {detail}")
print(f"{'sum':<11} {total:>6} s  (scenarios run side by side finish sooner than their sum)")
PY
