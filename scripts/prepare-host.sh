#!/usr/bin/env bash
# Prepare this Debian 12 machine to run the Ereje lab and the Molecule scenarios:
#   1. install podman, runc and debootstrap from the Debian mirror;
#   2. configure the container runtime only as far as this kind of machine needs
#      (runc instead of crun on cgroups v1 "hybrid", ulimits the process may set);
#   3. build the Debian 12 base image locally (no registry is reachable) and cache it:
#      the image tag carries a hash of its recipe, so a second run reuses it and a
#      changed recipe builds a new one.
# Safe to run again; every step checks before it changes anything.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

[ "$(id -u)" -eq 0 ] || die "run as root: podman runs rootful containers for the lab"

log "podman, runc, debootstrap (Debian packages)"
# netavark + aardvark-dns: containers on a lab network find each other by name (the mail
# gateway's next hop, the backup server). Without them podman falls back to CNI, with no DNS.
# iptables: Debian 12's netavark (1.4) sets up every network's NAT and forwarding with the
# iptables command (its nftables driver came later); without it each container on a lab network
# fails with "netavark: No such file or directory". Debian 12's iptables is the nf_tables flavour.
apt_install podman runc debootstrap uidmap slirp4netns netavark aardvark-dns iptables
# sudo: under Mitogen (ansible.cfg) a task that becomes root on this machine goes through sudo
# even when it already is root ("No such file or directory: 'sudo'" without it). Plays with
# `connection: local` (Molecule's create and destroy, lab.yml) now run under Ansible's own strategy
# and the tasks delegated here say `become: false`, so no task needs it today: it is kept for a
# delegated task that becomes root, until a full test run without it shows it can go.
apt_install sudo
# Headless Chromium renders the audit report and the website in the tests, as a person sees them.
apt_install chromium

# crun (podman's default) cannot run on cgroups v1 "hybrid" hosts, and the default
# ulimits ask for more than an unprivileged sandbox may have: lowered limits work.
conf=/etc/containers/containers.conf.d/50-ereje.conf
want='# Managed by ereje scripts/prepare-host.sh: runtime settings this machine needs.
[containers]
default_ulimits = ["nofile=1024:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"

[network]
network_backend = "netavark"'
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  log "writing $conf"
  mkdir -p "$(dirname "$conf")"
  printf '%s\n' "$want" > "$conf"
fi
# Checked, not assumed: a host whose podman state predates this setting may stay on CNI.
backend=$(podman info --format '{{.Host.NetworkBackend}}')
if [ "$backend" != netavark ]; then
  die "podman still uses $backend: run 'podman system reset' (removes all containers) and try again"
fi

# Every systemd container watches directories with inotify, and all of them count against root's
# limit of inotify instances (128 by default): the dev lab's seven containers beside two test
# scenarios' ten used it up, and units in the containers failed ("Failed to enter waiting state:
# Too many open files"), which the health check rightly reports.
sysctl_conf=/etc/sysctl.d/60-ereje-lab.conf
sysctl_want='# Managed by ereje scripts/prepare-host.sh: systemd containers each use inotify instances.
fs.inotify.max_user_instances = 1024'
if [ "$(cat "$sysctl_conf" 2>/dev/null)" != "$sysctl_want" ]; then
  log "writing $sysctl_conf"
  printf '%s\n' "$sysctl_want" > "$sysctl_conf"
fi
if [ "$(cat /proc/sys/fs/inotify/max_user_instances)" -lt 1024 ]; then
  sysctl -q -p "$sysctl_conf"
fi

# Every runtime prerequisite, checked by what the lab really uses (not by package state): a
# missing one is named with the package that brings it, before minutes go into the image.
"$here/check-host.sh"

"$here/build-image.sh"
log "host ready: $(podman --version), image $EREJE_IMAGE"
