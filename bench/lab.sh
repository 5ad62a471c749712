#!/usr/bin/env bash
# Benchmark of the whole lab: container creation, first converge of playbooks/site.yml from
# bare containers, a no-op re-run (under Mitogen, as ansible.cfg sets, then under Ansible's own
# linear strategy) and a full audit (playbooks/audit.yml: every control's check on
# every host); prints seconds and the no-op/first ratio.
# It rebuilds the lab (destroys the current lab containers first). The audit's report goes to a
# scratch directory, not reports/. BENCH_LINEAR=0 leaves out the linear-strategy no-op (about a
# third of the benchmark's time).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/scripts/lib.sh"
use_venv
cd "$EREJE_ROOT"


ansible-playbook playbooks/lab.yml -e lab_state=absent >/dev/null
create=$(bench_seconds ansible-playbook playbooks/lab.yml)
first=$(bench_seconds ansible-playbook playbooks/site.yml)
noop=$(bench_seconds ansible-playbook playbooks/site.yml)
# The same no-op under Ansible's own strategy: what Mitogen (ansible.cfg) saves, in this run.
noop_linear=0
if [ "${BENCH_LINEAR:-1}" != 0 ]; then
  noop_linear=$(ANSIBLE_STRATEGY=linear bench_seconds ansible-playbook playbooks/site.yml)
fi
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
audit=$(bench_seconds ansible-playbook playbooks/audit.yml --check -e ereje_audit_report_dir="$reports")
results=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(len(r["results"]), r["summary"].get("fail", 0), r["summary"].get("not_checked", 0), len(r.get("errors", [])))' "$reports/latest/report.json")
hosts=$(ansible-inventory --list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["_meta"]["hostvars"]))')

printf 'hosts                    %8d\n' "$hosts"
printf 'lab creation (s)         %8.1f\n' "$create"
printf 'first converge (s)       %8.1f\n' "$first"
printf 'no-op re-run (s)         %8.1f\n' "$noop"
printf 'no-op / first            %8.2f\n' "$(bench_calc "$noop / $first")"
if [ "${BENCH_LINEAR:-1}" != 0 ]; then
  printf 'no-op, linear strategy (s) %6.1f\n' "$noop_linear"
  printf 'no-op Mitogen / linear   %8.2f\n' "$(bench_calc "$noop / $noop_linear")"
fi
printf 'full audit (s)           %8.1f\n' "$audit"
printf 'audit results (host x control, failing, not checked, audit errors) %s\n' "$results"
printf 'load average at the end   %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
