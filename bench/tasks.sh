#!/usr/bin/env bash
# What one task costs on the lab's Debian hosts, by kind, under Mitogen (ansible.cfg) and under
# Ansible's own linear strategy: 30 controller-side tasks (assert: no module on the host) and 30
# module tasks (command) on every Linux host of the running lab, each playbook timed once per
# strategy. Prints seconds per playbook and per host-task, and the Mitogen/linear ratios: where a
# converge's per-task time goes, to tell whether fewer tasks or a faster transport would pay.
# Needs the lab up (./ereje up); changes nothing on the hosts.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/scripts/lib.sh"
use_venv
cd "$EREJE_ROOT"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tasks=30
for kind in assert command; do
  {
    printf -- '- name: Bench | %s tasks\n  hosts: linux\n  gather_facts: false\n  tasks:\n' "$kind"
    for i in $(seq "$tasks"); do
      if [ "$kind" = assert ]; then
        printf '    - name: Bench | assert %d\n      ansible.builtin.assert: {that: inventory_hostname | length > 0, quiet: true}\n' "$i"
      else
        printf '    - name: Bench | command %d\n      ansible.builtin.command: "true"\n      changed_when: false\n' "$i"
      fi
    done
  } >"$work/$kind.yml"
done
# Each host once (the graph of the group would also count its child groups and repeat hosts).
hosts=$(ansible linux --list-hosts 2>/dev/null | sed -n 's/^ *hosts (\([0-9]*\)):$/\1/p')
printf 'hosts %d, tasks per playbook %d\n' "$hosts" "$tasks"
printf '%-8s %-15s %9s %14s\n' kind strategy seconds "s/host-task"
for kind in assert command; do
  for strategy in mitogen_linear linear; do
    s=$(ANSIBLE_STRATEGY=$strategy bench_seconds ansible-playbook "$work/$kind.yml")
    printf '%-8s %-15s %9s %14s\n' "$kind" "$strategy" "$s" "$(bench_calc "$s / ($hosts * $tasks)" 3)"
    eval "t_${kind}_${strategy}=$s"
  done
done
printf 'Mitogen/linear: assert %s, command %s\n' \
  "$(bench_calc "$t_assert_mitogen_linear / $t_assert_linear" 3)" "$(bench_calc "$t_command_mitogen_linear / $t_command_linear" 3)"
