#!/usr/bin/env bash
# Benchmark of the mail gateway: messages per second and p50/p95 latency (SMTP submission to
# the mailbox host's Maildir) of mail with attachments through the whole filter (Postfix ->
# Amavis -> clamd -> Postfix), against the same Postfix with the filter bypassed (its
# re-injection port 127.0.0.1:10025), in one run; prints both and the ratio.
# Uses the mail scenario's containers; converges them first if they are not running.
#   bench/mail.sh [MESSAGES] [CONNECTIONS]        (defaults: 200 messages, 4 connections)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/scripts/lib.sh"
use_venv
cd "$EREJE_ROOT"
export ANSIBLE_CONFIG=$EREJE_ROOT/ansible.cfg

messages=${1:-200}
connections=${2:-4}
gw=ereje-mol-mail-gw
mbox=ereje-mol-mail-mbox
run=$(date +%s)

if [ "$(podman inspect -f '{{.State.Running}}' "$gw" 2>/dev/null)" != true ]; then
  molecule converge -s mail >/dev/null 2>&1
fi

# Sender, run on the gateway itself so the network is not what is measured.
send() {  # send MODE PORT
  podman exec -i "$gw" python3 - "$1" "$2" "$messages" "$connections" "$run" <<'PY'
import io, smtplib, sys, threading, time, zipfile
from email.message import EmailMessage
mode, port, total, workers, run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
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

send filtered 25
read -r f_n f_rate f_p50 f_p95 < <(measure filtered)
send bypass 10025
read -r b_n b_rate b_p50 b_p95 < <(measure bypass)

printf 'messages per run            %8d (%d connections, 2 attachments each)\n' "$messages" "$connections"
printf '%-26s %10s %10s %10s %10s\n' "" delivered "msg/s" "p50 (s)" "p95 (s)"
printf '%-26s %10s %10s %10s %10s\n' "filtered (Amavis+clamd)" "$f_n" "$f_rate" "$f_p50" "$f_p95"
printf '%-26s %10s %10s %10s %10s\n' "filter bypassed" "$b_n" "$b_rate" "$b_p50" "$b_p95"
printf 'throughput filtered/bypassed %7s\n' "$(python3 -c "print(round($f_rate / $b_rate, 3))")"
printf 'p95 latency filtered/bypassed %6s\n' "$(python3 -c "print(round($f_p95 / max($b_p95, 1e-6), 1))")"
