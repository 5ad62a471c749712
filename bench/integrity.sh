#!/usr/bin/env bash
# What the file integrity check costs on a host (roles/file_integrity, ATU-5.11-a): AIDE over the
# role's watched paths, and over the same paths with all of /usr/lib added (what
# file_integrity_paths_extra: [/usr/lib] would cost), in one run, in a running lab container. Each
# set gets a database of its own in a scratch directory (the host's own is not touched), then RUNS
# checks; prints the entries, the median seconds and CPU seconds of a check, and the ratios.
#
#   bench/integrity.sh [CONTAINER] [RUNS]
#
# CONTAINER: a converged lab host (default ereje-ws1, `./ereje up`); RUNS: checks per set (5).
set -euo pipefail
container=${1:-ereje-ws1}
runs=${2:-5}

podman container exists "$container" || {
  echo "container $container does not exist: run './ereje up' first, or name a running one" >&2
  exit 1
}

podman exec -i "$container" python3 - "$runs" <<'PY'
import os, resource, shutil, statistics, subprocess, sys, tempfile, time

runs = int(sys.argv[1])
rules = "/etc/ereje/integrity/aide.conf"
if not os.path.isfile(rules):
    sys.exit(f"{rules} is missing: converge the lab first (./ereje up)")
scratch = tempfile.mkdtemp(prefix="ereje-bench-integrity-")
sets = {"role's paths": "", "+ /usr/lib": "/usr/lib Watched\n"}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


try:
    measured = {}
    for name, extra in sets.items():
        conf = os.path.join(scratch, f"{len(measured)}.conf")
        db = os.path.join(scratch, f"{len(measured)}.db")
        with open(rules) as source, open(conf, "w") as target:
            target.write(source.read() + extra)
        subprocess.run(
            ["aide", "--init", "--config", conf, "-B", f"database_out=file:{db}", "-B", "gzip_dbout=no"],
            check=True, capture_output=True,
        )
        with open(db) as handle:
            entries = sum(1 for line in handle if line[:1] not in "@#\n")
        seconds, cpu = [], []
        for _ in range(runs):
            start, used = time.monotonic(), children_cpu()
            done = subprocess.run(
                ["aide", "--check", "--config", conf, "-B", f"database_in=file:{db}"], capture_output=True
            )
            if done.returncode >= 14:
                sys.exit(f"aide failed (rc {done.returncode}): {done.stderr.decode()[-500:]}")
            seconds.append(time.monotonic() - start)
            cpu.append(children_cpu() - used)
        measured[name] = (entries, statistics.median(seconds), statistics.median(cpu))
        print(f"{name:14} {entries:7} entries  {measured[name][1]:6.2f} s  {measured[name][2]:6.2f} CPU-s per check")
    (base_n, base_s, base_c), (more_n, more_s, more_c) = measured.values()
    print(f"ratio (+ /usr/lib / role's paths): entries {more_n / base_n:.1f}, seconds {more_s / base_s:.1f}, "
          f"CPU {more_c / base_c:.1f}  (median of {runs} checks each, load {os.getloadavg()[0]:.1f})")
finally:
    shutil.rmtree(scratch, ignore_errors=True)
PY
