#!/usr/bin/env bash
# Build the Debian 12 image that the lab and every Molecule scenario boot, with systemd as PID 1.
# No container registry is reachable, so the root filesystem comes from debootstrap and the
# host's own Debian mirror, then `podman import`. The tag carries a hash of this recipe:
# an unchanged recipe is never rebuilt (about a minute saved per run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

# Packages every host needs before Ansible can manage it, plus the baseline role's own.
packages=(
  python3 python3-apt systemd systemd-sysv dbus iproute2 iputils-ping procps
  ca-certificates sudo openssh-client openssh-server nftables rsyslog chrony
  unattended-upgrades apt-listchanges curl less netcat-openbsd
)
# The services' packages the roles install (roles/*/vars/main.yml), baked in so that the lab
# and every Molecule scenario do not download and unpack them again on each host: about a
# third of a scenario's time. Their units are disabled in the image; each role enables and
# starts what its host runs, exactly as it does on a real host where it installs them.
# fail2ban is the baseline's (every host), but here so that it does not start with Debian's
# default jail when a container boots: the baseline configures it, then starts it.
# python3-systemd (only recommended by fail2ban) lets it read sshd's events from the journal.
service_packages=(
  clamav clamav-daemon clamav-freshclam clamdscan
  borgbackup borgmatic
  postfix amavisd-new dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sieve dovecot-managesieved postfwd
  postfix-policyd-spf-python opendmarc dbconfig-no-thanks libmail-dkim-perl spamassassin gnupg file p7zip-full pax cpio
  cabextract xz-utils bzip2 lzop lz4 zstd arj tnef openssl python3-olefile
  samba samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind krb5-user smbclient
  ldb-tools python3-cryptography libnss-winbind libpam-winbind samba-common-bin
  nginx php8.2-fpm php8.2-cli php8.2-mysql php8.2-mbstring mariadb-server mariadb-client
  python3-pymysql gzip
  fail2ban python3-systemd debian-security-support rsyslog-gnutls nmap aide
)
# Clients the Molecule scenarios use on the hosts (DNS, LDAP, PAM, archive makers for the
# mail corpus).
test_packages=(dnsutils ldap-utils pamtester gcab genisoimage dnsmasq-base)
# The answers the roles give debconf before they install the same packages.
debconf_answers='clamav-daemon clamav-daemon/debconf boolean false
clamav-freshclam clamav-freshclam/autoupdate_freshclam select manual
postfix postfix/main_mailer_type select Internet Site
postfix postfix/mailname string localhost'
# Every package list and step is in this file: its hash is the recipe's. The image also carries
# every security update (ATU-5.17-a: a host that misses one installs it at its first converge,
# minutes per host), so the date of the security archive the host uses is part of the recipe:
# when Debian publishes security updates, the next run builds a current image once, instead of
# every scenario's converge installing them on every container. Offline, the date is left out.
security_uri=$(grep -hE '^\s*URIs:.*security' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -n1 || true)
[ -n "$security_uri" ] || security_uri=$(grep -hE '^\s*deb\s.*security' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1 || true)
security_date=$(python3 -c 'import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=20).read().decode("utf-8", "replace")
print(next((line[6:] for line in text.splitlines() if line.startswith("Date: ")), ""))' \
  "$security_uri/dists/bookworm-security/InRelease" 2>/dev/null || true)
recipe_hash=$( (cat "$0"; echo "$security_date") | sha256sum | cut -c1-12)
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
# On a host with cgroups v1 (LAB.md) systemd in a container gets no "cgroup empty" notification:
# stopping a service whose main process exits before its children (winbind, postfwd, Amavis)
# waits out the whole stop timeout, 90 s by default, before the unit counts as stopped; every
# first converge of those roles lost 90 s per restart. 10 s keeps the restarts short; units that
# set their own stop timeout keep it. Hosts with cgroups v2 (Debian 12's default) are unaffected.
mkdir -p "$rootfs/etc/systemd/system.conf.d"
printf '[Manager]\nDefaultTimeoutStopSec=10s\n' > "$rootfs/etc/systemd/system.conf.d/10-ereje-container.conf"
chroot "$rootfs" apt-get clean

log "importing the base system"
base="${EREJE_IMAGE%:*}:base-$recipe_hash"
tar -C "$rootfs" -c . | podman import - "$base" >/dev/null

# Second layer, in a container (it has /proc, /dev and the network that package scripts
# expect): the services' packages, none of them started (policy-rc.d), and every unit they
# enabled disabled again, so a host runs only what its roles turn on.
log "installing the services' packages into the image (a few minutes)"
builder=ereje-image-build-$recipe_hash
podman rm -f "$builder" >/dev/null 2>&1 || true
podman run --name "$builder" --network=host -e DEBIAN_FRONTEND=noninteractive \
  -e DEBCONF_ANSWERS="$debconf_answers" "$base" /bin/bash -euo pipefail -c '
    printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d
    printf "%s\n" "$DEBCONF_ANSWERS" | debconf-set-selections
    enabled() {
      systemctl list-unit-files --state=enabled --no-legend | awk "{print \$1}" | grep -E "\.(service|socket)\$|^borgmatic\.timer\$"
      ls /etc/rc2.d | sed -n "s/^S[0-9]*//p"
    }
    enabled | sort > /tmp/enabled.before
    apt-get update -qq
    # Every update the mirror offers, security ones included: a fresh host owes none (ATU-5.17-a),
    # and the first converge need not install them on each host again.
    apt-get dist-upgrade -y -qq >/dev/null
    apt-get install -y -qq --no-install-recommends '"${service_packages[*]} ${test_packages[*]}"' >/dev/null
    enabled | sort > /tmp/enabled.after
    # Services, sockets and System V scripts the packages enabled (timers such as logrotate stay).
    new=$(comm -13 /tmp/enabled.before /tmp/enabled.after)
    for unit in $new; do
      case $unit in *.*) systemctl disable "$unit" 2>/dev/null ;; *) update-rc.d "$unit" disable >/dev/null 2>&1 ;; esac
    done
    echo "disabled in the image: $(echo $new)"
    # The same machine-specific leftovers as the base: each container makes its own.
    # Debian'"'"'s self-signed "snakeoil" pair (Dovecot links to it) is made again at first boot.
    rm -f /usr/sbin/policy-rc.d /etc/ssl/private/ssl-cert-snakeoil.key /etc/ssl/certs/ssl-cert-snakeoil.pem /tmp/enabled.*
    printf "%s\n" "[Unit]" "Description=Host-specific self-signed certificate (Debian snakeoil)" \
      "ConditionPathExists=!/etc/ssl/private/ssl-cert-snakeoil.key" "Before=dovecot.service postfix.service nginx.service" \
      "[Service]" "Type=oneshot" "ExecStart=/usr/sbin/make-ssl-cert generate-default-snakeoil" \
      "[Install]" "WantedBy=multi-user.target" > /etc/systemd/system/ereje-snakeoil.service
    systemctl enable ereje-snakeoil.service 2>/dev/null
    apt-get clean
    # apt'"'"'s binary cache of the package lists, which clean removed: else the first apt command of
    # every container (the updates check of each converge) builds it again, a second of CPU each.
    apt-cache gencaches
  '
log "committing $tagged"
podman commit -q --change 'CMD ["/sbin/init"]' "$builder" "$tagged" >/dev/null
podman rm -f "$builder" >/dev/null
podman rmi "$base" >/dev/null 2>&1 || true
podman tag "$tagged" "$EREJE_IMAGE"
# Images of older recipes are never used again.
for old in $(podman images --format '{{.Repository}}:{{.Tag}}' "${EREJE_IMAGE%:*}" | grep -v -e ":r$recipe_hash\$" -e ':latest$'); do
  podman rmi "$old" >/dev/null 2>&1 || true
done
log "built $tagged"
