#!/usr/bin/env bash
# Build the Debian 12 image that the lab and every Molecule scenario boot, with systemd as PID 1.
# No container registry is reachable, so the root filesystem comes from debootstrap and the
# host's own Debian mirror, then `podman import`. The tag carries a hash of this recipe:
# an unchanged recipe is never rebuilt (about a minute saved per run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

# Packages every host needs before Ansible can manage it, plus the ones that most roles
# install anyway (baking them in keeps each Molecule scenario from downloading them again).
packages=(
  python3 python3-apt systemd systemd-sysv dbus iproute2 iputils-ping procps
  ca-certificates sudo openssh-client openssh-server nftables rsyslog chrony
  unattended-upgrades apt-listchanges curl less netcat-openbsd
)
recipe_hash=$( { cat "$0"; printf '%s\n' "${packages[@]}"; } | sha256sum | cut -c1-12)
tagged="${EREJE_IMAGE%:*}:r$recipe_hash"

if podman image exists "$tagged"; then
  log "image $tagged is current (cached)"
  podman tag "$tagged" "$EREJE_IMAGE"
  exit 0
fi

mirror=$(debian_mirror)
rootfs=$(mktemp -d /var/tmp/ereje-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
log "debootstrap bookworm from $mirror (about two minutes)"
include=$(IFS=,; echo "${packages[*]}")
debootstrap --variant=minbase --include="$include" bookworm "$rootfs" "$mirror" >/dev/null

# The containers use the same mirrors as this host (main and security), nothing else.
rm -f "$rootfs/etc/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/debian.sources; do
  [ -f "$f" ] && install -D -m 0644 "$f" "$rootfs$f"
done
# systemd inside a container: no getty on consoles, no hostname/time syncing from the image.
chroot "$rootfs" systemctl mask getty@tty1.service serial-getty@console.service \
  systemd-remount-fs.service dev-hugepages.mount sys-fs-fuse-connections.mount >/dev/null 2>&1 || true
# An image carries no host keys or machine identity: each container makes its own.
rm -f "$rootfs"/etc/ssh/ssh_host_* "$rootfs/etc/machine-id"
: > "$rootfs/etc/machine-id"
# ...and, as cloud images do at first boot, sshd generates its missing host keys on start.
mkdir -p "$rootfs/etc/systemd/system/ssh.service.d"
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' > "$rootfs/etc/systemd/system/ssh.service.d/10-host-keys.conf"
chroot "$rootfs" apt-get clean

log "importing $tagged"
tar -C "$rootfs" -c . | podman import --change 'CMD ["/sbin/init"]' - "$tagged" >/dev/null
podman tag "$tagged" "$EREJE_IMAGE"
# Images of older recipes are never used again.
for old in $(podman images --format '{{.Repository}}:{{.Tag}}' "${EREJE_IMAGE%:*}" | grep -v -e ":r$recipe_hash\$" -e ':latest$'); do
  podman rmi "$old" >/dev/null 2>&1 || true
done
log "built $tagged"
