#!/usr/bin/env bash
# Backup benchmark (issue 5): first backup, unchanged incremental backup and full restore of a
# generated site (many small files and some large ones), through the real path: Borg over SSH to
# the backup server's forced command (append-only, no delete), encrypted, compressed like the role.
#
#   bench/backup.sh                       # 1 GB site; reuses the backup scenario's containers
#   BENCH_SIZE_MB=256 bench/backup.sh
#
# Needs `molecule converge -s backup` to have run (containers ereje-mol-backup-web and
# ereje-mol-backup-server). Uses its own repository (/srv/borg/repos/bench) and key, and removes
# them, the generated site and the restored copy at the end, whatever happens.
set -euo pipefail

WEB=${BENCH_CLIENT:-ereje-mol-backup-web}
SERVER=${BENCH_SERVER:-ereje-mol-backup-server}
SIZE_MB=${BENCH_SIZE_MB:-1024}
SMALL_FILES=${BENCH_SMALL_FILES:-20000}

for c in "$WEB" "$SERVER"; do
  if [ "$(podman inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" != true ]; then
    echo "container $c is not running: run 'molecule converge -s backup' first" >&2
    exit 2
  fi
done

on_web() { podman exec "$WEB" bash -c "$1"; }
on_server() { podman exec "$SERVER" bash -c "$1"; }

cleanup() {
  on_web 'rm -rf /var/tmp/bench-site /var/tmp/bench-restore /var/tmp/bench-dump /var/tmp/bench-state /var/tmp/bench-client.json /root/.bench_key /root/.bench_key.pub' || true
  on_server "rm -rf /srv/borg/repos/bench; sed -i '/ereje-bench\$/d' /etc/ssh/ereje-backup-authorized_keys" || true
}
trap cleanup EXIT
cleanup

# Small files: SMALL_FILES pages of 2-30 KB (about 16 KB each on average); the rest in 64 MB files.
small_mb=$(( SMALL_FILES * 16 / 1024 ))
large=$(( (SIZE_MB - small_mb) / 64 ))
echo "generating a ${SIZE_MB} MB site: ${SMALL_FILES} small files, ${large} files of 64 MB ..."
on_web "python3 - <<'PY'
import os, random
random.seed(5)
root = '/var/tmp/bench-site'
for i in range($SMALL_FILES):
    d = f'{root}/pages/{i // 500:03d}'
    os.makedirs(d, exist_ok=True)
    size = random.randint(2048, 30720)
    # half text-like (compressible), half random (like images)
    data = (b'<p>lorem ipsum dolor sit amet</p>\n' * (size // 34 + 1))[:size] if i % 2 else os.urandom(size)
    with open(f'{d}/p{i}.html', 'wb') as f:
        f.write(data)
os.makedirs(f'{root}/uploads', exist_ok=True)
for i in range($large):
    with open(f'{root}/uploads/video{i}.mp4', 'wb') as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
PY"
bytes=$(on_web 'du -sb /var/tmp/bench-site | cut -f1')
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }')

on_web 'ssh-keygen -q -t ed25519 -N "" -C ereje-bench -f /root/.bench_key'
pub=$(on_web 'cat /root/.bench_key.pub')
on_server "echo 'command=\"/usr/local/sbin/ereje-borg-serve /srv/borg/repos/bench\",restrict $pub' >> /etc/ssh/ereje-backup-authorized_keys"

borg_env="export BORG_REPO=ssh://borg@$SERVER/srv/borg/repos/bench BORG_PASSPHRASE=bench-only \
BORG_RSH='ssh -i /root/.bench_key -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR'"
timed() { on_web "$borg_env; s=\$(date +%s.%N); $1 >/dev/null; e=\$(date +%s.%N); python3 -c \"print(\$e - \$s)\""; }

on_web "$borg_env; borg init --encryption repokey-blake2 >/dev/null 2>&1"
first=$(timed 'borg create --compression auto,zstd ::first /var/tmp/bench-site')
incr=$(timed 'borg create --compression auto,zstd ::second /var/tmp/bench-site')
restore=$(timed 'mkdir -p /var/tmp/bench-restore && cd /var/tmp/bench-restore && borg extract ::second')
on_web 'cd /var/tmp/bench-site && find . -type f | sort | xargs sha256sum > /tmp/a && cd /var/tmp/bench-restore/var/tmp/bench-site && find . -type f | sort | xargs sha256sum > /tmp/b && cmp -s /tmp/a /tmp/b && rm /tmp/a /tmp/b' \
  || { echo "restored copy differs from the site" >&2; exit 1; }

# The role's own step before every backup (ereje-backup prepare, the borgmatic hook): the manifest
# of every file's hash, which the drill compares the archive with. The first reads every file; the
# next, on the unchanged site, reuses the hashes of files whose size, times and inode are the same.
on_web "printf '%s' '{\"paths\": [\"/var/tmp/bench-site\"], \"databases\": [], \"sets\": [], \"dump_dir\": \"/var/tmp/bench-dump\", \"state_dir\": \"/var/tmp/bench-state\"}' > /var/tmp/bench-client.json"
manifest_first=$(timed '/usr/local/sbin/ereje-backup --config /var/tmp/bench-client.json prepare')
manifest_again=$(timed '/usr/local/sbin/ereje-backup --config /var/tmp/bench-client.json prepare')

python3 - "$mb" "$first" "$incr" "$restore" "$manifest_first" "$manifest_again" <<'PY'
import sys
mb, first, incr, restore, manifest_first, manifest_again = (float(x) for x in sys.argv[1:])
print(f"site:                {mb:.0f} MB")
print(f"first backup:        {first:7.1f} s  {mb / first:7.1f} MB/s")
print(f"incremental (same):  {incr:7.1f} s  {mb / incr:7.1f} MB/s")
print(f"full restore:        {restore:7.1f} s  {mb / restore:7.1f} MB/s  (checksums match)")
print(f"incremental / first: {incr / first:.3f}")
print(f"manifest, first:     {manifest_first:7.1f} s  (every file hashed)")
print(f"manifest, unchanged: {manifest_again:7.1f} s  ({manifest_again / manifest_first:.3f} of the first)")
print(f"role's incremental (manifest + borg) / first: {(manifest_again + incr) / (manifest_first + first):.3f}")
PY
