#!/usr/bin/env bash
# Benchmark of the samba_dc role on one bare container (ereje-mol-samba-bench):
#   provision  first converge (baseline + samba_dc) from a bare container,
#   no-op      the same converge again,
#   users      1,000 declared users applied by the account tasks (first run, then no-op).
# Prints seconds. The container and its network are removed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/scripts/lib.sh"
use_venv
cd "$EREJE_ROOT"

name=ereje-mol-samba-bench
net=ereje-mol-samba-bench
image=${EREJE_IMAGE:-localhost/ereje-debian12:latest}
work=$(mktemp -d)
cleanup() { podman rm -f "$name" >/dev/null 2>&1 || true; podman network rm -f "$net" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
cleanup
work=$(mktemp -d)


podman network create "$net" >/dev/null
podman run -d --name "$name" --hostname dc1 --network "$net" --cap-add NET_ADMIN --cap-add SYS_ADMIN \
  --systemd=always "$image" /sbin/init >/dev/null

ssh-keygen -q -t ed25519 -N '' -C samba-bench -f "$work/admin" >/dev/null
cat >"$work/inventory.yml" <<YAML
all:
  children:
    linux:
      children:
        domain_controllers:
          hosts:
            $name:
              samba_dc_netbios_name: DC1
  vars:
    ansible_connection: podman
    ansible_python_interpreter: /usr/bin/python3
    baseline_admins: [{name: ereje-admin, ssh_keys: ["$(cat "$work/admin.pub")"]}]
    samba_dc_realm: BENCH.TEST
    samba_dc_domain: BENCH
    samba_dc_admin_password: "{{ lookup('ansible.builtin.password', '$work/admin.pw', length=20) }}-Aa1"
YAML
cat >"$work/site.yml" <<'YAML'
- name: Bench | baseline
  hosts: linux
  become: true
  roles: [baseline]
- name: Bench | domain controller
  hosts: domain_controllers
  become: true
  roles: [samba_dc]
YAML
python3 - "$work/users.yml" <<'PY'
import sys
groups = ["teachers", "students", "accounting", "it-admins", "library"]
with open(sys.argv[1], "w") as out:
    out.write("samba_dc_ous: [{name: People}]\nsamba_dc_groups:\n")
    out.writelines(f"  - {{name: {g}, ou: People}}\n" for g in groups)
    out.write("samba_dc_users:\n")
    out.writelines(f"  - {{name: user{i:04d}, ou: People, groups: [{groups[i % 5]}]}}\n" for i in range(1000))
PY

run() { ansible-playbook -i "$work/inventory.yml" "$work/site.yml" "$@"; }
provision=$(bench_seconds run)
noop=$(bench_seconds run)
users_first=$(bench_seconds run -e "@$work/users.yml" --tags accounts)
users_noop=$(bench_seconds run -e "@$work/users.yml" --tags accounts)

printf 'provision from bare container (s)   %8.1f\n' "$provision"
printf 'no-op re-run (s)                    %8.1f\n' "$noop"
printf '1,000 users, first run (s)          %8.1f\n' "$users_first"
printf '1,000 users, no-op (s)              %8.1f\n' "$users_noop"
