#!/usr/bin/env bash
# Burst of security events into the collector (ATU-5.18-a): three hosts of the running lab each
# write their share of BENCH_EVENTS events (50,000 by default) to their journal at once; the
# script counts them in the collector's files until every one has arrived or none has arrived for
# a minute, and prints sent, stored and the rate (events stored per second, from the first write
# to the last arrival). The whole path is measured: journald, rsyslog reading the journal, the
# disk-assisted queue, TLS to the collector, its files.
# Needs the lab converged (`./ereje up`); changes nothing but the events it writes.
#   ./ereje bench logs            BENCH_EVENTS=100000 ./ereje bench logs
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/scripts/lib.sh"
cd "$EREJE_ROOT"

prefix=${LAB_PREFIX:-ereje}
collector=$prefix-backup
senders=("$prefix-dc1" "$prefix-web" "$prefix-mail")
total=${BENCH_EVENTS:-50000}
each=$((total / ${#senders[@]}))
token="ereje-bench-$(date +%s)-$RANDOM"
for c in "$collector" "${senders[@]}"; do
  podman container exists "$c" || die "container $c is not running: converge the lab first (./ereje up)"
done

stored() { # events of this run in the collector's files so far
  podman exec "$collector" sh -c "grep -rhoF '$token-' /var/log/remote | wc -l"
}

start=$(date +%s.%N)
for c in "${senders[@]}"; do
  podman exec "$c" sh -c "seq 1 $each | sed 's/^/$token-/' | systemd-cat -t ereje-bench -p info" &
done
wait
written=$(date +%s.%N)
sent=$((each * ${#senders[@]}))

last=0 last_change=$(date +%s.%N) arrived=$start
while :; do
  now_stored=$(stored)
  now=$(date +%s.%N)
  if [ "$now_stored" -ne "$last" ]; then last=$now_stored last_change=$now arrived=$now; fi
  [ "$now_stored" -ge "$sent" ] && break
  [ "$(bench_calc "$now - $last_change > 60")" = 1 ] && break
  sleep 0.5
done

printf 'senders                  %8d (%s)\n' "${#senders[@]}" "${senders[*]}"
printf 'events sent              %8d\n' "$sent"
printf 'events stored            %8d\n' "$last"
printf 'lost                     %8d\n' "$((sent - last))"
printf 'writing them (s)         %8.1f\n' "$(bench_calc "$written - $start")"
printf 'until the last arrived (s) %6.1f\n' "$(bench_calc "$arrived - $start")"
printf 'rate (events/s)          %8.0f\n' "$(bench_calc "$last / ($arrived - $start)")"
