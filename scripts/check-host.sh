#!/usr/bin/env bash
# Check that this machine can run the lab, the way the lab uses it, before anything is built:
#   1. every program the container runtime calls is there (each missing one is named with the
#      Debian package that brings it);
#   2. two containers on a network of their own start, one finds the other by name (aardvark-dns)
#      and opens a TCP connection to it (netavark's bridge and firewall rules).
# The containers run from a throw-away root whose /usr is this machine's own, read-only, so the
# check needs no image and takes seconds. It leaves nothing behind. Called by prepare-host.sh;
# runs alone too: scripts/check-host.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

[ "$(id -u)" -eq 0 ] || die "run as root: the lab runs rootful podman containers"

missing=()
need() { # need PACKAGE PATH-OR-COMMAND...
  local package=$1 what
  shift
  for what in "$@"; do
    if [ "${what#/}" != "$what" ]; then [ -x "$what" ] && return 0; else command -v "$what" >/dev/null && return 0; fi
  done
  missing+=("$package (for $1)")
}
need podman podman
need runc runc
need debootstrap debootstrap
need netavark /usr/lib/podman/netavark /usr/libexec/podman/netavark
need aardvark-dns /usr/lib/podman/aardvark-dns /usr/libexec/podman/aardvark-dns
# netavark runs iptables from PATH for every network it sets up.
need iptables iptables
need uidmap newuidmap
need slirp4netns slirp4netns
# Mitogen becomes root through sudo, also on this machine (see prepare-host.sh).
need sudo sudo
if [ ${#missing[@]} -gt 0 ]; then
  die "this machine lacks what the lab needs; install (scripts/prepare-host.sh does): ${missing[*]}"
fi
iptables -t nat -L -n >/dev/null 2>&1 \
  || die "iptables is installed but cannot read the nat table ($(iptables -t nat -L -n 2>&1 | head -n1)); netavark needs it for every lab network"

net=ereje-hostcheck
server=ereje-hostcheck-server
client=ereje-hostcheck-client
root=$(mktemp -d /var/tmp/ereje-hostcheck.XXXXXX)
remove_containers() {
  podman rm -f -t 0 "$server" "$client" >/dev/null 2>&1 || true
  podman network rm -f "$net" >/dev/null 2>&1 || true
}
trap 'remove_containers; rm -rf "$root"' EXIT
# What an interrupted check left (LAB.md: containers and networks outlive a session).
remove_containers

# A root with this machine's /usr (Debian 12 merges /bin, /sbin and /lib into it).
mkdir -p "$root"/{usr,etc,tmp,proc,sys,dev,run}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
# --rootfs makes the first word after the options the root directory instead of an image.
run() { # run NAME PODMAN-OPTION... -- COMMAND...
  local name=$1 opts=()
  shift
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  podman run --name "$name" -v /usr:/usr:ro --network "$net" "${opts[@]}" --rootfs "$root" "$@"
}

explain() { # explain WHAT OUTPUT: die with the runtime's words and what usually causes them
  local what=$1 out=$2 hint=""
  case $out in
    *"netavark: No such file or directory"*) hint=" netavark could not run a program it needs: install iptables (apt-get install iptables)." ;;
    *"cgroups in hybrid mode"*) hint=" crun cannot run here: prepare-host.sh configures runc." ;;
    *RLIMIT_NPROC*) hint=" the default ulimits are higher than this machine allows: prepare-host.sh lowers them." ;;
  esac
  die "$what failed:${hint} podman said: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
}

log "checking the container runtime: a network, two containers, a name lookup and a TCP connection"
out=$(podman network create "$net" 2>&1) || explain "creating a podman network" "$out"
out=$(run "$server" -d -- /usr/bin/python3 -c '
import socket
s = socket.create_server(("", 8080))
while True:
    c, _ = s.accept()
    c.sendall(b"ereje\n")
    c.close()' 2>&1) || explain "starting a container on a lab network" "$out"
out=$(run "$client" --rm -- /usr/bin/bash -c '
for i in $(seq 50); do
  addr=$(getent hosts '"$server"' | cut -d" " -f1) && [ -n "$addr" ] && break
  sleep 0.2
done
[ -n "${addr:-}" ] || { echo "name lookup of '"$server"' found nothing (aardvark-dns)"; exit 1; }
for i in $(seq 50); do
  if exec 3<>/dev/tcp/'"$server"'/8080 && read -r -t 5 line <&3 && [ "$line" = ereje ]; then echo "$addr"; exit 0; fi
  sleep 0.2
done
echo "no TCP connection to '"$server"' ($addr) port 8080"; exit 1' 2>&1) \
  || explain "a second container finding the first by name and connecting to it" "$out"
log "container runtime ready: a container on network $net found another by name at ${out##*$'\n'} and connected"
