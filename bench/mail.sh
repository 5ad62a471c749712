#!/usr/bin/env bash
# Benchmark of the mail gateway: messages per second and p50/p95 latency (SMTP submission to
# the mailbox host's Maildir) of mail with attachments through the whole filter (Postfix ->
# Amavis -> clamd -> Postfix), against the same Postfix with the filter bypassed (its
# re-injection port 127.0.0.1:10025), in one run; prints both and the ratio; then the filter's
# latency when mail comes at a steady RATE (messages per second) instead of in one burst.
# Where the time goes: the gateway's CPU time per message (the whole container: Postfix twice,
# Amavis with SpamAssassin and the programs it runs; and clamd's share). Run it once with
# mail_gateway_spam_check false to see what spam scoring costs.
# Uses the mail scenario's containers; converges them first if they are not running.
#   bench/mail.sh [MESSAGES] [CONNECTIONS] [RATE]   (defaults: 200 messages, 4 connections, 20/s)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/scripts/lib.sh"
use_venv
cd "$EREJE_ROOT"
export ANSIBLE_CONFIG=$EREJE_ROOT/ansible.cfg

messages=${1:-200}
connections=${2:-4}
rate=${3:-20}
gw=ereje-mol-mail-gw
mbox=ereje-mol-mail-mbox
run=$(date +%s)

if [ "$(podman inspect -f '{{.State.Running}}' "$gw" 2>/dev/null)" != true ]; then
  molecule converge -s mail >/dev/null 2>&1
fi

# Sender, run on the gateway itself so the network is not what is measured.
send() {  # send MODE PORT [RATE]: a burst, or RATE messages a second
  podman exec -i "$gw" python3 - "$1" "$2" "$messages" "$connections" "$run" "${3:-0}" <<'PY'
import io, smtplib, sys, threading, time, zipfile
from email.message import EmailMessage
mode, port, total, workers, run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rate = float(sys.argv[6])
start = time.time() + 1
pdf = b"%PDF-1.4\n" + bytes(range(256)) * 400 + b"\n%%EOF\n"
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("a.pdf", pdf)
    z.writestr("docs/b.txt", "Сәлем\n" * 2000)
archive = buffer.getvalue()
rcpt = f"bench-{mode}-{run}@ereje.test"
def worker(w):
    with smtplib.SMTP("127.0.0.1", port, timeout=300) as s:
        for seq in range(w, total, workers):
            if rate:  # message seq leaves at start + seq/rate, whichever connection carries it
                time.sleep(max(0.0, start + seq / rate - time.time()))
            m = EmailMessage()
            m["From"] = "bench@outside.test"; m["To"] = rcpt; m["Subject"] = f"bench {seq}"
            m["X-Bench-Sent"] = repr(time.time())
            m.set_content("benchmark message\n")
            m.add_attachment(pdf, maintype="application", subtype="pdf", filename="report.pdf")
            m.add_attachment(archive, maintype="application", subtype="zip", filename="docs.zip")
            s.send_message(m, from_addr="bench@outside.test", to_addrs=[rcpt])
threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
[t.start() for t in threads]; [t.join() for t in threads]
PY
}

# Reader, run on the mailbox host: latency = Maildir file time - X-Bench-Sent. The mailbox host
# keeps a domain's mail in one Maildir; the run's messages are the ones delivered to its address.
measure() {  # measure MODE -> "delivered msgs_per_s p50 p95"
  podman exec -i "$mbox" python3 - "$1" "$messages" "$run" <<'PY'
import os, re, sys, time
mode, total, run = sys.argv[1], int(sys.argv[2]), sys.argv[3]
d = "/var/mail/vhosts/ereje.test/new"
rcpt = f"Delivered-To: bench-{mode}-{run}@ereje.test"
seen = {}  # file -> (sent, delivered) of this run's messages
read = set()  # every file looked at (Maildir renames complete files into new/)
deadline = time.time() + 900
while time.time() < deadline and len(seen) < total:
    for n in os.listdir(d) if os.path.isdir(d) else []:
        p = os.path.join(d, n)
        if n in read or not os.path.isfile(p):
            continue
        read.add(n)
        with open(p, "rb") as f:
            head = f.read(65536).decode(errors="replace")
        if rcpt in head:
            sent = float(re.search(r"^X-Bench-Sent: (\S+)", head, re.M).group(1))
            seen[n] = (sent, os.stat(p).st_mtime)
    time.sleep(1)
sent = [s for s, _ in seen.values()]
done = [e for _, e in seen.values()]
lat = sorted(b - a for a, b in seen.values())
pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
rate = len(lat) / (max(done) - min(sent))
print(len(lat), round(rate, 2), round(pct(0.5), 3), round(pct(0.95), 3))
PY
}

# CPU time (ms) so far of the gateway container and of clamd (one long-lived process; Amavis'
# children come and go, so its share is the container's less the bypassed path's).
cpu() {
  podman exec "$gw" sh -c '
    if [ -r /sys/fs/cgroup/cpu.stat ]; then total=$(awk "/^usage_usec/{print int(\$2/1000)}" /sys/fs/cgroup/cpu.stat)
    else total=$(( $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage) / 1000000 )); fi
    ticks() { for p in $(pgrep -f "$1"); do cut -d" " -f14-17 "/proc/$p/stat" 2>/dev/null; done | awk "{s+=\$1+\$2+\$3+\$4} END {print int(s*1000/$(getconf CLK_TCK))}"; }
    echo "$total $(ticks "^/usr/sbin/clamd ")"'
}
per_message() {  # per_message BEFORE AFTER -> "gateway clamd" ms per message
  python3 -c "import sys; a, b = map(str.split, sys.argv[1:3]); print(*(round((int(y) - int(x)) / $messages, 1) for x, y in zip(a, b)))" "$1" "$2"
}

c0=$(cpu); send filtered 25
read -r f_n f_rate f_p50 f_p95 < <(measure filtered)
c1=$(cpu); send bypass 10025
read -r b_n b_rate b_p50 b_p95 < <(measure bypass)
c2=$(cpu); send paced 25 "$rate"
read -r p_n p_rate p_p50 p_p95 < <(measure paced)
read -r f_gw f_clamd < <(per_message "$c0" "$c1")
read -r b_gw _ < <(per_message "$c1" "$c2")

printf 'messages per run            %8d (%d connections, 2 attachments each)\n' "$messages" "$connections"
printf '%-26s %10s %10s %10s %10s\n' "" delivered "msg/s" "p50 (s)" "p95 (s)"
printf '%-26s %10s %10s %10s %10s\n' "filtered burst" "$f_n" "$f_rate" "$f_p50" "$f_p95"
printf '%-26s %10s %10s %10s %10s\n' "bypassed burst" "$b_n" "$b_rate" "$b_p50" "$b_p95"
printf 'throughput filtered/bypassed %7s\n' "$(python3 -c "print(round($f_rate / $b_rate, 3))")"
printf 'p95 latency filtered/bypassed %6s\n' "$(python3 -c "print(round($f_p95 / max($b_p95, 1e-6), 1))")"
printf '%-26s %10s %10s %10s %10s\n' "filtered at $rate msg/s" "$p_n" "$p_rate" "$p_p50" "$p_p95"
printf 'gateway CPU ms per message: filtered %s (clamd %s), bypassed %s\n' "$f_gw" "$f_clamd" "$b_gw"
